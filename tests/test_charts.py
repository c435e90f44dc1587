"""A policy's moves as events of its history, the history page's timeline and the index's
overview chart: their content, and how they read in Chromium at desktop and phone widths."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

from conftest import Archived, policy_html, run_cli, write_config, write_warc

ROOT = Path(__file__).resolve().parents[1]
DEMO_WARC = ROOT / "examples" / "krop-demo.warc.gz"
KROP = {"name": "krop", "title": "Krop / KRROP", "urls": ["https://www.krop.com/privacy", "https://krrop.com/trust"],
        "archives": [f"warc:{DEMO_WARC}"], "live": False}
ACME = "https://acme.example/privacy"
OLD_MOVE = "moved https://www.krop.com/privacy -> https://krrop.com/trust 2025-06-03 09:30 UTC " \
           "HTTP 301 redirect (warc capture)"


def tracked(tmp_path: Path, policies: list[dict], captures: dict[str, list[Archived]] | None = None) -> Path:
    """A config following these policies, backfilled: ``captures`` are written into a WARC
    per policy, read as its archive."""
    (tmp_path / "crawls").mkdir()
    for name, archived in (captures or {}).items():
        write_warc(tmp_path / "crawls" / f"{name}.warc.gz", archived)
    config = write_config(tmp_path, policies)
    result = run_cli(config, "backfill")
    assert result.exit_code == 0, result.stderr
    return config


def acme(name: str = "acme") -> dict:
    return {"name": name, "title": name.capitalize(), "urls": [ACME], "archives": [f"warc:crawls/{name}.warc.gz"],
            "live": False}


def captured(*dated: tuple[str, str], declared: str = "March 3, 2024") -> list[Archived]:
    """Captures of the Acme policy on these dates, keeping data for these times (a new
    retention is a new version), declaring a date ("Last updated: ...")."""
    return [Archived(ACME, date, policy_html(retention=retention).replace(b"March 3, 2024", declared.encode()))
            for date, retention in dated]


def report(config: Path, tmp_path: Path) -> Path:
    out = tmp_path / "reports"
    result = run_cli(config, "report", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return out


def ticks(page: str) -> list[tuple[float, str]]:
    """The timeline's tick labels: where (percent of the width) and what they say."""
    return [(float(x), label) for x, label in re.findall(r'<text x="([\d.]+)%"[^>]*class="tick[^"]*">([^<]+)<', page)]


# --- the Krop -> KRROP move ----------------------------------------------------------------

def test_the_krop_move_is_in_tracker_history_and_the_export(tmp_path):
    config = tracked(tmp_path, [KROP])
    lines = run_cli(config, "history", "krop").out.splitlines()
    assert lines[0].endswith("2 version(s), 1 change(s), 1 move(s)")
    assert lines[1].startswith("version 1 ")
    assert lines[2].strip() == OLD_MOVE  # in time order: the redirect came 2 s before the new text
    assert lines[3].strip().startswith("change 1 -> 2 rewrite")

    evidence = {"id": 6, "captured_at": "2025-06-03T09:30:00.000Z", "url": "https://www.krop.com/privacy",
                "source": "warc", "status": 301}  # capture 6: what `tracker capture 6` prints
    for document in (json.loads(run_cli(config, "history", "krop", "--json").out),
                     json.loads(run_cli(config, "export", "krop", "--json").out)):
        (move,) = document["moves"]
        assert {k: move[k] for k in ("at", "from_url", "to_url", "redirect")} == {
            "at": "2025-06-03T09:30:00.000Z", "from_url": "https://www.krop.com/privacy",
            "to_url": "https://krrop.com/trust", "redirect": {"status": 301, "location": "https://krrop.com/trust"}}
        assert {k: move["evidence"][k] for k in evidence} == evidence
        assert "krop-demo.warc.gz#" in move["evidence"]["archive_url"]


