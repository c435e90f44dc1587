"""HTML reports: the demo history's content, valid HTML and Atom, incremental rendering, and
hostile policy text opened in a real headless Chromium at desktop and phone widths."""

from __future__ import annotations

import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import html5lib

from conftest import Archived, policy_html, run_cli, write_config, write_warc
from tracker import charts, console, copies, report
from tracker.store import Store

ROOT = Path(__file__).resolve().parents[1]
DEMO_WARC = ROOT / "examples" / "krop-demo.warc.gz"
KROP = ["https://www.krop.com/privacy", "https://krrop.com/trust"]
ATOM = "{http://www.w3.org/2005/Atom}"


def backfilled(tmp_path: Path, urls: list[str], archive: str, name: str = "krop") -> Path:
    config = write_config(tmp_path, [{"name": name, "title": "Krop / KRROP" if name == "krop" else name,
                                      "urls": urls, "archives": [archive], "live": False}])
    result = run_cli(config, "backfill")
    assert result.exit_code == 0, result.stderr
    return config


def render(config: Path, out: Path) -> str:
    result = run_cli(config, "report", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return result.out


def pages(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text(encoding="utf-8") for p in sorted(out.rglob("*.html"))}


# --- the demo history ---------------------------------------------------------------------

def test_the_demo_history_renders_with_its_change_facts_and_evidence(tmp_path):
    config = backfilled(tmp_path, KROP, f"warc:{DEMO_WARC}")
    out = tmp_path / "reports"
    assert "page(s) written" in render(config, out)
    site = pages(out)
    change_page = next(p for p in site if p.startswith("krop/change-2025-06-03-"))
    # copies of both ends of the change, of each version's first capture and of the redirect that announced the move
    copies = {p for p in site if p.startswith("krop/captures/")}
    assert set(site) == {"index.html", "krop/index.html", "krop/version-1.html", "krop/version-2.html", change_page,
                         *copies} and len(copies) == 4

    index = site["index.html"]
    assert "Krop / KRROP" in index and "2025-06-03" in index and "rewrite" in index
    cell = re.search(r'<td><a href="krop/change-.*?</td>', index).group(0).replace("<br>", " ")
    assert re.sub(r"<[^>]+>", "", cell) == "2019-07-01 to 2025-06-03 rewrite declared 2025-06-01"  # not only its end
    history = site["krop/index.html"]
    assert "https://www.krop.com/privacy" in history and "https://krrop.com/trust" in history
    assert "2016-03-30 to 2025-06-03" in history and 'role="img"' in history and "<desc" in history
    assert "Between 2019-07-01 12:00 UTC and 2025-06-03 09:30 UTC" in history

    change = site[change_page]
    facts = dict(re.findall(r'<tr><th scope="row">([^<]+)</th><td>([^<]*)<', change))  # the values before
    assert facts["contact e-mail"] == "support@krop.com" and facts["law"] == "CalOPPA, COPPA"
    assert re.search(r"<th scope=\"row\">declared date</th><td>2016-03-24<.*?</td><td>2025-06-01<", change)
    # each value with the sentence that states it, and its section
    assert "“If there are any questions regarding this privacy policy you may contact us at support@krop.com”" \
        ' <span class="muted">(<a href="version-1.html#s-contacting-us">CONTACTING US</a>)</span>' in change
    assert "<del>" in change and "<ins>" in change and "Removed:" in change and "Added:" in change
    store = Store(tmp_path / "snapshots" / "tracker.db")
    evidence = {c.sha256 for c in store.captures.timeline("krop") if c.captured_at[:10] in ("2019-07-01", "2025-06-03")
                and c.status == 200}
    store.close()
    assert all(sha in change for sha in evidence) and len(evidence) == 2
    # the move to krrop.com is in the export, with the archived redirect that announced it
    captures = json.loads(run_cli(config, "export", "krop", "--json").out)["captures"]
    (moved,) = [c for c in captures if "archived-redirect" in c["flags"]]
    assert moved["redirects"] == [{"status": 301, "url": "https://www.krop.com/privacy",
                                   "location": "https://krrop.com/trust"}]
    assert 'href="version-1.html"' in change and 'href="index.html"' in change

    version = site["krop/version-1.html"]
    anchors = set(re.findall(r'href="#(s-[^"]+)"', version))
    assert anchors and anchors <= set(re.findall(r'id="(s-[^"]+)"', version))
    assert "INFORMATION WE COLLECT" in version


def test_every_page_is_valid_html_and_the_feeds_are_atom(tmp_path):
    config = backfilled(tmp_path, KROP, f"warc:{DEMO_WARC}")
    out = tmp_path / "reports"
    render(config, out)
    for name, text in pages(out).items():
        parser = html5lib.HTMLParser(strict=True)
        parser.parse(text)  # raises on the first parse error
        assert not parser.errors, name
    for feed in (out / "feed.xml", out / "krop" / "feed.xml"):
        root = ET.parse(feed).getroot()
        assert root.tag == f"{ATOM}feed"
        entries = root.findall(f"{ATOM}entry")
        assert len(entries) == 1
        link = entries[0].find(f"{ATOM}link").get("href")
        assert (feed.parent / link).resolve().exists()


def test_only_pages_whose_data_changed_are_written_again(tmp_path):
    history = [Archived("https://acme.example/privacy", f"2021-0{i + 1}-10T10:00:00Z",
                        policy_html(retention=f"{30 * (1 + i // 2)} days")) for i in range(6)]  # 3 versions
    (tmp_path / "crawls").mkdir()
    write_warc(tmp_path / "crawls" / "a.warc.gz", history)
    config = backfilled(tmp_path, ["https://acme.example/privacy"], "warc:crawls/*.warc.gz", name="acme")
    out = tmp_path / "reports"
    render(config, out)
    assert "0 page(s) written" in render(config, out)

    write_warc(tmp_path / "crawls" / "b.warc.gz", [Archived(
        "https://acme.example/privacy", "2021-09-10T10:00:00Z", policy_html(retention="1 year"))])
    assert run_cli(config, "backfill").exit_code == 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    line = render(config, out)
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.name != ".manifest.json"
               and before.get(p) != p.stat().st_mtime_ns}
    changes = sorted(p for p in written if "/change-" in p)
    assert written == {"index.html", "feed.xml", "acme/index.html", "acme/feed.xml", "acme/version-3.html",
                       "acme/version-4.html", *changes,
                       "acme/captures/6.html", "acme/captures/7.html"}  # copies of the new change's ends
    assert len(changes) == 2 and changes[-1].startswith("acme/change-2021-09-10")  # the new one, and the one before it
    assert f"{len(written)} page(s) written" in line


