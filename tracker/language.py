"""Language: which language a document is written in.

py3langid (langid.py's naive Bayes model of byte n-grams for 97 languages, bundled with the
package) reads a sample of the document's prose. Short lines and title-cased ones are left
out of the sample: menus, buttons and headings are where pages mix languages ("Deutsch |
English") and name products ("Learn HTML Learn CSS"), and a region chooser listing a dozen
languages has no language of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from py3langid.langid import MODEL_FILE, LanguageIdentifier

from tracker.document import Memo

SAMPLE_CHARS = 1000  # enough prose to tell a policy from its translation: longer samples agree
PROSE_CHARS = 40  # a shorter line is a heading, a menu entry or a button
MIN_CHARS = 100  # less text than this has no reliable language
MIN_CONFIDENCE = 0.9  # below this the text mixes languages, or is too little prose to tell


@cache
def _identifier() -> LanguageIdentifier:
    """The model, read once per process (about a second): it never changes once read."""
    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(lines: list[str], memo: Memo) -> str | None:
    """The ISO 639-1 code of the language of the text's prose, or None when there is too
    little of it or it is no one language."""
    sample = _sample(lines, memo.of(_prose)) or _sample(lines, bool)
    if len(sample) < MIN_CHARS:
        return None
    return memo.of(_classify)(sample)


def _prose(line: str) -> bool:
    """A long line whose words are mostly not capitalised (in a script with capitals): a
    sentence, not a menu or a title."""
    if len(line) < PROSE_CHARS:
        return False
    initials = [w[0] for w in line.split() if w[0].lower() != w[0].upper()]
    return sum(c.islower() for c in initials) * 3 >= len(initials)


def _sample(lines: list[str], wanted: Callable[[str], bool]) -> str:
    """The first ``wanted`` lines, up to ``SAMPLE_CHARS`` characters."""
    taken: list[str] = []
    size = 0
    for line in lines:
        if wanted(line):
            taken.append(line)
            size += len(line) + 1
            if size >= SAMPLE_CHARS:
                break
    return "\n".join(taken)[:SAMPLE_CHARS]


def _classify(sample: str) -> str | None:
    language, confidence = _identifier().classify(sample)
    return str(language) if confidence >= MIN_CONFIDENCE else None
