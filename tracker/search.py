"""Search every version a policy ever had: where a wording is, and when it came and went.

The index (``store.sections``) says which versions hold a matching section. A version may be
shown more than once (a text that returns), so presence is read off the timeline: the stints
during which the policy showed one version, from its changes. Consecutive stints whose version
matches are one span; the change before a span brought the wording, the change after it took
it out.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import groupby

from tracker.config import PolicyConfig
from tracker.diff import heading_name
from tracker.document import Memo, passages
from tracker.errors import TrackerError
from tracker.history import version_document
from tracker.models import Change
from tracker.store import Store, database_errors
from tracker.store.history import Timeline
from tracker.store.tsquery import QueryError

# Marks FTS5 puts around each match in a snippet: characters extracted text never holds.
START, END = "\x02", "\x03"
SNIPPET_WORDS = 24
SECTIONS = 3  # sections given per policy, newest first: a common word is in dozens
# A one- or two-letter prefix stands for tens of thousands of words: seconds per query.
MIN_PREFIX = 3
SHORT_PREFIX = re.compile(r"(?<![\w])(\w{1,%d})\*" % (MIN_PREFIX - 1))
OPERATORS = {"AND", "OR", "NOT", "NEAR"}
PREFIX_WORDS = 200  # words a prefix stands for, at most, when its passages are made
BARE_STAR = re.compile(r"(?<![\w])\*")  # FTS5 reads a query beginning with '*' as a debugging command
# Characters no query holds: SQLite ends a query at a NUL, and undecodable bytes on the
# command line arrive as lone surrogates, which no text can be encoded with.
NOT_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
TIME_LIMIT = 10.0  # seconds a query may take before it is stopped: it asks for too much
# FTS5 weighs each term of a query against the others to choose a passage, and cannot be
# interrupted while it does: 2,000 terms took seconds per passage. A few sentences fit.
LONGEST_QUERY = 2_000  # characters
LONGEST_WORD = 80  # characters of a word a snippet shows: a page may hold a word of megabytes
LONG_WORD = re.compile(r"\S{%d,}" % (LONGEST_WORD + 1))


@dataclass
class ChangeRef:
    """The change that brought a wording in, or took it out, with its window."""

    from_version: int
    to_version: int
    window_start: str
    window_end: str
    kind: str


@dataclass
class Span:
    """A stretch of a policy's history during which it held the wording."""

    first_version: int
    last_version: int
    first_seen: str  # the first capture of the stretch
    last_seen: str  # its last capture
    added_by: ChangeRef | None  # None: there from the policy's first capture
    removed_by: ChangeRef | None  # None: still there at its last capture


@dataclass
class Snippet:
    """A passage of a section, with the matches in it as (start, end) offsets."""

    text: str
    marks: list[tuple[int, int]]

    def pieces(self) -> Iterator[tuple[str, bool]]:
        """The text in order, each piece with whether it is a match."""
        at = 0
        for a, b in self.marks:
            yield self.text[at:a], False
            yield self.text[a:b], True
            at = b
        yield self.text[at:], False

    def marked(self, start: str = "[", end: str = "]") -> str:
        return "".join(f"{start}{text}{end}" if match else text for text, match in self.pieces())


@dataclass
class SectionHit:
    """A section (known by its heading) where the wording is, in some versions."""

    heading: str  # with its number; the opening text before any heading is "(opening text)"
    versions: list[int]
    spans: list[Span]  # newest first
    snippet: Snippet  # from the newest version that holds it


@dataclass
class PolicyHit:
    """A policy that held the wording: when, and in which sections."""

    policy: str
    title: str
    first_seen: str  # the span of its history searched: its first capture (in the period)
    last_seen: str  # and its last
    spans: list[Span]  # newest first
    sections: list[SectionHit] = field(default_factory=list)  # newest first
    more_sections: int = 0  # matching sections beyond those given

    @property
    def present(self) -> bool:
        """Whether the policy's last capture holds it."""
        return self.spans[0].removed_by is None