def test_a_version_that_declares_another_date_after_a_rebuild_has_its_pages_written_again(tmp_path):
    config = backfilled(tmp_path, KROP, f"warc:{DEMO_WARC}")
    out = tmp_path / "reports"
    render(config, out)
    # what a rebuild by a newer extractor stores: the same texts, read with another date, length and language
    with sqlite3.connect(tmp_path / "snapshots" / "tracker.db") as db:
        db.execute("UPDATE versions SET declared_date = '2025-05-30', word_count = 4321, language = 'fr' "
                   "WHERE policy = 'krop' AND number = 2")
    line = render(config, out)
    site = pages(out)
    change = next(p for p in site if p.startswith("krop/change-"))
    assert "Declared dates: 2016-03-24 → 2025-05-30" in site[change]
    assert "Declared date: 2025-05-30" in site["krop/version-2.html"] and "4,321 words" in site["krop/version-2.html"]
    assert "2025-05-30" in site["krop/index.html"] and "declared <span class=\"date\">2025-05-30" in site["index.html"]
    assert "page(s) written" in line and "0 page(s) written" not in line


def test_editing_the_view_code_renders_the_pages_again_and_the_copies_only_for_copies_py(tmp_path, monkeypatch):
    config = backfilled(tmp_path, KROP, f"warc:{DEMO_WARC}")
    out = tmp_path / "reports"
    render(config, out)
    copied = [p for p in pages(out) if p.startswith("krop/captures/")]
    made = [p for p in pages(out) if p not in copied]
    for module in (report, charts, console, copies):
        edited = tmp_path / Path(module.__file__).name  # the module as a developer edits it
        edited.write_bytes(Path(module.__file__).read_bytes() + b"\n# edited\n")
        monkeypatch.setattr(module, "__file__", str(edited))
        before = {p: (out / p).stat().st_mtime_ns for p in made + copied}
        render(config, out)
        unchanged = [p for p in made + copied if (out / p).stat().st_mtime_ns == before[p]]
        assert unchanged == ([] if module is copies else copied), module.__name__
        monkeypatch.undo()


# --- hostile text in a real browser -----------------------------------------------------------

EVIL = "https://evil.example/privacy"


def evil_page(retention: str) -> bytes:
    filler = " ".join(["We process personal data and information under this privacy policy."] * 8)
    return f"""<!doctype html><html><head><title>Evil &lt;img src=x onerror=alert(1)&gt; policy</title>
<script>window.__xss = 3; alert(3)</script></head><body><main>
<h1>Privacy Policy</h1>
<h2>1. Data &quot; onerror=&quot;window.__xss=4</h2>
<p>We collect &lt;script&gt;window.__xss=1;alert(1)&lt;/script&gt; data and keep it for {retention}. {filler}</p>
<p>See <a href="javascript:alert(1)">javascript:alert(document.cookie)</a> and &lt;/textarea&gt;&lt;script&gt;window.__xss=2&lt;/script&gt;
and &lt;a href=&quot;javascript:window.__xss=5&quot;&gt;click&lt;/a&gt;.</p>
<h2>2. Contact &lt;style&gt;body{{display:none}}&lt;/style&gt;</h2><p>Write to privacy@evil.example about your personal data.</p>
</main></body></html>""".encode()


