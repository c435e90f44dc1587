"""Search every version a policy ever had: where a wording is, and when it came and went.

The index (``store.sections``) says which versions hold a matching section. A version may be
shown more than once (a text that returns), so presence is read off the timeline: the stints
during which the policy showed one version, from its changes. Consecutive stints whose version
matches are one span; the change before a span brought the wording, the change after it took
it out.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from itertools import groupby

from tracker.config import PolicyConfig
from tracker.diff import heading_name
from tracker.document import Memo, passages
from tracker.errors import TrackerError
from tracker.history import version_document
from tracker.models import Change, Version
from tracker.store import Store

# policy -> section heading -> version -> (the matching text's id, its position in the version)
Found = dict[str, dict[str, dict[int, tuple[int, int]]]]

# Marks FTS5 puts around each match in a snippet: characters extracted text never holds.
START, END = "\x02", "\x03"
SNIPPET_WORDS = 24


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

    def marked(self, start: str = "[", end: str = "]") -> str:
        out, at = [], 0
        for a, b in self.marks:
            out += [self.text[at:a], start, self.text[a:b], end]
            at = b
        return "".join(out) + self.text[at:]


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
           until: str | None = None) -> list[PolicyHit]:
    """The policies whose versions match an FTS5 query, newest first. ``since`` and ``until``
    are date prefixes (YYYY, YYYY-MM or YYYY-MM-DD), both included: only what the policy
    showed in that period counts."""
    if not query.strip():
        raise TrackerError("the search query is empty")
    for policy in policies:
        index_missing(store, policy)
    try:
        rows = list(store.sections.matches(query, [p.name for p in policies], stemmed=not _has_prefix(query)))
    except sqlite3.OperationalError as e:
        raise TrackerError(f"search query {query!r}: {_problem(e)}") from None
    found: Found = defaultdict(lambda: defaultdict(dict))
    for r in sorted(rows, key=lambda r: r["position"]):
        found[r["policy"]][heading_name(r["heading"])].setdefault(r["version"], (r["text_id"], r["position"]))
    hits = []
    for policy in policies:
        if policy.name not in found:
            continue
        stints = _in_period(_stints(store.history.versions(policy.name), store.history.changes(policy.name)),
                            since, until)
        hit = _policy_hit(policy, stints, found[policy.name])
        if hit is not None:
            hits.append(hit)
    _snip(store, query, hits, found)
    return sorted(hits, key=lambda h: h.spans[0].last_seen, reverse=True)


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
    return re.search(r"\*", re.sub(r'"[^"]*"', "", query)) is not None


def _problem(error: sqlite3.OperationalError) -> str:
    """What is wrong with a query, as its writer can mend it."""
    text = str(error).removeprefix("fts5: ")
    if text.startswith("no such column"):
        return (f"{text}: a word followed by ':' names a column (heading or text); "
                "put a phrase with a colon in double quotes")
    return text + " (phrases go in double quotes; NEAR(a b), prefix*, AND, OR, NOT)"


def _stints(versions: list[Version], changes: list[Change]) -> list[_Stint]:
    """The timeline of what the policy showed, oldest first."""
    by_number = {v.number: v for v in versions}
    if not changes:
        return [_Stint(v.number, v.first_seen, v.last_seen, None, None) for v in versions[:1]]
    first = by_number[changes[0].from_version]
    stints = [_Stint(first.number, first.first_seen, changes[0].window_start, None, changes[0])]
    for change, following in zip(changes, changes[1:] + [None]):
        end = following.window_start if following else by_number[change.to_version].last_seen
        stints.append(_Stint(change.to_version, change.window_end, end, change, following))
    return stints


def _in_period(stints: list[_Stint], since: str | None, until: str | None) -> list[_Stint]:
    return [s for s in stints if (since is None or s.end[:len(since)] >= since)
            and (until is None or s.start[:len(until)] <= until)]


def _spans(stints: list[_Stint], versions: set[int]) -> list[Span]:
    """The stretches of consecutive stints showing one of ``versions``, newest first."""
    spans = []
    for holds, group in groupby(stints, key=lambda stint: stint.version in versions):
        run = list(group)
        if holds:
            spans.append(Span(run[0].version, run[-1].version, run[0].start, run[-1].end,
                              _ref(run[0].before), _ref(run[-1].after)))
    return spans[::-1]


def _ref(change: Change | None) -> ChangeRef | None:
    if change is None:
        return None
    return ChangeRef(change.from_version, change.to_version, change.window_start, change.window_end, change.kind)


def _policy_hit(policy: PolicyConfig, stints: list[_Stint], sections: dict[str, dict[int, tuple[int, int]]]
                ) -> PolicyHit | None:
    everywhere = {number for versions in sections.values() for number in versions}
    spans = _spans(stints, everywhere)
    if not spans:
        return None  # the matching versions were not shown in the period
    hit = PolicyHit(policy.name, policy.display_title, stints[0].start, stints[-1].end, spans)
    order = {}
    for heading, versions in sections.items():
        section_spans = _spans(stints, set(versions))
        if section_spans:
            hit.sections.append(SectionHit(heading, sorted(versions), section_spans, Snippet("", [])))
            order[heading] = versions[section_spans[0].last_version][1]
    hit.sections.sort(key=lambda s: (s.spans[0].last_seen, -order[s.heading]), reverse=True)
    return hit


def _snip(store: Store, query: str, hits: list[PolicyHit], found: Found) -> None:
    """Give each section its snippet, from the newest version in which it matches: one
    snippet per distinct text, made by FTS5 itself."""
    wanted: dict[int, list[SectionHit]] = defaultdict(list)
    for hit in hits:
        for section in hit.sections:
            text_id, _ = found[hit.policy][section.heading][section.spans[0].last_version]
            wanted[text_id].append(section)
    snippets = store.sections.snippets(query, not _has_prefix(query), list(wanted), START, END, SNIPPET_WORDS)
    for text_id, snippet in snippets.items():
        for section in wanted[text_id]:
            section.snippet = _parse(snippet)


def _parse(snippet: str) -> Snippet:
    """A snippet from FTS5, its marks as offsets, on one line."""
    text, marks, start = [], [], 0
    at = 0
    for char in snippet:
        if char == START:
            start = at
        elif char == END:
            marks.append((start, at))
        else:
            text.append(" " if char == "\n" else char)
            at += 1
    return Snippet("".join(text), marks)
