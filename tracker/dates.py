"""Dates: the date a policy states for itself ("Last updated May 16, 2024") and its version history.
"""

from __future__ import annotations

import re
from datetime import date

from tracker.document import Memo
from tracker.normalise import contains_any

# Month names in the languages policies are most often written in besides English (French,
# German, Spanish, Italian, Dutch, Portuguese): a policy keeps its date when it is translated.
MONTH_NAMES = [
    "january february march april may june july august september october november december",
    "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "januar februar märz april mai juni juli august september oktober november dezember",
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre",
    "januari februari maart april mei juni juli augustus september oktober november december",
    "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro",
]
MONTHS = {name: i for names in MONTH_NAMES for i, name in enumerate(names.split(), start=1)}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())[:12]})  # English abbreviations: 'Jan', 'Sep'
MONTHS.update({"sept": 9, "jänner": 1, "setiembre": 9})
MONTH = "(" + "|".join(sorted(map(re.escape, MONTHS), key=len, reverse=True)) + r")\.?"
DAY_SUFFIX = r"(?:st|nd|rd|th|er|\.)?"  # 1st, 1er (French), 1. (German)
DATE_PATTERNS = [
    (re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b"), ("y", "m", "d")),
    (re.compile(rf"\b{MONTH}\s+(\d{{1,2}}){DAY_SUFFIX},?\s+(\d{{4}})\b", re.I), ("M", "d", "y")),
    (re.compile(rf"\b(\d{{1,2}}){DAY_SUFFIX}\s+(?:of\s+|de\s+)?{MONTH},?\s+(?:de\s+)?(\d{{4}})\b", re.I),
     ("d", "M", "y")),
    (re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{4})\b"), ("m", "d", "y")),
    (re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b"), ("d", "m", "y")),
    (re.compile(r"\b(\d{4})[./](\d{1,2})[./](\d{1,2})\b"), ("y", "m", "d")),
]
DATE_CUE = re.compile(
    r"(last\s+(?:updated|modified|revised|changed)|last\s+update|effective|updated|revised|"
    r"version\s+\d+[^.\n]{0,20}dated|dated|date of last (?:revision|update)|valid (?:from|as of)|as of|in force|"
    r"in effect|applies from|applicable (?:from|as of)|"
    r"mise à jour|mis à jour|en vigueur|"  # French
    r"\bstand\b|aktualisiert|geändert|aktualisierung|gültig ab|in kraft|"  # German
    r"actualizaci[oó]n|actualizad[oa]|vigente|en vigor|"  # Spanish
    r"aggiornament[oi]|aggiornat[oa]|in vigore|"  # Italian
    r"bijgewerkt|van kracht|"  # Dutch
    r"atualiza[cç][aã]o|atualizad[oa])", re.I)  # Portuguese


DATE_CUE_LOWER = re.compile(DATE_CUE.pattern)
DATE_CUE_WORDS = ("update", "modified", "revised", "changed", "effective", "dated", "date of", "valid ",
                  "as of", "in force", "in effect", "applies from", "applicable", "mise à jour", "mis à jour",
                  "vigueur", "stand", "aktualisier", "geändert", "gültig", "kraft", "actualiza", "vigente", "vigor",
                  "aggiorna", "vigore", "bijgewerkt", "kracht", "atualiza")  # one is in every DATE_CUE
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

    The latest version in a version history wins; otherwise the first dated cue on a line of
    its own ('Effective January 1, 2022'), else the first in a sentence ('Effective January 1,
    2020, the CCPA gives ...' speaks of a law, not of the policy).
    """
    line_dates = memo.of(_line_dates)
    history: list[str] = []
    first_cued: dict[bool, str] = {}  # on a short line or not -> the first date cued there
    for i, line in enumerate(lines):
        cue_ends, entries = line_dates(line)
        history.extend(entries)
        if not cue_ends:
            continue  # most lines
        short = _date_line(line, cue_ends)
        if short not in first_cued and (
                cued := next(filter(None, (find_date(_after(lines, i, end)) for end in cue_ends)), None)):
            first_cued[short] = cued
    dated_versions = [(d, h) for h in history if (d := find_date(h))]
    if dated_versions:
        return max(dated_versions)[0], history
    return first_cued.get(True) or first_cued.get(False), history


def stated_dates(line: str) -> tuple[tuple[str, str], ...]:
    """The cues and dates of a line that states dates of its own ('Effective July 31, 2023.
    Last Revised July 15, 2023.' -> ('effective', '2023-07-31'), ('last revised',
    '2023-07-15')): a page that carries several notices, or an effective and a revision
    date, states each this way."""
    cue_ends, _ = _line_dates(line)
    if not cue_ends or not _date_line(line, cue_ends):
        return ()
    out = []
    for match in DATE_CUE.finditer(line):
        found = find_date(line[match.end():match.end() + CUE_REACH])
        if found:
            out.append((" ".join(match.group(0).lower().split()), found))
    return tuple(out)


DATE_LINE_WORDS = 12  # a line with a date cue and fewer words (notes in brackets aside) states the policy's date
PARENTHESES = re.compile(r"\([^()]*\)")


def _date_line(line: str, cue_ends: tuple[int, ...]) -> bool:
    """A line that states the policy's date: few words besides its notes in brackets ('Last
    revised on May 1, 2023 (the United States added)'), and a cue outside them."""
    notes = [m.span() for m in PARENTHESES.finditer(line)]
    outside = any(not any(start < end <= stop for start, stop in notes) for end in cue_ends)
    return PARENTHESES.sub("", line).count(" ") < DATE_LINE_WORDS and outside


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



CUE_REACH = 60  # characters after a date cue in which its date is looked for


def _after(lines: list[str], i: int, start: int) -> str:
    """The text after position ``start`` of line ``i`` (lines joined by newlines), as far as a
    date cue reaches."""
    text = lines[i][start:start + CUE_REACH]
    while len(text) < CUE_REACH and i + 1 < len(lines):
        i += 1
        text += "\n" + lines[i]
    return text[:CUE_REACH]
