"""Backfill: pull a policy's archived history into the store and derive its versions.

The captures of all a policy's URLs, in all its archives, merge into one timeline. Each
capture is stored as soon as it is fetched (its own transaction), so an interrupted backfill
loses nothing and the next run goes on where it stopped: captures already stored are never
fetched again, and a body already stored under the same archive digest is reused without a
fetch. Running it twice changes nothing.

Strategies choose which listed captures to fetch:
- ``all``: every listed capture (a body already stored under the same digest is not fetched);
- ``interval``: one capture per interval, the one nearest the interval's middle;
- ``changes``: the ends of the timeline, then bisection of every span whose ends differ.
  It assumes a text that changes and changes back inside a span whose ends agree did not
  change: such an excursion can be missed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable

from tracker import history
from tracker.archive import (ArchiveClient, ArchiveError, Memento, NotArchived, Retrieved, list_ia,
                             list_memento, parse_timestamp, read_warcs, retrieve)
from tracker.config import Config, PolicyConfig
from tracker.document import Memo
from tracker.errors import TrackerError
from tracker.fetch import describe_body
from tracker.models import Capture, NewCapture, latest_possible, utc_now
from tracker.store import Store

STRATEGIES = ("all", "interval", "changes")
Progress = Callable[[int, int, int], None]  # (captures done, to do, fetched) for one policy


@dataclass
class Backfilled:
    """What a backfill did for one policy."""

    policy: str
    listed: int = 0  # distinct captures the archives list in the period
    fetched: int = 0  # fetched from an archive
    reused: int = 0  # stored without a fetch: a body already stored under the same digest
    stored_before: int = 0  # already stored by an earlier run
    missing: int = 0  # listed by the archive's index, but not found when fetched
    new: int = 0  # captures this run stored
    all_would_fetch: int = 0  # what the `all` strategy would have fetched
    read: int = 0  # captures read from WARC files: stored without a fetch
    strategy: str = "all"
    versions: int = 0
    changes: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # captures refused (dated after now, bad records)

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def summary(self) -> str:
        """'14 captures listed, 12 new, 9 fetched, 3 reused (same digest), 2 already stored;
        3 versions, 2 changes'."""
        parts = [f"{_count(self.listed, 'capture')} listed", f"{self.new} new"]
        if self.fetched or not self.read:  # a WARC is read, not fetched: "0 fetched" would say nothing happened
            parts.append(f"{self.fetched} fetched")
        if self.read:
            parts.append(f"{self.read} read from the WARC")
        if self.reused:
            parts.append(f"{self.reused} reused (same digest)")
        if self.stored_before:
            parts.append(f"{self.stored_before} already stored")
        if self.missing:
            parts.append(f"{self.missing} listed but missing from the archive")
        if self.strategy != "all":
            parts.append(f"`all` would have made {_count(self.all_would_fetch, 'fetch')}")
        text = ", ".join(parts) + f"; {_count(self.versions, 'version')}, {_count(self.changes, 'change')}"
        if self.skipped:
            text += (f"; warning: {len(self.skipped)} capture(s) not stored: {self.skipped[0]}"
                     f"{' (and more)' if len(self.skipped) > 1 else ''}")
        return text + "".join(f"; error: {e}" for e in self.errors)


