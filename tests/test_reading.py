"""Reading a rewrite: `diff --stat`, the change page's summary, long sections collapsed,
permalinks on every section; and what the version page, tables on a phone and the feeds show."""

from __future__ import annotations

import json
import re
from pathlib import Path

import lxml.html

from conftest import Page, policy_html, run_cli, write_config

ROOT = Path(__file__).resolve().parents[1]
DEMO_WARC = ROOT / "examples" / "krop-demo.warc.gz"
KROP = ["https://www.krop.com/privacy", "https://krrop.com/trust"]


def demo(tmp_path: Path, extra: str = "") -> Path:
    config = write_config(tmp_path, [{"name": "krop", "title": "Krop / KRROP", "urls": KROP,
                                      "archives": [f"warc:{DEMO_WARC}"], "live": False}], extra)
    result = run_cli(config, "backfill")
    assert result.exit_code == 0, result.stderr
    return config


# --- the terminal ---------------------------------------------------------------------------

def test_diff_stat_gives_a_rewrite_in_one_screen(tmp_path):
    config = demo(tmp_path)
    result = run_cli(config, "diff", "krop", "--stat")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) < 30 and "[-" not in result.stdout  # no text: one line per section
    assert lines[0] == "Krop / KRROP: version 1 -> 2: rewrite, magnitude 1.00"
    rows = [line.split(None, 3) for line in lines[lines.index(next(x for x in lines if x.startswith("status"))) + 1:]]
    table = {name: (status, added, removed) for status, added, removed, name in rows}
    assert table["INFORMATION WE COLLECT"] == ("removed", "+0", "-38")
    assert table["Protection and Security of Information"] == ("added", "+409", "-0")
    assert table["(opening text)"][0] == "modified"
    total = table.pop("1 modified, 6 added, 13 removed")
    assert total[0] == "total"
    assert int(total[1][1:].replace(",", "")) == sum(int(a[1:]) for s, a, r in table.values() if s != "total")
    assert int(total[2][1:].replace(",", "")) == sum(int(r[1:]) for s, a, r in table.values() if s != "total")

    data = json.loads(run_cli(config, "diff", "krop", "--stat", "--json").stdout)
    assert (data["from_version"], data["to_version"], data["kind"]) == (1, 2, "rewrite")
    assert len(data["sections"]) == 20 and "ops" not in data["sections"][0]
    assert {"status": "removed", "heading": "INFORMATION WE COLLECT", "old_heading": "INFORMATION WE COLLECT",
            "new_heading": None, "moved": False, "words_added": 0, "words_removed": 38} in data["sections"]
    assert data["words_added"] == int(total[1][1:].replace(",", ""))
    assert data["words_added"] == json.loads(run_cli(config, "diff", "krop", "--json").stdout)["words_added"]


# --- the change page ------------------------------------------------------------------------

