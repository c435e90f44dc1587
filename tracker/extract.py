"""Turn a stored capture into a policy ``Document``.

HTML: the policy's ``selector`` picks the policy text when given; otherwise the policy content
is found by leaving out page chrome (navigation, header, footer, cookie banners, share
widgets) and taking the main content element. Headings are kept, including bold-only
paragraphs that act as headings. Wayback toolbars and archive-rewritten links are undone,
and Cloudflare-obfuscated e-mail addresses are decoded, so that none of them reads as a change.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import lxml.etree
import lxml.html
from lxml.cssselect import CSSSelector

from tracker.dates import DATE_CUE
from tracker.document import Block, Document, Memo
from tracker.normalise import unarchive_urls
from tracker.sections import RANK_BOLD, RANK_MARKDOWN, RANK_NUMBERED, RANK_PLAIN_ALONE, build_document
from tracker.errors import TrackerError
from tracker.fetch import decode_body
from tracker.textparse import bold_heading, heading_like, numbered_rank, parse_text, underlined_heading

# Bump when extraction changes what it produces: stored documents are then re-extracted,
# and the changes that only this produces are marked technical.
EXTRACTOR_VERSION = 6

DROP_TAGS = ["script", "style", "noscript", "template", "svg", "iframe", "object", "embed",
             "canvas", "nav", "aside", "form", "button", "select", "input", "textarea", "dialog"]
# Names of page chrome in id and class attributes. Policy sections carry names too (an anchor
# 'how-we-share-data', a 'cookies' section), so generic words only count with a widget word.
CHROME = re.compile(
    r"cookie-?(?:banner|bar|notice|consent|popup|modal|law|alert|wall|message|overlay)|consent-?"
    r"(?:banner|bar|notice|popup|modal|manager|overlay)|onetrust|didomi|cookiebot|trustarc|truste-|"
    r"usercentrics|gdpr-?banner|cc-(?:banner|window)|osano|iubenda|qc-cmp|sp_message|"
    r"share-?(?:buttons?|bar|links?|tools|widget)|sharethis|addthis|social-?(?:share|links?|icons?|buttons?|bar)|breadcrumb|skip-?link|"
    r"newsletter|subscribe|^wm-|wayback|donato|sidebar|site-?header|site-?footer|navbar|menu",
    re.I)
NEVER_CHROME = {"html", "body", "main", "article", "p", "li", "td", "th", "tr", "table",
                "h1", "h2", "h3", "h4", "h5", "h6"}
CONTENT_SELECTORS = [CSSSelector(selector) for selector in (  # compiled once, not for every page
    "main article", "article", "main", "[role=main]", "#content", ".content", "#main", ".main", "#main-content",
    ".main-content", ".privacy-policy", "#privacy-policy")]
NAMED = lxml.etree.XPath("//*[@id or @class or @role]")  # elements that can be named as page chrome
HEADINGS = {f"h{n}": n for n in range(1, 7)}
ROLE_HEADING = lxml.etree.XPath("//*[@role='heading']")
# Every tag but those that give a policy its shape or are left out whole: for pages nested
# too deep to parse as they are.
SHAPELESS_TAG = re.compile(
    r"</?(?!(?:html|head|title|meta|body|h[1-6]|p|br|ul|ol|li|dl|dt|dd|table|thead|tbody|tfoot|tr|td|th|"
    r"blockquote|pre|hr|script|style|noscript|template|nav|header|footer|aside|form)\b)[a-zA-Z][^>]*>")
# And, for pages that nest even those (tables in tables, lists in lists), every tag that can
# hold itself: headings and paragraphs, which close before the next one opens, remain.
NESTING_TAG = re.compile(
    r"</?(?!(?:html|head|title|meta|body|h[1-6]|p|br|script|style|noscript|template)\b)[a-zA-Z][^>]*>")
BLOCKS = {"p", "div", "section", "article", "main", "ul", "ol", "li", "dl", "dt", "dd", "table",
          "thead", "tbody", "tfoot", "tr", "td", "th", "blockquote", "pre", "summary", "details",
          "figure", "figcaption", "address", "hr", "header", "footer", "body", "center", *HEADINGS}
BOLD = {"b", "strong"}


@dataclass
class ExtractSettings:
    selector: str = ""
    remove: tuple[str, ...] = ()


# Control characters, which lxml refuses in any string it is given and pages carry stray (a
# vertical tab after a script): those that break lines or space words read as such, the rest
# are dropped. The C1 range is left alone: it holds Windows-1252 punctuation ('\x97', a dash)
# read as Latin-1.
CONTROL = re.compile("[\x00-\x08\x0e-\x1b\x7f\ufffe\uffff]")
ANY_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
# The same, as bytes of a body in an ASCII-compatible charset: a quick first look (most
# pages hold none), several times faster than a search of the decoded text.
CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0b, 0x0c, *range(0x0e, 0x20), 0x7f])
SPACING_CONTROLS = {"\x0b": "\n", "\x0c": "\n", "\x1c": "\n", "\x1d": "\n", "\x1e": "\n", "\x1f": " "}
BINARY_SHARE = 0.02  # more unreadable characters than this at the start of a body: not text
SAMPLE = 65536


class Unreadable(Exception):
    """A body with no text to read (binary data served as a page); the message says why."""


def extract(body: bytes, fmt: str, charset: str | None, settings: ExtractSettings,
            memo: Memo | None = None) -> Document:
    """The policy document in a captured body; raises TrackerError for a selector that is wrong
    and ``Unreadable`` for a body that is not text. ``memo``: see ``Memo``; the captures of
    one history share one."""
    memo = memo or Memo()
    text = decode_body(body, charset)
    sample = text[:SAMPLE]
    if _may_hold_controls(body, charset, text) or "\ufffd" in sample:
        bad = len(CONTROL.findall(sample)) + sample.count("\ufffd")
        if bad > max(8, BINARY_SHARE * len(sample)):
            raise Unreadable(f"binary data, not text ({bad} of its first {len(sample):,} characters are "
                             "control characters or undecodable bytes)")
        text = ANY_CONTROL.sub(lambda m: SPACING_CONTROLS.get(m.group(), ""), text)
    if fmt == "html":
        return extract_html(text, settings, memo)
    return parse_text(text, memo=memo)


def _may_hold_controls(body: bytes, charset: str | None, text: str) -> bool:
    if charset is None or "<a\n".encode(charset, "ignore") == b"<a\n":  # control characters are their bytes
        return len(body.translate(None, CONTROL_BYTES)) != len(body) or b"\xef\xbf\xbe" in body \
            or b"\xef\xbf\xbf" in body
    return ANY_CONTROL.search(text) is not None


def extract_html(html: str, settings: ExtractSettings, memo: Memo) -> Document:
    root = _parse(html)
    page_title = " ".join((root.findtext(".//title") or "").split())
    # each pass walks every element of the page: only where the page shows a trace of it
    if "/web/" in html or "wm-" in html or "donato" in html:
        _strip_archive_artefacts(root)
    if "cfemail" in html or "email-protection" in html:
        _decode_cloudflare_emails(root)
    if "<button" in html or 'role="heading"' in html or "role='heading'" in html:
        _widget_headings(root)
    for tag in DROP_TAGS:
        for el in root.iter(tag):
            _drop(el)
    for el in root.iter(lxml.etree.Comment, lxml.etree.ProcessingInstruction):
        _drop(el)
    for selector in settings.remove:
        for el in _select(root, selector):
            _drop(el)
    if settings.selector:
        nodes = _select(root, settings.selector)
        if not nodes:
            return build_document([], page_title, memo)
    else:
        _drop_chrome(root)
        nodes = [_main_content(root)]
    blocks: list[Block] = []
    for node in nodes:
        blocks.extend(html_blocks(node))
    document = build_document(blocks, memo=memo)
    document.title = document.title or page_title
    return document


def _parse(html: str) -> lxml.html.HtmlElement:
    """The page's element tree, however deep it nests. libxml2 stops building the tree past
    2,048 levels (and drops the text below); such a page is parsed again with only the tags
    that give a policy its shape (headings, paragraphs, lists, tables), and if it nests those
    too, with only headings and paragraphs."""
    html = re.sub(r"^\s*<\?xml[^>]*>", "", html)  # lxml refuses str input with an encoding declaration
    try:
        for kept in (None, SHAPELESS_TAG, NESTING_TAG):  # each pass drops more tags, never text
            parser = lxml.html.HTMLParser(huge_tree=True)
            root = lxml.html.document_fromstring((kept.sub(" ", html) if kept else html) or "<html></html>",
                                                 parser=parser)
            if not any(e.type_name == "ERR_RESOURCE_LIMIT" for e in parser.error_log):
                break
        return root
    except (lxml.etree.ParserError, ValueError):
        return lxml.html.document_fromstring("<html><body></body></html>")


def _widget_headings(root) -> None:
    """Headings drawn with widgets: the toggle of an accordion section (a button that expands
    or controls a panel, or sits in a heading) and an element with role="heading" name the
    section. The buttons left are controls, dropped with the other widgets."""
    for el in list(root.iter("button")):
        if any(a.tag in HEADINGS or a.tag in ("summary", "dt") for a in el.iterancestors()):
            el.tag = "span"  # the heading around it is read as usual
        elif el.get("aria-expanded") is not None or el.get("aria-controls"):
            el.tag = "summary"  # what an accordion's toggle is: the visible name of a collapsed part
    for el in ROLE_HEADING(root):
        level = el.get("aria-level") or ""
        el.tag = f"h{level}" if level in ("1", "2", "3", "4", "5", "6") else "h2"  # ARIA's default level


def _select(root: lxml.html.HtmlElement, selector: str) -> list:
    try:
        return CSSSelector(selector)(root)
    except Exception as e:  # cssselect raises several types for a bad expression
        raise TrackerError(f"selector {selector!r} is not valid CSS ({e})") from None


def _drop(el) -> None:
    """Remove an element but keep the text that follows it (lxml keeps that in .tail)."""
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail
    previous = el.getprevious()
    parent.remove(el)
    if tail:
        if previous is not None:
            previous.tail = (previous.tail or "") + tail
        else:
            parent.text = (parent.text or "") + tail


def _strip_archive_artefacts(root) -> None:
    """The Wayback toolbar and its scripts, if a non-raw capture slipped in; rewritten links."""
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        ident = el.get("id") or ""
        if ident.startswith(("wm-ipp", "donato", "wm-btns")):
            _drop(el)
            continue
        for attr in ("href", "src"):
            value = el.get(attr)
            if value and "/web/" in value:
                el.set(attr, unarchive_urls(re.sub(r"^/web/", "https://web.archive.org/web/", value)))


def _decode_cloudflare_emails(root) -> None:
    """Cloudflare hides addresses behind a per-fetch key; decode them back to the address."""
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        encoded = el.get("data-cfemail")
        href = el.get("href") or ""
        if not encoded and "/cdn-cgi/l/email-protection#" in href:
            encoded = href.rsplit("#", 1)[1]
        if encoded is None:
            continue
        address = cloudflare_email(encoded)
        if address is None:
            continue
        if el.get("data-cfemail"):
            tail = el.tail
            el.clear()
            el.text, el.tail = address, tail
        if "/cdn-cgi/l/email-protection" in href:
            el.set("href", f"mailto:{address}")
            for child in el.iter():
                if child.get("data-cfemail") is None and child.text and "[email" in child.text:
                    child.text = address


def cloudflare_email(encoded: str) -> str | None:
    try:
        data = bytes.fromhex(encoded)
    except ValueError:
        return None
    if len(data) < 2:
        return None
    key = data[0]
    address = bytes(b ^ key for b in data[1:]).decode("utf-8", errors="replace")
    return address if "@" in address else None


def _drop_chrome(root) -> None:
    """Page chrome: header and footer outside the content, banners and widgets by name."""
    body = root.find("body")
    total = len(body.text_content().split()) if body is not None else 0
    for el in list(root.iter("header", "footer")):
        if not any(a.tag in ("main", "article") for a in el.iterancestors()):
            _drop(el)
    for el in NAMED(root):
        if el.tag in NEVER_CHROME:
            continue
        names = f"{el.get('id') or ''} {el.get('class') or ''} {el.get('role') or ''}"
        if el.get("role") in ("navigation", "banner", "contentinfo", "dialog", "alertdialog") or \
                (CHROME.search(names) and len(el.text_content().split()) < 0.3 * max(total, 1)):
            _drop(el)


def _main_content(root):
    """The longest of the usual content containers with real text in it, else the body."""
    best, best_words = None, 200
    for selector in CONTENT_SELECTORS:
        for el in selector(root):
            words = len(el.text_content().split())
            if words > best_words:
                best, best_words = el, words
    return best if best is not None else (root.find("body") if root.find("body") is not None else root)


class _Blocks:
    """Walks an element tree and emits blocks: flushes inline text at block boundaries."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.line: list[tuple[str, bool]] = []  # (text, in bold)
        self.lines: list[list[tuple[str, bool]]] = []
        self.kind = "para"  # what the next flushed text is: "item" right after <li> opens

    def text(self, text: str | None, bold: bool) -> None:
        if text:
            self.line.append((text, bold))

    def newline(self) -> None:
        self.lines.append(self.line)
        self.line = []

    def flush(self) -> None:
        self.newline()
        kind, self.kind = self.kind, "para"
        first = True
        for text, bold_only, underline in _ruled_lines(self.lines):
            rank = numbered_rank(text)
            if underline and underlined_heading(text):
                self.blocks.append(Block("heading", text, RANK_MARKDOWN + underline))
            elif bold_only and bold_heading(text):
                self.blocks.append(Block("heading", text, rank or RANK_BOLD))
            elif rank and kind == "para" and len(self.lines) == 1:
                self.blocks.append(Block("heading", text, rank))
            else:
                self.blocks.append(Block(kind if first else "para", text))
                first = False
        self.lines = []

    def walk(self, root) -> None:
        """Depth first, with a stack of its own: pages nest elements thousands deep."""
        stack: list[tuple[lxml.etree._Element, bool, bool]] = [(root, False, False)]  # (element, bold, leaving)
        while stack:
            el, bold, leaving = stack.pop()
            if leaving:
                if el.tag in BLOCKS:
                    self.flush()
                self.text(el.tail, bold)
                continue
            if self.whole(el):
                self.text(el.tail, bold)
                continue
            tag = el.tag if isinstance(el.tag, str) else ""
            if tag in BLOCKS:
                self.flush()
            if tag == "li":
                self.kind = "item"
            if tag == "br":
                self.newline()
            inner_bold = bold or tag in BOLD
            self.text(el.text, inner_bold)
            stack.append((el, bold, True))
            stack.extend((child, inner_bold, False) for child in reversed(el))

    def whole(self, el) -> bool:
        """Elements read as one block (a heading, a table row, a term): emitted, True."""
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in HEADINGS:
            self.flush()
            text = _text_of(el)
            if text:
                self.blocks.append(Block("heading", text, RANK_MARKDOWN + HEADINGS[tag]))
        elif tag == "tr":
            self.flush()
            cells = [_text_of(c) for c in el if c.tag in ("td", "th")]
            if any(cells):
                self.blocks.append(Block("row", " | ".join(cells)))
        elif tag in ("dt", "summary"):
            self.flush()
            text = _text_of(el)
            if text:
                self.blocks.append(Block("heading", text, RANK_BOLD) if heading_like(text) else Block("para", text))
        elif tag == "ol" and (heading := _list_as_heading(el)):
            self.flush()
            self.blocks.append(Block("heading", heading, RANK_NUMBERED + 1))
        else:
            return False
        return True


