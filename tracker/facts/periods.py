"""How long and from what age: retention periods (each with what it is the period of), what
is not kept at all, and minimum ages (each with where it applies); numbers written as words.

A period or an age alone says little: 'server logs: 90 days -> 30 days' and 'minimum age
(Indonesia): 18' are what a reader compares, so each is read with what it is about.
"""

from __future__ import annotations

import re

from tracker.facts.model import Value
from tracker.facts.places import _jurisdictions
from tracker.facts.text import DIGIT, PLACE_WORDS, PRONOUN, QUESTION, Sentences, _noun_phrase
from tracker.normalise import contains_any

NUMBER_WORDS = {w: n for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
NUMBER_WORDS.update({"thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90,
                     "hundred": 100, "a": 1, "one hundred and eighty": 180})
NUMBER = r"(\d{1,4}|" + "|".join(sorted(map(re.escape, NUMBER_WORDS), key=len, reverse=True)) + r")"
PERIOD_UNIT = re.compile(r"(?:day|week|month|year)s?\b")
PERIOD = re.compile(NUMBER + r"\s*(?:\(\d+\)\s*)?(?:calendar\s+|business\s+|full\s+)?(day|week|month|year)s?\b", re.I)
RETENTION_CUE = re.compile(
    r"\b(?:retain|retention|retained|keep|kept|store|stored|storing|delete|deleted|deletion|remove|removed|"
    r"erase|erased|destroy|destroyed|purge|purged|anonymi[sz]e|anonymi[sz]ed|hold|held|conserv\w*|aufbewahr\w*|"
    r"speicher\w*|lösch\w*)\b", re.I)


def _number(word: str) -> int | None:
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word.lower())


NOT_KEPT = re.compile(r"\b(?:(?:do|does|will|shall|may)\s+not|don['’]t|doesn['’]t|won['’]t|never)\s+(?:\w+\s+)?"
                      r"(?:store|retain|keep|save|record)\b|\b(?:is|are|will be)\s+(?:not|never)\s+(?:\w+\s+)?"
                      r"(?:stored|retained|kept|saved|recorded)\b", re.I)
NOT_KEPT_WORDS = frozenset(("not", "n't", "n’t", "never"))  # one of these and one of KEEP_WORDS is in every NOT_KEPT
KEEP_WORDS = frozenset(("store", "retain", "keep", "save", "record"))


def _retention(sentences: Sentences, says_not_kept: bool) -> tuple[Value, ...]:
    """'We delete account data thirty days after you close your account' -> ('account data
    after you close your account', '30 days'), when the sentence is about keeping or deleting
    data: each period with what it is the period of; and what is not kept at all ('Audio
    data is not stored' -> ('audio data', 'not stored'))."""
    out = []
    if says_not_kept:  # the text holds a negation and a keeping verb
        for sentence in sentences.containing(NOT_KEPT):
            match = NOT_KEPT.search(sentence)
            if match and not QUESTION.match(sentence):
                out.append((_not_kept_what(sentence, match), "not stored"))
    for sentence in sentences.containing(PERIOD_UNIT):
        if not RETENTION_CUE.search(sentence) or AGE_CUE.search(sentence):
            continue
        for match in PERIOD.finditer(sentence):
            n = _number(match.group(1))
            if n:
                unit = match.group(2).lower()
                out.append((_kept_what(sentence, match), f"{n} {unit}{'s' if n != 1 else ''}"))
    return tuple(out)


KEEP_VERB = (r"(?:retain|retains|retained|keep|keeps|kept|store|stores|stored|hold|holds|held|preserve[sd]?|"
             r"maintain|maintains|maintained|save[sd]?|delete[sd]?|remove[sd]?|erase[sd]?|destroy|destroys|destroyed|"
             r"purge[sd]?|anonymi[sz]e[sd]?)")
KEPT_AFTER_VERB = re.compile(KEEP_VERB + r"\s+((?:[\w'’-]+\s+){0,7}?)(?:for|up to|until|within|no longer than|"
                             r"not longer than|at most|after|beyond|of)?\s*$", re.I)