@dataclass
class _Stint:
    """The policy showing one version, between two changes."""

    version: int
    start: str
    end: str
    before: Change | None
    after: Change | None


def find(store: Store, policies: list[PolicyConfig], query: str, since: str | None = None,
         until: str | None = None, sections: int | None = SECTIONS) -> list[PolicyHit]:
    """The policies whose versions match an FTS5 query, newest first. ``since`` and ``until``
    are date prefixes (YYYY, YYYY-MM or YYYY-MM-DD), both included: only what the policy
    showed in that period counts. ``sections``: how many of each policy's matching sections
    to give, newest first (None: all of them)."""
    _check(query)
    for policy in policies:
        index_missing(store, policy)
    started = time.monotonic()
    unreadable: tuple[type[Exception], ...] = (QueryError, *database_errors())  # or stopped
    try:
        # one snapshot: a history the daemon extends meanwhile is read as it was, index and changes alike
        with store.db.time_limit(TIME_LIMIT), store.db.snapshot():
            return _find(store, policies, query, since, until, sections)
    except unreadable as e:
        if time.monotonic() - started >= TIME_LIMIT:  # interrupted, whatever the step says
            raise TrackerError(f"search query {query!r}: stopped after {TIME_LIMIT:.0f} s: it matches too much; "
                               "use fewer words, longer prefixes or a smaller NEAR distance") from None
        raise TrackerError(f"search query {query!r}: {_problem(e)}") from None


def _check(query: str) -> None:
    """Refuse, in one line, a query FTS5 would misread or that would take too long."""
    if not query.strip():
        raise TrackerError("the search query is empty")
    if len(query) > LONGEST_QUERY:
        raise TrackerError(f"the search query is {len(query):,} characters long: give at most {LONGEST_QUERY:,} "
                           "(a few sentences)")
    bad = NOT_TEXT.search(query)
    if bad:
        what = "a byte that is not UTF-8" if "\ud800" <= bad.group() <= "\udfff" else "a control character"
        raise TrackerError(f"search query {query!r} holds U+{ord(bad.group()):04X}, {what}: give words only")
    unquoted = _unquoted(query)
    short = SHORT_PREFIX.search(unquoted)
    if short:
        raise TrackerError(f"search query {query!r}: the prefix {short.group(1)}* is too short: "
                           f"give at least {MIN_PREFIX} letters before '*'")
    if BARE_STAR.search(unquoted):
        raise TrackerError(f"search query {query!r}: a '*' ends a prefix: give at least {MIN_PREFIX} "
                           "letters before it (priva*), or put it in double quotes")


def _find(store: Store, policies: list[PolicyConfig], query: str, since: str | None, until: str | None,
          sections: int | None) -> list[PolicyHit]:
    stemmed = not _has_prefix(query)
    rows = store.sections.matches(query, [p.name for p in policies], stemmed)
    found: dict[str, dict[str, _Found]] = defaultdict(dict)
    for policy_name, heading, first, last, position, text_id in rows:
        name = heading_name(heading)
        section = found[policy_name].get(name) or found[policy_name].setdefault(name, _Found(name))
        section.runs.append((first, last, text_id, position))
    hits = []
    shown_from: dict[int, list[SectionHit]] = defaultdict(list)  # text id -> the sections shown from it
    timelines = store.history.timelines([p.name for p in policies if p.name in found])
    for policy in policies:
        if policy.name in found:
            stints = _stints(timelines[policy.name])
            hit = _policy_hit(policy, stints, _in_period(stints, since, until), list(found[policy.name].values()),
                              sections, shown_from)
            if hit is not None:
                hits.append(hit)
    _snip(store, query, stemmed, shown_from)
    return sorted(hits, key=lambda h: h.spans[0].last_seen, reverse=True)


