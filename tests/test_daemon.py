"""The scheduler: what is due (with fixed times, no waiting), `tracker run`, and the daemon as
a real process against a site on 127.0.0.1: a change recorded and reported, one daemon per
database, SIGTERM, kill -9 and restart."""

from __future__ import annotations

import fcntl
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from conftest import Page, free_port, policy_html, run_cli, write_config
from tracker.models import iso
from tracker.config import load_config
from tracker.schedule import Done, Job, Runner, grace, is_due
from tracker.store import Store

UTC = ZoneInfo("UTC")
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)  # a Monday


# --- what is due ------------------------------------------------------------------------------

def test_an_interval_job_is_due_when_its_interval_has_passed():
    assert is_due("6h", UTC, None, NOW, NOW)  # never ran
    assert not is_due("6h", UTC, NOW - timedelta(hours=5), NOW, NOW)
    assert is_due("6h", UTC, NOW - timedelta(hours=6), NOW, NOW)
    assert is_due("30s", UTC, NOW - timedelta(days=3), NOW, NOW)  # after downtime: once, now


def test_a_cron_job_that_fell_due_while_nothing_ran_is_due_once():
    monday_8 = "0 8 * * mon"
    last_week = NOW - timedelta(days=7, hours=3)  # Monday 09:00 a week ago: after that week's run
    assert is_due(monday_8, UTC, last_week, last_week, NOW)  # today 08:00 fell in the downtime
    assert not is_due(monday_8, UTC, NOW - timedelta(hours=3), last_week, NOW)  # ran at 09:00 today
    assert not is_due(monday_8, UTC, None, NOW - timedelta(hours=1), NOW)  # first seen after today's 08:00
    # first seen Monday 02:00 UTC: 08:00 UTC came since, 08:00 in Tokyo (Sunday 23:00 UTC) had not
    assert is_due(monday_8, UTC, None, NOW - timedelta(hours=10), NOW)
    assert not is_due(monday_8, ZoneInfo("Asia/Tokyo"), None, NOW - timedelta(hours=10), NOW)
    assert grace(monday_8) == 86400 and grace("10s") == 5 and grace("6h") == 3 * 3600


def test_schedule_settings_are_checked(tmp_path):
    config = write_config(tmp_path, [{"name": "a", "urls": ["https://a.example/"], "check": "every now and then"}])
    result = run_cli(config, "status")
    assert result.exit_code == 1 and "policy[1].check" in result.stderr and "cron" in result.stderr


# --- tracker run --------------------------------------------------------------------------

def test_run_does_what_is_due_once(tmp_path, site, backend):
    site.pages["/privacy"] = Page(policy_html())
    config = backend.place(write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")], "archives": []}],
                                        '[schedule]\ncheck = "1h"\n'))
    first = run_cli(config, "run")
    assert first.exit_code == 0 and "check:acme: new version 1" in first.out and "reports:" in first.out
    assert (tmp_path / "reports" / "acme" / "index.html").exists()
    assert run_cli(config, "run").out.strip() == "nothing is due"
    status = run_cli(config, "status")
    assert "job check:acme: last run" in status.out and "next run" in status.out


def test_run_renders_the_reports_once_after_the_checks_due_failed_ones_included(tmp_path, site, backend):
    site.pages["/privacy"] = Page(policy_html())
    site.pages["/terms"] = Page(b"down", status=503)
    config = backend.place(write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")], "archives": []},
                                                   {"name": "shop", "urls": [site.url("/terms")], "archives": []}],
                                        '[schedule]\ncheck = "1h"\n'))
    result = run_cli(config, "run")
    assert result.exit_code == 1 and result.out.splitlines()[0] == "check:acme: new version 1"
    assert result.stderr.startswith("check:shop: error: ") and "HTTP 503" in result.stderr
    rendered = [line for line in (result.out + result.stderr).splitlines() if "reports" in line]
    assert rendered == [result.out.splitlines()[-1]] and re.fullmatch(r"reports: \d+ page\(s\) written", rendered[0])
    assert "HTTP 503" in (tmp_path / "reports" / "shop" / "index.html").read_text()  # the failure is shown


def test_a_policy_failing_check_after_check_is_flagged(tmp_path, site, backend):
    site.pages["/privacy"] = Page(b"down", status=503)
    config = backend.place(write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")], "archives": []}],
                                        '[schedule]\ncheck = "1s"\nfailures = 2\n'))
    for _ in range(2):
        assert run_cli(config, "check").exit_code == 1
    status = run_cli(config, "status")
    assert "FAILING 2 checks in a row" in status.out
    digest = run_cli(config, "digest", "--dry-run")
    assert "Could not be checked" in digest.out and "failing: the last 2 checks in a row" in digest.out