def test_the_krop_move_is_on_the_history_page_its_timeline_and_the_change_page(tmp_path):
    out = report(tracked(tmp_path, [KROP]), tmp_path)
    history = (out / "krop" / "index.html").read_text()
    item = re.search(r'<li id="move-1">(.*?)</li>', history, re.S).group(1)
    text = html.unescape(re.sub(r"<[^>]+>", "", item))
    assert "On 2025-06-03 09:30 UTC the policy moved from https://www.krop.com/privacy to https://krrop.com/trust." \
        in " ".join(text.split())
    said = " ".join(text.split())
    assert "Evidence: the redirect that announced it (HTTP 301 to https://krrop.com/trust):" in said
    assert "Captured2025-06-03 09:30 UTC Pagehttps://www.krop.com/privacy (HTTP 301)" in said  # <dt><dd> pairs
    copy = re.search(r'<a href="(captures/\d+\.html)">the copy kept with these reports</a>', item).group(1)
    assert (out / "krop" / copy).exists()  # the redirect's own copy, written with the reports
    # on the timeline: a mark at the move, linked to it, with its hover text
    assert re.search(r'<a href="#move-1"><circle [^>]*class="move"><title>moved from https://www.krop.com/privacy '
                     r'to https://krrop.com/trust on 2025-06-03 \(HTTP 301 redirect\)</title>', history)
    assert ">moved to krrop.com/trust</text>" in history

    change = next((out / "krop").glob("change-*.html")).read_text()
    note = html.unescape(re.sub(r"<[^>]+>", "", re.search(r'<p class="moved">(.*?)</p>', change, re.S).group(1)))
    assert note == ("Moved: the policy moved from https://www.krop.com/privacy to https://krrop.com/trust in this "
                    "window: an HTTP 301 redirect to the new URL, captured 2025-06-03 09:30 UTC (the move and its "
                    "evidence).")
    assert 'href="index.html#move-1"' in change


def test_a_policy_that_stays_at_its_url_has_no_move(tmp_path):
    config = tracked(tmp_path, [acme()], {"acme": captured(("2021-01-10T10:00:00Z", "30 days"),
                                                          ("2021-06-10T10:00:00Z", "90 days"))})
    assert json.loads(run_cli(config, "export", "acme", "--json").out)["moves"] == []
    assert "move" not in run_cli(config, "history", "acme").out
    out = report(config, tmp_path)
    assert 'class="moved"' not in next((out / "acme").glob("change-*.html")).read_text()
    assert 'id="moves"' not in (out / "acme" / "index.html").read_text()


def test_variants_of_the_address_and_a_lone_capture_elsewhere_are_no_move(tmp_path):
    legal = "https://acme.example/legal/privacy"
    trust = "https://acme.example/legal/trust"
    seen_at = ["http://www.acme.example/privacy", ACME, "http://acme.example:80/Privacy", "https://acme.example/privacy/?",
               "https://acme.example/privacy?hl=en&utm_source=news", ACME,
               legal, ACME,  # one capture at another URL, and back: a detour, not two moves
               trust, trust]  # the one move
    archived = [Archived(url, f"2021-{month:02}-10T10:00:00Z", policy_html()) for month, url in enumerate(seen_at, 1)]
    policy = {**acme(), "urls": [ACME, "http://acme.example/Privacy", seen_at[4], legal, trust]}  # as archives list them
    config = tracked(tmp_path, [policy], {"acme": archived})
    moves = json.loads(run_cli(config, "export", "acme", "--json").out)["moves"]
    assert [(m["from_url"], m["to_url"], m["at"][:10]) for m in moves] == [(ACME, trust, "2021-09-10")]


# --- the timeline -------------------------------------------------------------------------

