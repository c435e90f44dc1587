"""The snapshot store and the history derived from it, on a real SQLite file and on a real
PostgreSQL server (the ``backend`` fixture): the same behaviour on both."""

from __future__ import annotations

import copy
import hashlib
import json
import random
import sqlite3

import pytest
import zstandard

from conftest import Backend, policy_html
from tracker import history
from tracker.config import PolicyConfig
from tracker.errors import TrackerError
from tracker.models import Capture, NewCapture
from tracker.store import Store, bodies as bodies_module, schema
from tracker.store.schema import MIGRATIONS, SCHEMA_VERSION


POLICY = PolicyConfig(name="p", urls=["https://example.org/privacy"])


def make_store(where) -> Store:
    """A new store with the policy: ``where`` is a Backend, or a folder for a SQLite file."""
    store = Store(where.new_location() if isinstance(where, Backend) else where / "snap" / "tracker.db")
    store.runs.sync_policies([POLICY])
    return store


def capture(when: str, status: int = 200, source: str = "ia",
            url: str = "https://example.org/privacy") -> NewCapture:
    return NewCapture(policy="p", url=url, captured_at=when, source=source, status=status,
                      sha256=None, fetched_at="2026-11-23T00:00:00.000Z",
                      archive_url=f"https://web.archive.org/web/{when[:4]}id_/{url}")


def test_store_is_wal_with_foreign_keys(tmp_path):
    store = make_store(tmp_path)
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_new_store_has_the_schema_version_and_refuses_a_capture_of_an_unknown_policy(backend):
    store = make_store(backend)
    assert store.db.schema_version == SCHEMA_VERSION
    with pytest.raises(backend.integrity_error):
        store.captures.add(NewCapture(policy="nobody", url="u", captured_at="t", source="live",
                                      status=200, sha256=None, fetched_at="t"), b"x")


def test_reopening_keeps_everything_and_does_not_migrate_again(backend):
    store = make_store(backend)
    store.captures.add(capture("2020-01-01T00:00:00.000Z"), b"<p>a</p>")
    store.close()
    again = Store(store.location)
    assert len(again.captures.timeline("p")) == 1 and again.db.schema_version == SCHEMA_VERSION


def test_a_database_from_a_newer_version_is_refused(backend):
    store = make_store(backend)
    with store.db.transaction():
        store.db.set_schema_version(SCHEMA_VERSION + 1)
    store.close()
    with pytest.raises(TrackerError, match="written by a newer policy-tracker"):
        Store(store.location)


def test_storing_the_same_capture_twice_gives_one_row(backend):
    store = make_store(backend)
    first = store.captures.add(capture("2020-01-01T00:00:00.000Z"), b"<p>a</p>")
    again = store.captures.add(capture("2020-01-01T00:00:00.000Z"), b"<p>a</p>")
    assert first.id == again.id
    assert len(store.captures.timeline("p")) == 1


def test_adding_a_capture_returns_it_saved_and_leaves_the_argument_as_it_was(backend):
    store = make_store(backend)
    new = capture("2020-01-01T00:00:00.000Z")
    untouched = copy.deepcopy(new)
    saved = store.captures.add(new, b"<p>a</p>")
    assert new == untouched and type(new) is NewCapture
    assert type(saved) is Capture and saved.sha256 == hashlib.sha256(b"<p>a</p>").hexdigest() and saved.size == 8
    assert store.captures.get(saved.id) == saved


def test_bodies_are_stored_once_per_content(backend):
    store = make_store(backend)
    for when in ("2020-01-01T00:00:00.000Z", "2021-01-01T00:00:00.000Z", "2022-01-01T00:00:00.000Z"):
        store.captures.add(capture(when), b"<p>same</p>")
    store.captures.add(capture("2023-01-01T00:00:00.000Z"), b"<p>other</p>")
    assert store.db.execute("SELECT count(*) FROM bodies").fetchone()[0] == 2
    assert len(store.captures.timeline("p")) == 4


def test_a_failed_write_leaves_nothing_half_done(backend):
    store = make_store(backend)
    bad = capture("2020-01-01T00:00:00.000Z")
    bad.policy = "unknown"  # the capture row fails after its body was inserted
    with pytest.raises(backend.integrity_error):
        store.captures.add(bad, b"<p>orphan</p>")
    assert store.db.execute("SELECT count(*) FROM bodies").fetchone()[0] == 0


def _history_rows(store):
    return ([(v.number, v.sha256, v.first_seen, v.last_seen, v.captures) for v in store.history.versions("p")],
            [(c.from_version, c.to_version, c.window_start, c.window_end, c.reverts_to)
             for c in store.history.changes("p")])


