"""Per-policy work on a Dask cluster: ``--workers N`` starts one on this machine (N worker
processes: the way to use every core), ``[compute] scheduler`` joins one that runs elsewhere.

A policy is the unit of work. What a worker is sent is a module-level function, the
configuration and a policy's name; it opens its own store from the configuration (a store or
a connection is never sent), does the policy's work and sends back a small result (a
``Backfilled``, a ``Rebuilt``, ...). The client hands out as many policies at a time as the
workers have threads, so a worker holds one policy at a time: a worker that dies takes down the
policy it was working on, which is reported failed, and no other. What it stored before is
kept (every write is a transaction). The archives' limits hold for all workers together: they
are kept in the store (``store.limits``).

Dask takes a second to import: it is imported only when a cluster is used.
"""

from __future__ import annotations

import queue
import signal
import socket
import time
import uuid
from typing import Any, Callable, ContextManager, TypeVar
from pathlib import Path
from urllib.parse import urlsplit

from tracker.config import Config, PolicyConfig
from tracker.errors import TrackerError
from tracker.store import Store, database_errors

T = TypeVar("T")
Progress = Callable[[int, int, int], None]  # (captures done, to do, fetched) for one policy
INSTALL = "pip install 'policy-tracker[dask]'"
PROGRESS_EVERY = 0.2  # seconds between two progress events a worker sends for one policy


class WorkerDied(TrackerError):
    """The worker process running a policy's work died (killed, or out of memory)."""


class Cluster:
    """A Dask client, and the cluster of ``workers`` processes it started on this machine
    (or the one at ``scheduler``). Close it when done: the local cluster's processes end."""

    def __init__(self, workers: int | None = None, scheduler: str = ""):
        try:
            import distributed
        except ImportError:
            raise TrackerError("a Dask cluster (--workers, [compute] scheduler) needs Dask, which is not "
                               f"installed: {INSTALL}") from None
        self.local: Any = None
        if workers:
            # allowed_failures=0: a policy whose worker dies is reported failed, not run again on
            # the next worker (where what killed the first would likely kill it too). No
            # dashboard: its server would take port 8787, or warn that another has it.
            self.local = distributed.LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                scheduler_kwargs={"allowed_failures": 0, "dashboard": False, "dashboard_address": "127.0.0.1:0"})
            self.client = distributed.Client(self.local)
            self.client.register_plugin(_uninterrupted(), name="tracker-uninterrupted")
            self.where = f"the local cluster of {workers} worker processes"
        else:
            try:
                self.client = distributed.Client(scheduler, timeout="5s")
            except (OSError, TimeoutError) as e:
                raise TrackerError(f"compute.scheduler: no Dask scheduler answers at {scheduler} ({e})") from None
            self.where = f"the Dask cluster at {scheduler}"

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()

    @property
    def slots(self) -> int:
        """How many policies the workers can work on at once (at least 1: a cluster without
        workers yet gets one policy, which waits for a worker)."""
        return max(1, sum(self.client.nthreads().values()))

    @property
    def one_thread_each(self) -> bool:
        """Whether every worker runs one task at a time (process-wide settings are then safe)."""
        return all(n == 1 for n in self.client.nthreads().values())

    def each(self, config: Config, policies: list[PolicyConfig], work: Callable[..., T],
             failed: Callable[[PolicyConfig, str], T], each: Callable[[T], None],
             progress_for: Callable[[PolicyConfig], Progress | None] = lambda policy: None) -> list[T]:
        """``work(store, config, policy, progress)`` for every policy, on the workers. ``each``
        is told of every result here, as soon as it comes (in the order they finish); a policy
        whose worker died gives ``failed(policy, why)``. The results, in the order of ``policies``."""
        events: queue.SimpleQueue = queue.SimpleQueue()  # progress and finished work, told in this thread
        bars = {p.name: bar for p in policies if (bar := progress_for(p)) is not None}
        topic = f"tracker-progress-{uuid.uuid4().hex}"
        if bars:
            self.client.subscribe_topic(topic, lambda event: events.put(("progress", event[1])))
        waiting, running, results = list(reversed(policies)), dict[Any, PolicyConfig](), dict[str, T]()
        try:
            while waiting or running:
                while waiting and len(running) < self.slots:
                    policy = waiting.pop()
                    future = self._submit(config, policy, work, topic if policy.name in bars else None)
                    running[future] = policy
                    future.add_done_callback(lambda done: events.put(("done", done)))
                what, item = events.get()
                if what == "progress":
                    name, done, total, fetched = item
                    if name not in results:  # a late event would redraw a bar after its summary
                        bars[name](done, total, fetched)
                    continue
                policy = running.pop(item)
                try:
                    result = self._result(item, policy)
                except WorkerDied as e:
                    result = failed(policy, str(e))
                results[policy.name] = result
                each(result)
        finally:
            for future in running:
                future.cancel()
            if bars:
                self.client.unsubscribe_topic(topic)
        return [results[p.name] for p in policies]

    def call(self, config: Config, policy: PolicyConfig, work: Callable[..., T]) -> T:
        """``work(store, config, policy, None)`` on a worker, waited for; ``WorkerDied``
        when its worker died."""
        return self._result(self._submit(config, policy, work, None), policy)

    def _submit(self, config: Config, policy: PolicyConfig, work: Callable[..., T], topic: str | None) -> Any:
        return self.client.submit(_on_worker, config, policy.name, work, topic,
                                  key=f"tracker-{policy.name}-{uuid.uuid4().hex}")

    def _result(self, future: Any, policy: PolicyConfig) -> Any:
        from distributed import KilledWorker
        from distributed.client import FutureCancelledError

        store_failed: tuple[type[Exception], ...] = (TrackerError, *database_errors())
        try:
            return future.result()
        except KilledWorker:
            raise WorkerDied(f"{policy.name}: the worker process working on it died (killed, or out of "
                             "memory); what it stored before is kept") from None
        except FutureCancelledError as e:
            raise TrackerError(f"{self.where}: the cluster stopped before {policy.name} was done ({e.reason}); "
                               "what was stored is kept") from None
        except store_failed:
            raise  # the store failing, seen from a worker: every policy's problem
        except Exception as e:
            raise TrackerError(f"{self.where}: a worker could not work on {policy.name} ({type(e).__name__}: "
                               f"{e}); the scheduler and every worker need policy-tracker installed, the version this "
                               "command runs") from None


