"""Parse a policy kept as plain text or Markdown into blocks.

Policies arrive as text in many shapes: Markdown ATX and setext headings, bold lines,
numbered headings ('1. Information We Collect', '1\\.', or a number alone on the line before
its title), ALL-CAPS lines, questions, 'Personal Data:' sub-headings, and plain short lines
that head the text below them. Separator lines ('==========') are not content.
"""

from __future__ import annotations

import re
from tracker.dates import DATE_CUE, find_date
from tracker.document import Block, Document, Memo
from tracker.sections import (RANK_BOLD, RANK_CAPS, RANK_COLON, RANK_MARKDOWN, RANK_NUMBERED,
                              RANK_PLAIN_ALONE, RANK_PLAIN_ATTACHED, build_document)

ATX = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
SETEXT = re.compile(r"^(=+|-+)\s*$")
SEPARATOR = re.compile(r"^\s*([=\-*_~#])(\s*\1){2,}\s*$")
BOLD_LINE = re.compile(r"^(?:\*\*|__)(.+?)(?:\*\*|__)\s*(:?)\s*$")
NUMBER_ALONE = re.compile(r"^\s*(\d{1,2})\\?\.?\s*$")
NUMBERED_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2})*)(?:\\?\.|\))?\s+(\S.*)$")
BULLETS = "-*+•●◦▪‣–"
LIST_ITEM = re.compile(rf"^\s*(?:[{BULLETS}]|\d{{1,3}}[.)]|\(?[a-zA-Z]\)|[ivx]{{1,4}}\))\s+(.*)$")
SETEXT_MARKS = ("=", "-")  # the characters a line can start with for each pattern
SEPARATOR_MARKS = "=-*_~#"
TABLE_ROW = re.compile(r"^\s*\|(.*)\|\s*$")
TABLE_RULE = re.compile(r"^\s*\|?[\s:|-]+\|?\s*$")
PROVENANCE = re.compile(r"web\.archive\.org/web/\d+")
SMALL_WORDS = {"a", "an", "and", "as", "at", "by", "for", "from", "in", "into", "of", "on", "or",
               "the", "to", "via", "with", "we", "our", "your", "do", "is", "are", "&"}


def parse_text(text: str, title: str = "", memo: Memo | None = None) -> Document:
    """``memo``: see ``Memo``; the texts of one history share one."""
    memo = memo or Memo()
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    provenance, lines = _take_provenance(lines)
    document = build_document(text_blocks(lines, memo), title, memo)
    if provenance:
        document.provenance, document.provenance_date = provenance
    return document


def _take_provenance(lines: list[str]) -> tuple[tuple[str, str | None] | None, list[str]]:
    """A leading blockquote naming the archived copy the text came from is provenance, not policy."""
    for i, line in enumerate(lines[:6]):
        if line.lstrip().startswith(">") and PROVENANCE.search(line) \
                and (link := re.search(r"https?://web\.archive\.org/web/[^\s)\]]+", line)):
            url = link.group(0)
            when = find_date(line)
            if when is None:
                stamp = re.search(r"/web/(\d{4})(\d{2})(\d{2})", url)
                when = "-".join(stamp.groups()) if stamp else None
            return (url, when), lines[:i] + lines[i + 1:]
    return None, lines