RULE = re.compile(r"^[ \t]*([=-])\1{2,}[ \t]*$", re.M)


def _ruled_lines(lines: list[list[tuple[str, bool]]]) -> list[tuple[str, bool, int]]:
    """Each line's text, whether it is all in bold, and the level of the rule drawn under it
    (0 for none). A policy written as text keeps its '====' and '----' underlines in a <pre>
    or between <br>s: the line over one is a heading, the rule itself is no text."""
    out: list[tuple[str, bool, int]] = []
    for parts in lines:
        raw = "".join(t for t, _ in parts)
        bold_only = all(b for t, b in parts if t.strip().strip(":").strip())
        pieces = RULE.split(raw) if ("---" in raw or "===" in raw) else [raw]
        for i in range(0, len(pieces), 2):  # text, rule mark, text, rule mark, ..., text
            text, mark = pieces[i], pieces[i + 1] if i + 1 < len(pieces) else ""
            body, _, last = text.rstrip().rpartition("\n") if mark else ("", "", text)
            for piece, level in ((body, 0), (last, 1 if mark == "=" else 2 if mark else 0)):
                piece = " ".join(piece.split())
                if piece:
                    out.append((piece, bold_only, level))
                elif level and out and not out[-1][2]:
                    out[-1] = (out[-1][0], out[-1][1], level)  # the rule is under the line before
    return out


