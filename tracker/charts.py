"""The reports' charts as coordinates for their SVG templates: a policy's timeline, and the
overview of every policy on the index.

Charts are read without script: each mark has a <title> (hover text) and a link. Positions
along time are percentages of the chart's width, so a chart fills the screen it is on, a
phone's as a desktop's, while its text keeps its size (shapes are drawn in a viewBox stretched
to the width, labels placed at percentages).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from tracker.history import Move, published_url
from tracker.models import Capture, Version, parse_iso

DAY = 86400.0
SHORTEST_DAYS = 7  # a history of a day is shown in the week around it
PADDING = 0.02  # of the span, on each side: marks at the ends stay whole
MOST_TICKS = 10
GAP_DAYS = 180  # no capture for this long is a gap in the record
KINDS = ("cosmetic", "date-only", "substantive", "rewrite", "translated", "changed")  # the legend's order


@dataclass
class Tick:
    x: float  # percent of the width
    label: str
    minor: bool  # its label is left out on a phone, where only every other one fits
    anchor: str  # text-anchor: labels at the edges stay inside the chart


@dataclass
class Axis:
    """Time across a chart's width."""

    start: float  # seconds since the epoch
    end: float
    ticks: list[Tick] = field(default_factory=list)

    def x(self, timestamp: str) -> float:
        """Where a moment (an ISO timestamp or a day) is, in percent of the width."""
        return round(100 * (_seconds(timestamp) - self.start) / (self.end - self.start), 2)


def _seconds(timestamp: str) -> float:
    return parse_iso(timestamp if "T" in timestamp else timestamp + "T00:00:00").timestamp()


def axis(moments: list[str]) -> Axis:
    """The axis across these moments, padded, with ticks of whole years, months or days: as
    long as it takes to show them all, at least a week."""
    first, last = min(map(_seconds, moments)), max(map(_seconds, moments))
    middle, span = (first + last) / 2, max(last - first, SHORTEST_DAYS * DAY)
    start, end = middle - span * (0.5 + PADDING), middle + span * (0.5 + PADDING)
    made = Axis(start, end)
    made.ticks = _ticks(made)
    return made


def _ticks(made: Axis) -> list[Tick]:
    """The finest of years, months or days that gives at most MOST_TICKS ticks."""
    low = datetime.fromtimestamp(made.start, timezone.utc)
    high = datetime.fromtimestamp(made.end, timezone.utc)
    for unit, step in (("day", 1), ("day", 2), ("day", 7), ("month", 1), ("month", 2), ("month", 3), ("month", 6),
                       ("year", 1), ("year", 2), ("year", 5), ("year", 10), ("year", 25), ("year", 50)):
        moments = list(_steps(low, high, unit, step))
        if len(moments) <= MOST_TICKS:
            break
    ticks = []
    for i, moment in enumerate(moments):
        x = round(100 * (moment.timestamp() - made.start) / (made.end - made.start), 2)
        ticks.append(Tick(x, _label(moment, unit, first=i == 0), minor=i % 2 == 1 and len(moments) > 5,
                          anchor="start" if x < 5 else "end" if x > 95 else "middle"))
    return ticks


def _steps(low: datetime, high: datetime, unit: str, step: int) -> Iterator[datetime]:
    """The moments from ``low`` to ``high`` that begin a day, month or year, every ``step``."""
    if unit == "day":
        moment = low.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        while moment <= high:
            yield moment
            moment += timedelta(days=step)
        return
    year, month = low.year, low.month
    while True:
        month += 1
        if month > 12:
            year, month = year + 1, 1
        moment = datetime(year, month, 1, tzinfo=timezone.utc)
        if moment > high:
            return
        if unit == "month" and (month - 1) % step == 0 or unit == "year" and month == 1 and year % step == 0:
            yield moment


def _label(moment: datetime, unit: str, first: bool) -> str:
    if unit == "year":
        return str(moment.year)
    if unit == "month":
        return f"{moment:%b} {moment.year}" if first or moment.month == 1 else f"{moment:%b}"
    return f"{moment.day} {moment:%b}" + (f" {moment.year}" if first or moment.timetuple().tm_yday == 1 else "")


@dataclass
class Span:
    """A mark from ``x`` to ``x2`` (equal for a moment), with its hover text and link."""

    x: float
    x2: float
    label: str
    link: str | None = None
    kind: str = ""
    height: float = 1.0  # of its lane, for a change: its magnitude
    text: str = ""  # what is written beside it, when anything is

    @property
    def width(self) -> float:
        """At least a tenth of a percent: a version seen once is a mark, not nothing."""
        return max(round(self.x2 - self.x, 2), 0.1)


@dataclass
class ChangeWindow:
    """A change as the charts draw it: the span it happened in and where its page is."""

    from_version: int
    to_version: int
    kind: str
    magnitude: float | None
    start: str  # the last capture of the old text
    end: str  # the first capture of the new text
    link: str


@dataclass
class Timeline:
    """A policy's history chart, lane by lane."""

    axis: Axis
    urls: list[Span]  # where the policy was published, from move to move
    moves: list[Span]
    versions: list[Span]
    changes: list[Span]
    declared: list[Span]  # the dates versions declare
    captures: list[Span]  # captures showing the policy, at one mark per spot
    set_aside: list[Span]  # captures that are not the policy (errors, redirects)
    gaps: list[Span]
    start: str
    end: str


DECLARED_REACH = 366 * 10  # days a declared date drawn may lie before its version's first capture
DECLARED_AHEAD = 366  # and after its last: a date announced for a change to come


