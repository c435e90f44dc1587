"""The section tree: headings ranked by style, nested into sections, the title set apart.

Every extractor ranks its headings (``RANK_*``); ``build_document`` nests them the same way
whatever the source format, and reads the declared date and language of the result.
"""

from __future__ import annotations

import re

from tracker.dates import declared_date, find_date
from tracker.document import Block, Document, Memo, Section
from tracker.language import detect_language
from tracker.normalise import tidy_line

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
    blocks = _dated_headings([b for b in blocks if b.text])
    given = tidied(title)
    title, blocks = _take_title(blocks, given)
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
        heading = _name(heading)
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
    return Document(title=title, title_in_text=bool(title) and not given, sections=sections,
                    declared_date=declared,
                    version_history=history, language=detect_language(lines, memo),
                    truncated=looks_truncated(blocks))


def _name(heading: str) -> str:
    """A heading without the punctuation that closes it: 'Personal Data:', 'Information you
    give us.' (an abbreviation keeps its dot: 'U.S.')."""
    name = heading.rstrip(": ")
    if name.endswith(".") and name[-2:-1].islower():
        name = name[:-1]
    return name or heading


# Fewer cues than dates.DATE_CUE: in a heading, 'as of', 'dated' or 'in force' may start a
# section's own subject ('What changes as of 25 May 2018'), not the policy's date.
HEADING_DATE = re.compile(r"\b(?:last\s+(?:updated|modified|revised|changed)|effective(?:\s+date)?|updated|revised)\b",
                          re.I)
MAX_DATE_LINE = 60  # characters of 'Last modified: 9 February 2022' and the like


def _dated_headings(blocks: list[Block]) -> list[Block]:
    """A heading that carries the policy's date ('Privacy Policy Last modified: 2022-02-09') is
    a heading and a date line: when only the date changes, the section stays the same. A
    heading that is only a date line is no section."""
    out = []
    for block in blocks:
        if block.kind == "heading" and (match := HEADING_DATE.search(block.text)) \
                and len(block.text) - match.start() <= MAX_DATE_LINE and find_date(block.text[match.start():]):
            name = block.text[:match.start()].strip(" -–—:|,([")
            if name:
                out.append(Block("heading", name, block.rank))
            out.append(Block("para", block.text[match.start():].strip(" )]")))
        else:
            out.append(block)
    return out


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
    out: list[Block] = []
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