def open_cluster(config: Config, workers: int | None) -> Cluster | None:
    """The cluster ``--workers`` or ``[compute] scheduler`` asks for (``--workers`` first);
    None when neither does: the work is done here, and Dask is not imported."""
    if workers or config.compute.scheduler:
        return Cluster(workers, config.compute.scheduler)
    return None


def host_slot(config: Config, url: str) -> ContextManager:
    """One of ``[schedule] per_host`` fetches at once to a host, for all workers together (a
    lease the scheduler takes back from a worker that died)."""
    from distributed import Semaphore

    return Semaphore(max_leases=config.schedule.per_host, name=f"tracker-host:{urlsplit(url).netloc.lower()}")


# --- on a worker ----------------------------------------------------------------------------

def _uninterrupted() -> Any:
    """Ctrl-C reaches every process of the terminal's: the command stops its local cluster
    itself (and says so in one line), so its worker processes ignore it rather than each print
    a traceback. A Dask worker plugin (its class made here: Dask is imported only when used);
    ``setup`` runs in each worker's main thread, those restarted after a death included."""
    from distributed import WorkerPlugin

    class Uninterrupted(WorkerPlugin):
        def setup(self, worker: Any) -> None:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    return Uninterrupted()


def _on_worker(config: Config, name: str, work: Callable[..., T], topic: str | None) -> T:
    (policy,) = config.select([name])
    store = _open_store(config)
    try:
        return work(store, config, policy, _progress_events(topic, name) if topic else None)
    finally:
        store.close()


def _open_store(config: Config) -> Store:
    """The store the client uses (it made it: a file missing here is on another machine; a
    store made here instead would silently keep the work apart)."""
    database = config.database
    if isinstance(database, Path) and not database.exists():
        raise TrackerError(f"{database}: a Dask worker on {socket.gethostname()} does not see this store: "
                           "with SQLite, the workers run on the machine that holds the file")
    return Store(database)


def _progress_events(topic: str, name: str) -> Progress:
    """A progress callback that tells the client, at most every ``PROGRESS_EVERY`` seconds
    (and at the end)."""
    from distributed import get_worker

    worker, last = get_worker(), [0.0]

    def send(done: int, total: int, fetched: int) -> None:
        now = time.monotonic()
        if done < total and now - last[0] < PROGRESS_EVERY:
            return
        last[0] = now
        worker.log_event(topic, [name, done, total, fetched])
    return send
