"""policy-tracker from Python: what the ``tracker`` command does, as methods returning the
pipeline's own objects (captures, versions, changes, documents) instead of printed lines.

    from tracker import Tracker

    with Tracker("config.toml") as t:
        for outcome in t.check():
            print(outcome.policy, outcome.message)
        shown = t.version_at("krop", "2017-01-01")
        print(t.document("krop", shown.number).title)
        print(t.diff("krop").kind)

The command is a thin layer over this class: it parses arguments and prints.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Callable, overload

from tracker import export, history, runs
from tracker.archive import ArchiveClient
from tracker.backfill import STRATEGIES, Backfill, Backfilled, Progress, parse_every
from tracker.cluster import Cluster, open_cluster
from tracker.config import Config, PolicyConfig, load_config
from tracker.document import Document, Memo
from tracker.errors import TrackerError
from tracker.history import Comparison, Move
from tracker.models import Capture, Version
from tracker.runs import Rebuilt
from tracker.search import SECTIONS, PolicyHit, find, index_missing
from tracker.store import Store
from tracker.store.copy import Copied, Migrated, check_source
from tracker.store.copy import migrate as copy_store

DAY = re.compile("([0-9]{4})-([0-9]{2})-([0-9]{2})")
DATE_PREFIX = re.compile("([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?")


class Tracker:
    """The tracked policies of one configuration, and their store."""

    def __init__(self, config: Config | str | Path = "config.toml", workers: int | None = None):
        """``workers``: backfills and rebuilds run on a Dask cluster of that many worker
        processes on this machine, started when first needed (``pip install
        'policy-tracker[dask]'``). Without it, on the cluster ``[compute] scheduler`` names,
        if any; else here, one policy after another."""
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise TrackerError(f"workers {workers!r} is not a number of worker processes (1 or more)")
        self.config = config if isinstance(config, Config) else load_config(config)
        self.workers = workers
        self._cluster: Cluster | None = None
        self._store: Store | None = Store(self.config.database)
        self._store.runs.sync_policies(self.config.policies)

    @property
    def store(self) -> Store:
        if self._store is None:
            raise TrackerError(f"{self.config.storage.name}: this Tracker is closed")
        return self._store

    @property
    def cluster(self) -> Cluster | None:
        """The Dask cluster the work runs on (started on first use), or None: here."""
        if self._cluster is None:
            self._cluster = open_cluster(self.config, self.workers)
        return self._cluster

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None
        if self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def policy(self, name: str) -> PolicyConfig:
        (policy,) = self.config.select([name])
        return policy

    # -- work ------------------------------------------------------------------------------

    def check(self, *names: str, each: Callable[[runs.Outcome], None] = lambda outcome: None) -> list[runs.Outcome]:
        """Fetch the current page of each policy (or of ``names``) and place it in its history."""
        return runs.check(self.store, self.config, names, each)

    def backfill(self, *names: str, start: str | None = None, end: str | None = None, strategy: str = "all",
                 every: str = "1m", each: Callable[[Backfilled], None] = lambda report: None,
                 progress_for: Callable[[PolicyConfig], Progress | None] = lambda policy: None) -> list[Backfilled]:
        """Pull the archived history of each policy (or of ``names``); ``start`` and ``end``
        are dates (YYYY, YYYY-MM or YYYY-MM-DD), both included."""
        if strategy not in STRATEGIES:
            raise TrackerError(f"strategy {strategy!r} is not one of {', '.join(STRATEGIES)}")
        if not isinstance(every, str):
            raise TrackerError(f"every {every!r} is not an interval such as '7d', '1m' or '1y'")
        first, last = period(start, end, "start", "end")
        self.config.select(names)  # an unknown name is said before a cluster starts
        job = Backfill(self.store, self.config,
                       ArchiveClient(self.config.archive, self.config.fetch, self.store.limits),
                       first, last, strategy, parse_every(every))
        return runs.backfill(self.store, self.config, names, job, progress_for, each, self.cluster)

    def rebuild(self, *names: str, each: Callable[[Rebuilt], None] = lambda rebuilt: None,
                collector_paused: bool = False) -> list[Rebuilt]:
        """Derive versions and changes again from the stored captures (after an upgrade or a
        change of selectors); one policy failing never stops the others. ``collector_paused``:
        Python's cycle collector is off while each policy is derived, for a caller that
        rebuilds on one thread, as the command does."""
        self.config.select(names)
        out = runs.rebuild(self.store, self.config, names, each, collector_paused, self.cluster)
        self.store.sections.optimize()  # the index was written piecemeal: merged, it is smaller and quicker
        return out

    # -- reading the history ---------------------------------------------------------------

    def versions(self, name: str) -> list[Version]:
        return self.store.history.versions(self.policy(name).name)

    def changes(self, name: str) -> list[Comparison]:
        return history.stored_changes(self.store, self.policy(name).name)

    def moves(self, name: str) -> list[Move]:
        """Where the policy was published over time: each change of URL, oldest first."""
        return history.policy_moves(self.store, self.policy(name).name)

    def version(self, name: str, which: int | str | None = None) -> Version:
        """A version by number, or by a date (YYYY-MM-DD: the one shown that day); the latest
        by default. Raises ``TrackerError`` saying what there is instead."""
        versions = self._stored_versions(name)
        if which is None:
            return max(versions, key=lambda v: (v.last_seen, v.last_capture))
        if isinstance(which, bool) or not isinstance(which, (int, str)):
            raise TrackerError(f"{name}: {which!r} is not a version: give a number or a date (YYYY-MM-DD)")
        if isinstance(which, int) or re.fullmatch("[0-9]+", which):
            number = int(which)
            if 1 <= number <= len(versions):
                return versions[number - 1]
            raise TrackerError(f"{name}: no version {number} (versions 1 to {len(versions)})")
        if not is_day(which):
            raise TrackerError(f"{name}: {which!r} is not a version: give a version number, or a date "
                            "(YYYY-MM-DD): the version shown on that day")
        shown = self.version_at(name, which)
        if shown is None:
            raise TrackerError(f"{name}: no version seen on or before {which} (first seen {versions[0].first_seen[:10]})")
        return shown

    def version_at(self, name: str, day: str) -> Version | None:
        """The version shown on ``day`` (YYYY-MM-DD, UTC): that of its last capture up to the
        end of that day."""
        if not isinstance(day, str) or not is_day(day):
            raise TrackerError(f"{name}: {day!r} is not a date (YYYY-MM-DD)")
        number = self.store.history.version_at(self.policy(name).name, f"{day}T23:59:59.999Z")
        return self.versions(name)[number - 1] if number else None

    def document(self, name: str, which: int | str | None = None) -> Document | None:
        """The sectioned text of a version (None for a format not read yet, such as PDF)."""
        return history.version_document(self.store, self.policy(name), self.version(name, which), Memo())

    def diff(self, name: str, old: int | str | None = None, new: int | str | None = None) -> Comparison:
        """What changed between two versions, section by section: the latest change by
        default; ``old`` alone: from it to the latest version."""
        policy = self.policy(name)
        versions = self._stored_versions(name)
        if old is None:
            changes = self.store.history.changes(policy.name)
            if not changes:
                raise TrackerError(f"{name}: no change recorded yet (one version so far)")
            before, after = versions[changes[-1].from_version - 1], versions[changes[-1].to_version - 1]
        else:
            before, after = self.version(name, old), self.version(name, new)
            if before.number == after.number:
                raise TrackerError(f"{name}: {old} and {new or 'the latest'} are the same version "
                                f"({before.number}): nothing to compare")
        return history.compare(self.store, policy, before, after)

    def search(self, query: str, *names: str, since: str | None = None, until: str | None = None,
               sections: int | None = SECTIONS) -> list[PolicyHit]:
        """The policies (all, or ``names``) whose versions hold a wording, newest first: when
        it came and went, and the sections it is in. ``query`` is FTS5's syntax: words, "a
        phrase", prefix*, NEAR(a b), AND, OR, NOT. ``since`` and ``until``: dates (YYYY,
        YYYY-MM or YYYY-MM-DD), both included; only what a policy showed then counts.
        ``sections``: how many of a policy's matching sections to give, newest first (None:
        all; the others are counted in ``more_sections``)."""
        if not isinstance(query, str):
            raise TrackerError(f"search query {query!r} is not text")
        if sections is not None and (isinstance(sections, bool) or not isinstance(sections, int) or sections < 0):
            raise TrackerError(f"sections {sections!r}: give how many sections to show (0 or more), or None for all")
        period(since, until, "since", "until")
        return find(self.store, self.config.select(names), query,
                    since.strip() if since else None, until.strip() if until else None, sections)

    def index(self, *names: str) -> None:
        """Index for search the versions of each policy (or of ``names``) derived before the
        index existed; ``search`` does it itself, for the policies it searches."""
        for policy in self.config.select(names):
            index_missing(self.store, policy)

    def export(self, name: str) -> dict:
        """The whole history as one JSON-ready object (the schema is in docs/export.md)."""
        return export.history_json(self.store, self.policy(name))

    # -- moving the store ------------------------------------------------------------------

    def migrate(self, url: str, each: Callable[[Copied], None] = lambda table: None) -> Migrated:
        """Copy this configuration's SQLite store into the empty PostgreSQL database at ``url``
        (postgresql://user:password@host:port/database): every table, ids kept, in one
        transaction, each table's row count and hash compared between the two before it
        commits. ``each`` is called with every table once it is copied and verified. The
        config is left as it is: point ``[storage] url`` at the database to use it."""
        check_source(self.config.storage)
        return copy_store(self.store, url, each)

    # -- captures: the evidence --------------------------------------------------------------

    def capture(self, capture_id: int) -> Capture:
        """A stored capture by its id (the reports name each capture they cite by it)."""
        try:
            return self.store.captures.get(capture_id)
        except KeyError:
            raise TrackerError(f"no capture {capture_id}: the reports show the id of each capture they cite, "
                               "and 'tracker export NAME' of every capture") from None

    def capture_version(self, capture: Capture) -> tuple[int | None, str | None]:
        """The version a capture shows, or None and why it shows none (an error page, a
        redirect, ...); (None, None) before its history is derived."""
        return self.store.history.version_of(capture.id)

    def capture_body(self, capture_id: int) -> bytes:
        """The bytes a capture stored, exactly as they were received."""
        capture = self.capture(capture_id)
        if capture.sha256 is None:
            raise TrackerError(f"capture {capture_id} has no body: it is known from an archive's index alone "
                               f"(HTTP {capture.status})")
        return self.store.captures.body(capture.sha256)

    def capture_document(self, capture_id: int) -> Document:
        """The text read from a capture, as its policy's history reads it."""
        capture = self.capture(capture_id)
        if capture.sha256 is None or not capture.ok:
            raise TrackerError(f"capture {capture_id} is an HTTP {capture.status} answer: no text is read from it "
                               "(--raw writes what was stored)")
        read = history.documents(self.store, self.policy(capture.policy), [capture], Memo())
        document, reason = read[history.reading(capture)]
        if document is None:
            raise TrackerError(f"capture {capture_id}: " + (f"its text {reason}" if reason else
                               f"a {capture.format} file, whose text this tool does not read yet")
                               + " (--raw writes what was stored)")
        return document

    def _stored_versions(self, name: str) -> list[Version]:
        versions = self.versions(name)
        if not versions:
            raise TrackerError(f"{name}: no version stored yet (run 'tracker check {name}' or 'tracker backfill {name}')")
        return versions


def is_day(text: str) -> bool:
    """A real calendar day written YYYY-MM-DD ('2022-02-30' is not one)."""
    match = DAY.fullmatch(text)
    return match is not None and _real_date(*(int(g) for g in match.groups()))


def period(start: str | None, end: str | None, start_name: str, end_name: str) -> tuple[str | None, str | None]:
    """Two dates (YYYY, YYYY-MM or YYYY-MM-DD, either may be None) as archive timestamp
    prefixes, the first not after the second."""
    first, last = date_prefix(start, start_name), date_prefix(end, end_name)
    if first and last and first.ljust(8, "0") > last.ljust(8, "9"):
        raise TrackerError(f"{start_name} {start} is after {end_name} {end}: nothing can be in that period")
    return first, last


@overload
def date_prefix(text: str, what: str) -> str: ...
@overload
def date_prefix(text: None, what: str) -> None: ...
def date_prefix(text: str | None, what: str) -> str | None:
    """'2016', '2016-03' or '2016-03-24' -> the archive timestamp prefix '20160324'."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise TrackerError(f"{what} {text!r} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD")
    match = DATE_PREFIX.fullmatch(text.strip())
    if not match or not _real_date(*(int(g or 1) for g in match.groups())):
        raise TrackerError(f"{what} {text!r} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD")
    return "".join(g for g in match.groups() if g)


def _real_date(year: int, month: int, day: int) -> bool:
    """A calendar day in the time of the web (from 1990: no capture is older)."""
    try:
        date(year, month, day)
    except ValueError:
        return False
    return 1990 <= year <= 9000