def _plausible(day: str, version: Version) -> bool:
    """Whether a version's declared date is drawn: one decades off its captures ('Last
    updated: December 31, 2099' in a 2020 page) would squeeze the whole history into a pixel."""
    moment = _seconds(day)
    return -DECLARED_REACH * DAY <= moment - _seconds(version.first_seen) and \
        moment - _seconds(version.last_seen) <= DECLARED_AHEAD * DAY


def timeline(captures: list[Capture], versions: list[Version], changes: list[ChangeWindow], moves: list[Move],
             shown: set[int], version_link: Callable[[int], str], move_link: Callable[[Move], str]) -> Timeline | None:
    """The chart of one policy's history; None before its first capture. Its time axis holds
    the dates its versions declare, even from before the first capture."""
    if not captures:
        return None
    declared = [(v, v.declared_date) for v in versions if v.declared_date and _plausible(v.declared_date, v)]
    made = axis([c.captured_at for c in captures] + [day for _, day in declared])
    x = made.x
    return Timeline(
        axis=made, urls=_url_spans(made, captures, moves, shown),
        moves=[Span(x(m.at), x(m.at), f"moved from {m.from_url} to {m.to_url} on {m.at[:10]}"
                    + (f" (HTTP {m.redirect.status} redirect)" if m.redirect else ""), move_link(m),
                    text=f"moved to {_short(m.to_url)}") for m in moves],
        versions=[Span(x(v.first_seen), x(v.last_seen),
                       f"version {v.number}: {v.first_seen[:10]} to {v.last_seen[:10]}, "
                       f"{v.captures} capture(s), {v.word_count or 0:,} words",
                       version_link(v.number), f"v{v.number % 2}", text=f"v{v.number}") for v in versions],
        changes=[Span(x(c.start), x(c.end),
                      f"version {c.from_version} → {c.to_version}: {c.kind}, changed between "
                      f"{c.start[:10]} and {c.end[:10]}", c.link, c.kind, max(c.magnitude or 0, 0.25))
                 for c in changes],
        declared=[Span(x(day), x(day), f"version {v.number} declares {day}", version_link(v.number))
                  for v, day in declared],
        captures=_capture_marks(made, [c for c in captures if c.id in shown], "showing the policy"),
        set_aside=_capture_marks(made, [c for c in captures if c.id not in shown],
                                 "not the policy (error, redirect, ...)"),
        gaps=[Span(x(a.captured_at), x(b.captured_at), f"no capture from {a.captured_at[:10]} to {b.captured_at[:10]}")
         for a, b in zip(captures, captures[1:])
         if _seconds(b.captured_at) - _seconds(a.captured_at) > GAP_DAYS * DAY],
        start=captures[0].captured_at[:10], end=captures[-1].captured_at[:10])


def _short(url: str) -> str:
    """A URL as a label: without its scheme."""
    return url.split("://", 1)[-1]


def _url_spans(made: Axis, captures: list[Capture], moves: list[Move], shown: set[int]) -> list[Span]:
    """Where the policy was published: one span per URL, from move to move."""
    showing = [c for c in captures if c.id in shown]
    if not showing:
        return []
    ends = [showing[0].captured_at] + [m.at for m in moves] + [showing[-1].captured_at]
    urls = [moves[0].from_url if moves else published_url(showing[0])] + [m.to_url for m in moves]
    return [Span(made.x(a), made.x(b), f"published at {url} from {a[:10]} to {b[:10]}")
            for url, a, b in zip(urls, ends, ends[1:])]


def _capture_marks(made: Axis, captures: list[Capture], what: str) -> list[Span]:
    """A mark per spot of the width (a fifth of a percent) where there are captures: a long
    history has thousands, and a mark per capture would only draw them over each other."""
    spots: dict[float, list[Capture]] = {}
    for capture in captures:
        spots.setdefault(round(made.x(capture.captured_at) * 5) / 5, []).append(capture)
    return [Span(x, x, f"{len(group)} capture(s) {what}, {group[0].captured_at[:10]}"
                 + (f" to {group[-1].captured_at[:10]}" if len(group) > 1 else ""))
            for x, group in spots.items()]


@dataclass
class Track:
    """A policy as the overview draws it."""

    title: str
    link: str  # its history page
    first: str  # its first and last capture
    last: str
    changes: list[ChangeWindow]
    moves: list[tuple[Move, str]]  # each move, and the link to it on the history page


@dataclass
class Row:
    title: str
    link: str
    tracked: Span
    changes: list[Span]
    moves: list[Span]


@dataclass
class Overview:
    """Every policy on one time axis: a row each, its changes coloured by kind, its moves."""

    axis: Axis
    rows: list[Row]
    kinds: list[tuple[str, int]]  # each kind of the changes drawn, and how many are of it


def overview(tracks: list[Track]) -> Overview | None:
    """The index's chart; None before any capture."""
    if not tracks:
        return None
    made = axis([t.first for t in tracks] + [t.last for t in tracks])
    x = made.x
    rows = [Row(t.title, t.link,
                Span(x(t.first), x(t.last), f"{t.title}: captured from {t.first[:10]} to {t.last[:10]}"),
                [Span(x(c.start), x(c.end), f"{t.title}: version {c.from_version} → {c.to_version}, {c.kind}, "
                      f"changed between {c.start[:10]} and {c.end[:10]}", c.link, c.kind) for c in t.changes],
                [Span(x(m.at), x(m.at), f"{t.title}: moved from {m.from_url} to {m.to_url} on {m.at[:10]}", link)
                 for m, link in t.moves])
            for t in tracks]
    counts = Counter(c.kind for t in tracks for c in t.changes)
    order = sorted(counts, key=lambda kind: (KINDS.index(kind) if kind in KINDS else len(KINDS), kind))
    return Overview(made, rows, [(kind, counts[kind]) for kind in order])
