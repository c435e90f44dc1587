"""Build examples/krop-demo.warc.gz: an offline archive of the Krop -> KRROP privacy policy.

The shipped config.toml tracks it, so `tracker backfill` runs with no network. It is made
from two of the project's seed texts (tests/fixtures/seeds): the Krop privacy policy as the
Wayback Machine archived it in 2017, and the KRROP Trust & Privacy Policy of 2025, each
turned into a plain web page with the site chrome around it (navigation, cookie banner,
footer) that the extractor has to leave out. The captures, dates and chrome are made up for
the demo; the policy texts are real.

Timeline (krop.com/privacy became krrop.com/trust):
  2016-03-30  krop.com/privacy   200  Krop policy
  2016-11-02  krop.com/privacy   200  the same bytes again (a WARC revisit record)
  2017-03-27  krop.com/privacy   200  Krop policy, new footer year: other bytes, same text
  2018-02-14  krop.com/privacy   503  the site was down: an error capture
  2019-07-01  krop.com/privacy   200  the same bytes as 2017 (revisit)
  2025-06-03  krop.com/privacy   301  an archived redirect to krrop.com/trust
  2025-06-03  krrop.com/trust    200  KRROP policy
  2025-10-15  krrop.com/trust    200  the same bytes again (revisit)

Usage: python examples/build_demo.py   (rewrites the file; the output is reproducible)
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
import uuid
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

HERE = Path(__file__).resolve().parent
SEEDS = HERE.parent / "tests" / "fixtures" / "seeds"
OUT = HERE / "krop-demo.warc.gz"
KROP, KRROP = "https://www.krop.com/privacy", "https://krrop.com/trust"


def markdown_to_html(md: str) -> str:
    """Enough Markdown for the seeds: headings, paragraphs, lists, links, bold."""
    out, items = [], []
    for block in re.split(r"\n\s*\n", md.strip()):
        lines = [line for line in block.splitlines() if line.strip()]
        if lines and lines[0].startswith(">"):
            continue  # the seed's provenance note is not part of the page
        for line in lines:
            if re.match(r"\s*[-*] ", line):
                items.append(f"<li>{inline(line.strip()[2:])}</li>")
                continue
            if items:
                out.append("<ul>" + "".join(items) + "</ul>")
                items = []
            heading = re.match(r"(#{1,6}) (.*)", line)
            if heading:
                level = len(heading.group(1))
                out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
            else:
                out.append(f"<p>{inline(line)}</p>")
        if items:
            out.append("<ul>" + "".join(items) + "</ul>")
            items = []
    return "\n".join(out)


def inline(text: str) -> str:
    text = html.escape(text, quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"\[([^\]]*)\]\(([^)\s]*)\)", r'<a href="\2">\1</a>', text)


def page(title: str, body: str, site: str, year: int) -> bytes:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body>
<nav><a href="/">Home</a> <a href="/jobs">Jobs</a> <a href="/about">About us</a> <a href="/login">Log in</a></nav>
<div id="cookie-banner">We use cookies to improve your experience. <button>Accept all</button></div>
<main><article>
{body}
</article></main>
<footer>&copy; {year} {site}. All rights reserved. <a href="/terms">Terms</a> <a href="/privacy">Privacy</a></footer>
</body></html>
""".encode("utf-8")


def seed(prefix: str) -> str:
    return next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")


class Demo:
    def __init__(self, stream):
        self.writer = WARCWriter(stream, gzip=True)
        self.first: dict[str, tuple[str, str]] = {}  # payload digest -> (uri, date) of the original

    def response(self, uri: str, date: str, status: str, headers: list[tuple[str, str]], body: bytes) -> None:
        digest = "sha1:" + base64.b32encode(hashlib.sha1(body).digest()).decode("ascii")
        http_headers = StatusAndHeaders(status, headers + [("Content-Length", str(len(body)))], protocol="HTTP/1.1")
        warc_headers = {"WARC-Date": date, "WARC-Record-ID": record_id(uri, date)}
        if digest in self.first and status.startswith("200"):
            original_uri, original_date = self.first[digest]
            record = self.writer.create_revisit_record(uri, digest, original_uri, original_date,
                                                       http_headers=http_headers, warc_headers_dict=warc_headers)
        else:
            record = self.writer.create_warc_record(uri, "response", payload=io.BytesIO(body),
                                                    http_headers=http_headers, warc_headers_dict=warc_headers)
            self.first.setdefault(digest, (uri, date))
        self.writer.write_record(record)


def record_id(uri: str, date: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, uri + date)}>"


def main() -> None:
    krop = markdown_to_html(seed("001"))
    krrop = markdown_to_html(seed("000"))
    html_type = [("Content-Type", "text/html; charset=utf-8")]
    buffer = io.BytesIO()
    demo = Demo(buffer)
    demo.response(KROP, "2016-03-30T10:12:44Z", "200 OK", html_type, page("Privacy | Krop", krop, "Krop", 2016))
    demo.response(KROP, "2016-11-02T18:40:03Z", "200 OK", html_type, page("Privacy | Krop", krop, "Krop", 2016))
    demo.response(KROP, "2017-03-27T07:08:20Z", "200 OK", html_type, page("Privacy | Krop", krop, "Krop", 2017))
    demo.response(KROP, "2018-02-14T03:21:57Z", "503 Service Unavailable", html_type,
                  b"<html><body><h1>503 Service Unavailable</h1><p>Back soon.</p></body></html>")
    demo.response(KROP, "2019-07-01T12:00:31Z", "200 OK", html_type, page("Privacy | Krop", krop, "Krop", 2017))
    demo.response(KROP, "2025-06-03T09:30:00Z", "301 Moved Permanently", html_type + [("Location", KRROP)], b"")
    demo.response(KRROP, "2025-06-03T09:30:02Z", "200 OK", html_type,
                  page("Trust &amp; Privacy Policy | KRROP", krrop, "KRROP", 2025))
    demo.response(KRROP, "2025-10-15T22:05:47Z", "200 OK", html_type,
                  page("Trust &amp; Privacy Policy | KRROP", krrop, "KRROP", 2025))
    OUT.write_bytes(buffer.getvalue())
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes, 8 captures)")


if __name__ == "__main__":
    main()
