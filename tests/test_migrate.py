"""`tracker migrate --to URL`: a SQLite store copied into PostgreSQL, as a user meets it: the
same exports, histories and searches afterwards, verified counts, and a target left empty by
a copy that fails or refused when it holds a store already."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from conftest import free_port, on_postgres, run_cli, write_config
from tracker import Tracker
from tracker.errors import TrackerError
from tracker.store import Store
from tracker.store.copy import source_tables

ROOT = Path(__file__).resolve().parents[1]
KROP = {"name": "krop", "urls": ["https://www.krop.com/privacy", "https://krrop.com/trust"],
        "archives": [f"warc:{ROOT / 'examples' / 'krop-demo.warc.gz'}"], "live": False}
# What the Krop demo's store holds besides its history: a digest sent with its one change, a job's schedule
DIGEST = {"period_start": "2025-01-01T00:00:00.000Z", "period_end": "2025-07-01T00:00:00.000Z",
          "subject": "1 policy changed", "recipients": ["me@example.org"], "message": b"Subject: 1 policy\r\n\r\n\x00\xff",
          "message_id": "<1@tracker>"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """A folder with a config and its SQLite store: the Krop demo backfilled, a digest sent,
    a job run and an archive's limits at work. Each test copies it."""
    folder = tmp_path_factory.mktemp("demo")
    config = write_config(folder, [KROP])
    assert run_cli(config, "backfill").exit_code == 0
    store = Store(folder / "snapshots" / "tracker.db")
    try:
        (to_capture,) = store.db.execute("SELECT to_capture FROM changes").fetchone()
        store.digests.attempted(store.digests.add(DIGEST, [("krop", to_capture)]), None)
        store.runs.job_state("check:krop")
        store.runs.job_ran("check:krop", "2025-07-01T00:00:00.000Z", "ok", "2025-07-01T06:00:00.000Z")
        store.limits.reserve("web.archive.org", "index", 2.0, 1_751_356_800.0)  # an archive was asked
        store.limits.refused("web.archive.org", 1_751_356_800.0, lambda refusals: 60.0 * refusals)
    finally:
        store.close()
    return folder


@pytest.fixture
def config(demo, tmp_path) -> Path:
    shutil.copytree(demo, tmp_path, dirs_exist_ok=True)
    return tmp_path / "config.toml"


