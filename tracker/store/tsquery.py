"""FTS5 queries, as `tracker search` takes them, read as PostgreSQL tsquery text.

One query language for both stores: words (all of them), "phrases", prefix*, AND, OR, NOT
(NOT binds tightest, then AND, then OR), parentheses, NEAR(a b, N) and column filters
(heading:word, text:word, {heading text}:word, -heading:word). What PostgreSQL's tsquery has
no word for is spelled out: NEAR(a b, N) as "b follows a, or a follows b, within N words"
(with more than two phrases, every two of them within N words), a column as a weight
(the heading is weight A, the text weight B). The words are left as written: ``to_tsquery``
folds, unaccents and stems them as the index does. As in FTS5, a term that holds no word (an
emoji, '_', "") is left out, and a query of nothing but such terms matches nothing; a term
given twice counts once. A query this cannot read raises ``QueryError`` with FTS5's words
for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COLUMNS = {"heading": "A", "text": "B"}
NEAR_DISTANCE = 10  # FTS5's default
MAX_NEAR = 100  # a NEAR is spelled out distance by distance: beyond this, the query would be huge

# a string, a bareword (FTS5's: letters, digits, '_', anything not ASCII), or one character
TOKEN = re.compile(r'\s*(?:("(?:[^"]|"")*")|("[^"]*$)|((?:[A-Za-z0-9_\x1a]|[^\x00-\x7f])+)|(\S))')
WORD = re.compile(r"[^\W_]+")  # what the index splits a text into (letters and digits)


class QueryError(Exception):
    """A query that cannot be read; the message is FTS5's for the same mistake."""


@dataclass
class _Token:
    kind: str  # string, word, or the punctuation itself
    text: str


def tsquery(query: str, marking: bool = False) -> str:
    """``query`` as tsquery text. ``marking``: for marking the matches in a text it matched
    already (ts_headline), so its column filters left out (the text has no weights) and each
    NEAR read as its phrases all present: spelt out distance by distance, a NEAR of three
    words is 66 alternatives, and ts_headline weighs each against every passage (minutes)."""
    return _Parser(_tokens(query), marking).parse()


def _tokens(query: str) -> list[_Token]:
    out, at = [], 0
    while at < len(query):
        match = TOKEN.match(query, at)
        if match is None:  # only spaces left
            break
        string, unterminated, word, other = match.groups()
        if unterminated is not None:
            raise QueryError("unterminated string")
        if string is not None:
            out.append(_Token("string", string[1:-1].replace('""', '"')))
        elif word is not None:
            out.append(_Token("word", word))
        elif other in '(){}:*^+,-':
            out.append(_Token(other, other))
        else:
            raise QueryError(f'syntax error near "{other}"')
        at = match.end()
    return out