HOSTILE_CHECK = """() => ({
  xss: window.__xss === undefined ? null : window.__xss,
  scripts: document.querySelectorAll('script').length,
  handlers: [...document.querySelectorAll('*')].filter(e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
  jsLinks: [...document.querySelectorAll('[href]')].filter(e => /^\\s*javascript:/i.test(e.getAttribute('href'))).length,
  text: document.body.innerText,
  wide: document.documentElement.scrollWidth > window.innerWidth + 1,
})"""


def visit_all(browser, out: Path, site: list[Path], shots: Path) -> None:
    """Open every page at desktop and phone widths: no script runs, no handler or script link
    exists, nothing is wider than the screen, no console error; a screenshot of each."""
    shots.mkdir()
    for width, height in ((1280, 900), (390, 844)):
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        problems, dialogs = [], []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for path in site:
            page.goto(path.as_uri())
            seen = page.evaluate(HOSTILE_CHECK)
            name = str(path.relative_to(out))
            assert seen["xss"] is None and seen["scripts"] == 0 and seen["handlers"] == 0, name
            assert seen["jsLinks"] == 0 and not seen["wide"], (name, width)
            shot = shots / f"{name.replace('/', '_')}-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 1000
        assert not dialogs and not problems, (dialogs, problems)
        context.close()


def test_the_demo_site_in_chromium_at_desktop_and_phone_widths(tmp_path, browser):
    config = backfilled(tmp_path, KROP, f"warc:{DEMO_WARC}")
    out = tmp_path / "reports"
    render(config, out)
    visit_all(browser, out, sorted(out.rglob("*.html")), tmp_path / "screenshots")


def test_hostile_policy_text_runs_no_script_at_desktop_and_phone_widths(tmp_path, browser):
    write_warc(tmp_path / "evil.warc.gz", [Archived(EVIL, "2022-01-01T00:00:00Z", evil_page("30 days")),
                                           Archived(EVIL, "2023-01-01T00:00:00Z", evil_page("90 days"))])
    config = backfilled(tmp_path, [EVIL], "warc:evil.warc.gz", name="evil")
    out = tmp_path / "reports"
    render(config, out)
    site = sorted(out.rglob("*.html"))
    assert len(site) == 5 + 2  # and the copies of the two captures cited
    visit_all(browser, out, site, tmp_path / "screenshots")
    version = (out / "evil" / "version-1.html").as_uri()
    context = browser.new_context()
    page = context.new_page()
    page.goto(version)
    text = page.evaluate("() => document.body.innerText")
    assert "<script>window.__xss=1;alert(1)</script>" in text  # shown as text, never run
    assert "</textarea><script>window.__xss=2</script>" in text
    context.close()


def demo_change_page(tmp_path: Path, browser):
    """The Krop demo's reports, and its change page open in Chromium at 1280 px."""
    config = backfilled(tmp_path, KROP, f"warc:{DEMO_WARC}")
    out = tmp_path / "reports"
    render(config, out)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(next((out / "krop").glob("change-*.html")).as_uri())
    return out, context, page


def test_the_side_by_side_view_is_a_toggle_without_script(tmp_path, browser):
    out, context, page = demo_change_page(tmp_path, browser)
    visible = "() => [getComputedStyle(document.querySelector('.inline')).display, getComputedStyle(document.querySelector('.side')).display]"
    assert page.evaluate(visible) == ["block", "none"]
    page.click("label[for=view-side]")
    assert page.evaluate(visible) == ["none", "grid"]
    context.close()


def test_control_characters_and_bidi_overrides_in_fetched_text_reach_no_page_or_feed(tmp_path, site):
    # An unterminated right-to-left override in a policy would mirror the tool's own words after it
    # on the page ("(noitneteR)"); an escape or a bell would break the feeds' XML.
    from conftest import Page
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    for retention in ("30 days", "90 days"):
        hostile = f"<p>We keep logs\u202e for {retention}\x1b[31m, then\x07 delete them.</p>"
        site.pages["/privacy"] = Page(policy_html(retention, extra=hostile))
        assert run_cli(config, "check").exit_code == 0
    out = tmp_path / "reports"
    render(config, out)
    written = [p for p in out.rglob("*") if p.suffix in (".html", ".xml")]
    assert written and not [p.name for p in written if re.search("[\u202a-\u202e\u2066-\u2069\x00-\x08\x0b-\x1f]",
                                                                    p.read_text())]
    for feed in (out / "feed.xml", out / "acme" / "feed.xml"):
        ET.parse(feed)  # well-formed XML
    change = next((out / "acme").glob("change-*.html")).read_text()
    assert "We keep logs for" in change  # the words stay, in reading order
