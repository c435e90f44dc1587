"""Runs: one pass of check, backfill or rebuild over the configured policies, wiring the
pipeline stages.

The CLI, the Python API and the daemon call these; each check and backfill, and each
policy's outcome, is recorded in the store, and a failing policy never stops the others.
Backfills and rebuilds can run on a Dask cluster (``tracker.cluster``), a policy per task.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Callable, Iterator, TypeVar

import requests

from tracker import history
from tracker.archive import ArchiveClient, save_page
from tracker.backfill import Backfill, Backfilled, Progress
from tracker.cluster import Cluster
from tracker.config import Config, FetchConfig, PolicyConfig
from tracker.errors import TrackerError
from tracker.fetch import Fetched, describe_body, fetch, make_session
from tracker.models import Capture, NewCapture
from tracker.store import Store, database_errors

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Outcome:
    policy: str
    outcome: str  # new-version, changed-back, unchanged, error, skipped
    message: str
    capture_id: int | None = None
    version: int | None = None

    @property
    def failed(self) -> bool:
        return self.outcome == "error"


def check(store: Store, config: Config, names: tuple[str, ...] | list[str] = (),
          each: Callable[[Outcome], None] = lambda outcome: None) -> list[Outcome]:
    """Fetch each policy's current page once, store it, and say what it means (``each`` is
    told of every outcome as soon as it is known)."""
    outcomes: list[Outcome] = []
    policies = config.select(names)
    store.runs.sync_policies(config.policies)
    session = make_session(config.fetch)
    archive = ArchiveClient(config.archive, config.fetch, store.limits) if config.archive.save_on_change else None
    with _recorded_run(store, "check") as (run_id, counts):
        for policy in policies:
            if not policy.live and not names:
                outcome = Outcome(policy.name, "skipped", "skipped (live = false)")
            else:
                outcome = _check_one(store, session, policy, config.fetch)
                if archive and outcome.outcome in ("new-version", "changed-back") and outcome.capture_id is not None:
                    outcome.message += _save(store, archive, config, outcome.capture_id)
            counts[outcome.outcome] += 1
            if outcome.outcome != "skipped":
                store.runs.add_result(run_id, policy.name, outcome.outcome, outcome.capture_id,
                                      outcome.version, outcome.message)
            outcomes.append(outcome)
            each(outcome)
    return outcomes


def backfill(store: Store, config: Config, names: tuple[str, ...] | list[str] = (), job: Backfill | None = None,
             progress_for: Callable[[PolicyConfig], Progress | None] = lambda policy: None,
             each: Callable[[Backfilled], None] = lambda report: None,
             cluster: Cluster | None = None) -> list[Backfilled]:
    """Pull each policy's archived history (see ``tracker.backfill``) and record the run. With
    a ``cluster``, its workers backfill the policies (over ``job``'s period, with its
    strategy), each with its own store and archive client."""
    policies = config.select(names)
    store.runs.sync_policies(config.policies)
    job = job or Backfill(store, config, ArchiveClient(config.archive, config.fetch, store.limits))
    with _recorded_run(store, "backfill") as (run_id, counts):
        def record(report: Backfilled) -> None:
            outcome = "error" if report.failed else "backfilled"
            counts[outcome] += 1
            store.runs.add_result(run_id, report.policy, outcome, message=report.summary())
            each(report)

        if cluster is not None:
            work = partial(backfill_policy, start=job.start, end=job.end, strategy=job.strategy, every=job.every)
            return cluster.each(config, policies, work, _backfill_failed, record, progress_for)
        return [_told(backfilled(job, policy, progress_for(policy)), record) for policy in policies]


def backfilled(job: Backfill, policy: PolicyConfig, progress: Progress | None) -> Backfilled:
    """One policy's backfill; what goes wrong with it is in its report."""
    return guarded(policy, "backfilling", lambda: job.run(policy, progress),
                   lambda error: _backfill_failed(policy, error))


def backfill_policy(store: Store, config: Config, policy: PolicyConfig, progress: Progress | None,
                    start: str | None, end: str | None, strategy: str, every: timedelta | None) -> Backfilled:
    """One policy's backfill on a cluster worker, with the worker's store and archive client."""
    client = ArchiveClient(config.archive, config.fetch, store.limits)
    return backfilled(Backfill(store, config, client, start, end, strategy, every), policy, progress)


def _backfill_failed(policy: PolicyConfig, error: str) -> Backfilled:
    return Backfilled(policy.name, errors=[error])


@dataclass
class Rebuilt:
    """What deriving one policy's history again gave, or why it failed."""

    policy: str
    versions: int = 0
    changes: int = 0
    technical: int = 0
    error: str | None = None


def rebuild(store: Store, config: Config, names: tuple[str, ...] | list[str] = (),
            each: Callable[[Rebuilt], None] = lambda rebuilt: None, collector_paused: bool = False,
            cluster: Cluster | None = None) -> list[Rebuilt]:
    """Derive each policy's versions and changes again from its stored captures; one policy
    failing never stops the others. ``collector_paused``: Python's cycle collector is off
    while each policy is derived (see ``_paused``), for a caller that rebuilds on one thread;
    on a cluster, where each worker runs one policy at a time."""
    policies = config.select(names)
    if cluster is not None:
        work = partial(rebuild_policy, collector_paused=collector_paused and cluster.one_thread_each)
        return cluster.each(config, policies, work, _rebuild_failed, each)
    return [_told(rebuild_policy(store, config, policy, None, collector_paused), each) for policy in policies]


