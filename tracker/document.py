"""The policy document: title, declared date, sections, normalised text and its hash.

Both extractors (HTML in ``extract.py``, text and Markdown here) produce a flat list of
``Block``s; ``build_document`` turns blocks into a section tree the same way for both, so a
policy reads the same whichever form it was captured in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from datetime import date
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# --- the things that flow ----------------------------------------------------------------

T = TypeVar("T")
R = TypeVar("R")

REMEMBERED = 4096  # results kept per function: more than the distinct lines of most histories
READINGS = 8  # documents whose readings are kept: a version is diffed with its neighbours


class Memo:
    """What pure functions returned, for one piece of work on one policy: a rebuild, a
    check, an export. Along a history most lines, blocks and sections recur from one capture
    to the next, so each is read once. Whoever reads documents makes one, hands it down
    and drops it when done: no two threads share one, and nothing of one policy outlives
    its work."""

    def __init__(self) -> None:
        self._functions: dict[Callable, Callable] = {}
        self._readings: dict[tuple[Callable, int], tuple[Any, Any]] = {}

    def of(self, function: Callable[[T], R]) -> Callable[[T], R]:
        """``function`` (of hashable arguments), remembering its results in this memo."""
        remembered = self._functions.get(function)
        if remembered is None:
            remembered = self._functions[function] = lru_cache(maxsize=REMEMBERED)(function)
        return remembered

    def reading(self, function: Callable[[T, Memo], R], document: T) -> R:
        """``function(document, memo)`` of a document, known by identity (documents are not
        hashable): the last few are kept, each with its document, so that no identity is
        reused while its reading is kept."""
        key = (function, id(document))
        kept = self._readings.get(key)
        if kept is None:
            if len(self._readings) >= READINGS:
                self._readings.clear()
            kept = self._readings[key] = (document, function(document, self))
        return kept[1]



@dataclass
class Block:
    """One unit of text: a heading, a paragraph, a list item or a table row."""

    kind: str  # "heading", "para", "item", "row"
    text: str
    rank: int = 0  # headings only: lower is more important (see HEADING_RANKS)


@dataclass
class Section:
    heading: str  # "" for the untitled opening section
    level: int
    number: str = ""  # "1", "2.3": the numbering printed before the heading, if any
    blocks: list[Block] = field(default_factory=list)
    children: list["Section"] = field(default_factory=list)

    def walk(self) -> "list[Section]":
        out = [self]
        for child in self.children:
            out.extend(child.walk())
        return out

    @cached_property  # read by units, facts and diffs; a section is not changed once built
    def text(self) -> str:
        return "\n".join(b.text for b in self.blocks)


@dataclass
class Document:
    title: str
    sections: list[Section]
    declared_date: str | None = None  # ISO date the policy states for itself
    provenance: str | None = None  # an archive URL the text says it was taken from
    provenance_date: str | None = None
    language: str | None = None
    truncated: bool = False
    version_history: list[str] = field(default_factory=list)

    def all_sections(self) -> list[Section]:
        return [s for top in self.sections for s in top.walk()]

    # The text and its hash are read many times by diffs and facts; a document is not
    # changed once built, so they are computed once.
    @cached_property
    def lines(self) -> list[str]:
        """The headings (with their numbers) and blocks, in order."""
        lines = []
        for section in self.all_sections():
            if section.heading:
                lines.append(_numbered(section))
            lines.extend(b.text for b in section.blocks)
        return lines

    @cached_property
    def text(self) -> str:
        """The plain text, tidied: what diffs and facts are computed on."""
        return "\n".join(self.lines)

    @cached_property
    def folded(self) -> str:
        return _fold(self.text)  # the text is made of tidied blocks: only folding is left to do

    @cached_property
    def text_hash(self) -> str:
        """Equal for texts that differ only in what is not wording (see ``normalise``)."""
        return hashlib.sha256(self.folded.encode("utf-8")).hexdigest()

    @cached_property
    def word_count(self) -> int:
        return self.folded.count(" ") + 1 if self.folded else 0  # folded: one space between words


def as_text(document: Document) -> str:
    """The document as sectioned text for people: Markdown-like headings, items as bullets."""
    out = []
    for section in document.all_sections():
        if section.heading:
            out.append(f"\n{'#' * min(section.level + 1, 6)} {_numbered(section)}\n")
        for block in section.blocks:
            out.append(f"- {block.text}" if block.kind == "item" else block.text)
    return "\n".join(out).strip() + "\n"


def document_to_dict(document: Document) -> dict:
    # by hand: dataclasses.asdict would deep-copy every value
    def section(s: Section) -> dict:
        return {"heading": s.heading, "level": s.level, "number": s.number,
                "blocks": [{"kind": b.kind, "text": b.text, "rank": b.rank} for b in s.blocks],
                "children": [section(c) for c in s.children]}
    out = {f.name: getattr(document, f.name) for f in dataclasses.fields(document)}
    out["sections"] = [section(s) for s in document.sections]
    return out


def document_from_dict(data: dict) -> Document:
    def section(d: dict) -> Section:
        return Section(heading=d["heading"], level=d["level"], number=d["number"],
                       blocks=[Block(b["kind"], b["text"], b["rank"]) for b in d["blocks"]],
                       children=[section(c) for c in d["children"]])
    return Document(**{**data, "sections": [section(s) for s in data["sections"]]})


def _numbered(section: Section) -> str:
    return f"{section.number} {section.heading}" if section.number else section.heading


# --- normalisation -----------------------------------------------------------------------

# Patterns that match only what must change, so clean text (most of it) passes through fast.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad\ufffd]")
_QUOTES = {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
           "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"'}
_SPACES_NOT_NEWLINE = re.compile(r"[^\S\n]{2,}|[^\S\n ]")
_AROUND_NEWLINE = re.compile(r"\s*\n\s*")
_ARCHIVED_URL = re.compile(r"https?://web\.archive\.org/web/\d{1,14}(?:[a-z]{2}_)?/+(?=\w)")
_URL = re.compile(r"https?://[^\s<>\"')\]]+")
_TRACKING = re.compile(r"^(utm_\w+|gclid|fbclid|msclkid|mc_[ce]id|_ga|_gl|sessionid|session_id|sid|"
                       r"phpsessid|jsessionid|token|nonce|_hs\w+|hsctatracking|ref_src|cb|_)$", re.I)


def tidy(text: str) -> str:
    """Text as it should be shown and diffed: without invisible characters, space variants,
    archive-rewritten URLs or per-request URL parameters, none of which a reader sees."""
    if not text.isascii():
        text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    if "http" in text:
        text = _URL.sub(lambda m: clean_url(m.group(0)), unarchive_urls(text))
    if not text.isprintable() or "  " in text:  # else its only white space is single spaces
        text = _SPACES_NOT_NEWLINE.sub(" ", text)
        if "\n" in text:
            text = _AROUND_NEWLINE.sub("\n", text)
    return text.strip()


def tidy_line(text: str) -> str:
    """A block's text tidied into one line."""
    return tidy(text).replace("\n", " ")