def sqlite_counts(config: Path) -> dict[str, int]:
    with sqlite3.connect(config.parent / "snapshots" / "tracker.db") as db:
        return {name: db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
                for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND sql NOT LIKE 'CREATE VIRTUAL%' AND name NOT LIKE 'section_texts_%'")}


def postgres_counts(url: str, tables) -> dict[str, int]:
    store = Store(url)
    try:
        return {name: store.db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in tables}
    finally:
        store.close()


def reported_counts(output: str) -> dict[str, int]:
    return {name: int(rows.replace(",", "")) for name, rows in re.findall(r"^(\w+) +([\d,]+) row\(s\)", output, re.M)}


def without_passages(search: str) -> dict:
    """A search's answer less its passages, which FTS5 and PostgreSQL cut each their own way."""
    data = json.loads(search)
    for policy in data["policies"]:
        for section in policy["sections"]:
            section.pop("snippet")
    return data


def elsewhere(status: str) -> dict:
    """A status, less the database it names."""
    data = json.loads(status)
    data.pop("database")
    return data


READINGS = [("export", "krop"), ("history", "krop"), ("history", "krop", "--json"), ("status", "--json"),
            ("search", "--json", '"outside parties"'), ("search", "--history", "trust"), ("diff", "krop", "--json")]


def readings(config: Path) -> list[str]:
    out = []
    for args in READINGS:
        result = run_cli(config, *args)
        assert result.exit_code == 0, (args, result.stderr)
        out.append(result.stdout)
    return out


def test_migrate_copies_the_demo_store_and_postgresql_answers_as_sqlite_did(config, postgres):
    url = postgres.new_database()
    before, counts = readings(config), sqlite_counts(config)
    assert set(counts) >= {"policies", "captures", "bodies", "documents", "document_json", "versions", "changes",
                           "details_json", "capture_versions", "section_texts", "section_versions", "digests",
                           "digest_changes", "runs", "run_results", "schedule", "archive_hosts", "archive_slots"}
    assert all(counts.values()), counts

    migrated = run_cli(config, "migrate", "--to", url)
    assert migrated.exit_code == 0, migrated.stderr
    assert reported_counts(migrated.stdout) == counts
    assert postgres_counts(url, counts) == counts
    assert f'[storage]\nurl = "{url}"' in migrated.stdout
    assert "every table's row count and hash agree" in migrated.stdout

    after = readings(on_postgres(config, url))
    assert after[0] == before[0]  # the export, byte for byte
    assert after[1:3] == before[1:3] and after[5:] == before[5:]  # history, the search's timeline, diff
    assert elsewhere(after[3]) == elsewhere(before[3])  # the status: digests, the schedule, the last runs
    assert without_passages(after[4]) == without_passages(before[4])
    assert json.loads(after[4])["policies"][0]["sections"]  # the search found something in both


def test_new_rows_in_postgresql_get_ids_after_the_copied_ones(config, postgres):
    url = postgres.new_database()
    assert run_cli(config, "migrate", "--to", url).exit_code == 0
    store = Store(url)
    try:
        copied = store.db.execute("SELECT max(id) FROM runs").fetchone()[0]
    finally:
        store.close()
    again = run_cli(on_postgres(config, url), "backfill")  # records a run, and its result
    assert again.exit_code == 0, again.stderr
    assert "0 new" in again.out
    status = json.loads(run_cli(config, "status", "--json").stdout)
    assert status["policies"][0]["last_backfill"]["message"].startswith("8 captures listed, 0 new")
    assert postgres_counts(url, ["runs"]) == {"runs": copied + 1}


def test_the_python_api_returns_each_table_copied_and_its_hash(config, postgres):
    url = postgres.new_database()
    seen = []
    with Tracker(config) as tracker:
        migrated = tracker.migrate(url, each=seen.append)
        tables = [table.name for table in source_tables(tracker.store.db)]
    assert [copied.table for copied in migrated.tables] == tables == [copied.table for copied in seen]
    assert "section_texts_fts" not in tables and "section_texts_fts_data" not in tables
    assert migrated.target == url and migrated.rows == sum(sqlite_counts(config).values())
    assert all(re.fullmatch("[0-9a-f]{64}", copied.sha256) for copied in migrated.tables)


def test_a_database_that_holds_a_store_is_refused_and_left_as_it_was(config, postgres):
    url = postgres.new_database()
    assert run_cli(config, "migrate", "--to", url).exit_code == 0
    held = postgres_counts(url, sqlite_counts(config))
    again = run_cli(config, "migrate", "--to", url)
    assert again.exit_code == 1 and len(again.stderr.splitlines()) == 1, again.stderr
    assert "already holds a store (rows in policies, " in again.stderr and "nothing was changed" in again.stderr
    assert postgres_counts(url, held) == held


def test_a_copy_that_fails_halfway_leaves_the_database_empty(config, postgres):
    url = postgres.new_database()
    with sqlite3.connect(config.parent / "snapshots" / "tracker.db") as db:  # a text PostgreSQL cannot hold
        db.execute("UPDATE schedule SET last_outcome = ?", ("ok\x00",))
    failed = run_cli(config, "migrate", "--to", url)
    assert failed.exit_code == 1 and len(failed.stderr.splitlines()) == 1, failed.stderr
    assert "table schedule: the copy failed" in failed.stderr and "nothing was kept" in failed.stderr
    assert re.search(r"^captures +8 row", failed.stdout, re.M)  # copied, then rolled back
    counts = postgres_counts(url, sqlite_counts(config))
    assert not any(counts.values()), counts


def test_a_table_that_reads_back_differently_fails_the_verification_naming_it(config, postgres):
    url = postgres.new_database()
    with sqlite3.connect(config.parent / "snapshots" / "tracker.db") as db:  # bytes in a text column: SQLite allows it
        db.execute("UPDATE schedule SET last_outcome = X'6f6b'")
    failed = run_cli(config, "migrate", "--to", url)
    assert failed.exit_code == 1 and len(failed.stderr.splitlines()) == 1, failed.stderr
    assert "table schedule differs from the SQLite store after the copy (1 rows" in failed.stderr
    assert not any(postgres_counts(url, sqlite_counts(config)).values())


def test_what_cannot_be_migrated_is_one_line(tmp_path, postgres):
    (tmp_path / "new").mkdir()
    missing = write_config(tmp_path / "new", [KROP])
    result = run_cli(missing, "migrate", "--to", postgres.new_database())
    assert result.exit_code == 1 and "no such store to migrate" in result.stderr
    assert not (tmp_path / "new" / "snapshots").exists()  # not created by trying

    config = write_config(tmp_path, [KROP])
    assert run_cli(config, "status").exit_code == 0  # a store, empty
    unreachable = f"postgresql://tracker:s3cret@127.0.0.1:{free_port()}/tracker"
    for url, says in [("mysql://me:s3cret@db.example/tracker", "me:***@db.example/tracker: not a PostgreSQL URL"),
                      (unreachable, "tracker:***@127.0.0.1:"), (unreachable, "cannot connect to the database")]:
        result = run_cli(config, "migrate", "--to", url)
        assert result.exit_code == 1 and len(result.stderr.splitlines()) == 1, result.stderr
        assert says in result.stderr and "s3cret" not in result.stderr

    on_pg = on_postgres(config, postgres.new_database())
    result = run_cli(on_pg, "migrate", "--to", postgres.new_database())
    assert result.exit_code == 1 and "storage.url: the store is already in PostgreSQL" in result.stderr
    with pytest.raises(TrackerError, match="already in PostgreSQL"), Tracker(on_pg) as tracker:
        tracker.migrate(postgres.new_database())


def test_rows_that_break_a_foreign_key_are_refused_naming_it(config, postgres):
    url = postgres.new_database()
    with sqlite3.connect(config.parent / "snapshots" / "tracker.db") as db:  # foreign keys are off unless asked for
        db.execute("UPDATE run_results SET policy = 'gone'")
    failed = run_cli(config, "migrate", "--to", url)
    assert failed.exit_code == 1 and len(failed.stderr.splitlines()) == 1, failed.stderr
    assert "table run_results: the copy breaks its foreign key FOREIGN KEY (policy) REFERENCES policies(name)" \
        in failed.stderr
    assert not any(postgres_counts(url, sqlite_counts(config)).values())


def test_a_table_a_later_schema_adds_is_copied_too(config, postgres):
    url = postgres.new_database()
    with sqlite3.connect(config.parent / "snapshots" / "tracker.db") as db:
        db.execute("CREATE TABLE archive_notes (host TEXT PRIMARY KEY, paused_until TEXT, requests REAL)")
        db.executemany("INSERT INTO archive_notes VALUES (?, ?, ?)",
                       [("web.archive.org", None, 0.5), ("arquivo.pt", "2025-01-01T00:00:00.000Z", 3.0)])
    refused = run_cli(config, "migrate", "--to", url)
    assert refused.exit_code == 1 and "no table archive_notes, which the SQLite store has" in refused.stderr

    store = Store(url)  # the same table, as the migration that adds it would make it in PostgreSQL
    store.db.alter("CREATE TABLE archive_notes (host TEXT PRIMARY KEY, paused_until TEXT, requests REAL)")
    store.close()
    migrated = run_cli(config, "migrate", "--to", url)
    assert migrated.exit_code == 0, migrated.stderr
    assert reported_counts(migrated.stdout)["archive_notes"] == 2