def _text_of(el) -> str:
    """The text of an element with its inner blocks and line breaks kept apart by spaces
    ('<p>Account Data</p><p>Profile Data</p>' in a table cell is not 'Account DataProfile Data')."""
    parts: list[str] = []
    stack: list = [el]  # elements to visit, and strings to add, last first
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            parts.append(node)
            continue
        space = " " if node.tag in BLOCKS or node.tag == "br" else ""
        parts.append(space + (node.text or ""))
        stack.append(space)
        for child in reversed(node):
            stack.append(child.tail or "")
            if isinstance(child.tag, str):
                stack.append(child)
    return " ".join("".join(parts).split())


def _list_as_heading(ol) -> str | None:
    """'<ol start="8"><li>Exercising your rights</li></ol>': word processors number headings
    as one-item lists."""
    items = [child for child in ol if isinstance(child.tag, str)]
    if len(items) != 1 or items[0].tag != "li" or any(c.tag in ("ul", "ol", "p", "div") for c in items[0]):
        return None
    text = _text_of(items[0])
    if not heading_like(text):
        return None
    start = ol.get("start") or "1"
    return f"{start}. {text}" if start.isdigit() else None


def html_blocks(node) -> list[Block]:
    walker = _Blocks()
    walker.walk(node)
    walker.flush()
    return _plain_headings(walker.blocks)