KEPT_BEFORE_VERB = re.compile(r"([\w'’-]+(?:\s+[\w'’-]+){0,5}?)\s+(?:is|are|will be|may be|shall be|can be|gets?|"
                              r"will|may)\s+(?:be\s+)?(?:automatically\s+|permanently\s+|only\s+)?" + KEEP_VERB + r"\b",
                              re.I)
SINCE = re.compile(r"\s*(?:after|following)\s+((?:[\w'’-]+\s*){1,6}?)(?=[,.;:()]|\s+(?:and|or|unless|except|if|"
                   r"when|so|to|in|for|before|at|with)\b|$)", re.I)
NOT_KEPT_END = re.compile(r"[,.;:]|\b(?:when|if|unless|after|once|because|but|and we)\b")


def _not_kept_what(sentence: str, match: re.Match) -> str:
    """What a sentence says is not kept: the object of 'we do not store [the contents of
    calls]', or the subject of '[audio data] is not stored'."""
    if match.group(0).lower().startswith(("is", "are", "will be")):
        words = sentence[:match.start()].rsplit(",", 1)[-1].split()
        cut = next((i for i, w in enumerate(words) if i and w.lower() in PRONOUN | PLACE_WORDS), len(words))
        return _noun_phrase(words[:cut][-6:])
    after = NOT_KEPT_END.split(sentence[match.end():], maxsplit=1)[0]
    return _noun_phrase(after.split()[:8])


def _kept_what(sentence: str, period: re.Match) -> str:
    """What a retention period is the period of, in a few words ('' when the sentence does
    not say): the words the keeping verb governs ('we keep [server logs] for 90 days') or
    the subject of a passive ('[server logs] are kept for ...'), with the event the period
    runs from ('after you close your account')."""
    before = sentence[:period.start()]
    what = ""
    for pattern in (KEPT_AFTER_VERB, KEPT_BEFORE_VERB):
        found = [m.group(1).split() for m in pattern.finditer(before)]
        what = _noun_phrase(found[-1]) if found else ""
        if what:
            break
    if not what and ":" in before:  # a list item: 'Server logs: we keep it ...'
        what = _noun_phrase(before.split(":", 1)[0].split()[-6:])
    since = SINCE.match(sentence, period.end())
    return f"{what} after {since.group(1).strip().lower()}".strip() if since else what


AGE_CUE = re.compile(r"\b(?:age|aged|years? old|children|child|minors?|teen\w*|under \d{1,2}|older)\b", re.I)
AGE = re.compile(
    r"(?:under|over|below|above|at least|younger than|older than|minimum age of|age of|aged?)\s+(?:the\s+age\s+of\s+)?"
    r"(\d{1,2})\b|\b(\d{1,2})\s*(?:years? of age|years? old|\+)", re.I)


TWO_DIGITS = re.compile(r"\b\d{1,2}\b")


AGE_WORDS = ("age", "old", "child", "minor", "teen", "under")  # one is in every AGE_CUE


def _ages(sentences: Sentences) -> tuple[Value, ...]:
    """Minimum ages, each with where it applies when the sentence says ('under the age of 16
    in Europe, and under 18 in Indonesia' -> ('European Union'... , '16'), ('Indonesia',
    '18')): the place named right after an age, else the one place the sentence names."""
    if not DIGIT.search(sentences.lower) or not contains_any(sentences.lower, AGE_WORDS):
        return ()  # most blocks: cheaper than looking for numbers sentence by sentence
    out = []
    for sentence in sentences.containing(TWO_DIGITS):
        if not AGE_CUE.search(sentence):
            continue
        matches = [m for m in AGE.finditer(sentence) if 8 <= int(m.group(1) or m.group(2)) <= 21]
        places = _jurisdictions(sentence) if matches else []
        for match, following in zip(matches, [*(m.start() for m in matches[1:]), len(sentence)]):
            near = _jurisdictions(sentence[match.end():min(following, match.end() + AGE_PLACE_REACH)])
            place = near[0] if near else places[0] if len(places) == 1 else ""
            out.append((place, str(int(match.group(1) or match.group(2)))))
    return tuple(out)


AGE_PLACE_REACH = 40  # characters after an age in which the place it applies in is named ('16 in Europe')