class _Parser:
    def __init__(self, tokens: list[_Token], marking: bool):
        self.tokens, self.at, self.marking = tokens, 0, marking

    def parse(self) -> str:
        if not self.tokens:
            raise QueryError("empty query")
        expression = self._or("")
        if self.at < len(self.tokens):
            raise QueryError(f'syntax error near "{self.tokens[self.at].text}"')
        return expression

    def _peek(self, offset: int = 0) -> _Token | None:
        at = self.at + offset
        return self.tokens[at] if at < len(self.tokens) else None

    def _next_is(self, kind: str) -> bool:
        token = self._peek()
        return token is not None and token.kind == kind

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        return token is not None and token.kind == "word" and token.text == word

    def _take(self, kind: str) -> _Token:
        token = self._peek()
        if token is None:
            raise QueryError("syntax error near end of query" if kind != ")" else "unbalanced parentheses")
        if token.kind != kind:
            raise QueryError(f'syntax error near "{token.text}"')
        self.at += 1
        return token

    def _or(self, weights: str) -> str:
        terms = [self._and(weights)]
        while self._keyword("OR"):
            self.at += 1
            terms.append(self._and(weights))
        return _joined(terms, " | ")

    def _and(self, weights: str) -> str:
        terms = [self._not(weights)]
        while True:
            if self._keyword("AND"):
                self.at += 1
            elif not self._starts_primary():
                break
            terms.append(self._not(weights))
        return _joined(terms, " & ")

    def _not(self, weights: str) -> str:
        expression = self._primary(weights)
        while self._keyword("NOT"):
            self.at += 1
            excluded = self._primary(weights)
            if expression and excluded:
                expression = f"({expression} & !{excluded})"
        return expression

    def _starts_primary(self) -> bool:
        token = self._peek()
        if token is None or token.kind not in ("word", "string", "(", "{", "-"):
            return False
        return not (token.kind == "word" and token.text in ("AND", "OR", "NOT"))

    def _primary(self, weights: str) -> str:
        token = self._peek()
        if token is None:
            raise QueryError("syntax error near end of query")
        if token.kind == "(":
            self.at += 1
            expression = self._or(weights)
            self._take(")")
            return expression
        if token.kind in ("{", "-") or (token.kind == "word" and (self._peek(1) or token).kind == ":"):
            return self._primary(self._column_filter())
        if token.kind == "word" and token.text == "NEAR" and (self._peek(1) or token).kind == "(":
            return self._near(weights)
        if token.kind == "word" and token.text in ("AND", "OR", "NOT") or token.kind not in ("word", "string"):
            raise QueryError(f'syntax error near "{token.text}"')
        return self._phrase(weights)

    def _column_filter(self) -> str:
        """heading:, {heading text}:, -heading: (every column but those): their weights."""
        excluded = self._next_is("-")
        if excluded:
            self.at += 1
        names = []
        if self._next_is("{"):
            self.at += 1
            while not self._next_is("}"):
                names.append(self._take("word").text)
            self._take("}")
        else:
            names.append(self._take("word").text)
        self._take(":")
        for name in names:
            if name not in COLUMNS:
                raise QueryError(f"no such column: {name}")
        chosen = [COLUMNS[n] for n in COLUMNS if (n in names) != excluded]
        return "" if self.marking else "".join(chosen)

    def _near(self, weights: str) -> str:
        self.at += 2  # NEAR (
        phrases = []
        while self._next_is("word") or self._next_is("string"):
            phrases.append(self._phrase(weights))
        distance = NEAR_DISTANCE
        if self._next_is(","):
            self.at += 1
            number = self._take("word").text
            if not number.isdigit():
                raise QueryError(f'syntax error near "{number}"')
            distance = int(number)
        self._take(")")
        if len(phrases) < 2:
            raise QueryError("NEAR needs two phrases or more")
        if distance > MAX_NEAR:
            raise QueryError(f"NEAR distance {distance}: at most {MAX_NEAR} on PostgreSQL")
        phrases = list(dict.fromkeys(p for p in phrases if p))
        if self.marking or len(phrases) < 2:
            return _joined(phrases, " & ")
        return _joined([_within(a, b, distance) for i, a in enumerate(phrases) for b in phrases[i + 1:]], " & ")

    def _phrase(self, weights: str) -> str:
        """Strings or barewords joined by '+', each maybe a prefix ('*' after it)."""
        lexemes: list[str] = []
        while True:
            token = self._peek()
            if token is None or token.kind not in ("word", "string"):
                raise QueryError("syntax error near end of query" if token is None
                                 else f'syntax error near "{token.text}"')
            self.at += 1
            words = WORD.findall(token.text)
            prefix = self._next_is("*")
            if prefix:
                self.at += 1
            lexemes += [f"'{w}':{'*' if prefix and i == len(words) - 1 else ''}{weights}".rstrip(":")
                        for i, w in enumerate(words)]
            if not self._next_is("+"):
                break
            self.at += 1
        if not lexemes:
            return ""  # no word in it: left out, as FTS5 leaves it
        return lexemes[0] if len(lexemes) == 1 else "(" + " <-> ".join(lexemes) + ")"


def _joined(terms: list[str], operator: str) -> str:
    """Terms joined by an operator: those without a word left out, each once."""
    terms = list(dict.fromkeys(t for t in terms if t))
    return (terms[0] if len(terms) == 1 else "(" + operator.join(terms) + ")") if terms else ""


def _within(a: str, b: str, distance: int) -> str:
    """b after a, or a after b, with at most ``distance`` words between them."""
    return "(" + " | ".join(f"{x} <{gap}> {y}" for x, y in ((a, b), (b, a)) for gap in range(1, distance + 2)) + ")"