def _count(n: int, noun: str) -> str:
    """'1 change', '2 changes', '3 fetches'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}{'es' if noun.endswith('ch') else 's'}"


def parse_every(text: str) -> timedelta:
    """'7d', '2w', '1m', '6m', '1y' -> a length of time (months of 30 days, years of 365)."""
    match = re.fullmatch(r"\s*(\d+)\s*([dwmy])\s*", text)
    if not match or int(match.group(1)) == 0:
        raise TrackerError(f"--every {text!r}: use a number and d, w, m or y (such as 7d, 1m, 6m, 1y)")
    days = int(match.group(1)) * {"d": 1, "w": 7, "m": 30, "y": 365}[match.group(2)]
    if days > 100 * 365:
        raise TrackerError(f"--every {text!r}: an interval longer than a century holds the whole web")
    return timedelta(days=days)


class Backfill:
    """One backfill run over some policies, sharing one polite archive client."""

    def __init__(self, store: Store, config: Config, client: ArchiveClient, start: str | None = None,
                 end: str | None = None, strategy: str = "all", every: timedelta | None = None):
        self.store, self.config, self.client = store, config, client
        self.start, self.end, self.strategy, self.every = start, end, strategy, every

    def run(self, policy: PolicyConfig, progress: Progress | None = None) -> Backfilled:
        report = Backfilled(policy.name, strategy=self.strategy)
        listed: list[Memento] = []
        for archive in policy.archives:
            try:
                if archive.startswith("warc:"):
                    self._import_warcs(policy, archive, report)
                else:
                    listed.extend(self._list(policy, archive))
            except ArchiveError as e:
                report.errors.append(str(e))
        listed = [m for m in _distinct(listed) if self._believable(m, report)]
        report.listed += len(listed)
        stored = self.store.captures.archive_urls(policy.name)
        report.stored_before += sum(m.archive_url in stored for m in listed)
        report.all_would_fetch = self._fetches_for_all(listed, stored)
        try:
            self._fetch(policy, listed, stored, report, progress)
        except ArchiveError as e:
            report.errors.append(str(e))
        derived = history.rebuild(self.store, policy)
        report.versions, report.changes = len(derived.versions), len(derived.changes)
        return report

    def _believable(self, memento: Memento, report: Backfilled) -> bool:
        """A capture dated after now is refused: it would be the policy's latest version for good."""
        if memento.captured_at <= latest_possible():
            return True
        report.skipped.append(f"{memento.archive_url} is dated {memento.captured_at[:19].replace('T', ' ')}, "
                              "in the future")
        return False

    def _fetches_for_all(self, listed: list[Memento], stored: set[str]) -> int:
        """How many fetches the `all` strategy needs: one per body not stored yet."""
        count, digests = 0, set()
        for m in listed:
            if m.archive_url in stored or not _worth_fetching(m):
                continue
            if m.digest:
                if m.digest in digests or self.store.captures.with_digest(m.digest):
                    continue
                digests.add(m.digest)
            count += 1
        return count

    def _list(self, policy: PolicyConfig, archive: str) -> list[Memento]:
        out = []
        for url in policy.urls:
            if archive == "ia":
                out.extend(list_ia(self.client, self.config.archive, url, self.start, self.end))
            else:
                out.extend(list_memento(self.client, archive, url, self.start, self.end))
        return out

    def _import_warcs(self, policy: PolicyConfig, archive: str, report: Backfilled) -> None:
        stored = self.store.captures.archive_urls(policy.name)
        for retrieved in read_warcs(archive, policy.urls, self.start, self.end, self.config.fetch.max_bytes,
                                    report.skipped, self.config.path.parent.resolve()):
            report.listed += 1
            report.read += 1
            if retrieved.memento.archive_url in stored:
                report.stored_before += 1
                continue
            if not self._believable(retrieved.memento, report):
                continue
            self._store(policy, retrieved.memento, retrieved)
            report.new += 1

    def _fetch(self, policy: PolicyConfig, listed: list[Memento], stored: set[str], report: Backfilled,
               progress: Progress | None) -> None:
        if self.strategy == "changes":
            _Bisection(self, policy, listed, stored, report, progress).run()
            return
        chosen = listed if self.strategy == "all" else _one_per_interval(listed, self.every or parse_every("1m"))
        todo = [m for m in chosen if m.archive_url not in stored]
        for done, memento in enumerate(todo, start=1):
            self.obtain(policy, memento, report)
            if progress:
                progress(done, len(todo), report.fetched)

    def obtain(self, policy: PolicyConfig, memento: Memento, report: Backfilled) -> Capture | None:
        """Store one listed capture: from a stored body with the same digest, from the index
        alone (an error status: nothing to read), or fetched. None when the archive does not
        have it after all."""
        known = self.store.captures.with_digest(memento.digest) if memento.digest else None
        if known is not None:
            report.reused += 1
            capture = self.store.captures.add(_capture(policy, memento, None, known), None)
        elif not _worth_fetching(memento):
            capture = self.store.captures.add(_capture(policy, memento, None, None), None)
        else:
            report.fetched += 1
            try:
                retrieved = retrieve(self.client, memento)
            except NotArchived:
                report.missing += 1
                return None
            if not self._believable(retrieved.memento, report):
                return None
            capture = self._store(policy, memento, retrieved)
        report.new += 1
        return capture

    def _store(self, policy: PolicyConfig, listed: Memento, retrieved: Retrieved) -> Capture:
        return self.store.captures.add(_capture(policy, listed, retrieved, None), retrieved.response.body)


def _distinct(mementos: list[Memento]) -> list[Memento]:
    seen: dict[str, Memento] = {}
    for m in mementos:
        seen.setdefault(m.archive_url, m)
    return sorted(seen.values(), key=lambda m: (m.timestamp, m.archive_url))


