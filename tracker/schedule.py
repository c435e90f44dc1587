"""The daemon and `tracker run`: live checks, archive refreshes and the digest on schedule.

Jobs: one check per live policy (`[schedule] check`, or the policy's own `check`), one
archive refresh (captures newer than the last known ones, for policies with archives), one
digest. When each job last ran is kept in the store; a job is *due* when its interval has
passed since then, or a cron time fell between then and now. So after downtime, work that
fell due runs once at start, and `tracker run` (for cron users) does exactly what is due.

APScheduler 3 runs the daemon's timing: missed runs coalesced, one instance of a job at a
time, a misfire grace time of half the interval (its default of 1 s silently skips late
runs), jitter on checks. Jobs are added at each start from the configuration, with their
first run now when due: nothing depends on APScheduler remembering them.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import threading
import time
from contextlib import AbstractContextManager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from functools import partial
from typing import Callable, ContextManager
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor as SchedulerThreads
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tracker import digest, runs, report
from tracker.archive import ArchiveClient
from tracker.backfill import Backfill
from tracker.cluster import Cluster, host_slot, open_cluster
from tracker.config import Config, PolicyConfig, interval_seconds
from tracker.errors import TrackerError
from tracker.models import iso, parse_iso
from tracker.store import Store, database_errors, database_problem, is_url, postgres_backend

log = logging.getLogger("tracker.daemon")
STOP_WITHIN = 8.0  # seconds given to running work after SIGTERM, before exiting anyway


@dataclass
class Done:
    """What a piece of work did: the line its run is recorded and printed with, whether it
    failed (the run exits 1, the log says error), whether the reports show what it changed."""

    line: str
    failed: bool = False
    changed: bool = False

    @classmethod
    def of(cls, line: str, failed: bool, changed: bool = False) -> Done:
        """The line of a failure says so, first: 'error: ...'."""
        return cls(f"error: {line}" if failed else line, failed, changed)


@dataclass
class Job:
    name: str  # check:<policy>, archive-refresh, digest
    spec: str  # an interval or a cron expression
    work: Callable[[Store, threading.Event], Done]
    policy: PolicyConfig | None = None  # a check's: its work may run on a cluster's worker


def planned(config: Config) -> list[Job]:
    """The jobs the configuration asks for."""
    out = [Job(f"check:{p.name}", p.check or config.schedule.check, _check(config, p), p)
           for p in config.policies if p.live]
    if any(p.archives for p in config.policies):
        out.append(Job("archive-refresh", config.schedule.archive_refresh, _refresh(config)))
    if config.email.to:
        out.append(Job("digest", config.schedule.digest, _digest(config)))
    return out


def trigger(spec: str, zone: ZoneInfo, jitter: bool = False):
    seconds = interval_seconds(spec)
    if seconds is not None:
        return IntervalTrigger(seconds=seconds, timezone=zone, jitter=min(seconds // 10, 300) if jitter else None)
    return CronTrigger.from_crontab(spec, timezone=zone)


def is_due(spec: str, zone: ZoneInfo, last_run: datetime | None, first_seen: datetime, now: datetime) -> bool:
    """Whether a job should run now: its interval has passed since its last run (or it never
    ran), or a cron time fell after its last run (or after it was first scheduled)."""
    seconds = interval_seconds(spec)
    if seconds is not None:
        return last_run is None or (now - last_run).total_seconds() >= seconds
    since = last_run or first_seen
    fire = CronTrigger.from_crontab(spec, timezone=zone).get_next_fire_time(None, since + timedelta(seconds=1))
    return fire is not None and fire <= now


def grace(spec: str) -> int:
    """How late a run may start and still run: half the interval (a day for weekly jobs)."""
    seconds = interval_seconds(spec) or 7 * 86400
    return max(1, min(seconds // 2, 86400))


def _moment(text: str | None) -> datetime | None:
    return None if text is None else parse_iso(text)


def due_now(store: Store, job: Job, zone: ZoneInfo) -> bool:
    state = store.runs.job_state(job.name)
    return is_due(job.spec, zone, _moment(state["last_run"]), parse_iso(state["first_seen"]), datetime.now(timezone.utc))


# --- the work ------------------------------------------------------------------------------

_hosts: dict[str, threading.BoundedSemaphore] = {}
_hosts_lock = threading.Lock()


def _host_slot(config: Config, url: str) -> ContextManager:
    host = urlsplit(url).netloc.lower()
    with _hosts_lock:
        return _hosts.setdefault(host, threading.BoundedSemaphore(config.schedule.per_host))


def _check(config: Config, policy: PolicyConfig):
    return lambda store, stop: check_policy(store, config, policy, None)


def check_policy(store: Store, config: Config, policy: PolicyConfig, progress: None,
                 slot: Callable[[Config, str], ContextManager] = _host_slot) -> Done:
    """A policy's check, within ``[schedule] per_host`` fetches at once to its host (``slot``:
    counted in this process, or across a cluster). ``progress``: a check reports none."""
    with slot(config, policy.current_url):
        (outcome,) = runs.check(store, config, (policy.name,))
    failing = store.runs.failures_in_a_row(policy.name)
    if failing >= config.schedule.failures:
        log.warning("%s has failed %d checks in a row: %s", policy.name, failing, outcome.message)
    # a failed check changes the reports too: the pages say when it was last checked, and whether it failed
    return Done.of(outcome.message, outcome.failed, changed=True)


def _refresh(config: Config):
    def work(store: Store, stop: threading.Event) -> Done:
        client = ArchiveClient(config.archive, config.fetch, store.limits)
        lines, new, failed = [], False, False
        for policy in config.policies:
            if stop.is_set():
                lines.append("stopped")
                break
            if not policy.archives:
                continue
            last = store.captures.last_archived_at(policy.name)
            start = last[:10].replace("-", "") if last else None
            job = Backfill(store, config, client, start=start)
            for result in runs.backfill(store, config, (policy.name,), job):
                lines.append(f"{policy.name}: {result.summary()}")
                new |= result.new > 0
                failed |= result.failed
        # a policy whose archive failed makes the job an error, after the others ran
        return Done.of("; ".join(lines) or "no policy has archives", failed, new)
    return work


def _digest(config: Config):
    def work(store: Store, stop: threading.Event) -> Done:
        outcome = digest.run(store, config)
        if outcome.failed:
            raise TrackerError(outcome.failed)
        return Done(("sent: " + "; ".join(outcome.sent)) if outcome.sent else "nothing new to send")
    return work


class Runner:
    """Runs jobs with their own store connection, records each run, keeps reports current.

    The reports are rendered once for the jobs that ran together (the checks due at one tick):
    with ``render_when_idle``, by the last of them to finish; else by whoever runs them, once
    they are done, when ``stale`` says one changed what the reports show. With a ``cluster``,
    checks run on its workers; the run is recorded here."""

    def __init__(self, config: Config, out: Path, render_when_idle: bool = True, cluster: Cluster | None = None):
        self.config, self.out, self.render_when_idle, self.cluster = config, out, render_when_idle, cluster
        self.zone = ZoneInfo(config.schedule.timezone)
        self.stop = threading.Event()
        self.active = 0
        self.stale = False  # a job changed what the reports show since they were last rendered
        self._active_lock = threading.Condition()
        self._render_lock = threading.Lock()

    def execute(self, job: Job, next_run: Callable[[], datetime | None] = lambda: None) -> Done:
        if self.stop.is_set():
            return Done("skipped: stopping")
        with self._active_lock:
            self.active += 1
        store = Store(self.config.database)
        try:
            started = iso(datetime.now(timezone.utc))
            done = _guarded(job.name, self._work(job, store), self.config)
            if done.changed:
                with self._active_lock:
                    self.stale = True
            following = next_run()
            store.runs.job_ran(job.name, started, done.line, iso(following) if following else None)
            return done
        finally:
            self._leave(store)
            store.close()

    def _work(self, job: Job, store: Store) -> Callable[[], Done]:
        cluster, policy = self.cluster, job.policy
        if cluster is not None and policy is not None:
            return lambda: cluster.call(self.config, policy, partial(check_policy, slot=host_slot))
        return lambda: job.work(store, self.stop)

    @property
    def threads(self) -> int:
        """Jobs run at once: 4, or as many as the cluster's workers take."""
        return max(4, self.cluster.slots) if self.cluster is not None else 4

    def _leave(self, store: Store) -> None:
        """One job fewer at work; the last one renders the reports if a job changed them,
        again if another changed them while it rendered."""
        while True:
            with self._active_lock:
                if self.active > 1 or not (self.stale and self.render_when_idle):
                    self.active -= 1
                    self._active_lock.notify_all()
                    return
                self.stale = False
            self.render(store)

    def render(self, store: Store) -> Done:
        def work() -> Done:
            with self._render_lock:
                result = report.render_site(store, self.config, self.out)
            return Done(f"{len(result.written)} page(s) written")
        return _guarded("reports", work, self.config)

    def wait_idle(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        with self._active_lock:
            while self.active:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._active_lock.wait(left)
        return True


def _guarded(name: str, work: Callable[[], Done], config: Config) -> Done:
    """Work whose failure is logged and said, never raised: a bug in one job must not stop the daemon."""
    try:
        done = work()
        (log.error if done.failed else log.info)("%s: %s", name, done.line)
        return done
    except TrackerError as e:
        done = Done.of(str(e), failed=True)
    except database_errors() as e:
        done = Done.of(database_problem(config.database, e) or str(e), failed=True)
    except Exception as e:
        log.exception("%s failed", name)
        return Done(f"internal error: {type(e).__name__}: {e}", failed=True)
    log.error("%s: %s", name, done.line)
    return done


def run_due(config: Config, out: Path, workers: int | None = None) -> list[tuple[str, Done]]:
    """One pass of whatever is due (for cron users), then the reports rendered once if it
    changed them: [(job or "reports", what it did)]. On a cluster (``workers``, or
    ``[compute] scheduler``), the due checks run at once on its workers."""
    with daemon_lock(config.database):
        store = Store(config.database)
        try:
            due = [job for job in planned(config) if due_now(store, job, ZoneInfo(config.schedule.timezone))]
        finally:
            store.close()
        cluster = open_cluster(config, workers) if any(job.policy for job in due) else None
        try:
            return _run(Runner(config, out, render_when_idle=False, cluster=cluster), due)
        finally:
            if cluster is not None:
                cluster.close()


def _run(runner: Runner, due: list[Job]) -> list[tuple[str, Done]]:
    now = datetime.now(runner.zone)

    def execute(job: Job) -> tuple[str, Done]:
        return job.name, runner.execute(job, lambda: trigger(job.spec, runner.zone).get_next_fire_time(None, now))

    if runner.cluster is None:
        ran = [execute(job) for job in due]
    else:
        with ThreadPoolExecutor(runner.threads) as pool:  # each thread waits for a worker's result
            ran = list(pool.map(execute, due))
    if not runner.stale:
        return ran
    store = Store(runner.config.database)
    try:
        return ran + [("reports", runner.render(store))]
    finally:
        store.close()


# --- the daemon ----------------------------------------------------------------------------

def daemon_lock(database: Path | str) -> AbstractContextManager[object]:
    """One daemon (or `tracker run`) per store, released when the process ends, however it
    ends: for a SQLite file, an flock on a file beside it; for PostgreSQL, an advisory lock
    that daemons on every machine sharing the database see."""
    if is_url(database):
        holder = f"tracker daemon pid {os.getpid()} on {socket.gethostname()}"
        return postgres_backend().daemon_lock(str(database), holder)
    return DaemonLock(Path(database))


class DaemonLock:
    """The lock beside a SQLite file; it holds the pid of the process holding it."""

    def __init__(self, db_path: Path):
        self.path = Path(str(db_path) + ".lock")

    def __enter__(self) -> "DaemonLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.file = file = open(self.path, "a+")
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "?"
            file.close()
            raise TrackerError(f"{self.path.parent / self.path.stem}: a tracker daemon (pid {holder}) is already "
                            "running on this database; stop it first") from None
        file.seek(0)
        file.truncate()
        file.write(str(os.getpid()))
        file.flush()
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.truncate(0)  # nobody holds it now
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def daemon(config: Config, out: Path, workers: int | None = None) -> None:
    """Run every job on schedule until SIGTERM or SIGINT; then exit within STOP_WITHIN seconds.
    On a cluster (``workers``, or ``[compute] scheduler``), checks run on its workers."""
    with daemon_lock(config.database):
        cluster = open_cluster(config, workers)
        runner = Runner(config, out, cluster=cluster)
        scheduler = BackgroundScheduler(timezone=runner.zone,
                                        executors={"default": SchedulerThreads(runner.threads)},
                                        job_defaults={"coalesce": True, "max_instances": 1})
        store = Store(config.database)
        try:
            for job in planned(config):
                due = due_now(store, job, runner.zone)
                scheduler.add_job(
                    runner.execute, trigger(job.spec, runner.zone, jitter=job.name.startswith("check:")),
                    args=[job, lambda name=job.name: _next_run(scheduler, name)],
                    id=job.name, name=job.name, misfire_grace_time=grace(job.spec),
                    **({"next_run_time": datetime.now(runner.zone)} if due else {}))
                log.info("scheduled %s (%s)%s", job.name, job.spec, ": due now" if due else "")
        finally:
            store.close()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: runner.stop.set())
        scheduler.start()
        _record_next_runs(config, scheduler)
        log.info("daemon started on %s (pid %d)", config.storage.name, os.getpid())
        runner.stop.wait()
        log.info("stopping: no new work; waiting up to %gs for running work", STOP_WITHIN)
        scheduler.shutdown(wait=False)
        finished = runner.wait_idle(STOP_WITHIN)
        if cluster is not None:
            cluster.close()
        log.info("stopped" if finished else "stopped with work unfinished (rolled back)")
    logging.shutdown()
    os._exit(0)  # worker threads still in a fetch are not waited for: every write is a transaction


def _next_run(scheduler: BackgroundScheduler, name: str) -> datetime | None:
    job = scheduler.get_job(name)
    return job.next_run_time if job else None


def _record_next_runs(config: Config, scheduler: BackgroundScheduler) -> None:
    """Keep the next run times in the store, for `tracker status`."""
    store = Store(config.database)
    try:
        for job in scheduler.get_jobs():
            store.runs.set_next_run(job.id, iso(job.next_run_time) if job.next_run_time else None)
    finally:
        store.close()