def _plain_headings(blocks: list[Block]) -> list[Block]:
    """A paragraph that is only a short title-like line, between a finished sentence and the
    body text it introduces, is a heading written without markup ('<p>Your rights</p>')."""
    out = []
    for i, block in enumerate(blocks):
        before = blocks[i - 1] if i else None
        after = blocks[i + 1] if i + 1 < len(blocks) else None
        if block.kind == "para" and heading_like(block.text) and not block.text.endswith(":") \
                and not DATE_CUE.match(block.text) \
                and (before is None or before.kind == "heading" or before.text.endswith((".", "!", "?", ":")))\
                and after is not None and after.kind in ("para", "item") \
                and len(after.text.split()) >= max(8, len(block.text.split()) + 3) \
                and after.text.endswith((".", "!", "?", ":", ")")):
            block = Block("heading", block.text, RANK_PLAIN_ALONE)
        out.append(block)
    return out


NOT_A_POLICY = re.compile(
    r"access denied|forbidden|captcha|are you a (?:human|robot)|attention required|just a moment|"
    r"checking your browser|verify you are human|enable javascript and cookies|request (?:was )?blocked|"
    r"page (?:was )?not found|404 not found|not found|error 404|we can.t find (?:that|the) page|"
    r"service unavailable|too many requests|temporarily unavailable|site maintenance|bad gateway",
    re.I)