def test_a_one_day_history_has_day_ticks_around_its_day(tmp_path):
    config = tracked(tmp_path, [acme()], {"acme": captured(("2024-06-10T08:00:00Z", "30 days"),
                                                          ("2024-06-10T20:00:00Z", "90 days"),
                                                          declared="June 10, 2024")})
    page = (report(config, tmp_path) / "acme" / "index.html").read_text()
    labels = ticks(page)
    assert [label for _, label in labels][:2] == ["7 Jun 2024", "8 Jun"] and "10 Jun" in dict(map(reversed, labels))
    assert all(0 <= x <= 100 for x, _ in labels)
    capture_x = [float(x) / 10 for x in re.findall(r'<line x1="([\d.]+)" [^>]*class="capture"', page)]
    day = dict((label, x) for x, label in labels)
    assert all(day["10 Jun"] < x < day["11 Jun"] for x in capture_x) and len(capture_x) == 2  # not at the ends


def test_a_one_year_history_has_month_ticks(tmp_path):
    config = tracked(tmp_path, [acme()], {"acme": captured(("2024-06-01T10:00:00Z", "30 days"),
                                                          ("2025-05-20T10:00:00Z", "90 days"),
                                                          declared="June 1, 2024")})
    labels = [label for _, label in ticks((report(config, tmp_path) / "acme" / "index.html").read_text())]
    # every other month, the year named at the first tick and in January
    assert labels == ["Jul 2024", "Sep", "Nov", "Jan 2025", "Mar", "May"]


def test_a_twenty_year_history_has_year_ticks(tmp_path):
    config = tracked(tmp_path, [acme()], {"acme": captured(("2005-02-01T10:00:00Z", "30 days"),
                                                          ("2015-06-01T10:00:00Z", "30 days"),
                                                          ("2016-06-01T10:00:00Z", "90 days"),
                                                          ("2025-02-01T10:00:00Z", "90 days"),
                                                          declared="February 1, 2005")})
    labels = ticks((report(config, tmp_path) / "acme" / "index.html").read_text())
    assert [label for _, label in labels] == [str(year) for year in range(2006, 2025, 2)]
    steps = [round(b - a, 1) for (a, _), (b, _) in zip(labels, labels[1:])]
    assert max(steps) - min(steps) <= 0.1  # evenly spaced


def test_a_declared_date_decades_off_its_captures_does_not_stretch_the_axis(tmp_path):
    # 'Last updated: December 31, 2099' on a 2024 page: the history keeps its month ticks
    config = tracked(tmp_path, [acme()], {"acme": captured(("2024-06-01T10:00:00Z", "30 days"),
                                                          ("2025-05-20T10:00:00Z", "90 days"),
                                                          declared="December 31, 2099")})
    page = (report(config, tmp_path) / "acme" / "index.html").read_text()
    assert [label for _, label in ticks(page)] == ["Jul 2024", "Sep", "Nov", "Jan 2025", "Mar", "May"]
    assert "declares 2099-12-31" not in page.split('<figure class="timeline"', 1)[1].split("</figure>", 1)[0]


def test_a_change_is_drawn_over_its_window_and_declared_dates_before_the_first_capture_are_on_the_chart(
        tmp_path, browser):
    config = tracked(tmp_path, [acme()], {"acme": captured(
        ("2024-06-01T10:00:00Z", "30 days"), ("2024-08-01T10:00:00Z", "30 days"),
        ("2025-01-15T10:00:00Z", "90 days"), ("2025-05-20T10:00:00Z", "90 days"))})
    out = report(config, tmp_path)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto((out / "acme" / "index.html").as_uri())
    box = lambda selector: page.locator(selector).first.bounding_box()  # noqa: E731
    window = box("figure.timeline rect.mark")
    captures = sorted(b["x"] + b["width"] / 2 for b in map(lambda i: page.locator(
        "figure.timeline line.capture").nth(i).bounding_box(), range(4)))
    # from the last capture of the old text (1 August) to the first of the new (15 January)
    assert abs(window["x"] - captures[1]) <= 1.5 and abs(window["x"] + window["width"] - captures[2]) <= 1.5
    assert page.locator("figure.timeline rect.mark title").text_content() == \
        "version 1 → 2: substantive, changed between 2024-08-01 and 2025-01-15"
    # both versions declare 3 March 2024, three months before the first capture: on the chart
    declared = page.locator("figure.timeline circle.declared")
    assert declared.count() == 2 and declared.first.locator("title").text_content() == "version 1 declares 2024-03-03"
    chart, dot = box("figure.timeline svg.chart"), declared.first.bounding_box()
    assert chart["x"] <= dot["x"] and dot["x"] + dot["width"] < captures[0] - 20
    context.close()


