"""Reading a paragraph: its sentences, the words it holds, negations and questions.

Every reader of facts works sentence by sentence on short texts and asks the same things of
them: which sentences hold a word, whether a word stands on its own, whether a clause is
negative, what noun phrase a few words come down to.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable
from functools import cached_property

import ahocorasick

SENTENCE_END = re.compile(r"\n|(?<=[.!?;])\s+(?=[A-Z(\"“])")


class Sentences:
    """The sentences of a text, found by a word they contain.

    Searching every sentence for every cue was most of the time facts took on a long policy.
    A pattern that starts with a plain word, run once over the lower-cased text, is fast;
    the slower, exact patterns then run on the few sentences it found.
    """

    def __init__(self, text: str):
        self.text = text
        self.lower = text.lower()

    @cached_property  # most blocks have no cue at all: then their sentences are never needed
    def starts(self) -> list[int]:
        return [0] + [m.end() for m in SENTENCE_END.finditer(self.text)]

    def all(self) -> list[str]:
        ends = [*self.starts[1:], len(self.text)]
        return [s for start, end in zip(self.starts, ends) if (s := self.text[start:end].strip())]

    def containing(self, pattern: re.Pattern) -> list[str]:
        """Sentences in which the lower-case ``pattern`` matches."""
        out, last = [], -1
        for match in pattern.finditer(self.lower):
            i = bisect_right(self.starts, match.start()) - 1
            if i != last:
                end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
                out.append(self.text[self.starts[i]:end].strip())
                last = i
        return out


DIGIT = re.compile(r"\d")


def _finder(words: Iterable[str]) -> ahocorasick.Automaton:
    """Finds every one of ``words`` in a text in one pass (Aho-Corasick): searching the text
    for each of sixty law names in turn was the largest part of reading facts."""
    finder = ahocorasick.Automaton()
    for word in words:
        finder.add_word(word, word)
    finder.make_automaton()
    return finder


WORD_CHARACTER = re.compile(r"[\w-]")


def _whole_words(finder: ahocorasick.Automaton, text: str) -> set[str]:
    """The words of ``finder`` found in ``text`` as words of their own, not inside others."""
    found = set()
    for end, word in finder.iter(text):
        start = end - len(word) + 1
        if not (start and WORD_CHARACTER.match(text, start - 1)) and not WORD_CHARACTER.match(text, end + 1):
            found.add(word)
    return found


NEGATION = re.compile(r"\b(?:not|never|no|don't|doesn't|won't|neither|nor|ne|pas|jamais|aucun\w*|nicht|kein\w*|"
                      r"nie|niemals|nunca)\b|n’t\b|\bn['’]", re.I)
QUESTION = re.compile(r"^\W*(?:do|does|did|will|would|can|could|how|what|who|whom|why|when|where|which|is|are|"
                      r"may|should)\b", re.I)


def _question(sentence: str) -> bool:
    """A question ('Do we disclose any information to outside parties?', often a heading)
    states nothing."""
    return sentence.rstrip().endswith("?") or bool(QUESTION.match(sentence))


CLAUSE = re.compile(r",\s*(?:but|and|however|although|while|whereas)\b|;|\bbut\b|\bhowever\b|\bexcept\b", re.I)
RELATIVE = re.compile(r"\b(?:that|which|who|where)\b", re.I)


def _negated(sentence: str, at: int) -> bool:
    """Whether the clause that says something at ``at`` is negative: 'we do not share it
    with advertisers', but not 'we do not sell it, but we share it with partners' nor 'we
    provide identifiers that are not tied to you to advertisers' (a negation in a relative
    clause between the verb and the recipient)."""
    clause = CLAUSE.split(sentence[:at])[-1]
    relative = RELATIVE.search(clause)
    return bool(NEGATION.search(clause[:relative.start()] if relative else clause))


DETERMINER = {"your", "the", "all", "any", "such", "this", "that", "these", "those", "our", "their", "its", "a", "an",
              "some", "certain", "each", "also", "then", "only", "generally", "usually", "typically"}
PLACE_WORDS = {"from", "in", "on", "for", "within", "at", "up", "until", "by", "with", "to"}
PRONOUN = {"it", "them", "this", "that", "these", "those", "we", "us", "you", "they", "which"}


def _noun_phrase(words: list[str]) -> str:
    """'your [account data] from our systems' -> 'account data'; '' for a pronoun."""
    cut = next((i for i, w in enumerate(words) if w.lower() in PLACE_WORDS), len(words))
    words = words[:cut]
    while words and words[0].lower() in DETERMINER:
        words.pop(0)
    while words and words[-1].lower() in ("or", "and", "of", "the", "a", "an"):
        words.pop()  # a phrase cut short: 'contents of calls [or]'
    words = [w.strip(".,;:") for w in words]
    return "" if not words or words[0].lower() in PRONOUN else " ".join(words).lower()