def test_history_does_not_depend_on_the_order_captures_arrive_in(backend):
    a, b, c, d = (policy_html(f"{n} days") for n in (30, 60, 90, 120))
    timeline = [("2016-03-24", a), ("2016-09-01", a), ("2017-03-27", 404), ("2018-01-01", b),
                ("2019-06-01", b), ("2020-02-02", c), ("2021-01-01", a), ("2025-06-01", d)]

    def load(order) -> Store:
        store = make_store(backend)
        for day, body in order:
            if body == 404:
                store.captures.add(capture(f"{day}T00:00:00.000Z", status=404), b"not found")
            else:
                store.captures.add(capture(f"{day}T00:00:00.000Z"), body)
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


def test_rebuild_keeps_every_capture_and_gives_the_same_history(backend):
    store = make_store(backend)
    for day, body in (("2016-01-01", policy_html("1 day")), ("2017-01-01", policy_html("2 days"))):
        store.captures.add(capture(f"{day}T00:00:00.000Z"), body)
    history.rebuild(store, POLICY)
    before = _history_rows(store)
    history.rebuild(store, POLICY)
    assert _history_rows(store) == before and len(store.captures.timeline("p")) == 2


def _timeline() -> list[tuple[str, int, bytes]]:
    """A page over two years: texts that change, markup that changes alone, an error page,
    a text that comes back."""
    texts = [policy_html(f"{n} days") for n in (30, 30, 60, 60, 90)]
    markup_only = policy_html("60 days", chrome="<p>ad 1</p>")
    return [("2020-01-01", 200, texts[0]), ("2020-03-01", 200, policy_html("30 days", chrome="<b>x</b>")),
            ("2020-06-01", 404, b"<h1>not found</h1>"), ("2020-09-01", 200, texts[2]),
            ("2021-01-01", 200, markup_only), ("2021-06-01", 200, texts[4]), ("2021-09-01", 200, texts[0])]


def _filled(store: Store) -> dict[str, bytes]:
    bodies = {}
    for day, status, body in _timeline():
        saved = store.captures.add(capture(f"{day}T00:00:00.000Z", status=status), body)
        bodies[saved.sha256] = body
    history.rebuild(store, POLICY)
    return bodies


def _as_schema_8(store: Store, path) -> None:
    """The same store as the previous schema wrote it: each body compressed alone, documents
    and change details as JSON text in their rows."""
    from tracker.document import document_to_dict
    old = sqlite3.connect(path)
    for script in MIGRATIONS[:8]:
        old.executescript(script)
    old.execute(f"ATTACH DATABASE '{store.location}' AS new")
    for table in ("policies", "captures", "versions", "capture_versions"):
        columns = ", ".join(row[1] for row in old.execute(f"PRAGMA table_info({table})"))
        old.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM new.{table}")
    for sha, size in store.db.execute("SELECT sha256, size FROM bodies"):
        old.execute("INSERT INTO bodies VALUES (?, ?, 'zstd', ?)",
                    (sha, size, zstandard.ZstdCompressor(level=10).compress(store.captures.body(sha))))
    for sha, extractor, text_sha, words, language, reason in store.db.execute(
            "SELECT sha256, extractor, text_sha256, word_count, language, reason FROM documents"):
        document = store.captures.cached_document(sha, extractor)[0]
        old.execute("INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?)", (
            sha, extractor, text_sha, words, language, reason,
            json.dumps(document_to_dict(document)) if document else None))
    for r in store.history.change_rows("p"):
        columns = ", ".join(r)
        old.execute(f"INSERT INTO changes ({columns}) VALUES ({', '.join('?' * len(r))})", list(r.values()))
    old.execute("PRAGMA user_version = 8")
    old.commit()
    old.close()


def _everything(store: Store, bodies: dict[str, bytes]) -> tuple:
    from tracker.document import document_to_dict
    documents = {}
    for sha, extractor in store.db.execute("SELECT sha256, extractor FROM documents"):
        document, reason = store.captures.cached_document(sha, extractor)
        documents[sha, extractor] = (document_to_dict(document) if document else None, reason)
    return ({sha: store.captures.body(sha) for sha in bodies}, documents, store.history.change_rows("p"),
            [c.details for c in store.history.changes("p")], _history_rows(store), store.captures.timeline("p"))


def test_a_store_of_the_previous_schema_is_compacted_in_place_losing_nothing(tmp_path):
    store = make_store(tmp_path / "now")
    bodies = _filled(store)
    expected = _everything(store, bodies)
    assert expected[0] == bodies and any(details for details in expected[3])
    _as_schema_8(store, tmp_path / "old.db")

    migrated = Store(tmp_path / "old.db")
    assert migrated.db.schema_version == SCHEMA_VERSION
    assert _everything(migrated, bodies) == expected
    assert migrated.db.execute("SELECT count(*) FROM bodies WHERE base IS NOT NULL").fetchone()[0] > 0
    assert migrated.db.execute("PRAGMA foreign_key_check").fetchall() == []
    history.rebuild(migrated, POLICY)  # and the history derived on it is the one it had
    assert _everything(migrated, bodies) == expected