def rebuild_policy(store: Store, config: Config, policy: PolicyConfig, progress: None,
                   collector_paused: bool = False) -> Rebuilt:
    """One policy's history derived again (``progress``: a rebuild reports none)."""
    with _paused(collector_paused):
        return guarded(policy, "rebuilding", lambda: _rebuilt(policy.name, history.rebuild(store, policy)),
                       lambda error: _rebuild_failed(policy, error))


def _rebuild_failed(policy: PolicyConfig, error: str) -> Rebuilt:
    return Rebuilt(policy.name, error=error)


def _rebuilt(name: str, derived: history.History) -> Rebuilt:
    return Rebuilt(name, len(derived.versions), len(derived.changes), sum(c.technical for c in derived.changes))


@contextmanager
def _paused(pause: bool) -> Iterator[None]:
    """The documents of all of a policy's captures are in memory while it is derived, and the
    cycle collector kept walking them; what one policy leaves is collected before the next."""
    was_enabled = gc.isenabled()
    if pause:
        gc.disable()
    try:
        yield
    finally:
        if pause and was_enabled:
            gc.enable()


def _told(result: T, each: Callable[[T], None]) -> T:
    each(result)
    return result


@contextmanager
def _recorded_run(store: Store, command: str) -> Iterator[tuple[int, Counter[str]]]:
    """A run in the store, with its outcome counts: interrupted, failed (a policy failed) or ok."""
    run_id = store.runs.start(command)
    counts: Counter[str] = Counter()
    try:
        yield run_id, counts
    except BaseException as e:
        store.runs.finish(run_id, "error", dict(counts), f"interrupted: {type(e).__name__}")
        raise
    store.runs.finish(run_id, "failed" if counts["error"] else "ok", dict(counts))


def _check_one(store: Store, session: requests.Session, policy: PolicyConfig,
               fetch_config: FetchConfig) -> Outcome:
    url = policy.current_url

    def work() -> Outcome:
        previous = store.captures.last_live(policy.name, url)
        fetched = fetch(session, url, fetch_config, _validators(previous),
                        accept_language=policy.language or fetch_config.accept_language)
        if fetched.not_modified and previous is None:
            return Outcome(policy.name, "error", f"{url}: answered 304 to an unconditional request")
        new, body = live_capture(policy.name, fetched, previous)
        capture = store.captures.add(new, body)
        return _describe(policy.name, capture, history.place(store, policy, capture))

    return guarded(policy, "checking", work, lambda error: Outcome(policy.name, "error", error))


def guarded(policy: PolicyConfig, doing: str, work: Callable[[], T], failed: Callable[[str], T]) -> T:
    """One policy's share of a job: whatever goes wrong with it becomes its outcome
    (``failed(message)``) and never stops the others. The store failing is every policy's
    problem: that one ends the job."""
    try:
        return work()
    except database_errors():
        raise
    except TrackerError as e:
        return failed(str(e))
    except Exception as e:  # a bug met on one policy's data: its traceback with -v
        log.debug("%s %s", doing, policy.name, exc_info=True)
        return failed(f"{policy.name}: internal error while {doing} it: {type(e).__name__}: {e}")


def _save(store: Store, archive: ArchiveClient, config: Config, capture_id: int) -> str:
    """Have the Internet Archive save the page that changed; a failure is recorded, never fatal."""
    capture = store.captures.get(capture_id)
    try:
        memento = save_page(archive, config.archive.save_url, capture.url)
    except TrackerError as e:
        store.captures.record_save(capture.id, None, str(e))
        return f" (not saved to the archive: {e})"
    store.captures.record_save(capture.id, memento, None)
    return f" (saved: {memento})"


def _validators(previous: Capture | None) -> dict[str, str] | None:
    if previous is None:
        return None
    wanted: dict[str, str] = {k: previous.headers[k] for k in ("etag", "last-modified") if k in previous.headers}
    return wanted or None


def live_capture(policy: str, fetched: Fetched, previous: Capture | None) -> tuple[NewCapture, bytes | None]:
    """A capture of a live response; a 304 is recorded as a sighting of the previous body."""
    if fetched.not_modified:
        assert previous is not None
        capture = NewCapture(
            policy=policy, url=fetched.url, captured_at=fetched.fetched_at, source="live",
            status=304, sha256=previous.sha256, size=previous.size, fetched_at=fetched.fetched_at,
            content_type=previous.content_type, charset=previous.charset, format=previous.format,
            headers={**previous.headers, **fetched.headers}, final_url=fetched.final_url,
            redirects=fetched.redirects, flags=["not-modified"])
        return capture, None
    content_type, charset, fmt = describe_body(fetched.headers.get("content-type", ""), fetched.body)
    flags = []
    if fmt != "html":
        flags.append("not-html")
    if fetched.redirects:
        flags.append("redirected")
    capture = NewCapture(
        policy=policy, url=fetched.url, captured_at=fetched.fetched_at, source="live",
        status=fetched.status, sha256=None, fetched_at=fetched.fetched_at,
        content_type=content_type, charset=charset, format=fmt, headers=fetched.headers,
        final_url=fetched.final_url, redirects=fetched.redirects, flags=flags)
    return capture, fetched.body


def _describe(policy: str, capture: Capture, placed: history.Placed) -> Outcome:
    number = placed.version
    if number is None:
        return Outcome(policy, "error", f"{capture.url}: {placed.reason}", capture.id)
    detail = f" ({capture.format})" if capture.format != "html" else ""
    if placed.change is not None and placed.change.reverts_to:
        return Outcome(policy, "changed-back", f"changed back to version {number}{detail}", capture.id, number)
    if placed.change is not None or placed.first:
        return Outcome(policy, "new-version", f"new version {number}{detail}", capture.id, number)
    return Outcome(policy, "unchanged", f"unchanged (version {number})", capture.id, number)