def text_blocks(lines: list[str], memo: Memo) -> list[Block]:
    # Each pattern is only tried on a line that starts with a character it can start with:
    # most lines are plain paragraphs, and this loop runs on every line of every capture.
    clean = memo.of(clean_inline)
    blocks: list[Block] = []
    stripped_lines = [line.strip() for line in lines] + [""]
    markdown = _declares_headings(stripped_lines)
    rank: int | None  # of the line read as a heading; None for body text
    i = 0
    while i < len(lines):
        stripped = stripped_lines[i]
        i += 1
        if not stripped:
            continue
        line = lines[i - 1].rstrip()
        following = stripped_lines[i]
        first = stripped[0]
        if first == "#" and (match := ATX.match(stripped)):
            blocks.append(Block("heading", clean(match.group(2)), RANK_MARKDOWN + len(match.group(1))))
            continue
        if following[:1] in SETEXT_MARKS and SETEXT.match(following) \
                and underlined_heading(clean(stripped)) and not _list_item(line):
            rank = RANK_MARKDOWN + (1 if following.startswith("=") else 2)
            blocks.append(Block("heading", clean(stripped), rank))
            i += 1
            continue
        if first in SEPARATOR_MARKS and SEPARATOR.match(stripped):
            continue
        if first.isdigit() and (match := NUMBER_ALONE.match(stripped)) and heading_like(following):
            blocks.append(Block("heading", f"{match.group(1)} {clean(following)}", RANK_NUMBERED + 1))
            i += 1
            continue
        if first in "*_" and (match := BOLD_LINE.match(stripped)):
            inner = clean(match.group(1))
            if bold_heading(inner):
                blocks.append(Block("heading", inner, numbered_rank(inner) or RANK_BOLD))
                continue
        if first == "|" and (row := TABLE_ROW.match(stripped)):
            if not TABLE_RULE.match(stripped):
                cells = [clean(c) for c in row.group(1).split("|")]
                blocks.append(Block("row", " | ".join(cells)))
            continue
        rank = numbered_rank(stripped) if first.isdigit() and not line[:1].isspace() else None
        if rank and _starts_paragraph(lines, i - 1):
            blocks.append(Block("heading", clean(stripped), rank))
            continue
        if match := _list_item(line):
            blocks.append(Block("item", clean(match.group(1))))
            continue
        if stripped.startswith(">"):
            stripped = stripped.lstrip("> ")
        text = clean(stripped)
        rank = None if markdown else _plain_heading_rank(text, following, lines, i)
        if rank:
            blocks.append(Block("heading", text, rank))
        elif blocks and blocks[-1].kind == "para" and _continues(blocks[-1].text, text, lines[i - 2]):
            blocks[-1].text += " " + text
        else:
            blocks.append(Block("para", text))
    return blocks


def _starts_paragraph(lines: list[str], i: int) -> bool:
    """Line i opens a paragraph: '22 Bishopsgate' inside an address is not section 22."""
    previous = lines[i - 1].strip() if i > 0 else ""
    return not previous or previous.endswith((".", "!", "?", ":", ";")) or bool(
        SEPARATOR.match(previous) or ATX.match(previous) or BOLD_LINE.match(previous)
        or NUMBERED_HEADING.match(previous) or _list_item(lines[i - 1]))


def _declares_headings(stripped_lines: list[str]) -> bool:
    """Markdown with headings of its own: then short plain lines are text, not guessed headings."""
    count = 0
    for line, following in zip(stripped_lines, stripped_lines[1:]):
        if line[:1] == "#" and ATX.match(line) or (
                following[:1] in SETEXT_MARKS and SETEXT.match(following) and heading_like(line)
                and not SEPARATOR.match(line)):
            count += 1
            if count == 2:
                return True
    return False


def _list_item(line: str) -> re.Match | None:
    """A bullet or numbered list item; the pattern only runs on a line that starts like one."""
    start = line.lstrip()[:5]
    if start and (start[0] in BULLETS or start[0].isdigit() or ")" in start):
        return LIST_ITEM.match(line)
    return None


def numbered_rank(text: str) -> int | None:
    """Rank of a numbered heading ('1. Information We Collect', '2.1 Cookies'), or None."""
    match = NUMBERED_HEADING.match(text)
    if not match:
        return None
    number, name = match.groups()
    if not (heading_like(name) and _title_case(name)) and not ("." in number and _phrase(name)):
        return None  # a sub-section number ('2.3') heads a phrase in any case: 'Information you give us.'
    if int(number.split(".")[0]) > 30:
        return None  # '42 Charlemont Street' is an address, not section 42
    return RANK_NUMBERED + number.count(".") + 1


def bold_heading(text: str) -> bool:
    """A line all in bold is a heading when it reads like one, also with a closing full stop
    ('**Information you give us.**'), unless it is a sentence said with emphasis ('**We do
    not sell your data.**')."""
    text = text.rstrip(":")
    return heading_like(text) or _phrase(text) and not text.startswith(SENTENCE_STARTS)


SENTENCE_STARTS = ("We ", "You ", "Please ", "If ", "It ", "This ", "These ", "There ", "I ")