# --- in Chromium, at desktop and phone widths ----------------------------------------------------------

LAYOUT = """() => ({
  wide: document.documentElement.scrollWidth,
  labels: [...document.querySelectorAll('figure.timeline text.tick')].filter(t => getComputedStyle(t).display != 'none')
          .map(t => { const b = t.getBoundingClientRect(); return [b.left, b.right, b.height]; }),
  chart: document.querySelector('figure.timeline svg.chart')?.getBoundingClientRect().width,
  overview: [...document.querySelectorAll('.overview-scroll')].map(e => [e.scrollWidth, e.clientWidth]),
})"""


def test_the_history_page_and_the_index_read_at_desktop_and_phone_widths(tmp_path, browser):
    """A three-policy setup: the Krop demo, a policy followed for twenty years, one for a day."""
    config = tracked(tmp_path, [KROP, acme("acme"), acme("brief")], {
        "acme": captured(("2005-02-01T10:00:00Z", "30 days"), ("2016-06-01T10:00:00Z", "90 days"),
                         ("2025-02-01T10:00:00Z", "1 year")),
        "brief": captured(("2024-06-10T08:00:00Z", "30 days"), ("2024-06-10T20:00:00Z", "90 days"),
                          declared="June 10, 2024")})
    out = report(config, tmp_path)
    shots = tmp_path / "screenshots"
    for width in (1280, 390):
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        for path in ("krop/index.html", "acme/index.html", "brief/index.html", "index.html"):
            page.goto((out / path).as_uri())
            seen = page.evaluate(LAYOUT)
            assert seen["wide"] <= width, (path, width)  # nothing wider than the screen...
            if path == "index.html":  # ...but the overview, which scrolls in its own box on a phone
                ((inside, shown),) = seen["overview"]
                assert (inside > shown) == (width == 390), seen["overview"]
            else:
                assert seen["chart"] >= min(width, 1120) - 40  # the timeline is as wide as the text (70rem at most)
                spans = sorted(seen["labels"])
                assert len(spans) >= 3 and all(height >= 11 for _, _, height in spans)  # ticks, text at its size
                assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), (path, width, spans)  # no overlap
            shot = shots / f"{path.replace('/', '_')}-{width}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 1000
        context.close()


def test_the_overview_legend_lists_the_kinds_of_the_changes_there_are_unread_ones_too(tmp_path):
    pdf = "https://acme.example/privacy.pdf"
    pdfs = [Archived(pdf, f"202{year}-01-10T10:00:00Z", b"%PDF-1.4\n%% version " + str(year).encode() + b"\n%%EOF\n",
                     headers=[("Content-Type", "application/pdf")]) for year in (1, 2)]  # a change no one read
    config = tracked(tmp_path, [acme(), {**acme("pdf"), "urls": [pdf]}],
                     {"acme": captured(("2021-01-10T10:00:00Z", "30 days"), ("2021-06-10T10:00:00Z", "90 days")),
                      "pdf": pdfs})
    index = (report(config, tmp_path) / "index.html").read_text()
    legend = re.search(r'<p class="small overview-kinds">.*?</p>', index, re.S)[0]
    assert re.findall(r"</svg> ([a-z-]+) \((\d+)\)", legend) == [("substantive", "1"), ("changed", "1")]
    assert 'class="mark k-changed"' in index