@dataclass
class _Found:
    """A section (by heading) of one policy that matches: the runs of versions holding a
    matching text."""

    heading: str
    runs: list[tuple[int, int, int, int]] = field(default_factory=list)  # first, last, text id, position

    def text_in(self, version: int) -> tuple[int, int]:
        """The matching text the version holds, and its position."""
        return next((text_id, position) for first, last, text_id, position in self.runs if first <= version <= last)


def index_missing(store: Store, policy: PolicyConfig) -> None:
    """Index the versions of a history derived before the index existed."""
    missing = store.sections.unindexed(policy.name)
    if not missing:
        return
    memo = Memo()
    by_number = {v.number: v for v in store.history.versions(policy.name)}
    for number in missing:
        document = version_document(store, policy, by_number[number], memo)
        store.sections.put(policy.name, number, passages(document) if document else [])


def _has_prefix(query: str) -> bool:
    """Whether a query asks for a prefix (word*): it is matched against the words as
    written, as no stem is a prefix of the words it stands for."""
    return "*" in _unquoted(query)


def _words_of(store: Store, query: str) -> str:
    """The words a query looks for, each prefix as the indexed words it begins, as one query
    matching any of them; the words a NOT excludes and column names aside."""
    words: list[str] = []
    for excluded, word, prefix in re.findall(r'(\bNOT\s+)?"?([^\W_]+)(\*?)(?!\w|\s*:)', query):
        if excluded or word in OPERATORS:
            continue
        if prefix:
            words += store.sections.words_starting(_as_indexed(word), PREFIX_WORDS)
        else:
            words.append(word)
    return " OR ".join(f'"{word}"' for word in dict.fromkeys(words))


def _as_indexed(word: str) -> str:
    """A word as the unicode61 tokenizer with remove_diacritics 2 indexes it: lower case, its
    accents dropped ('Données': 'donnees')."""
    return "".join(c for c in unicodedata.normalize("NFKD", word.casefold()) if not unicodedata.combining(c))


def _unquoted(query: str) -> str:
    """The query without its quoted phrases: a '*' inside quotes is no prefix; after the closing
    quote ('"third part"*') the phrase's last word is one."""
    return re.sub(r'"([^"]*)"', lambda m: (m.group(1).split() or [""])[-1].replace("*", ""), query)


def _problem(error: Exception) -> str:
    """What is wrong with a query, as its writer can mend it."""
    text = " ".join(str(error).split()).removeprefix("fts5: ")  # on one line, as PostgreSQL's are not
    if text.startswith("no such column"):
        return (f"{text}: a word followed by ':' names a column (heading or text); "
                "put a phrase with a colon in double quotes")
    return text + " (phrases go in double quotes; NEAR(a b), prefix*, AND, OR, NOT)"


def _stints(timeline: Timeline) -> list[_Stint]:
    """What the policy showed, oldest first: a history without changes shows its one version."""
    changes = timeline.changes
    if not changes:
        return [_Stint(1, timeline.first_seen, timeline.last_seen, None, None)]
    stints = [_Stint(changes[0].from_version, timeline.first_seen, changes[0].window_start, None, changes[0])]
    for change, following in zip(changes, changes[1:] + [None]):
        end = following.window_start if following else timeline.last_seen
        stints.append(_Stint(change.to_version, change.window_end, end, change, following))
    return stints


def _in_period(stints: list[_Stint], since: str | None, until: str | None) -> range:
    """The stints (by index) the policy showed in the period: consecutive ones."""
    inside = [i for i, s in enumerate(stints) if (since is None or s.end[:len(since)] >= since)
              and (until is None or s.start[:len(until)] <= until)]
    return range(inside[0], inside[-1] + 1) if inside else range(0)


def _spans(stints: list[_Stint], versions: set[int], period: range) -> list[Span]:
    """The stretches of consecutive stints showing one of ``versions`` that reach into the
    period, newest first: whole, so that the changes either side are the ones that brought
    and removed the wording, even outside the period."""
    spans, at = [], 0
    for holds, group in groupby(stints, key=lambda stint: stint.version in versions):
        run = list(group)
        first, at = at, at + len(run)
        if holds and first < period.stop and at > period.start:
            spans.append(Span(run[0].version, run[-1].version, run[0].start, run[-1].end,
                              _ref(run[0].before), _ref(run[-1].after)))
    return spans[::-1]