def test_the_daemon_renders_once_for_the_jobs_at_work_together(tmp_path, caplog):
    config = load_config(write_config(tmp_path, [{"name": "acme", "urls": ["https://acme.example/privacy"],
                                                  "archives": []}]))
    Store(config.database).close()  # created and migrated, as the daemon does before its jobs
    runner = Runner(config, tmp_path / "reports")
    together = threading.Barrier(3)

    def work(store: Store, stop: threading.Event) -> Done:
        together.wait(10)  # all three at work at once, as the checks due at one tick
        return Done("checked", changed=True)

    caplog.set_level("INFO", logger="tracker.daemon")
    threads = [threading.Thread(target=runner.execute, args=(Job(f"check:{i}", "1h", work),)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("reports:")] == \
        ["reports: 4 page(s) written"]  # the index, its feed, acme's history page and feed
    assert (tmp_path / "reports" / "acme" / "index.html").exists() and runner.active == 0


# --- the daemon, a real process ---------------------------------------------------------------

def start(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tracker", "--config", str(config), "daemon"],
                            stdout=subprocess.DEVNULL, stderr=open(log, "ab"), cwd=config.parent)


def wait_for(condition, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.1)


def count(db: Path, sql: str) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(sql).fetchone()[0]
    except sqlite3.OperationalError:
        return 0  # not created yet


def test_the_daemon_records_a_change_updates_reports_stops_cleanly_and_survives_kill(tmp_path, site):
    site.pages["/privacy"] = Page(policy_html())
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")], "archives": []}],
                          '[schedule]\ncheck = "1s"\nlog_file = "daemon.log"\n')
    db = tmp_path / "snapshots" / "tracker.db"
    log = tmp_path / "stderr.log"
    daemon = start(config, log)
    try:
        wait_for(lambda: count(db, "SELECT count(*) FROM versions") == 1)
        wait_for(lambda: (tmp_path / "reports" / "acme" / "index.html").exists())
        site.pages["/privacy"] = Page(policy_html(retention="90 days"))
        wait_for(lambda: count(db, "SELECT count(*) FROM versions") == 2)
        wait_for(lambda: list((tmp_path / "reports" / "acme").glob("change-*.html")))
        change_page = next((tmp_path / "reports" / "acme").glob("change-*.html")).read_text()
        assert "90 days" in change_page and "30 days" in change_page

        second = subprocess.run([sys.executable, "-m", "tracker", "--config", str(config), "daemon"],
                                capture_output=True, text=True, timeout=30, cwd=tmp_path)
        assert second.returncode == 1 and "already running" in second.stderr and str(daemon.pid) in second.stderr

        stopping = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(15) == 0 and time.monotonic() - stopping < 10
    finally:
        if daemon.poll() is None:
            daemon.kill()
    lines = (tmp_path / "daemon.log").read_text().splitlines()
    assert any("check:acme: new version 2" in line for line in lines) and "stopped" in lines[-1]

    captures = count(db, "SELECT count(*) FROM captures")
    restarted = start(config, log)
    try:
        wait_for(lambda: count(db, "SELECT count(*) FROM captures") > captures)
        time.sleep(0.3)
        os.kill(restarted.pid, signal.SIGKILL)
        restarted.wait(10)
    finally:
        if restarted.poll() is None:
            restarted.kill()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    kept = count(db, "SELECT count(*) FROM captures")
    again = start(config, log)  # the lock of a killed daemon does not block a restart
    try:
        wait_for(lambda: count(db, "SELECT count(*) FROM captures") > kept)
        again.send_signal(signal.SIGTERM)
        assert again.wait(15) == 0
    finally:
        if again.poll() is None:
            again.kill()
    assert count(db, "SELECT count(*) FROM versions") == 2


def test_a_digest_that_fell_due_while_down_is_sent_once_at_start(tmp_path, site):
    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content)
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        site.pages["/privacy"] = Page(policy_html())
        config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")], "archives": [],
                                          "live": False}],
                              f'[schedule]\ndigest = "0 8 * * mon"\n[email]\nsmtp_host = "127.0.0.1"\n'
                              f'smtp_port = {controller.port}\nsecurity = "none"\nfrom = "t@example.org"\n'
                              f'to = ["team@example.org"]\n')
        assert run_cli(config, "check", "acme").exit_code == 0
        site.pages["/privacy"] = Page(policy_html(retention="90 days"))
        assert "new version 2" in run_cli(config, "check", "acme").out
        store = Store(tmp_path / "snapshots" / "tracker.db")
        store.runs.job_state("digest")
        store.runs.job_ran("digest", iso(datetime.now(timezone.utc) - timedelta(days=8)), "sent", None)
        store.close()
        first = run_cli(config, "run")
        assert first.exit_code == 0 and "digest: sent: Changes found" in first.out and "in 1 policy" in first.out and len(received) == 1
        assert run_cli(config, "run").out.strip() == "nothing is due" and len(received) == 1
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def _locks_released(tmp_path):
    yield
    for lock in tmp_path.rglob("*.db.lock"):
        with open(lock, "a+") as handle:  # whoever took it has let it go
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