def test_a_policy_captured_once_has_a_mark_in_the_overview(tmp_path):
    config = tracked(tmp_path, [acme(), acme("once")],
                     {"acme": captured(("2021-01-10T10:00:00Z", "30 days"), ("2021-06-10T10:00:00Z", "90 days")),
                      "once": captured(("2021-03-10T10:00:00Z", "30 days"))})
    index = (report(config, tmp_path) / "index.html").read_text()
    assert index.count('class="tracked-once"') == 1 and "captured from 2021-03-10 to 2021-03-10" in index


def test_the_overview_has_a_row_per_policy_and_shows_one_kind_without_script(tmp_path, browser):
    config = tracked(tmp_path, [KROP, acme()], {"acme": captured(("2021-01-10T10:00:00Z", "30 days"),
                                                                ("2021-06-10T10:00:00Z", "90 days"))})
    out = report(config, tmp_path)
    index = (out / "index.html").read_text()
    assert re.findall(r'class="overview-name">([^<]+)<', index) == ["Krop / KRROP", "Acme"]
    assert "rewrite (1)" in index and "substantive (1)" in index and "cosmetic (" not in index  # the kinds there are
    marks = re.findall(r'<a href="([^"]+)"><rect [^>]*class="mark k-([a-z-]+)"><title>([^<]+)<', index)
    assert [(kind, (out / link).is_file()) for link, kind, _ in marks] == [("rewrite", True), ("substantive", True)]
    assert re.search(r'<a href="krop/index.html#move-1"><circle [^>]*class="move">', index)

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    shown = ("() => [...document.querySelectorAll('.overview rect.mark')]"
             ".filter(e => getComputedStyle(e).display != 'none').map(e => e.classList[1])")
    page.goto((out / "index.html").as_uri())
    assert page.evaluate(shown) == ["k-rewrite", "k-substantive"]
    page.click("a[href='#kind-rewrite']")
    assert page.evaluate(shown) == ["k-rewrite"]
    page.click("a[href='#kind-substantive']")
    assert page.evaluate(shown) == ["k-substantive"]
    page.click("a[href='#overview-all']")
    assert page.evaluate(shown) == ["k-rewrite", "k-substantive"]
    context.close()


# --- moves read off live checks ------------------------------------------------------------------

def test_a_live_page_that_starts_redirecting_elsewhere_is_a_move_and_a_trailing_slash_is_not(tmp_path, site):
    from conftest import Page

    site.pages["/privacy"] = Page(policy_html(retention="30 days"))
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")], "archives": []}])
    assert run_cli(config, "check").exit_code == 0
    site.pages["/privacy"] = Page(status=301, headers={"Location": "/privacy/"})  # the same page
    site.pages["/privacy/"] = Page(policy_html(retention="30 days"))
    assert run_cli(config, "check").exit_code == 0
    assert json.loads(run_cli(config, "export", "acme", "--json").out)["moves"] == []

    site.pages["/privacy"] = Page(status=301, headers={"Location": site.url("/legal/trust")})
    site.pages["/legal/trust"] = Page(policy_html(retention="90 days"))
    assert run_cli(config, "check").exit_code == 0
    (move,) = json.loads(run_cli(config, "export", "acme", "--json").out)["moves"]
    assert (move["from_url"], move["to_url"]) == (site.url("/privacy/"), site.url("/legal/trust"))
    assert move["redirect"] == {"status": 301, "location": site.url("/legal/trust")}
    assert move["evidence"]["source"] == "live" and move["evidence"]["url"] == site.url("/privacy")
    lines = run_cli(config, "history", "acme").out.splitlines()
    assert lines[-3].strip().startswith(f"moved {site.url('/privacy/')} -> {site.url('/legal/trust')} ")
    assert lines[-3].strip().endswith(" HTTP 301 redirect (live capture)")
    assert lines[-2].strip().startswith("change 1 -> 2")