def normalise(text: str) -> str:
    """Tidied text with typographic variants (curly quotes) folded and lines joined: what the
    text hash is computed on. It never changes a letter, a digit or a word: a change of
    wording always shows."""
    return _fold(tidy(text))


def _fold(text: str) -> str:
    if not text.isascii():
        for quote in _QUOTES:
            if quote in text:
                text = text.replace(quote, _QUOTES[quote])
    line = text.replace("\n", " ")
    # Tidied text (what documents hold) already has one space between words; the only
    # printable white space is the space itself.
    if line.isprintable() and "  " not in line and line[:1] != " " and line[-1:] != " ":
        return line
    return " ".join(line.split())



def unarchive_urls(text: str) -> str:
    """``https://web.archive.org/web/2017id_/https://x.com/`` -> ``https://x.com/``."""
    text = _ARCHIVED_URL.sub("", text)
    return re.sub(r"(?<![:/\w])(https?:/)(?=[^/])", r"\1/", text)  # the archive may eat a slash


def clean_url(url: str) -> str:
    """A URL without tracking and per-request parameters, which change on every fetch."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if not parts.query:
        return url
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING.match(k) and not _looks_random(v)]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def _looks_random(value: str) -> bool:
    """A long token mixing letters and digits: a nonce, not content."""
    return len(value) >= 16 and bool(re.fullmatch(r"[A-Za-z0-9_\-=.]+", value)) \
        and bool(re.search(r"\d", value)) and bool(re.search(r"[A-Za-z]", value))


# --- building the section tree -----------------------------------------------------------

# Heading styles, most important first. Markdown levels keep their order; the others rank
# below them. Levels are assigned per document by dense ranking of the styles it uses.
RANK_MARKDOWN = 0  # + level 1..6
RANK_NUMBERED = 10  # + depth of the numbering
RANK_CAPS = 20
RANK_BOLD = 21
RANK_PLAIN_ALONE = 22  # a short line standing in its own paragraph
RANK_PLAIN_ATTACHED = 23  # a short line directly followed by its body
RANK_COLON = 24  # "Personal Data:"

NUMBERING = re.compile(r"^(?:(?:section|article|part)\s+)?((?:\d{1,2}|[ivxIVX]{1,4}|[A-Za-z])(?:\.\d{1,2})*)(?:[.):]|\\\.)?\s+(?=\S)")
TITLE_WORDS = re.compile(r"\b(privacy|policy|policies|terms|notice|statement|trust|conditions|cookie|gdpr|data protection)\b", re.I)


def split_number(heading: str) -> tuple[str, str]:
    """'1. Information We Collect' -> ('1', 'Information We Collect')."""
    match = NUMBERING.match(heading)
    if match and re.fullmatch(r"\d{1,2}(\.\d{1,2})*|[ivxIVX]{1,4}", match.group(1)) and match.end() < len(heading):
        return match.group(1), heading[match.end():].strip()
    return "", heading


def build_document(blocks: list[Block], title: str = "", memo: Memo | None = None) -> Document:
    """Turn blocks into a document: the title, then sections nested by heading rank. The
    blocks are the extractor's, made for this document: they are tidied in place. Along a
    history most blocks recur from one capture to the next: ``memo`` tidies each once."""
    memo = memo or Memo()
    tidied = memo.of(tidy_line)
    for block in blocks:
        block.text = tidied(block.text)  # a block is one line: tidy leaves no newline
    blocks = [b for b in blocks if b.text]
    title, blocks = _take_title(blocks, tidied(title))
    ranks = sorted({b.rank for b in blocks if b.kind == "heading"})
    level_of = {rank: i + 1 for i, rank in enumerate(ranks)}
    opening = Section(heading="", level=1)
    sections: list[Section] = []
    stack: list[Section] = []
    for block in blocks:
        if block.kind != "heading":
            (stack[-1] if stack else opening).blocks.append(block)
            continue
        number, heading = split_number(block.text)
        heading = heading.rstrip(": ") or heading
        section = Section(heading=heading, level=level_of[block.rank], number=number)
        while stack and stack[-1].level >= section.level:
            stack.pop()
        if stack:
            stack[-1].children.append(section)
        elif section.level > 1 and not sections:
            opening.children.append(section)  # a sub-heading before any top-level heading
            stack.append(opening)
        else:
            sections.append(section)
        stack.append(section)
    if opening.blocks or opening.children:
        sections.insert(0, opening)
    lines = [b.text for b in blocks]
    declared, history = declared_date(lines, memo)
    return Document(title=title, sections=sections, declared_date=declared,
                    version_history=history, language=detect_language(lines, memo),
                    truncated=looks_truncated(blocks))


def _take_title(blocks: list[Block], title: str) -> tuple[str, list[Block]]:
    """Separate the document title from its sections.

    A lone top-ranked heading at the start is the title; headings before the first section
    that only restate the title ('Privacy Policy', 'Trust & Privacy Policy') are opening
    text, not sections.
    """
    headings = [b for b in blocks if b.kind == "heading"]
    if not headings:
        return title, blocks
    first_block = blocks[0]
    if not title and first_block.kind == "para" and len(first_block.text.split()) <= 8 \
            and TITLE_WORDS.search(first_block.text) and not first_block.text.endswith("."):
        title, blocks = first_block.text, blocks[1:]
    top = min(b.rank for b in headings)
    first = headings[0]
    if first.rank == top and sum(b.rank == top for b in headings) == 1 and len(headings) > 1:
        title = title or first.text
        blocks = [b for b in blocks if b is not first]
    out = []
    for i, b in enumerate(blocks):
        if b.kind == "heading":
            if not (_restates_title(b.text, title) or (not title and TITLE_WORDS.search(b.text) and i == 0)):
                return title, out + blocks[i:]  # the first section
            title = title or b.text
            if not out:
                continue  # the title itself
            b = Block("para", b.text)
        out.append(b)
    return title, out


def _restates_title(text: str, title: str) -> bool:
    words = text.lower().split()
    if not words or len(words) > 6 or text.rstrip().endswith(("?", ":")):
        return False
    if title and (text.lower() == title.lower() or title.lower() in text.lower()):
        return True
    return bool(TITLE_WORDS.search(text)) and all(TITLE_WORDS.search(w) or w in ("&", "and", "our", "the", "of")
                                                  or w.isupper() for w in text.split())


# --- facts every document carries --------------------------------------------------------

MONTHS = {m: i for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"], start=1)}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
MONTHS["sept"] = 9
MONTH = r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
DATE_PATTERNS = [
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), ("y", "m", "d")),
    (re.compile(rf"\b{MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})\b", re.I), ("M", "d", "y")),
    (re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{MONTH},?\s+(\d{{4}})\b", re.I), ("d", "M", "y")),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b"), ("m", "d", "y")),
    (re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b"), ("d", "m", "y")),
]
DATE_CUE = re.compile(
    r"(last\s+(?:updated|modified|revised|changed)|effective|updated|revised|version\s+\d+[^.\n]{0,20}dated|"
    r"dated|date of last revision|valid (?:from|as of)|as of|in force)", re.I)


DATE_CUE_LOWER = re.compile(DATE_CUE.pattern)
DATE_CUE_WORDS = ("updated", "modified", "revised", "changed", "effective", "dated", "date of", "valid ", "as of",
                  "in force")  # a line has a date cue only if it has one of these
VERSION_DATED = re.compile(r"version\s+\d+(?:\.\d+)*,?\s+dated\s+[^\n]{4,40}", re.I)
VERSION_DATED_LOWER = re.compile(VERSION_DATED.pattern)


def find_date(text: str) -> str | None:
    """The first date in ``text`` as an ISO string, or None."""
    best = None
    for pattern, order in DATE_PATTERNS:
        for match in pattern.finditer(text):
            parts = dict(zip(order, match.groups()))
            try:
                month = MONTHS[parts["M"].lower().rstrip(".")] if "M" in parts else int(parts["m"])
                found = date(int(parts["y"]), month, int(parts["d"]))
            except (ValueError, KeyError):
                continue
            if 1990 <= found.year <= 2100 and (best is None or match.start() < best[0]):
                best = (match.start(), found.isoformat())
            break
    return best[1] if best else None


def declared_date(lines: list[str], memo: Memo) -> tuple[str | None, list[str]]:
    """The date a policy states for itself ('Last updated May 16, 2024', 'Effective
    2025-06-01', 'Version 2, dated November 14, 2024'), and any version history lines.

    The latest version in a version history wins; otherwise the first dated cue.
    """
    line_dates = memo.of(_line_dates)
    history: list[str] = []
    first_cued = None
    for i, line in enumerate(lines):
        cue_ends, entries = line_dates(line)
        history.extend(entries)
        if first_cued is None:
            first_cued = next(filter(None, (find_date(_after(lines, i, end)) for end in cue_ends)), None)
    dated_versions = [(d, h) for h in history if (d := find_date(h))]
    if dated_versions:
        return max(dated_versions)[0], history
    return first_cued, history


def _line_dates(line: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Where the date cues of one line end, and the version history entries it holds."""
    lower = line.lower()
    # patterns are run on the lower-cased text (three times faster) when it lines up with the text
    aligned = len(lower) == len(line)
    entries = tuple(line[m.start():m.end()].strip() for m in (
        VERSION_DATED_LOWER.finditer(lower) if aligned else VERSION_DATED.finditer(line))) if "dated" in lower else ()
    if not contains_any(lower, DATE_CUE_WORDS):  # most lines: cheaper than the pattern
        return (), entries
    cue_ends = tuple(m.end() for m in (DATE_CUE_LOWER.finditer(lower) if aligned else DATE_CUE.finditer(line)))
    return cue_ends, entries


def contains_any(text: str, words: tuple[str, ...]) -> bool:
    """Whether one of ``words`` is in the text: a cheap test before a slow pattern."""
    return any(map(text.__contains__, words))


CUE_REACH = 60  # characters after a date cue in which its date is looked for


def _after(lines: list[str], i: int, start: int) -> str:
    """The text after position ``start`` of line ``i`` (lines joined by newlines), as far as a
    date cue reaches."""
    text = lines[i][start:start + CUE_REACH]
    while len(text) < CUE_REACH and i + 1 < len(lines):
        i += 1
        text += "\n" + lines[i]
    return text[:CUE_REACH]


STOPWORDS = {
    "en": "the and of to in is that for you we your our with this are or by be as not any".split(),
    "fr": "le la les et des de du vous nous est pour que dans une un sur par pas vos nos".split(),
    "de": "der die das und ist sie wir zu den ein eine nicht mit von ihre ihrer auf für".split(),
    "es": "el la los las y de que en para por con una un su sus se nos usted datos".split(),
    "it": "il di che e la per un una sono con dei delle suoi nostri questo non ai".split(),
    "nl": "de het en van een is dat voor met op je jouw wij ons niet deze zijn uw".split(),
    "pt": "o a os as e de que em para por com um uma seu seus nos você não dados".split(),
}


LANGUAGES_OF: dict[str, list[int]] = {}  # a common word -> the languages (by index) it is common in
for _index, _words in enumerate(STOPWORDS.values()):
    for _word in set(_words):
        LANGUAGES_OF.setdefault(_word, []).append(_index)
LETTERS = re.compile(r"[^\W\d_]+")


LANGUAGE_WORDS = 3000  # the first words of a text tell its language


def detect_language(lines: list[str], memo: Memo) -> str | None:
    """The language whose common words are commonest in the first words of the text (enough
    to tell a policy from its translation), or None for too little text."""
    language_words = memo.of(_language_words)
    words, sample = 0, []
    for line in lines:
        n, found = language_words(line)
        if words + n > LANGUAGE_WORDS:  # this line completes the sample: count its first words
            n, found = _count_language_words(LETTERS.findall(line.lower())[:LANGUAGE_WORDS - words])
        words += n
        sample.append(found)
        if words >= LANGUAGE_WORDS:
            break
    if words < 20:
        return None
    counts = [sum(column) for column in zip(*sample)]
    best = max(counts)
    return list(STOPWORDS)[counts.index(best)] if best >= 0.05 * words else None


def _language_words(line: str) -> tuple[int, tuple[int, ...]]:
    """Words in a line, and how many of them are common words of each language."""
    return _count_language_words(LETTERS.findall(line.lower()))


def _count_language_words(words: list[str]) -> tuple[int, tuple[int, ...]]:
    counts = [0] * len(STOPWORDS)
    for word in words:
        for language in LANGUAGES_OF.get(word, ()):
            counts[language] += 1
    return len(words), tuple(counts)


def looks_truncated(blocks: list[Block]) -> bool:
    """A text that stops mid-word or mid-sentence, as a cut-off copy does."""
    for block in reversed(blocks):
        if block.kind == "heading":
            continue
        words = block.text.split()
        if len(words) <= 3 or "@" in words[-1] or "://" in words[-1] or "." in words[-1]:
            return False  # ends on an address, a URL or a short line: not cut off
        return words[-1][-1].isalpha()
    return False
