"""The policy document: title, declared date, sections, normalised text and its hash.

Both extractors (HTML in ``extract.py``, text and Markdown in ``textparse.py``) produce a flat
list of ``Block``s; ``sections.build_document`` turns blocks into a section tree the same way
for both, so a policy reads the same whichever form it was captured in.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, ParamSpec, TypeVar, cast

from tracker.normalise import fold

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")

REMEMBERED = 4096  # results kept per function: more than the distinct lines of most histories
READINGS = 8  # documents whose readings are kept: a version is diffed with its neighbours


class Memo:
    """What pure functions returned, for one piece of work on one policy: a rebuild, a
    check, an export. Along a history most lines, blocks and sections recur from one capture
    to the next, so each is read once. Whoever reads documents makes one, hands it down
    and drops it when done: no two threads share one, and nothing of one policy outlives
    its work."""

    def __init__(self) -> None:
        self._functions: dict[Callable, Any] = {}
        self._readings: dict[tuple[Callable, int], tuple[Any, Any]] = {}

    def of(self, function: Callable[P, R]) -> Callable[P, R]:
        """``function`` (of hashable arguments), remembering its results in this memo."""
        remembered = self._functions.get(function)
        if remembered is None:
            remembered = self._functions[function] = lru_cache(maxsize=REMEMBERED)(function)
        return cast("Callable[P, R]", remembered)  # lru_cache keeps the signature; its stub says less

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
    title_in_text: bool = False  # the title is the text's own (its first heading), not the page's <title>

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
        return fold(self.text)  # the text is made of tidied blocks: only folding is left to do

    @cached_property
    def text_hash(self) -> str:
        """Equal for texts that differ only in what is not wording (see ``normalise``). A title
        the text gives itself is wording too: a policy renamed is a new version."""
        text = f"{fold(self.title)}\n{self.folded}" if self.title_in_text else self.folded
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

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


def passages(document: Document) -> list[tuple[str, str]]:
    """Each section as the search index keeps it: its heading (with its number) and its own
    text, in reading order."""
    return [(_numbered(s), s.text) for s in document.all_sections() if s.heading or s.blocks]


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

