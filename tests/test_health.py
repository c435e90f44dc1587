"""A policy's health on the site: a live page that starts answering 404 is flagged on the index
and its history page after the next report, with the failures in a row and the error, and
healthy again once the page is back; only the pages that show it are written again."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from conftest import Page, policy_html, run_cli, write_config
from test_report import pages, render, visit_all
from tracker.models import iso
from tracker.store import Store


def written_by(config: Path, out: Path) -> set[str]:
    """The pages a report wrote (the manifest aside)."""
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    render(config, out)
    return {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != ".manifest.json"
            and before.get(p) != p.stat().st_mtime_ns}


def shown(page: str) -> str:
    """A page's main content as text: what a reader sees."""
    main = page.split('<main id="main">', 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", main))


def health_line(history: str) -> str:
    """The history page's line about the live checks, as text."""
    (line,) = re.findall(r'<p class="health[^"]*">(.*?)</p>', history, re.S)
    return re.sub(r"<[^>]+>", "", line)


def test_a_page_that_answers_404_is_flagged_failing_and_healthy_again_once_back(tmp_path, site, browser):
    site.pages["/privacy"] = Page(policy_html(retention="30 days"))
    url = site.url("/privacy")
    config = write_config(tmp_path, [{"name": "acme", "title": "Acme", "urls": [url]},
                                     {"name": "krop", "title": "Krop", "urls": ["https://krop.example/privacy"],
                                      "live": False}], "[schedule]\nfailures = 2\n")  # failing as tracker status says
    assert run_cli(config, "check", "acme").exit_code == 0
    site.pages["/privacy"] = Page(policy_html(retention="90 days"))
    assert run_cli(config, "check", "acme").exit_code == 0  # version 2: a change page
    out = tmp_path / "reports"
    render(config, out)
    first = pages(out)
    assert "failing" not in shown(first["index.html"]) + shown(first["acme/index.html"])
    assert health_line(first["acme/index.html"]).startswith("Live checks: last checked ")
    assert "not checked (live = false)" in first["index.html"]
    assert health_line(first["krop/index.html"]) == "Live checks: not checked (live = false)"

    site.pages["/privacy"] = Page(b"<html><body><h1>Not found</h1></body></html>", status=404)
    failed = run_cli(config, "check")
    assert failed.exit_code == 1 and "HTTP 404" in failed.out + failed.stderr
    render(config, out)  # one failure, under the [schedule] failures of 2: said, not yet failing
    once = health_line((out / "acme" / "index.html").read_text())
    assert once.startswith("Live checks: the last check failed (2 in a row make it failing): ") and "HTTP 404" in once
    assert "failing:" not in shown((out / "index.html").read_text())
    failed = run_cli(config, "check")
    assert failed.exit_code == 1 and "HTTP 404" in failed.out + failed.stderr
    assert written_by(config, out) == {"index.html", "acme/index.html"}  # no change, version or feed page
    index, history = (out / "index.html").read_text(), (out / "acme" / "index.html").read_text()
    line = health_line(history)
    assert re.fullmatch(r"Live checks: failing: 2 checks in a row, last error: .*HTTP 404 at \d{4}-\d\d-\d\d \d\d:\d\d UTC",
                        line), line
    assert 'class="health alert"' in history
    assert "1 failing: Acme (2 failed checks in a row)." in shown(index)
    row = re.search(r'<th scope="row"><a href="acme/index.html">Acme</a></th>\s*<td class="health small">(.*?)</td>',
                    index, re.S).group(1)
    assert "failing: 2 checks in a row" in row and "HTTP 404" in row
    assert "not checked (live = false)" in index  # the other policy is not flagged
    visit_all(browser, out, [out / "index.html", out / "acme" / "index.html"], tmp_path / "screenshots-failing")

    site.pages["/privacy"] = Page(policy_html(retention="90 days"))
    assert run_cli(config, "check").exit_code == 0
    # and the current version's page, which says when it was last seen, citing that capture by its hash
    assert written_by(config, out) == {"index.html", "acme/index.html", "acme/version-2.html"}
    index, history = (out / "index.html").read_text(), (out / "acme" / "index.html").read_text()
    assert "failing" not in shown(index) and "failing" not in shown(history)
    assert re.fullmatch(r"Live checks: last checked \d{4}-\d\d-\d\d \d\d:\d\d UTC: unchanged \(version 2\)",
                        health_line(history))
    visit_all(browser, out, [out / "index.html", out / "acme" / "index.html"], tmp_path / "screenshots-healthy")


def test_a_scheduled_check_that_fails_updates_the_reports(tmp_path, site):
    site.pages["/privacy"] = Page(policy_html())
    config = write_config(tmp_path, [{"name": "acme", "title": "Acme", "urls": [site.url("/privacy")],
                                      "archives": []}], '[schedule]\ncheck = "1h"\n')
    assert "check:acme: new version 1" in run_cli(config, "run").out
    history = tmp_path / "reports" / "acme" / "index.html"
    assert health_line(history.read_text()).startswith("Live checks: last checked ")
    site.pages["/privacy"] = Page(b"<html><body>Gone</body></html>", status=404)
    store = Store(tmp_path / "snapshots" / "tracker.db")
    store.runs.job_ran("check:acme", iso(datetime.now(timezone.utc) - timedelta(hours=2)), "ok", None)  # due again
    store.close()
    ran = run_cli(config, "run")
    assert ran.exit_code == 1 and "check:acme: error: " in ran.err and "HTTP 404" in ran.err and "reports:" in ran.out
    assert health_line(history.read_text()).startswith("Live checks: the last check failed (5 in a row make it "
                                                       "failing): ")