def _phrase(text: str) -> bool:
    """A short phrase closed by a full stop: one sentence of at most 10 words."""
    return text.endswith(".") and len(text.split()) <= 10 and ". " not in text and heading_like(text[:-1])


def _plain_heading_rank(text: str, following: str, lines: list[str], i: int) -> int | None:
    """Rank of a heading written as a plain line, or None for body text.

    A plain heading is short, ends without sentence punctuation (a question mark is fine) and
    is followed by body text, not by another short line.
    """
    if not heading_like(text) or not following and i >= len(lines):
        return None
    if DATE_CUE.match(text) and find_date(text):
        return None  # 'Effective 2025-06-01' is a date line, not a heading
    next_text = following or _next_nonblank(lines, i)
    if next_text is None:
        return None
    if text.endswith(":"):
        return RANK_COLON if _title_case(text[:-1]) and len(text.split()) <= 6 else None
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 4 and all(c.isupper() for c in letters):
        return RANK_CAPS
    if heading_like(clean_inline(next_text)) and not _list_item(next_text) \
            and not NUMBERED_HEADING.match(next_text) and not next_text.endswith(":"):
        return None  # a run of short lines: a list without bullets, an address
    return RANK_PLAIN_ATTACHED if following else RANK_PLAIN_ALONE


def _next_nonblank(lines: list[str], i: int) -> str | None:
    for line in lines[i:]:
        if line.strip():
            return line.strip()
    return None


def heading_like(text: str) -> bool:
    text = text.strip()
    if not 0 < len(text) <= 100:  # before splitting: most lines are long paragraphs
        return False
    words = text.split()
    return (len(words) <= 12 and not text.endswith((".", ",", ";", "!"))
            and (text[0].isupper() or text[0].isdigit() or text[0] in "\"'“‘(")
            and not text.startswith(("http://", "https://")))


def underlined_heading(text: str) -> bool:
    """A line over '====' or '----': a heading in Markdown, also a long one ('Lawful bases
    for processing Personal Data applicable to EEA and UK end users'); not a sentence over a
    rule."""
    return 0 < len(text.split()) <= 30 and not text.endswith((".", ",", ";"))


def _title_case(text: str) -> bool:
    """'Personal Data', 'How to Exercise Your Rights' - not 'This information is'."""
    words = [w for w in re.findall(r"[^\W\d_][\w'’-]*", text)]
    significant = [w for w in words if w.lower() not in SMALL_WORDS]
    return bool(words) and all(w[0].isupper() for w in significant or words)


def _continues(previous: str, text: str, previous_line: str) -> bool:
    """A soft-wrapped line: the paragraph goes on (no blank line, no sentence end, lower case)."""
    return bool(previous_line.strip()) and not previous.endswith((".", ":", ";", "!", "?")) \
        and text[:1].islower()


LINK_TARGET = r"\(((?:[^()\s]|\([^()\s]*\))*)(?:\s+\"[^\"]*\")?\)"  # an address may hold (one level of) brackets
INLINE_IMAGE = re.compile(r"!\[([^\]]*)\]" + LINK_TARGET)
INLINE_LINK = re.compile(r"\[([^\]]*)\]" + LINK_TARGET)


BOLD = re.compile(r"(\*\*|__)(.+?)\1")
STAR_EMPHASIS = re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])")
UNDERSCORE_EMPHASIS = re.compile(r"(?<![\w\\])_(?![\s_])(.+?)(?<![\s\\])_(?!\w)")
ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])")


def clean_inline(text: str) -> str:
    """Markdown inline markup to plain text: links keep their text (a link without text shows
    nothing, as the page it was made from showed none: an icon, an anchor), images
    their alternative text, emphasis and escapes go. (Each pattern runs only where its mark
    appears: most lines have none.)"""
    if "](" in text:
        text = INLINE_IMAGE.sub(lambda m: m.group(1), text)
        text = INLINE_LINK.sub(r"\1", text)
    if "**" in text or "__" in text:
        text = BOLD.sub(r"\2", text)
    if "*" in text:
        text = STAR_EMPHASIS.sub(r"\1", text)
    if "_" in text:
        text = UNDERSCORE_EMPHASIS.sub(r"\1", text)
    if "\\" in text:
        text = ESCAPE.sub(r"\1", text)
    return text.strip()
