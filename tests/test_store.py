"""The SQLite snapshot store and the history derived from it, on a real SQLite file."""

from __future__ import annotations

import random
import sqlite3

import pytest

from conftest import policy_html
from tracker import history
from tracker.config import PolicyConfig
from tracker.errors import UserError
from tracker.models import Capture
from tracker.store import SCHEMA_VERSION, Store


POLICY = PolicyConfig(name="p", urls=["https://example.org/privacy"])


def make_store(tmp_path) -> Store:
    store = Store(tmp_path / "snap" / "tracker.db")
    store.sync_policies([POLICY])
    return store


def capture(when: str, status: int = 200, source: str = "ia", url: str = "https://example.org/privacy") -> Capture:
    return Capture(policy="p", url=url, captured_at=when, source=source, status=status,
                   sha256=None, fetched_at="2026-11-23T00:00:00.000Z",
                   archive_url=f"https://web.archive.org/web/{when[:4]}id_/{url}")


def test_store_is_wal_with_foreign_keys_and_a_schema_version(tmp_path):
    store = make_store(tmp_path)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.schema_version == SCHEMA_VERSION
    with pytest.raises(sqlite3.IntegrityError):  # a capture of an unknown policy is refused
        store.add_capture(Capture(policy="nobody", url="u", captured_at="t", source="live",
                                  status=200, sha256=None, fetched_at="t"), b"x")


def test_reopening_keeps_everything_and_does_not_migrate_again(tmp_path):
    store = make_store(tmp_path)
    store.add_capture(capture("2020-01-01T00:00:00.000Z"), b"<p>a</p>")
    store.close()
    again = Store(tmp_path / "snap" / "tracker.db")
    assert len(again.captures("p")) == 1 and again.schema_version == SCHEMA_VERSION


def test_a_database_from_a_newer_version_is_refused(tmp_path):
    store = make_store(tmp_path)
    store.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    store.close()
    with pytest.raises(UserError, match="written by a newer policy-tracker"):
        Store(tmp_path / "snap" / "tracker.db")


def test_storing_the_same_capture_twice_gives_one_row(tmp_path):
    store = make_store(tmp_path)
    first_id, first_new = store.add_capture(capture("2020-01-01T00:00:00.000Z"), b"<p>a</p>")
    again_id, again_new = store.add_capture(capture("2020-01-01T00:00:00.000Z"), b"<p>a</p>")
    assert (first_new, again_new) == (True, False) and first_id == again_id
    assert len(store.captures("p")) == 1


def test_bodies_are_stored_once_per_content(tmp_path):
    store = make_store(tmp_path)
    for when in ("2020-01-01T00:00:00.000Z", "2021-01-01T00:00:00.000Z", "2022-01-01T00:00:00.000Z"):
        store.add_capture(capture(when), b"<p>same</p>")
    store.add_capture(capture("2023-01-01T00:00:00.000Z"), b"<p>other</p>")
    assert store.db.execute("SELECT count(*) FROM bodies").fetchone()[0] == 2
    assert len(store.captures("p")) == 4


def test_a_failed_write_leaves_nothing_half_done(tmp_path):
    store = make_store(tmp_path)
    bad = capture("2020-01-01T00:00:00.000Z")
    bad.policy = "unknown"  # the capture row fails after its body was inserted
    with pytest.raises(sqlite3.IntegrityError):
        store.add_capture(bad, b"<p>orphan</p>")
    assert store.db.execute("SELECT count(*) FROM bodies").fetchone()[0] == 0


def _history_rows(store):
    return ([(v.number, v.sha256, v.first_seen, v.last_seen, v.captures) for v in store.versions("p")],
            [(c.from_version, c.to_version, c.window_start, c.window_end, c.reverts_to)
             for c in store.changes("p")])


def test_history_does_not_depend_on_the_order_captures_arrive_in(tmp_path):
    a, b, c, d = (policy_html(f"{n} days") for n in (30, 60, 90, 120))
    timeline = [("2016-03-24", a), ("2016-09-01", a), ("2017-03-27", 404), ("2018-01-01", b),
                ("2019-06-01", b), ("2020-02-02", c), ("2021-01-01", a), ("2025-06-01", d)]

    def load(order) -> Store:
        store = make_store(tmp_path / str(random.random()))
        for day, body in order:
            if body == 404:
                store.add_capture(capture(f"{day}T00:00:00.000Z", status=404), b"not found")
            else:
                store.add_capture(capture(f"{day}T00:00:00.000Z"), body)
            history.rebuild(store, POLICY)
        return store

    in_order = _history_rows(load(timeline))
    shuffled = timeline[:]
    random.Random(7).shuffle(shuffled)
    assert _history_rows(load(shuffled)) == in_order

    versions, changes = in_order
    assert [v[4] for v in versions] == [3, 2, 1, 1]  # A seen three times, B twice, C, D
    assert [(c[0], c[1], c[4]) for c in changes] == [(1, 2, None), (2, 3, None), (3, 1, 1), (1, 4, None)]
    # The first change happened between the last sighting of A and the first of B.
    assert changes[0][2:4] == ("2016-09-01T00:00:00.000Z", "2018-01-01T00:00:00.000Z")


def test_rebuild_keeps_every_capture_and_gives_the_same_history(tmp_path):
    store = make_store(tmp_path)
    for day, body in (("2016-01-01", policy_html("1 day")), ("2017-01-01", policy_html("2 days"))):
        store.add_capture(capture(f"{day}T00:00:00.000Z"), body)
    history.rebuild(store, POLICY)
    before = _history_rows(store)
    history.rebuild(store, POLICY)
    assert _history_rows(store) == before and len(store.captures("p")) == 2
