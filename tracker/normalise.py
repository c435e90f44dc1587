"""Normalisation: the text a reader sees, without what changes on every fetch.

Invisible characters, space variants, archive-rewritten URLs and per-request URL parameters
are not wording; ``tidy`` removes them from what is shown and diffed, and ``normalise`` also
folds typographic variants for the text hash.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
    return fold(tidy(text))


def fold(text: str) -> str:
    """Tidied text with curly quotes made straight and lines joined by one space."""
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



def contains_any(text: str, words: tuple[str, ...]) -> bool:
    """Whether one of ``words`` is in the text: a cheap test before a slow pattern."""
    return any(map(text.__contains__, words))
