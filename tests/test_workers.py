"""Per-policy work on a Dask cluster: the same rows as one process, the same lines, the
archive's limits held by all workers together, a worker that dies, and no Dask at all on
the plain path."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path

import psutil
import pytest

from conftest import Archived, Page, on_postgres, policy_html, run_cli, write_config, write_warc
from tracker import Tracker
from tracker.archive import ArchiveClient, RateLimited
from tracker.archive import parse_timestamp
from tracker.config import ArchiveConfig, FetchConfig
from tracker.store import Store

ROOT = Path(__file__).resolve().parents[1]
DEMO_WARC = ROOT / "examples" / "krop-demo.warc.gz"
KROP = ["https://www.krop.com/privacy", "https://krrop.com/trust"]


def histories(folder: Path, count: int = 5) -> list[dict]:
    """``count`` policies, each with its own WARC of 6 captures and 3 texts, and the Krop demo."""
    policies = [{"name": "krop", "urls": KROP, "archives": [f"warc:{DEMO_WARC}"], "live": False}]
    for p in range(count):
        url = f"https://site{p}.example/privacy"
        captures = [Archived(url, f"20{18 + i}-0{p + 1}-10T09:00:00Z",
                             policy_html(retention=f"{(i // 2 + 1) * (p + 2)} days",
                                         extra=f"<h2>Cookies</h2><p>Policy {p} sets {i // 2} cookies.</p>"))
                    for i in range(6)]
        write_warc(folder / f"site{p}.warc.gz", captures)
        policies.append({"name": f"site{p}", "urls": [url], "archives": [f"warc:site{p}.warc.gz"], "live": False})
    return policies


def exports(config: Path, names: list[str]) -> dict[str, str]:
    return {name: run_cli(config, "export", name).stdout for name in names}


def comparable(export: str) -> dict:
    """An export as two stores filled apart can agree on it: capture ids renumbered in
    timeline order, detection times left out."""
    data = json.loads(export)
    ids = {c["id"]: n for n, c in enumerate(data["captures"])}

    def renumber(value, key=""):
        if isinstance(value, dict):
            return {k: renumber(v, k) for k, v in value.items() if k != "detected_at"}
        if isinstance(value, list):
            return [renumber(v, key) for v in value]
        if key == "id":  # a capture's, in the captures and as a move's evidence
            return ids.get(value, value)
        return value
    return renumber(data)


@pytest.fixture(scope="module")
def cluster():
    """A Dask cluster of 2 worker processes that runs apart from the commands: `[compute]
    scheduler` points at it."""
    import distributed

    local = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                     scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
    yield local
    local.close()


# --- the same results -------------------------------------------------------------------------

def test_a_rebuild_on_a_cluster_of_two_workers_gives_the_rows_of_a_serial_rebuild(tmp_path, cluster):
    policies = histories(tmp_path)
    names = [p["name"] for p in policies]
    config = write_config(tmp_path, policies)
    assert run_cli(config, "backfill").exit_code == 0
    before = exports(config, names)
    # the lists go: every version's text changes, so the rebuild has real work to do
    changed = [{**p, "remove": ["ul"]} for p in policies]
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    for folder in (serial, parallel):
        (folder / "snapshots").mkdir(parents=True)
        shutil.copy(tmp_path / "snapshots" / "tracker.db", folder / "snapshots" / "tracker.db")
        for warc in tmp_path.glob("*.warc.gz"):
            shutil.copy(warc, folder)
    serial_config = write_config(serial, changed)
    parallel_config = write_config(parallel, changed, f'[compute]\nscheduler = "{cluster.scheduler_address}"\n')

    one = run_cli(serial_config, "rebuild")
    two = run_cli(parallel_config, "rebuild")
    assert one.exit_code == 0 and two.exit_code == 0, two.stderr
    assert sorted(two.out.splitlines()) == sorted(one.out.splitlines())  # the same lines, as they finish
    assert "site0: 3 version(s), 2 change(s)" in two.out
    after = exports(parallel_config, names)
    assert after == exports(serial_config, names)  # byte for byte
    assert all(after[name] != before[name] for name in names if name != "krop")  # derived again (Krop has no list)


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_a_backfill_with_two_workers_gives_the_store_of_a_backfill_without(tmp_path, store, request):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    serial.mkdir()
    policies = histories(serial)
    shutil.copytree(serial, parallel)  # the same files: a record is named by its offset in its file
    names = [p["name"] for p in policies]
    one = run_cli(write_config(serial, policies), "backfill")
    config = write_config(parallel, policies)
    if store == "postgresql":  # the workers share one PostgreSQL database; the serial run stays on SQLite
        on_postgres(config, request.getfixturevalue("postgres").new_database())
    two = run_cli(config, "backfill", "--workers", "2")
    assert one.exit_code == 0 and two.exit_code == 0, two.stderr
    assert sorted(two.out.splitlines()) == sorted(one.out.splitlines())
    assert "krop 8 captures listed, 8 new, 8 read from the WARC; 2 versions, 1 change" in two.out
    got = {n: comparable(e) for n, e in exports(config, names).items()}
    assert got == {n: comparable(e) for n, e in exports(serial / "config.toml", names).items()}
    with Tracker(config) as t:  # the run is recorded as without workers
        db = t.store.db
        assert [tuple(row) for row in db.execute("SELECT command, outcome, counts FROM runs")] == \
            [("backfill", "ok", json.dumps({"backfilled": 6}))]
        assert db.execute("SELECT count(*) FROM run_results").fetchone()[0] == 6
    status = run_cli(config, "status", "site3")
    assert "last backfill" in status.out and "6 captures listed" in status.out


# --- a local archive that counts what it is asked ---------------------------------------------

@dataclass
class Archive:
    """A Memento archive on a test Site: per policy, a TimeMap of ``captures`` mementos; every
    request is recorded with the moment it arrived (wall clock, as the workers' limits)."""

    site: object
    policies: int
    captures: int = 3
    seen: list[tuple[float, str, str]] = field(default_factory=list)  # (moment, kind, path)
    refuse: set[int] = field(default_factory=set)  # index requests (counted from 1) answered 429
    kill: str | None = None  # a page whose TimeMap request kills the process asking for it
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.kill:
            self.site.pages[f"/timemap/link/{self.kill}"] = Page(handler=self._answer("index", b"", "killed"))
        for p in range(self.policies):
            url = self.url(p)
            stamps = [f"2020{m + 1:02d}15080000" for m in range(self.captures)]
            links = ", ".join(f'<{self.site.url(f"/web/{s}/{url}")}>; rel="memento"; '
                              f'datetime="{format_datetime(parse_timestamp(s), usegmt=True)}"' for s in stamps)
            self.site.pages[f"/timemap/link/{url}"] = Page(handler=self._answer("index", links.encode(), f"p{p}"))
            for m, stamp in enumerate(stamps):
                body = policy_html(retention=f"{m + 1} months", extra=f"<p>Policy {p}.</p>")
                self.site.pages[f"/web/{stamp}id_/{url}"] = Page(handler=self._answer("capture", body, f"p{p}"))

    def url(self, p: int) -> str:
        return f"https://p{p}.example/privacy"

    def _answer(self, kind: str, body: bytes, policy: str):
        def handler(request) -> None:
            with self._lock:
                self.seen.append((time.time(), kind, request.path))
                refused = kind == "index" and sum(k == "index" for _, k, _ in self.seen) in self.refuse
            if policy == "killed":
                os.kill(_asker(request), signal.SIGKILL)
                return
            request.send_response(429 if refused else 200)
            request.send_header("Content-Type", "application/link-format" if kind == "index" else "text/html")
            request.send_header("Content-Length", str(len(body)))
            request.end_headers()
            request.wfile.write(body)
        return handler

    def moments(self, kind: str) -> list[float]:
        return sorted(t for t, k, _ in self.seen if k == kind)


def _asker(request) -> int:
    """The process at the other end of a request's connection (both ends are on this machine)."""
    port = request.client_address[1]
    return next(c.pid for c in psutil.net_connections("tcp") if c.laddr and c.laddr.port == port and c.pid)


def archive_config(tmp_path: Path, archive: Archive, settings: str, extra: list[dict] = ()) -> Path:
    policies = [{"name": f"p{p}", "urls": [archive.url(p)], "archives": [f"memento:{archive.site.url('')}"],
                 "live": False} for p in range(archive.policies)]
    return write_config(tmp_path, [*extra, *policies], f"[archive]\n{settings}\n")


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_four_workers_together_keep_to_the_archives_limits(tmp_path, site, store, request):
    archive = Archive(site, policies=8)
    config = archive_config(tmp_path, archive, "index_per_minute = 240\ncaptures_per_second = 10")
    if store == "postgresql":  # the limits kept in the one database every worker writes to
        on_postgres(config, request.getfixturevalue("postgres").new_database())
    result = run_cli(config, "backfill", "--workers", "4")
    assert result.exit_code == 0, result.stderr
    assert result.out.count("3 captures listed, 3 new, 3 fetched") == 8
    index, captures = archive.moments("index"), archive.moments("capture")
    assert len(index) == 8 and len(captures) == 24
    # 240 a minute: a request may start every 0.25 s, whichever worker asks; what the server
    # sees is that, give or take how long each took on the way (a busy machine delays some)
    assert_spaced(index, 0.25)
    assert_spaced(captures, 0.1)  # 10 a second


def assert_spaced(moments: list[float], interval: float) -> None:
    gaps = sorted(b - a for a, b in zip(moments, moments[1:]))
    assert gaps[len(gaps) // 2] > 0.9 * interval  # the median gap
    assert moments[-1] - moments[0] > 0.9 * interval * (len(moments) - 1)
    # in any second, no more than the limit allows (and one for the window's edge), however late some came
    assert max(sum(t0 <= t < t0 + 1 for t in moments) for t0 in moments) <= 1 / interval + 1


def test_a_429_seen_by_one_worker_pauses_them_all(tmp_path, site):
    archive = Archive(site, policies=12, captures=6, refuse={3})
    config = archive_config(tmp_path, archive, "index_per_minute = 300\ncaptures_per_second = 30\npause_s = 2")
    result = run_cli(config, "backfill", "--workers", "4")
    assert result.exit_code == 0, result.stderr  # the refused request was asked again, after the pause
    assert result.out.count("6 captures listed, 6 new, 6 fetched") == 12
    refused = archive.moments("index")[2]
    after = sorted(t for t, _, _ in archive.seen if t > refused + 0.3)  # a request already on its way may land
    assert after and after[0] >= refused + 2 - 0.1  # no request of any kind, from any worker, in the pause
    assert len(after) > 40  # and the others had work waiting: they went on after it
    with sqlite3.connect(tmp_path / "snapshots" / "tracker.db") as db:
        assert db.execute("SELECT refusals FROM archive_hosts").fetchall() == [(0,)]  # answered since


def test_a_worker_that_dies_fails_its_policy_only_and_loses_nothing_stored(tmp_path, site):
    archive = Archive(site, policies=4, kill=KROP[0])
    doomed = {"name": "doomed", "urls": KROP, "archives": [f"warc:{DEMO_WARC}", f"memento:{site.url('')}"],
              "live": False}
    config = archive_config(tmp_path, archive, "index_per_minute = 6000\ncaptures_per_second = 200", [doomed])
    result = run_cli(config, "backfill", "--workers", "2")
    assert result.exit_code == 1
    failed = result.err.strip().splitlines()
    assert len(failed) == 1 and failed[0].startswith("doomed ") and "the worker process working on it died" in failed[0]
    assert "Traceback" not in result.stderr
    assert sorted(line.split()[0] for line in result.out.splitlines()) == ["p0", "p1", "p2", "p3"]
    assert result.out.count("3 captures listed, 3 new, 3 fetched") == 4
    with sqlite3.connect(tmp_path / "snapshots" / "tracker.db") as db:
        # what the dead worker stored before it died (the WARC's captures) is kept
        assert db.execute("SELECT count(*) FROM captures WHERE policy = 'doomed'").fetchone()[0] == 8
        assert db.execute("SELECT count(*) FROM captures").fetchone()[0] == 8 + 4 * 3
        assert db.execute("SELECT outcome FROM run_results WHERE policy = 'doomed'").fetchone()[0] == "error"
        assert db.execute("SELECT outcome FROM runs").fetchone()[0] == "failed"


def test_the_python_api_backfills_on_workers_with_each_policys_progress(tmp_path, site):
    archive = Archive(site, policies=3, captures=4)
    config = archive_config(tmp_path, archive, "index_per_minute = 6000\ncaptures_per_second = 200")
    told, progress = [], {}

    def bar(policy):
        return lambda done, total, fetched: progress.setdefault(policy.name, []).append((done, total, fetched))

    with Tracker(config, workers=2) as tracker:
        reports = tracker.backfill(each=lambda report: told.append(report.policy), progress_for=bar)
        assert tracker.cluster is not None and tracker.cluster.slots == 2
    assert [r.policy for r in reports] == ["p0", "p1", "p2"] and sorted(told) == ["p0", "p1", "p2"]
    assert all(r.new == 4 and r.versions == 4 and not r.failed for r in reports)
    assert set(progress) == {"p0", "p1", "p2"}  # told here, from the workers
    for calls in progress.values():
        assert calls[0][1] == 4 and all(later[0] > earlier[0] for earlier, later in zip(calls, calls[1:]))


def test_run_does_the_due_checks_on_workers_with_the_lines_of_a_run_without(tmp_path, site):
    for name in ("a", "b", "c"):
        site.pages[f"/{name}"] = Page(policy_html(retention=f"{len(name) * 10} days", extra=f"<p>{name}</p>"))
    site.pages["/down"] = Page(b"down", status=503)
    policies = [{"name": name, "urls": [site.url(f"/{name}")], "archives": []} for name in ("a", "b", "c", "down")]
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    serial.mkdir(), parallel.mkdir()
    one = run_cli(write_config(serial, policies, '[schedule]\ncheck = "1h"\n'), "run")
    two = run_cli(write_config(parallel, policies, '[schedule]\ncheck = "1h"\n'), "run", "--workers", "2")
    assert one.exit_code == two.exit_code == 1  # one policy's page is down
    assert two.out.splitlines()[:3] == ["check:a: new version 1", "check:b: new version 1", "check:c: new version 1"]
    assert two.out == one.out and two.stderr == one.stderr and "HTTP 503" in two.stderr
    assert run_cli(parallel / "config.toml", "run", "--workers", "2").out.strip() == "nothing is due"
    with sqlite3.connect(parallel / "snapshots" / "tracker.db") as db:
        assert db.execute("SELECT count(*) FROM runs WHERE command = 'check'").fetchone()[0] == 4
        assert db.execute("SELECT count(*) FROM schedule WHERE last_run IS NOT NULL").fetchone()[0] == 4


# --- without Dask, and settings ---------------------------------------------------------------

def test_without_workers_dask_is_never_imported(tmp_path):
    config = write_config(tmp_path, histories(tmp_path, count=1))
    code = ("import sys\nfrom tracker.cli import cli\n"
            f"for args in (['backfill'], ['rebuild']):\n"
            f"    cli(['--config', {str(config)!r}, *args], standalone_mode=False)\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed'}))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]" and "site0: 3 version(s), 2 change(s)" in done.stdout


def test_workers_without_dask_installed_is_one_line_with_the_pip_command(tmp_path, monkeypatch):
    config = write_config(tmp_path, histories(tmp_path, count=1))
    monkeypatch.setitem(sys.modules, "distributed", None)  # what `import distributed` meets when it is missing
    result = run_cli(config, "rebuild", "--workers", "2")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == ("error: a Dask cluster (--workers, [compute] scheduler) needs Dask, which is not "
                             "installed: pip install 'policy-tracker[dask]'\n")


@pytest.mark.parametrize("address", ["localhost:8786", "http://127.0.0.1:8786", "tcp://127.0.0.1", "tcp://h:99999",
                                     "tcp://a b:1"])
def test_a_scheduler_address_is_checked(tmp_path, address):
    config = write_config(tmp_path, [], f'[compute]\nscheduler = "{address}"\n')
    result = run_cli(config, "status")
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert "compute.scheduler" in result.stderr and "tcp://10.0.0.5:8786" in result.stderr


def test_a_scheduler_that_does_not_answer_is_one_line(tmp_path):
    import socket

    with socket.socket() as held:  # a port that is bound but does not listen: refused at once
        held.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{held.getsockname()[1]}"
        config = write_config(tmp_path, histories(tmp_path, count=1), f'[compute]\nscheduler = "{address}"\n')
        result = run_cli(config, "rebuild")
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(f"error: compute.scheduler: no Dask scheduler answers at {address}")


def test_workers_must_be_a_positive_number(tmp_path):
    config = write_config(tmp_path, [])
    assert run_cli(config, "rebuild", "--workers", "0").exit_code == 2
    with pytest.raises(Exception, match="worker processes"):
        Tracker(config, workers=0)


# --- the shared limits, on a fake clock --------------------------------------------------------

class FakeTime:
    """A clock that moves only when someone sleeps (shared by the 'processes' of a test)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def two_processes(tmp_path: Path, fake: FakeTime, **archive) -> tuple[ArchiveClient, ArchiveClient, list]:
    """Two archive clients, each with its own connection to one store, as two workers have."""
    path = tmp_path / "tracker.db"
    stores = [Store(path), Store(path)]
    config = ArchiveConfig(**archive)
    clients = [ArchiveClient(config, FetchConfig(timeout_s=5), s.limits, fake.clock, fake.sleep, lambda: 0.0)
               for s in stores]
    return clients[0], clients[1], stores


def test_two_clients_on_one_store_share_the_index_limit_and_a_429_pause(tmp_path, site):
    fake = FakeTime()
    first, second, stores = two_processes(tmp_path, fake, index_per_minute=30, pause_s=60)
    site.pages["/cdx"] = Page(b"")
    for client in (first, second, first, second):
        client.get(site.url("/cdx"), "index")
    assert fake.sleeps == [2.0, 2.0, 2.0]  # 30 a minute for both together, not each
    answers = iter([429, 200])

    def refuse_once(request):
        request.send_response(next(answers))
        request.send_header("Content-Length", "0")
        request.end_headers()
    site.pages["/web/x"] = Page(handler=refuse_once)
    refused_at = fake.now
    first.get(site.url("/web/x"), "capture")  # a 429, then a wait of 60 s, then the answer
    fake.sleeps.clear()
    before = fake.now
    second.get(site.url("/cdx"), "index")  # the other process's next request waits out the same pause:
    assert fake.now >= refused_at + 60 and fake.now - before < 2.01  # it had passed already, nothing more
    for store in stores:
        store.close()


def test_a_host_given_up_by_one_client_is_not_asked_by_another_until_its_pause_ends(tmp_path, site):
    fake = FakeTime()
    first, second, stores = two_processes(tmp_path, fake, retries=1, pause_s=60)
    site.pages["/cdx"] = Page(b"slow down", status=429)
    with pytest.raises(RateLimited, match="429"):
        first.get(site.url("/cdx"), "index")
    assert len(site.requests) == 2  # asked, paused 60 s, asked again, given up (and paused 120 s)
    with pytest.raises(RateLimited):
        second.get(site.url("/cdx"), "capture")
    assert len(site.requests) == 2  # the other client asks nothing meanwhile
    fake.now += 121
    site.pages["/cdx"] = Page(b"")
    assert second.get(site.url("/cdx"), "index").status == 200  # after the pause, one tries again
    assert stores[0].limits.state(f"127.0.0.1:{site.server.server_port}")[1] == 0
    for store in stores:
        store.close()


@pytest.mark.parametrize("stop, code, says", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "stopped")],
                         ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_the_workers_with_one_line(tmp_path, site, stop, code, says):
    """Ctrl-C reaches every process of the terminal's; a service manager's stop, every process
    of the service's."""
    asked, release = threading.Event(), threading.Event()

    def hang(request) -> None:  # the archive takes its time: the command is surely at work
        asked.set()
        release.wait(30)
    archive = Archive(site, policies=3)
    site.pages[f"/timemap/link/{archive.url(2)}"] = Page(handler=hang)
    config = archive_config(tmp_path, archive, "index_per_minute = 6000\ncaptures_per_second = 200")
    command = subprocess.Popen([sys.executable, "-m", "tracker", "--config", str(config), "backfill", "--workers", "2"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert asked.wait(60), "the backfill never asked for the TimeMap"
        workers = [child for child in psutil.Process(command.pid).children(recursive=True)
                   if "spawn_main" in " ".join(child.cmdline())]  # not multiprocessing's resource tracker
        os.killpg(command.pid, stop)
        out, err = command.communicate(timeout=60)
    finally:
        release.set()
        command.kill()
    assert command.returncode == code and err == f"{says}; everything stored so far is kept\n"
    assert len(workers) == 2 and psutil.wait_procs(workers, timeout=10)[1] == []  # none left running