def render(config: Path, out: Path) -> dict[str, str]:
    result = run_cli(config, "report", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return {str(p.relative_to(out)): p.read_text(encoding="utf-8") for p in sorted(out.rglob("*.html"))}


def ids_of(page: str) -> list[str]:
    return re.findall(r'\bid="([^"]+)"', page)


def test_the_change_page_sums_up_its_sections_first_each_linked_to_its_permalinked_section(tmp_path):
    out = tmp_path / "reports"
    site = render(demo(tmp_path), out)
    name = next(p for p in site if "/change-" in p)
    page = site[name]
    ids = ids_of(page)
    assert len(ids) == len(set(ids))  # unique on the page

    summary = page.split('<table class="summary" id="summary">')[1].split("</table>")[0]
    assert page.index('id="summary"') < page.index('class="diffs"')  # the summary comes before the texts
    rows = re.findall(r'<tr><td>(\w+)</td><th scope="row"><a href="#([^"]+)">([^<]+)</a></th>'
                      r'<td class="num">\+([\d,]+)</td><td class="num">−([\d,]+)</td></tr>', summary)
    assert len(rows) == 20
    assert ("removed", "s-information-we-collect", "INFORMATION WE COLLECT", "0", "38") in rows
    assert ("added", "s-protection-and-security-of-information", "Protection and Security of Information",
            "409", "0") in rows
    assert ("modified", "s-opening-text", "(opening text)", "33", "70") in rows
    assert '<td>total</td><th scope="row">20 section(s)</th><td class="num">+1,208</td>' in summary
    for _, anchor, heading, _, _ in rows:  # each links to its section, which has its own ¶
        assert f'<h3 id="{anchor}">' in page and f'<a class="permalink" href="#{anchor}"' in page
    # rendered again from scratch, every link still leads to the same section
    (tmp_path / "again").mkdir()
    assert ids_of(render(demo(tmp_path / "again"), tmp_path / "again" / "reports")[name]) == ids


def test_the_links_to_the_changes_before_and_after_read_as_separate_links(tmp_path, site):
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    for retention in ("30 days", "90 days", "a year", "two years"):
        site.pages["/privacy"] = Page(policy_html(retention))
        assert run_cli(config, "check").exit_code == 0

    pages = render(config, tmp_path / "reports")

    middle = next(page for name, page in pages.items() if "/change-" in name and 'rel="prev"' in page and 'rel="next"' in page)
    (nav,) = lxml.html.fromstring(middle).xpath('//nav[@aria-label="Other changes"]')
    words = " ".join(nav.text_content().split())
    assert re.fullmatch(r"← previous change \(\S+\) next change \(\S+\) → version 2 version 3", words), words
    assert all(link.tail and link.tail.isspace() for link in nav.findall("a")[:-1])


def test_long_added_and_removed_sections_show_their_first_lines_and_fold_the_rest(tmp_path, browser):
    out = tmp_path / "reports"
    site = render(demo(tmp_path), out)
    name = next(p for p in site if "/change-" in p)
    page = site[name]
    protection = page.split('<h3 id="s-protection-and-security-of-information">')[1].split("</section>")[0]
    folded = re.search(r"<details><summary>The other (\d+) words of this section</summary>", protection)
    assert folded and 300 < int(folded.group(1)) < 409
    assert protection.count("<ins>") == 2 and "<del>" not in protection
    short = page.split('<h3 id="s-contacting-us">')[1].split("</section>")[0]
    assert "<details>" not in short and "you may contact us at support@krop.com</del>" in short
    folded = {section.split('"')[0] for section in page.split('<h3 id="')[1:]
              if "<details><summary>The other " in section.split("</section>")[0]}
    assert folded == {"s-what-we-use-your-information-for", "s-do-we-disclose-any-information-to-outside-parties",
                      "s-preamble", "s-acknowledgment",
                      "s-protection-and-security-of-information", "s-client-s-personal-and-non-personal-information"}

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    view = context.new_page()
    view.goto((out / name).as_uri())
    section = view.locator("#s-protection-and-security-of-information").locator("xpath=..")
    text = lambda: section.inner_text()  # noqa: E731  what a reader sees of it
    assert "The success of KRROP relies on the protection" in text() and "review Data Collector requirements" not in text()
    section.locator("summary").click()  # no script: the browser opens it
    assert "review Data Collector requirements" in text()
    # the summary's link leads to its section
    view.click('#summary a[href="#s-contacting-us"]')
    assert view.evaluate("location.hash") == "#s-contacting-us"
    assert view.evaluate("document.getElementById('s-contacting-us').getBoundingClientRect().top") < 50
    shots = tmp_path / "screenshots"
    shots.mkdir()
    for width, height in ((1280, 900), (390, 844)):
        view.set_viewport_size({"width": width, "height": height})
        view.goto((out / name).as_uri())
        view.screenshot(path=str(shots / f"change-{width}.png"), full_page=True)
        assert view.evaluate("document.documentElement.scrollWidth") <= width
    context.close()


# --- the version page -----------------------------------------------------------------------

def test_the_version_page_says_its_date_and_length_and_links_every_section(tmp_path):
    site = render(demo(tmp_path), tmp_path / "reports")
    page = site["krop/version-2.html"]
    assert "in 2 capture(s). Declared date: 2025-06-01. 1,181 words.</p>" in page
    ids = ids_of(page)
    assert len(ids) == len(set(ids))
    sections = re.findall(r'<section aria-label="[^"]*"( id="[^"]+")?>\n(<h\d id="([^"]+)">)?', page)
    assert len(sections) == 7
    for on_section, heading, anchor in sections:  # each section has its id; each heading its ¶
        assert on_section or f'<a class="permalink" href="#{anchor}" aria-label="Link to this section">¶</a>' in page
    assert 'href="#s-client-s-personal-and-non-personal-information"' in page  # the contents lead there


COOKIES = """<h2>Cookies</h2><p>We use the following cookies on our site.</p>
<table><tr><th>Cookie</th><th>Purpose</th><th>Expires</th></tr>
<tr><td>_ga</td><td>Google Analytics: tells visitors apart</td><td>2 years</td></tr>
<tr><td>session</td><td>Keeps you signed in</td><td></td></tr></table><p>You can refuse them.</p>"""


def test_a_policys_own_table_is_a_table_on_the_version_page(tmp_path, site):
    from conftest import Page, policy_html
    site.pages["/privacy"] = Page(policy_html(extra=COOKIES))
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    assert run_cli(config, "check").exit_code == 0
    page = render(config, tmp_path / "reports")["acme/version-1.html"]
    table = page.split('<div class="policy-table"><table>')[1].split("</table>")[0]
    rows = [re.findall(r"<td>([^<]*)</td>", row) for row in table.split("</tr>")[:-1]]
    assert rows == [["Cookie", "Purpose", "Expires"], ["_ga", "Google Analytics: tells visitors apart", "2 years"],
                    ["session", "Keeps you signed in", ""]]
    assert "<p>You can refuse them.</p>" in page and " | " not in page


# --- tables on a phone ------------------------------------------------------------------------

BROKEN_WORDS = r"""() => {
  const broken = [];
  for (const cell of document.querySelectorAll('th, td')) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) {
      if (node.parentElement.closest('a[href^="http"], code')) continue;  // URLs and hashes may break anywhere
      for (const word of node.data.matchAll(/[\p{L}\p{N}][\p{L}\p{N},.’']*/gu)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        if (new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1) broken.push(word[0]);
      }
    }
  }
  return broken;
}"""


def test_table_cells_on_a_phone_wrap_between_words_never_inside_one(tmp_path, browser):
    out = tmp_path / "reports"
    render(demo(tmp_path), out)
    shots = tmp_path / "screenshots"
    shots.mkdir()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    view = context.new_page()
    for page in sorted(out.rglob("*.html")):
        view.goto(page.as_uri())
        name = str(page.relative_to(out))
        assert view.evaluate("document.querySelectorAll('td, th').length") > 0 or \
            name.startswith(("krop/version-", "krop/captures/"))  # a capture's copy has the tables it had
        assert view.evaluate(BROKEN_WORDS) == [], name  # no "decla red date", no "1,1 81"
        assert view.evaluate("document.documentElement.scrollWidth") <= 390, name
        view.screenshot(path=str(shots / f"{name.replace('/', '_')}-390.png"), full_page=True)
    context.close()


# --- the feeds --------------------------------------------------------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"


def feed_links(path: Path) -> list[str]:
    import xml.etree.ElementTree as ET
    return [link.get("href") for link in ET.parse(path).getroot().iter(f"{ATOM}link")]


def test_feed_links_are_absolute_under_base_url_and_relative_to_the_feed_without_it(tmp_path):
    out = tmp_path / "reports"
    config = demo(tmp_path)
    result = run_cli(config, "report", "--out", str(out))
    assert "set [report] base_url" in result.stdout  # without it, the reader is told what the links are
    for feed in (out / "feed.xml", out / "krop" / "feed.xml"):
        (link,) = feed_links(feed)
        assert not link.startswith(("http", "/")) and (feed.parent / link).resolve().is_file()
    again = run_cli(config, "report", "--out", str(out))
    assert "0 page(s) written" in again.stdout and "base_url" not in again.stdout  # said once, when a feed is written

    config.write_text(config.read_text() + '\n[report]\nbase_url = "https://policies.example.org/reports/"\n')
    result = run_cli(config, "report", "--out", str(out))
    assert "base_url" not in result.stdout
    for feed in (out / "feed.xml", out / "krop" / "feed.xml"):
        (link,) = feed_links(feed)
        assert link.startswith("https://policies.example.org/reports/krop/change-2025-06-03-")
        assert (out / link.removeprefix("https://policies.example.org/reports/")).is_file()
