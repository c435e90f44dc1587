"""Copies of the captures a report cites, that a reader can open: an archived capture is
opened in its archive; a capture read from a WARC file or fetched live is in no archive a
reader can reach, so a copy of it is written beside the pages.

A stored copy is the captured page made inert by nh3 (the Ammonia sanitizer): text,
headings, lists, tables and links are kept; scripts, handlers, styles, images, forms and
frames are not, so nothing runs, nothing is loaded from elsewhere and nothing can be sent.
The page around it carries the reports' Content-Security-Policy as well, so anything the
sanitizer let through would still be blocked.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path, PurePath
from urllib.parse import urljoin, urlsplit

import nh3

from tracker.console import printable
from tracker.fetch import decode_body
from tracker.models import Capture

ARCHIVED = ("ia", "memento")  # sources whose archive serves the capture to anyone
RAW_REPLAY = re.compile(r"/(\d{14})id_/")

# What a copy keeps: Ammonia's own choice of harmless tags, with the document's sections;
# images lose their source (a load from elsewhere) and keep their alt text; quotes lose
# their `cite`, a URL Ammonia lets through with any scheme (javascript: too).
TAGS = nh3.ALLOWED_TAGS | {"section", "tfoot", "address"}
ATTRIBUTES = {tag: set(names) - {"width", "height", "src", "cite"} for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
# Removed with what they hold: their content is code, a style, or controls that are no text.
REMOVED_WHOLE = {"script", "style", "title", "noscript", "template", "iframe", "noframes", "noembed",
                 "object", "svg", "math", "form", "select", "button", "textarea"}
LINK_REL = "noopener noreferrer nofollow"
CONTROLS = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f]")  # no HTML holds them; a page may


@dataclass
class Cited:
    """A capture as a page cites it: what it is, and where a reader opens what was captured."""

    role: str  # "first capture of the new version", ...
    capture: Capture
    copy: str | None  # the stored copy, relative to the policy's folder
    view: str | None  # the archive's page of the capture, for a reader (of a live one: its save)
    raw: str | None  # the archive's exact bytes (its id_ replay URL)

    @property
    def where(self) -> str:
        """Where the capture was read, as a reader names it."""
        return where(self.capture)


def cite(capture: Capture, role: str) -> Cited:
    """A capture cited as evidence: linked to its archive, or to its stored copy."""
    if capture.source in ARCHIVED:
        raw = safe_url(capture.archive_url)
        return Cited(role, capture, None, safe_url(memento_view(raw)) if raw else None, raw)
    saved = safe_url(capture.saved_url)  # a live capture the Internet Archive saved too
    return Cited(role, capture, copy_name(capture.id) if has_copy(capture) else None, saved, None)


def has_copy(capture: Capture) -> bool:
    """Whether the reports hold a copy of this capture (one with a body that no archive serves)."""
    return capture.source not in ARCHIVED and capture.sha256 is not None


def copy_name(capture_id: int) -> str:
    return f"captures/{capture_id}.html"


def memento_view(raw_url: str) -> str:
    """The archive's page of a capture ('.../20170327070820/https://...') from its raw replay
    URL ('...id_/'): the one a reader opens, with the archive's banner and dates."""
    return RAW_REPLAY.sub(lambda m: f"/{m.group(1)}/", raw_url, count=1)


def where(capture: Capture) -> str:
    """Where the capture was read, as a published page may say it: a WARC file by its name
    alone, since where it lies on this machine is nobody's business."""
    if capture.source == "warc" and capture.archive_url:
        path, mark, offset = capture.archive_url.rpartition("#")
        name = PurePath(path if mark else offset).name
        return f"the WARC file {name}, record at offset {offset}" if mark else f"the WARC file {name}"
    if capture.source == "live":
        return "a live fetch by policy-tracker"
    archive = "the Internet Archive" if capture.source == "ia" else "a Memento archive"
    host = urlsplit(capture.archive_url or "").hostname
    return f"{archive} ({host})" if host else archive


def fingerprint() -> str:
    """Changes when what copies keep changes: every copy is written again then."""
    return hashlib.sha256(version("nh3").encode() + Path(__file__).read_bytes()).hexdigest()[:16]


def inert_html(body: bytes, charset: str | None, page_url: str) -> str | None:
    """A captured page as HTML that runs nothing and loads nothing; its relative links lead to
    the page's own site, as they did where it was captured. None for a page nested deeper
    than MAX_NESTING: the sanitizer's time grows much faster than such a page (a megabyte of
    100,000 nested elements took minutes), so it is shown as text (``text_of_html``)."""
    text = CONTROLS.sub("", decode_body(body, charset))
    if nesting(text) > MAX_NESTING:
        return None
    return nh3.clean(text, tags=TAGS, clean_content_tags=REMOVED_WHOLE, attributes=ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel=LINK_REL,
                     url_relative=lambda url: _joined(page_url, url))


MAX_NESTING = 256  # elements open at once in a page copied as HTML (real policies: a few dozen)
TAG = re.compile(r"<(/?)([A-Za-z][\w:-]*)[^>]*?(/?)>")
FLAT = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr",
        "p", "li", "dt", "dd", "tr", "td", "th", "option"}  # empty, or closed by the next of their kind


def nesting(html: str) -> int:
    """How deep a page's elements nest, counted from its tags in one pass."""
    depth = deepest = 0
    for closing, name, empty in TAG.findall(html):
        if name.lower() in FLAT or empty:
            continue
        depth = max(0, depth - 1) if closing else depth + 1
        deepest = max(deepest, depth)
    return deepest


def text_of_html(body: bytes, charset: str | None) -> str:
    """A page's words without its markup, for a page too deep to copy as HTML."""
    text = re.sub(r"<(script|style)\b.*?</\1\s*>", " ", decode_body(body, charset), flags=re.S | re.I)
    return printable(html.unescape(re.sub(r"<[^>]*>", " ", text)))


def plain_text(body: bytes, charset: str | None) -> str:
    """A captured text file, printable (autoescaped where it is shown)."""
    return printable(decode_body(body, charset))



def _joined(page_url: str, url: str) -> str | None:
    try:
        return safe_url(urljoin(page_url, url))
    except ValueError:  # 'http://[not an address' names no page
        return None


def safe_url(url: str | None) -> str | None:
    """A URL fit for a link from a report: http(s) only (an archived page can name
    `javascript:` anything)."""
    return url if url and urlsplit(url).scheme in ("http", "https") else None
