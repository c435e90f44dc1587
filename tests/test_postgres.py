"""The store in PostgreSQL, as a user meets it: the same histories and exports as SQLite,
writers on several machines that never duplicate a row, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from conftest import Archived, free_port, on_postgres, policy_html, run_cli, run_tracker, write_config, write_warc
from tracker import schedule
from tracker.api import Tracker
from tracker.config import Config, StorageConfig
from tracker.errors import ConfigError, TrackerError
from tracker.store import Store
from tracker.store.postgres import WRITERS
from tracker.store.sections import store_texts

ROOT = Path(__file__).resolve().parents[1]
DEMO_WARC = ROOT / "examples" / "krop-demo.warc.gz"
KROP = {"name": "krop", "urls": ["https://www.krop.com/privacy", "https://krrop.com/trust"],
        "archives": [f"warc:{DEMO_WARC}"], "live": False}


def without_detection_times(export: str) -> dict:
    """An export, less when each change was first derived (the time the command ran)."""
    data = json.loads(export)
    for change in data["changes"]:
        change.pop("detected_at")
    return data


def test_the_krop_demo_in_postgresql_has_the_history_and_export_it_has_in_sqlite(tmp_path, postgres):
    for folder in ("sqlite", "pg"):
        (tmp_path / folder).mkdir()
    on_sqlite = write_config(tmp_path / "sqlite", [KROP])
    on_pg = on_postgres(write_config(tmp_path / "pg", [KROP]), postgres.new_database())
    outputs = []
    for config in (on_sqlite, on_pg):
        backfilled = run_cli(config, "backfill")
        assert backfilled.exit_code == 0, backfilled.stderr
        assert "8 captures listed, 8 new, 8 read from the WARC; 2 versions, 1 change" in backfilled.out
        history, export = run_cli(config, "history", "krop"), run_cli(config, "export", "krop")
        assert history.exit_code == 0 and export.exit_code == 0
        outputs.append((history.stdout, without_detection_times(export.stdout)))
    assert outputs[0] == outputs[1]
    assert "rewrite" in outputs[1][0] and not (tmp_path / "pg" / "snapshots").exists()


def test_two_processes_backfilling_the_same_policies_store_exactly_the_rows_of_one(tmp_path, postgres):
    acme = [Archived("https://acme.example/privacy", f"{2015 + i // 12}-{i % 12 + 1:02d}-15T08:00:00Z",
                     policy_html(retention=f"{30 * (1 + i // 10)} days").replace(b"2024 Acme", f"build {i}".encode()))
            for i in range(40)]
    warc = write_warc(tmp_path / "acme.warc.gz", acme)
    policies = [KROP, {"name": "acme", "urls": ["https://acme.example/privacy"], "archives": [f"warc:{warc}"],
                       "live": False}]
    alone, together = postgres.new_database(), postgres.new_database()
    for folder in ("alone", "together"):  # beside the WARC: both name it the same way
        (tmp_path / folder).mkdir()
    assert run_cli(on_postgres(write_config(tmp_path / "alone", policies), alone), "backfill").exit_code == 0

    config = on_postgres(write_config(tmp_path / "together", policies), together)
    both = [subprocess.Popen([sys.executable, "-m", "tracker", "--config", str(config), "backfill"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [process.communicate(timeout=120) for process in both]
    assert [process.returncode for process in both] == [0, 0], results
    assert _rows(together) == _rows(alone)
    assert len(_rows(together)["captures"]) == 48


def _rows(url: str) -> dict:
    """What a user would compare, ids aside: captures, bodies, documents, versions, changes
    and which version each capture shows."""
    store = Store(url)
    try:
        return {name: sorted(store.db.execute(sql).fetchall()) for name, sql in {
            "captures": "SELECT policy, url, captured_at, source, archive_url, status, sha256 FROM captures",
            "bodies": "SELECT sha256, size FROM bodies",
            "documents": "SELECT sha256, extractor, text_sha256 FROM documents",
            "versions": "SELECT policy, number, key, first_seen, last_seen, captures FROM versions",
            "changes": "SELECT policy, from_version, to_version, window_start, window_end, kind FROM changes",
            "shown": "SELECT c.policy, c.captured_at, v.version, v.reason FROM capture_versions v "
                     "JOIN captures c ON c.id = v.capture_id",
            "sections": "SELECT policy, first_version, last_version, heading FROM section_versions",
        }.items()}
    finally:
        store.close()


def test_a_rebuild_indexes_its_new_texts_while_another_writer_holds_the_store(tmp_path, postgres):
    """Indexing a section's text is most of a rebuild's write: done before the rebuild's
    transaction, it does not wait for other writers (nor they for it). A text stored so that no
    version holds (its process killed before its transaction) is forgotten by the next rebuild."""
    url = postgres.new_database()
    config = on_postgres(write_config(tmp_path, [KROP]), url)
    assert run_cli(config, "backfill").exit_code == 0
    indexed = _rows(url)["sections"]
    store = Store(url)
    texts = store.db.execute("SELECT count(*) FROM section_texts").fetchone()[0]
    store.db.execute("DELETE FROM section_versions")
    store.db.execute("DELETE FROM section_texts")

    tracker = Tracker(config)
    writer = psycopg.connect(url, autocommit=True)
    writer.execute("BEGIN")
    writer.execute("SELECT pg_advisory_xact_lock(%s)", (WRITERS,))  # another writer, in a long transaction
    rebuilt: list = []
    rebuild = threading.Thread(target=lambda: rebuilt.extend(tracker.rebuild("krop")))
    rebuild.start()
    deadline = time.monotonic() + 120
    while store.db.execute("SELECT count(*) FROM section_texts").fetchone()[0] < texts:
        assert rebuild.is_alive() and time.monotonic() < deadline, "the texts were not stored before the lock"
        time.sleep(0.05)
    assert rebuild.is_alive() and not store.db.execute("SELECT 1 FROM section_versions").fetchone()
    writer.execute("COMMIT")
    rebuild.join(timeout=120)
    assert not rebuild.is_alive() and [r.error for r in rebuilt] == [None]
    tracker.close()
    assert _rows(url)["sections"] == indexed

    store_texts(store.db, [("Gone", "A section no version holds")])
    assert store.db.execute("SELECT count(*) FROM section_texts").fetchone()[0] == texts + 1
    assert run_cli(config, "rebuild").exit_code == 0
    assert store.db.execute("SELECT count(*) FROM section_texts").fetchone()[0] == texts
    assert _rows(url)["sections"] == indexed
    found = run_cli(config, "search", '"outside parties"')
    assert found.exit_code == 0 and "krop" in found.stdout
    store.close()
    writer.close()


# --- settings and errors ----------------------------------------------------------------------

def test_a_url_that_is_not_postgresql_is_refused_naming_the_key(tmp_path):
    config = write_config(tmp_path, [])
    config.write_text('[storage]\nurl = "mysql://me:secret@db.example/tracker"\n')
    result = run_cli(config, "status")
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert "storage.url" in result.stderr and "not a PostgreSQL URL" in result.stderr
    assert "secret" not in result.stderr and "me:***@db.example" in result.stderr
    with pytest.raises(ConfigError, match="path .* or url .*not both"):
        Config(storage=StorageConfig(path=Path("other.db"), url="postgresql://db.example/tracker"))


def test_an_unreachable_server_is_one_line_naming_the_url_without_its_password(tmp_path):
    url = f"postgresql://tracker:s3cret@127.0.0.1:{free_port()}/tracker"
    config = on_postgres(write_config(tmp_path, [KROP]), url)
    result = run_tracker("--config", str(config), "status")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: postgresql://tracker:***@127.0.0.1:{url.split(':')[3]}")
    assert "cannot connect" in result.stderr and "s3cret" not in result.stderr


def test_a_url_without_a_host_is_named_whole_without_its_password(tmp_path):
    url = f"postgresql:///tracker?host={tmp_path / 'no-socket-here'}&password=s3cret"  # a Unix socket's folder
    result = run_tracker("--config", str(on_postgres(write_config(tmp_path, [KROP]), url)), "status")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: postgresql:///tracker?host={tmp_path / 'no-socket-here'}&password=***: ")
    assert "s3cret" not in result.stderr


def test_wrong_credentials_are_one_line(tmp_path, postgres):
    url = postgres.new_database().replace("postgres@", "nobody_here:pw@")
    with pytest.raises(TrackerError, match=r"nobody_here:\*\*\*@.*cannot connect.*nobody_here"):
        Store(url)


def test_serve_says_in_one_line_that_datasette_needs_sqlite(tmp_path, postgres):
    config = on_postgres(write_config(tmp_path, [KROP]), postgres.new_database())
    assert run_cli(config, "backfill").exit_code == 0
    result = run_cli(config, "serve")
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "needs a SQLite store" in result.stderr and "PostgreSQL" in result.stderr


def test_one_daemon_per_postgresql_database_whatever_the_machine(tmp_path, postgres):
    url = postgres.new_database()
    config = on_postgres(write_config(tmp_path, [KROP]), url)
    Store(url).close()
    with schedule.daemon_lock(url):
        second = run_tracker("--config", str(config), "run", cwd=tmp_path)
        assert second.returncode == 1 and "already running" in second.stderr
        assert f"pid {os.getpid()}" in second.stderr and len(second.stderr.splitlines()) == 1
    assert run_tracker("--config", str(config), "run", cwd=tmp_path).returncode == 0  # released


def test_a_server_that_goes_away_ends_the_job_in_one_line_naming_the_database(postgres):
    import psycopg
    from tracker import runs
    from tracker.config import PolicyConfig
    from tracker.store import database_errors, database_problem

    url = postgres.new_database().replace("postgres@", "postgres:pw@")
    store = Store(url)
    with psycopg.connect(postgres.admin, autocommit=True) as admin:  # the server ends our session
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                      (url.rsplit("/", 1)[1],))
    policy = PolicyConfig(name="p", urls=["https://example.org/privacy"])
    with pytest.raises(database_errors()) as failed:  # not one policy's error: every policy's
        runs.guarded(policy, "checking", lambda: store.captures.timeline("p"), lambda error: error)
    problem = database_problem(url, failed.value)
    assert problem is not None and len(problem.splitlines()) == 1
    assert problem.startswith(url.replace(":pw@", ":***@") + ": the database failed")


def test_without_psycopg_a_postgresql_store_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tracker.store.postgres", None)  # as if psycopg were not installed
    config = on_postgres(write_config(tmp_path, [KROP]), "postgresql://tracker@db.example/tracker")
    result = run_cli(config, "status")
    assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1
    assert "pip install 'policy-tracker[postgresql]'" in result.stderr