MIN_WORDS = 40
# Words any privacy policy or terms of service uses often, in the languages the tracker
# recognises. A home page served at the policy's URL uses them hardly at all. (Matched on
# lower-cased text: faster than a case-insensitive pattern.)
POLICY_WORDS = re.compile(
    r"\b(?:privacy|personal|data|information|cookies?|consent|rights?|process(?:ing|ed)?|terms|"
    r"agreement|conditions|liabilit\w*|laws?|polic(?:y|ies)|datenschutz\w*|daten|personenbezogen\w*|"
    r"verarbeitung|einwilligung|rechte?|bedingungen|données|personnel\w*|informations?|traitement|"
    r"droits?|confidentialité|privée|protection|datos|personales|tratamiento|privacidad|derechos?|"
    r"dati|personali|trattamento|diritti|gegevens|persoonsgegevens|verwerking|rechten|dados|pessoais)\b")
MIN_POLICY_WORDS = 0.01  # measured: policies 0.02 and up, home pages and menus under 0.006


def assess(document: Document, memo: Memo | None = None) -> str | None:
    """Why this document cannot be a policy text (an error or challenge page, an empty page),
    or None when it can. ``memo``: see ``Memo``."""
    words = document.word_count
    if words < 400:
        match = NOT_A_POLICY.search(f"{document.title}\n{document.text[:600]}")
        if match:
            return f"error or bot-challenge page ({match.group(0)!r})"
    if words < MIN_WORDS:
        return f"no policy text ({words} words)"
    needed = math.ceil(MIN_POLICY_WORDS * words)
    policy_terms = (memo or Memo()).of(_policy_terms)
    terms = 0
    for line in document.lines:
        terms += policy_terms(line)
        if terms >= needed:  # enough is enough
            return None
    return f"does not read like a policy ({terms} privacy or legal terms in {words} words)"


def _policy_terms(line: str) -> int:
    return len(POLICY_WORDS.findall(line.lower()))
