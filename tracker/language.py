"""Language: which language a document is written in, from its commonest words.
"""

from __future__ import annotations

import re

from tracker.document import Memo

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