def test_a_compaction_that_fails_leaves_the_previous_schema_whole(tmp_path, monkeypatch):
    store = make_store(tmp_path / "now")
    bodies = _filled(store)
    expected = _everything(store, bodies)
    _as_schema_8(store, tmp_path / "old.db")

    def fail(*args):
        raise RuntimeError("killed")
    monkeypatch.setattr(schema, "_move_details", fail)  # after bodies and documents were moved
    with pytest.raises(RuntimeError):
        Store(tmp_path / "old.db")
    old = sqlite3.connect(tmp_path / "old.db")
    assert old.execute("PRAGMA user_version").fetchone()[0] == 8
    assert "base" not in [row[1] for row in old.execute("PRAGMA table_info(bodies)")]
    assert old.execute("SELECT count(*) FROM documents WHERE document LIKE '{%'").fetchone()[0] > 0
    old.close()
    monkeypatch.undo()
    assert _everything(Store(tmp_path / "old.db"), bodies) == expected


def test_bodies_are_deltas_along_a_chain_of_bounded_depth(backend, monkeypatch):
    monkeypatch.setattr(bodies_module, "MAX_DEPTH", 3)
    store = make_store(backend)
    bodies = {}
    for n in range(10):
        body = policy_html(f"{n + 1} days", extra="<p>" + "word " * 2000 + "</p>")
        bodies[store.captures.add(capture(f"{2010 + n}-01-01T00:00:00.000Z"), body).sha256] = body
    depths = [row[0] for row in store.db.execute(
        "SELECT b.depth FROM captures c JOIN bodies b ON b.sha256 = c.sha256 ORDER BY c.id")]
    assert depths == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    stored = store.db.execute("SELECT sum(length(data)) FROM bodies WHERE base IS NOT NULL").fetchone()[0]
    assert stored < 100 * 6  # a delta holds what changed, a few bytes
    again = Store(store.location)  # nothing decoded yet
    assert all(again.captures.body(sha) == body for sha, body in bodies.items())


def test_documents_of_pages_whose_markup_alone_changed_share_one_json(backend):
    store = make_store(backend)
    for n, markup in enumerate(("", "<!-- token 1 -->", '<div class="x"></div>')):
        store.captures.add(capture(f"{2020 + n}-01-01T00:00:00.000Z"), policy_html(extra=markup))
    history.rebuild(store, POLICY)
    assert store.db.execute("SELECT count(*) FROM documents").fetchone()[0] == 3
    assert store.db.execute("SELECT count(*) FROM document_json").fetchone()[0] == 1


def test_details_no_change_refers_to_any_more_are_dropped(backend):
    store = make_store(backend)
    _filled(store)
    assert store.db.execute("SELECT count(*) FROM details_json").fetchone()[0] > 0
    store.db.execute("UPDATE changes SET details = NULL")
    store.history.replace("p", store.history.versions("p"), store.history.changes("p"), {}, "x", {})
    assert store.db.execute("SELECT count(*) FROM details_json").fetchone()[0] == 0


def test_commands_started_together_on_a_new_store_all_open_it(backend):
    # Each reads the store's version and brings it up to date: one at a time, never twice.
    import subprocess
    import sys
    for round_ in range(3):
        location = backend.new_location()
        code = f"from tracker.store import Store; Store({str(location)!r}).close()"
        runs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(4)]
        errors = [run.communicate()[1].decode() for run in runs]
        assert [run.returncode for run in runs] == [0, 0, 0, 0], errors
        assert Store(location).db.schema_version == SCHEMA_VERSION


def test_a_store_of_schema_11_gains_the_views_over_what_it_holds(backend, monkeypatch):
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 11)  # this store is written as schema 11 wrote it
    store = make_store(backend)
    _filled(store)
    with pytest.raises(backend.error):  # no such table
        store.db.execute("SELECT * FROM change_list")
    store.close()
    monkeypatch.undo()

    migrated = Store(store.location)
    assert migrated.db.schema_version == SCHEMA_VERSION
    changes = migrated.history.changes("p")
    assert len(changes) >= 3
    assert migrated.db.execute(
        "SELECT policy, title, from_version, to_version, kind, window_start, window_end FROM change_list "
        "ORDER BY window_end").fetchall() == \
        [("p", "p", c.from_version, c.to_version, c.kind, c.window_start, c.window_end) for c in changes]
    assert migrated.db.execute("SELECT version, first_seen, last_seen, word_count FROM version_list "
                               "ORDER BY version").fetchall() == \
        [(v.number, v.first_seen, v.last_seen, v.word_count) for v in migrated.history.versions("p")]
    sections = migrated.db.execute("SELECT first_seen, heading FROM section_list WHERE text LIKE '%90 days%'")
    assert sections.fetchall() == [("2021-06-01T00:00:00.000Z", "3 Retention")]  # the one version saying it