def _worth_fetching(memento: Memento) -> bool:
    """An archived error page (4xx, 5xx) is recorded from the index: its body is never the policy."""
    return memento.status is None or memento.status < 400


def _one_per_interval(mementos: list[Memento], every: timedelta) -> list[Memento]:
    """Per interval from the first capture, the capture nearest the middle (a 200 if any)."""
    if not mementos:
        return []
    origin = parse_timestamp(mementos[0].timestamp)
    buckets: dict[int, list[Memento]] = {}
    for m in mementos:
        buckets.setdefault(int((parse_timestamp(m.timestamp) - origin) / every), []).append(m)
    chosen = []
    for n, members in sorted(buckets.items()):
        middle = origin + every * n + every / 2
        good = [m for m in members if m.status in (None, 200)] or members
        chosen.append(min(good, key=lambda m: abs(parse_timestamp(m.timestamp) - middle)))
    return chosen


def _capture(policy: PolicyConfig, listed: Memento, retrieved: Retrieved | None,
             known: Capture | None) -> NewCapture:
    """The capture to store for a listed memento: its identity is the listed archive URL."""
    now = utc_now()
    if retrieved is None:
        status = listed.status or (known.status if known else 0)
        return NewCapture(
            policy=policy.name, url=listed.url, captured_at=listed.captured_at, source=listed.source,
            status=status, sha256=known.sha256 if known else None, fetched_at=now,
            content_type=known.content_type if known else (listed.mimetype or ""),
            charset=known.charset if known else None, format=known.format if known else "other",
            headers={}, archive_url=listed.archive_url, size=known.size if known else 0,
            digest=listed.digest, flags=["same-digest"] if known else ["from-index"])
    response = retrieved.response
    content_type, charset, fmt = describe_body(response.headers.get("content-type", ""), response.body)
    flags, redirects = [], list(retrieved.hops)
    if retrieved.archived_redirect:
        flags.append("archived-redirect")
        redirects.append({"status": response.status, "url": listed.url, "location": retrieved.archived_redirect})
    return NewCapture(
        policy=policy.name, url=listed.url, captured_at=retrieved.memento.captured_at, source=listed.source,
        status=response.status, sha256=None, fetched_at=now, content_type=content_type, charset=charset,
        format=fmt, headers=response.headers, archive_url=listed.archive_url,
        final_url=retrieved.memento.archive_url, redirects=redirects, flags=flags, digest=listed.digest)


class _Bisection:
    """The `changes` strategy: fetch the ends, and split every span whose ends differ."""

    def __init__(self, backfill: Backfill, policy: PolicyConfig, listed: list[Memento], stored: set[str],
                 report: Backfilled, progress: Progress | None):
        self.backfill, self.policy, self.report, self.progress = backfill, policy, report, progress
        self.timeline = [m for m in listed if _worth_fetching(m)]
        self.captures = {c.archive_url: c for c in backfill.store.captures.timeline(policy.name)
                         if c.archive_url in stored}
        self.keys: dict[int, str | None] = {}
        self.memo = Memo()  # the bisection of one policy reads its captures with one

    def key(self, i: int) -> str | None:
        """The version key of the i-th capture (its text), fetching it if needed."""
        if i not in self.keys:
            memento = self.timeline[i]
            capture = self.captures.get(memento.archive_url) or \
                self.backfill.obtain(self.policy, memento, self.report)
            docs = history.documents(self.backfill.store, self.policy, [capture], self.memo) if capture else {}
            self.keys[i] = history.version_key(capture, docs)[0] if capture else None
            if self.progress:
                self.progress(len(self.keys), len(self.timeline), self.report.fetched)
        return self.keys[i]

    def run(self) -> None:
        if not self.timeline:
            return
        spans = [(0, len(self.timeline) - 1)]
        while spans:
            low, high = spans.pop()
            if high - low < 2 or (self.key(low) is not None and self.key(low) == self.key(high)):
                self.key(low), self.key(high)
                continue
            middle = (low + high) // 2
            self.key(middle)
            spans.extend([(middle, high), (low, middle)])
        # Captures whose body is already stored cost no request: they tighten the windows.
        stored = self.backfill.store.captures.archive_urls(self.policy.name)
        for memento in self.timeline:
            if memento.archive_url not in stored and memento.digest \
                    and self.backfill.store.captures.with_digest(memento.digest):
                self.backfill.obtain(self.policy, memento, self.report)