def _ref(change: Change | None) -> ChangeRef | None:
    if change is None:
        return None
    return ChangeRef(change.from_version, change.to_version, change.window_start, change.window_end, change.kind)


def _policy_hit(policy: PolicyConfig, history: list[_Stint], period: range, sections: list[_Found],
                limit: int | None, shown_from: dict[int, list[SectionHit]]) -> PolicyHit | None:
    spans = _spans(history, _versions([run for section in sections for run in section.runs]), period)
    if not spans:
        return None  # the matching versions were not shown in the period
    stints = history[period.start:period.stop]
    last_at = _last_stints(stints, sections)
    # each section at its newest stint in the period, with its text's position there
    newest = [(max((max(last_at[first:last + 1]), -position) for first, last, _, position in section.runs), section)
              for section in sections]
    # newest first; within one version, in reading order
    shown = sorted(((i, -minus_position, section) for (i, minus_position), section in newest if i >= 0),
                   key=lambda item: (-item[0], item[1]))
    kept = [(i, section) for i, _, section in (shown if limit is None else shown[:limit])]
    hit = PolicyHit(policy.name, policy.display_title, stints[0].start, stints[-1].end, spans,
                    more_sections=len(shown) - len(kept))
    for i, section in kept:
        versions = _versions(section.runs)
        hit.sections.append(SectionHit(section.heading, sorted(versions), _spans(history, versions, period),
                                       Snippet("", [])))
        shown_from[section.text_in(stints[i].version)[0]].append(hit.sections[-1])
    return hit


def _last_stints(stints: list[_Stint], sections: list[_Found]) -> list[int]:
    """For each version number, the last stint that shows it (-1: none): a section's newest
    stint is the greatest of its versions'."""
    highest = max([s.version for s in stints] + [last for section in sections for _, last, _, _ in section.runs])
    last_at = [-1] * (highest + 1)
    for i, stint in enumerate(stints):
        last_at[stint.version] = i
    return last_at


def _versions(runs: list[tuple[int, int, int, int]]) -> set[int]:
    """The versions runs hold: overlapping runs (texts of one section, or of a policy's
    sections) are merged first, so each version is counted once."""
    out: set[int] = set()
    end = 0
    for first, last, _, _ in sorted(runs):
        if last > end:
            out.update(range(max(first, end + 1), last + 1))
            end = last
    return out


def _snip(store: Store, query: str, stemmed: bool, shown_from: dict[int, list[SectionHit]]) -> None:
    """Give each section shown its passage, from the newest version in which it matches: one
    per distinct text, made by FTS5 itself. A prefix is looked up again for every passage,
    the more slowly the more words it begins: a prefix query's passages are made with the
    words it found instead, any of them (the texts matched already)."""
    if not stemmed:
        query = _words_of(store, query) or query
    snippets = store.sections.snippets(query, stemmed, list(shown_from), START, END, SNIPPET_WORDS)
    for text_id, snippet in snippets.items():
        for section in shown_from[text_id]:
            section.snippet = _parse(snippet)


def _parse(snippet: str) -> Snippet:
    """A passage from FTS5, its marks as offsets, on one line, its very long words cut short."""
    text, marks, at = [], [], 0
    for n, piece in enumerate(snippet.replace("\n", " ").split(START)):
        match, _, rest = piece.partition(END) if n else ("", "", piece)
        match, rest = _clipped(match), _clipped(rest)
        if n:
            marks.append((at, at + len(match)))
        text += [match, rest]
        at += len(match) + len(rest)
    return Snippet("".join(text), marks)


def _clipped(text: str) -> str:
    return LONG_WORD.sub(lambda m: m.group()[:LONGEST_WORD - 1] + "…", text)
