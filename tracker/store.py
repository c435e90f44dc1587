"""The snapshot store: one SQLite file holding every capture, untouched, and what is derived.

Captures and bodies are evidence and are never deleted in normal operation. Versions,
capture assignments and changes are derived from them and can be rebuilt at any time.
Every multi-row write happens in one transaction, so a killed process leaves either all of a
write or none of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

import sqlite_utils
import zstandard

from tracker.document import Document, document_from_dict, document_to_dict
from tracker.errors import TrackerError
from tracker.models import Capture, Change, NewCapture, Version, utc_now

log = logging.getLogger(__name__)

ZSTD_LEVEL = 10  # bodies: compressed once, when their capture is stored
# Documents and change details are compressed by the hundred in every rebuild that derives them.
DERIVED_LEVEL = 5
# A body may be stored as a delta against an earlier body of its policy, itself maybe a delta:
# reading one decodes at most this many others first.
MAX_DEPTH = 32
# Bodies read along a timeline are each other's bases: the decoded ones are kept, up to this size.
DECODED_BYTES = 16 << 20


def _compact(store: "Store") -> None:
    """Schema 9: bodies become deltas against a neighbouring body of their policy, each
    document's JSON is kept once, and documents and change details are compressed against a
    body they came from, whose text they mostly repeat. Run inside the migration's transaction."""
    for statement in _COMPACT_SCHEMA:
        store.db.execute(statement)
    store._delta_encode_bodies()
    store._move_documents()
    store._move_details()
    store.db.execute("ALTER TABLE documents DROP COLUMN old_document")
    store.db.execute("ALTER TABLE changes DROP COLUMN old_details")


_COMPACT_SCHEMA = [
    # the body whose bytes are the zstd dictionary this one is compressed with (null: none),
    # and how many bodies reading it decodes first
    "ALTER TABLE bodies ADD COLUMN base TEXT REFERENCES bodies(sha256)",
    "ALTER TABLE bodies ADD COLUMN depth INTEGER NOT NULL DEFAULT 0",
    # JSON, once per content (sha256 of the JSON), zstd-compressed with a body as dictionary
    """CREATE TABLE document_json (
        sha256 TEXT PRIMARY KEY,
        body TEXT NOT NULL REFERENCES bodies(sha256),
        data BLOB NOT NULL
    )""",
    """CREATE TABLE details_json (
        sha256 TEXT PRIMARY KEY,
        body TEXT REFERENCES bodies(sha256),
        data BLOB NOT NULL
    )""",
    "ALTER TABLE documents RENAME COLUMN document TO old_document",
    "ALTER TABLE documents ADD COLUMN document TEXT REFERENCES document_json(sha256)",
    "ALTER TABLE changes RENAME COLUMN details TO old_details",
    "ALTER TABLE changes ADD COLUMN details TEXT REFERENCES details_json(sha256)",
    "CREATE INDEX changes_details ON changes(details)",
]

# A migration is a script, or a function run in the migration's transaction.
MIGRATIONS: list[str | Callable[["Store"], None]] = [
    # 1: the foundation schema.
    """
    CREATE TABLE policies (
        name TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        urls TEXT NOT NULL,               -- JSON list, oldest first
        added_at TEXT NOT NULL
    );
    CREATE TABLE bodies (
        sha256 TEXT PRIMARY KEY,          -- of the uncompressed body
        size INTEGER NOT NULL,
        compression TEXT NOT NULL,
        data BLOB NOT NULL
    );
    CREATE TABLE captures (
        id INTEGER PRIMARY KEY,
        policy TEXT NOT NULL REFERENCES policies(name),
        url TEXT NOT NULL,
        captured_at TEXT NOT NULL,
        source TEXT NOT NULL,
        archive_url TEXT NOT NULL DEFAULT '',
        final_url TEXT,
        status INTEGER NOT NULL,
        headers TEXT NOT NULL,            -- JSON object, lower-case names
        content_type TEXT NOT NULL,
        charset TEXT,
        format TEXT NOT NULL,
        sha256 TEXT REFERENCES bodies(sha256),
        size INTEGER NOT NULL,
        redirects TEXT NOT NULL,          -- JSON list of {status, url, location}
        flags TEXT NOT NULL,              -- JSON list
        fetched_at TEXT NOT NULL
    );
    CREATE UNIQUE INDEX captures_identity ON captures(policy, source, url, captured_at, archive_url);
    CREATE INDEX captures_timeline ON captures(policy, captured_at);

    CREATE TABLE versions (
        id INTEGER PRIMARY KEY,
        policy TEXT NOT NULL REFERENCES policies(name),
        number INTEGER NOT NULL,
        key TEXT NOT NULL,
        sha256 TEXT NOT NULL REFERENCES bodies(sha256),
        first_capture INTEGER NOT NULL REFERENCES captures(id),
        last_capture INTEGER NOT NULL REFERENCES captures(id),
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        captures INTEGER NOT NULL,
        UNIQUE (policy, number)
    );
    CREATE TABLE capture_versions (
        capture_id INTEGER PRIMARY KEY REFERENCES captures(id),
        policy TEXT NOT NULL,
        version INTEGER,                  -- null when the capture is not a policy version
        reason TEXT                       -- why it is not
    );
    CREATE TABLE changes (
        id INTEGER PRIMARY KEY,
        policy TEXT NOT NULL REFERENCES policies(name),
        from_version INTEGER NOT NULL,
        to_version INTEGER NOT NULL,
        window_start TEXT NOT NULL,
        window_end TEXT NOT NULL,
        kind TEXT NOT NULL,
        reverts_to INTEGER
    );
    CREATE INDEX changes_by_policy ON changes(policy, window_end);

    CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        command TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        outcome TEXT,                     -- ok, failed (some policy failed), error (the run died)
        counts TEXT,                      -- JSON object
        error TEXT
    );
    CREATE TABLE run_results (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES runs(id),
        policy TEXT NOT NULL REFERENCES policies(name),
        at TEXT NOT NULL,
        outcome TEXT NOT NULL,            -- new-version, changed, unchanged, error, ...
        capture_id INTEGER REFERENCES captures(id),
        version INTEGER,
        message TEXT
    );
    CREATE INDEX run_results_by_policy ON run_results(policy, at);
    """,
    # 2: extracted documents, cached per body and extraction settings; version facts.
    """
    CREATE TABLE documents (
        sha256 TEXT NOT NULL REFERENCES bodies(sha256),
        extractor TEXT NOT NULL,          -- extractor version and the policy's selectors
        text_sha256 TEXT,
        word_count INTEGER NOT NULL,
        language TEXT,
        reason TEXT,                      -- why this body is not a policy text
        document TEXT,                    -- JSON
        PRIMARY KEY (sha256, extractor)
    );
    ALTER TABLE versions ADD COLUMN declared_date TEXT;
    ALTER TABLE versions ADD COLUMN word_count INTEGER;
    """,
    # 3: changes carry their section diff, their identity (the captures either side) and
    # whether an extraction upgrade made them (technical).
    """
    ALTER TABLE changes ADD COLUMN from_capture INTEGER REFERENCES captures(id);
    ALTER TABLE changes ADD COLUMN to_capture INTEGER REFERENCES captures(id);
    ALTER TABLE changes ADD COLUMN magnitude REAL;
    ALTER TABLE changes ADD COLUMN technical INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE changes ADD COLUMN detected_at TEXT;
    ALTER TABLE changes ADD COLUMN details TEXT;      -- JSON
    UPDATE changes SET
        to_capture = (SELECT c.id FROM captures c JOIN capture_versions cv ON cv.capture_id = c.id
                      WHERE c.policy = changes.policy AND cv.version = changes.to_version
                      AND c.captured_at = changes.window_end ORDER BY c.id LIMIT 1),
        from_capture = (SELECT c.id FROM captures c JOIN capture_versions cv ON cv.capture_id = c.id
                        WHERE c.policy = changes.policy AND cv.version = changes.from_version
                        AND c.captured_at = changes.window_start ORDER BY c.id DESC LIMIT 1);
    CREATE INDEX changes_identity ON changes(policy, to_capture);
    """,
    # 4: archived captures keep the archive's content digest: a body seen under one digest
    # is not fetched again.
    """
    ALTER TABLE captures ADD COLUMN digest TEXT;
    CREATE INDEX captures_digest ON captures(digest);
    """,
    # 5: live captures of a new version may be saved to the Internet Archive as evidence.
    """
    ALTER TABLE captures ADD COLUMN saved_url TEXT;   -- the memento Save Page Now made
    ALTER TABLE captures ADD COLUMN save_error TEXT;  -- or why it could not
    """,
    # 6: e-mail digests, and which changes each one carried: every change is sent once.
    """
    CREATE TABLE digests (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,
        period_start TEXT NOT NULL,
        period_end TEXT NOT NULL,
        subject TEXT NOT NULL,
        recipients TEXT NOT NULL,         -- JSON list
        message BLOB NOT NULL,            -- the e-mail as it is sent (and sent again after a failure)
        message_id TEXT NOT NULL,
        status TEXT NOT NULL,             -- pending, sent
        attempts INTEGER NOT NULL DEFAULT 0,
        last_attempt_at TEXT,
        last_error TEXT,
        sent_at TEXT
    );
    CREATE TABLE digest_changes (
        digest_id INTEGER NOT NULL REFERENCES digests(id),
        policy TEXT NOT NULL,
        to_capture INTEGER NOT NULL,      -- the change's identity, kept across rebuilds
        PRIMARY KEY (policy, to_capture)
    );
    """,
    # 7: the scheduler's state: when each job last ran, so that work that fell due while no
    # daemon was running is done once at the next start.
    """
    CREATE TABLE schedule (
        job TEXT PRIMARY KEY,             -- check:<policy>, archive-refresh, digest
        first_seen TEXT NOT NULL,
        last_run TEXT,
        last_outcome TEXT,
        next_run TEXT
    );
    """,
    # 8: what derived each policy's history (extractor, selectors, diff): a check may extend
    # a history derived the same way instead of deriving it all again.
    """
    ALTER TABLE policies ADD COLUMN derived_with TEXT;
    """,
    # 9: bodies as deltas, documents and change details compressed (see _compact).
    _compact,
]
SCHEMA_VERSION = len(MIGRATIONS)
COMPACT_SCHEMA = MIGRATIONS.index(_compact) + 1


# Documents and section diffs are the store's largest JSON, written by the hundred in a
# rebuild; they are plain trees made here (no cycles), so the encoder need not look for any.
# Change details keep the text they always had (reports fingerprint it); documents are
# read by the store alone, and their words unescaped are found in the body they are
# compressed against.
_LARGE_JSON = json.JSONEncoder(check_circular=False)
_DOCUMENT_JSON = json.JSONEncoder(check_circular=False, ensure_ascii=False)


class PolicyRecord(Protocol):
    """What the store records of a configured policy (a ``config.PolicyConfig`` is one)."""

    name: str
    urls: list[str]

    @property
    def display_title(self) -> str: ...


def database_problem(path: Path, error: sqlite3.Error) -> str | None:
    """What a user should read when the database file itself fails (held by another process,
    a full disk, read-only, damaged); None for an error that is a bug."""
    if not isinstance(error, sqlite3.OperationalError) and type(error) is not sqlite3.DatabaseError:
        return None
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return (f"{path}: the database is busy: another process is writing to it (a daemon, another "
                "tracker command, or a program with the file open); run again when it is done")
    if "readonly" in text or "read-only" in text:
        return f"{path}: the database is read-only (check the permissions of the file and its folder)"
    if "full" in text:
        return f"{path}: the disk is full; what was stored is kept: free some space and run again"
    if "unable to open" in text:
        return f"{path}: cannot open the database file"
    return f"{path}: the database failed ({error})"


class Store:
    """The Python API over the SQLite file; the CLI is a thin layer on top of it."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite_utils.Database(self.path)
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA busy_timeout = 10000")
            self.db.enable_wal()
            # Commits are not flushed to the disk one by one: a killed process still loses
            # nothing committed; a power cut may lose the last few, never the file's integrity.
            self.db.execute("PRAGMA synchronous = NORMAL")
            self._decoded: OrderedDict[str, bytes] = OrderedDict()
            self._decoded_bytes = 0
            self._migrate()
        except sqlite3.OperationalError as e:
            raise TrackerError(database_problem(self.path, e)) from None
        except sqlite3.DatabaseError as e:
            raise TrackerError(f"{self.path}: not a usable policy-tracker database ({e})") from None
        except OSError as e:
            raise TrackerError(f"{self.path}: cannot open the database ({e.strerror or e})") from None

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        current = self.db.execute("PRAGMA user_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise TrackerError(f"{self.path}: written by a newer policy-tracker "
                            f"(schema {current}, this one knows {SCHEMA_VERSION}); upgrade it")
        for number in range(current + 1, SCHEMA_VERSION + 1):
            # A migration and its version number land together or not at all. executescript()
            # commits whatever is open first, so a script holds its own transaction.
            step = MIGRATIONS[number - 1]
            try:
                if isinstance(step, str):
                    self.db.conn.executescript(
                        f"BEGIN IMMEDIATE; {step}; PRAGMA user_version = {number}; COMMIT;")
                else:
                    with self.transaction():
                        step(self)
                        self.db.execute(f"PRAGMA user_version = {number}")
            except BaseException:
                if self.db.conn.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
        if current and current < COMPACT_SCHEMA <= SCHEMA_VERSION:
            self._shrink()

    def _shrink(self) -> None:
        """Give back to the file system the space the compaction freed: once, after it; a
        VACUUM that fails (the disk too full for the copy it makes) leaves the store usable."""
        try:
            self.db.execute("VACUUM")
        except sqlite3.OperationalError as e:
            log.warning("%s: compacted, but the file could not be shrunk (%s): "
                        "run VACUUM on it when there is room", self.path, e)

    def _delta_encode_bodies(self) -> None:
        """Store every body again as add_capture now does, along each policy's captures in
        the order they were stored: a base is always stored again before the bodies using it."""
        depths: dict[str, int] = {}
        previous: dict[str, str] = {}  # policy -> the body of its last successful capture
        for policy, sha256, status in self.db.execute(
                "SELECT policy, sha256, status FROM captures WHERE sha256 IS NOT NULL ORDER BY id").fetchall():
            if sha256 not in depths:
                base = previous.get(policy)
                depths[sha256] = self._put_body(sha256, self.body(sha256), (base, depths[base]) if base else None)
            if 200 <= status <= 299:
                previous[policy] = sha256

    def _move_documents(self) -> None:
        """Each cached document's JSON into document_json, once per content."""
        for (rowid,) in self.db.execute(
                "SELECT rowid FROM documents WHERE old_document IS NOT NULL ORDER BY rowid").fetchall():
            sha256, text = self.db.execute(
                "SELECT sha256, old_document FROM documents WHERE rowid = ?", (rowid,)).fetchone()
            data = _DOCUMENT_JSON.encode(json.loads(text)).encode("utf-8", "surrogatepass")
            self.db.execute("UPDATE documents SET document = ? WHERE rowid = ?",
                            (self._put_json("document_json", data, sha256), rowid))

    def _move_details(self) -> None:
        """Each change's details into details_json, their text unchanged."""
        for (change_id,) in self.db.execute(
                "SELECT id FROM changes WHERE old_details IS NOT NULL ORDER BY id").fetchall():
            text, to_capture = self.db.execute(
                "SELECT old_details, to_capture FROM changes WHERE id = ?", (change_id,)).fetchone()
            self.db.execute("UPDATE changes SET details = ? WHERE id = ?",
                            (self._put_details(text, to_capture), change_id))

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    # -- policies --------------------------------------------------------------------------

    def sync_policies(self, policies: Sequence[PolicyRecord]) -> None:
        """Record the configured policies; policies dropped from the config keep their data."""
        with self.transaction():
            for p in policies:
                self.db.execute(
                    "INSERT INTO policies (name, title, urls, added_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET title = excluded.title, urls = excluded.urls",
                    (p.name, p.display_title, json.dumps(p.urls), utc_now()),
                )

    # -- bodies and captures ---------------------------------------------------------------

    def add_capture(self, capture: NewCapture, body: bytes | None) -> Capture:
        """Store a capture (and its body, once per content); returns it saved. Storing the
        same capture again leaves the store as it was, and returns the one stored before."""
        if body is not None:
            sha256 = hashlib.sha256(body).hexdigest()
            capture = replace(capture, sha256=sha256, size=len(body))
        with self.transaction():
            if body is not None and not self._has_body(sha256):
                self._put_body(sha256, body, self._delta_base(capture.policy))
            row = _capture_row(capture)
            self.db.execute(
                f"INSERT OR IGNORE INTO captures ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                list(row.values()),
            )
        capture_id = self.db.execute(
            "SELECT id FROM captures WHERE policy = ? AND source = ? AND url = ? "
            "AND captured_at = ? AND archive_url = ?",
            (capture.policy, capture.source, capture.url, capture.captured_at, capture.archive_url or ""),
        ).fetchone()[0]
        return capture.saved_as(capture_id)

    def body(self, sha256: str) -> bytes:
        body = self._decoded.get(sha256)
        if body is not None:
            self._decoded.move_to_end(sha256)
            return body
        row = self.db.execute("SELECT compression, base, data FROM bodies WHERE sha256 = ?", (sha256,)).fetchone()
        if row is None:
            raise KeyError(sha256)
        compression, base, data = row
        body = self._unpack(data, base) if compression == "zstd" else data
        self._remember(sha256, body)
        return body

    def _remember(self, sha256: str, body: bytes) -> None:
        """Keep a decoded body: the next capture's body is likely a delta against it. Bodies
        never change under their sha256, so a kept one is never stale."""
        self._decoded[sha256] = body
        self._decoded_bytes += len(body)
        while self._decoded_bytes > DECODED_BYTES and len(self._decoded) > 1:
            self._decoded_bytes -= len(self._decoded.popitem(last=False)[1])

    def _unpack(self, data: bytes, dictionary: str | None) -> bytes:
        """Decompress what was compressed with the body ``dictionary`` (or none) as dictionary."""
        if dictionary is None:
            return zstandard.ZstdDecompressor().decompress(data)
        return zstandard.ZstdDecompressor(dict_data=_raw_dictionary(self.body(dictionary))).decompress(data)

    def _has_body(self, sha256: str) -> bool:
        return self.db.execute("SELECT 1 FROM bodies WHERE sha256 = ?", (sha256,)).fetchone() is not None

    def _delta_base(self, policy: str) -> tuple[str, int] | None:
        """(sha256, depth) of the body of the policy's last successful capture stored:
        consecutive captures of a page are nearly identical, and an error page is not."""
        row = self.db.execute(
            "SELECT b.sha256, b.depth FROM captures c JOIN bodies b ON b.sha256 = c.sha256 "
            "WHERE c.policy = ? AND c.status BETWEEN 200 AND 299 ORDER BY c.id DESC LIMIT 1",
            (policy,)).fetchone()
        return (row[0], row[1]) if row else None

    def _put_body(self, sha256: str, body: bytes, base: tuple[str, int] | None) -> int:
        """Store (or store again) a body: a delta against ``base`` when that is smaller than
        the body compressed alone and the chain of bases stays within MAX_DEPTH; returns its
        depth. The base is a stored body, referenced by foreign key: a delta's dictionary
        cannot go missing."""
        data, depth, base_sha = _pack(body, None, ZSTD_LEVEL), 0, None
        if base is not None and base[1] < MAX_DEPTH:
            delta = _pack(body, self.body(base[0]), ZSTD_LEVEL)
            if len(delta) < len(data):
                data, depth, base_sha = delta, base[1] + 1, base[0]
        self.db.execute(
            "INSERT INTO bodies (sha256, size, compression, base, depth, data) VALUES (?, ?, 'zstd', ?, ?, ?) "
            "ON CONFLICT(sha256) DO UPDATE SET compression = 'zstd', base = excluded.base, "
            "depth = excluded.depth, data = excluded.data",
            (sha256, len(body), base_sha, depth, data))
        return depth

    def captures(self, policy: str) -> list[Capture]:
        """A policy's captures in timeline order (capture time, then insertion)."""
        rows = self.db.query(
            "SELECT * FROM captures WHERE policy = ? ORDER BY captured_at, id", [policy])
        return [_capture_from_row(r) for r in rows]

    def capture(self, capture_id: int) -> Capture:
        rows = list(self.db.query("SELECT * FROM captures WHERE id = ?", [capture_id]))
        if not rows:
            raise KeyError(capture_id)
        return _capture_from_row(rows[0])

    def archive_urls(self, policy: str) -> set[str]:
        """The archived captures of a policy already stored: a backfill does not fetch them again."""
        return {r[0] for r in self.db.execute(
            "SELECT archive_url FROM captures WHERE policy = ? AND archive_url != ''", (policy,))}

    def body_of_digest(self, digest: str) -> Capture | None:
        """A stored capture whose archive listed this content digest, with its body."""
        rows = list(self.db.query("SELECT * FROM captures WHERE digest = ? AND sha256 IS NOT NULL LIMIT 1", [digest]))
        return _capture_from_row(rows[0]) if rows else None

    def record_save(self, capture_id: int, memento_url: str | None, error: str | None) -> None:
        self.db.execute("UPDATE captures SET saved_url = ?, save_error = ? WHERE id = ?",
                        (memento_url, error, capture_id))

    def last_live_capture(self, policy: str, url: str) -> Capture | None:
        """The newest successful live capture of ``url``: its validators allow a conditional GET."""
        rows = list(self.db.query(
            "SELECT * FROM captures WHERE policy = ? AND source = 'live' AND url = ? "
            "AND status = 200 AND sha256 IS NOT NULL ORDER BY captured_at DESC, id DESC LIMIT 1",
            [policy, url]))
        return _capture_from_row(rows[0]) if rows else None

    # -- documents -------------------------------------------------------------------------

    def cached_document(self, sha256: str, extractor: str) -> tuple[Document | None, str | None] | None:
        """A stored extraction of a body: (document, None) or (None, reason); None if absent."""
        row = self.db.execute(
            "SELECT j.body, j.data, d.reason, d.text_sha256, d.word_count FROM documents d "
            "LEFT JOIN document_json j ON j.sha256 = d.document WHERE d.sha256 = ? AND d.extractor = ?",
            (sha256, extractor)).fetchone()
        if row is None:
            return None
        if row[1] is None:
            return None, row[2]
        document = document_from_dict(json.loads(self._unpack(row[1], row[0]).decode("utf-8", "surrogatepass")))
        # stored with it: no need to normalise and count the text again
        document.__dict__["text_hash"], document.__dict__["word_count"] = row[3], row[4]
        return document, row[2]

    def save_documents(self, extractor: str, documents: dict[str, tuple[Document | None, str | None]]) -> None:
        """Cache extractions: body sha256 -> (document, None) or (None, reason).

        Bodies whose documents are equal (a page whose markup alone changed) share one JSON."""
        with self.transaction():
            rows = []
            for sha256, (document, reason) in documents.items():
                json_sha256 = None
                if document is not None:
                    text = _DOCUMENT_JSON.encode(document_to_dict(document)).encode("utf-8", "surrogatepass")
                    json_sha256 = self._put_json("document_json", text, sha256)
                rows.append((sha256, extractor, document.text_hash if document else None,
                             document.word_count if document else 0, document.language if document else None,
                             reason, json_sha256))
            self.db.conn.executemany(
                "INSERT OR REPLACE INTO documents (sha256, extractor, text_sha256, word_count, language, "
                "reason, document) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)

    def _put_json(self, table: str, text: bytes, body: str | None) -> str:
        """Store JSON once per content, compressed with ``body`` (one it was derived from, its
        words mostly the same) as dictionary; returns the JSON's sha256."""
        sha256 = hashlib.sha256(text).hexdigest()
        if self.db.execute(f"SELECT 1 FROM {table} WHERE sha256 = ?", (sha256,)).fetchone() is None:
            data = _pack(text, self.body(body) if body else None, DERIVED_LEVEL)
            self.db.execute(f"INSERT INTO {table} (sha256, body, data) VALUES (?, ?, ?)", (sha256, body, data))
        return sha256

    # -- derived history -------------------------------------------------------------------

    def replace_history(self, policy: str, versions: list[Version], changes: list[Change],
                        assignments: dict[int, tuple[int | None, str | None]], derived_with: str) -> None:
        """Swap in a freshly derived history for one policy, all at once."""
        with self.transaction():
            for table in ("changes", "versions", "capture_versions"):
                self.db.execute(f"DELETE FROM {table} WHERE policy = ?", (policy,))
            for v in versions:
                self._put_version(v)
            for c in changes:
                self._insert_change(c)
            self.db.conn.executemany(
                "INSERT INTO capture_versions (capture_id, policy, version, reason) VALUES (?, ?, ?, ?)",
                [(cid, policy, number, reason) for cid, (number, reason) in assignments.items()])
            self.db.execute("UPDATE policies SET derived_with = ? WHERE name = ?", (derived_with, policy))
            self.db.execute("DELETE FROM details_json WHERE NOT EXISTS "
                            "(SELECT 1 FROM changes WHERE details = details_json.sha256)")

    def extend_history(self, policy: str, capture_id: int, number: int | None, reason: str | None,
                       version: Version | None, change: Change | None) -> None:
        """Place one more capture in a stored history: its version (new or grown), and the
        change it ends, if any; all at once."""
        with self.transaction():
            if version is not None:
                self._put_version(version)
            if change is not None:
                self._insert_change(change)
            self.db.execute("INSERT INTO capture_versions (capture_id, policy, version, reason) VALUES (?, ?, ?, ?)",
                            (capture_id, policy, number, reason))

    def _put_version(self, v: Version) -> None:
        self.db.execute(
            "INSERT INTO versions (policy, number, key, sha256, first_capture, last_capture, "
            "first_seen, last_seen, captures, declared_date, word_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(policy, number) DO UPDATE SET last_capture = excluded.last_capture, "
            "last_seen = excluded.last_seen, captures = excluded.captures",
            (v.policy, v.number, v.key, v.sha256, v.first_capture, v.last_capture,
             v.first_seen, v.last_seen, v.captures, v.declared_date, v.word_count))

    def _insert_change(self, c: Change) -> None:
        self.db.execute(
            "INSERT INTO changes (policy, from_version, to_version, window_start, window_end, "
            "from_capture, to_capture, kind, magnitude, reverts_to, technical, detected_at, details) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (c.policy, c.from_version, c.to_version, c.window_start, c.window_end, c.from_capture,
             c.to_capture, c.kind, c.magnitude, c.reverts_to, int(c.technical), c.detected_at,
             self._put_details(_LARGE_JSON.encode(c.details), c.to_capture) if c.details is not None else None))

    def _put_details(self, text: str, to_capture: int | None) -> str:
        """Store a change's details once per content, compressed against the body of the
        capture the change leads to (what the details quote, mostly)."""
        row = self.db.execute("SELECT sha256 FROM captures WHERE id = ?", (to_capture,)).fetchone()
        return self._put_json("details_json", text.encode(), row[0] if row else None)

    def derived_with(self, policy: str) -> str | None:
        row = self.db.execute("SELECT derived_with FROM policies WHERE name = ?", (policy,)).fetchone()
        return row[0] if row else None

    def is_newest(self, capture: Capture, latest: str) -> bool:
        """Whether a capture not placed yet comes after every other capture of its policy
        (those dated up to ``latest``) in timeline order."""
        if self.db.execute("SELECT 1 FROM capture_versions WHERE capture_id = ?", (capture.id,)).fetchone():
            return False
        return self.db.execute(
            "SELECT 1 FROM captures WHERE policy = ? AND id != ? AND captured_at <= ? "
            "AND (captured_at > ? OR (captured_at = ? AND id > ?)) LIMIT 1",
            (capture.policy, capture.id, latest, capture.captured_at, capture.captured_at, capture.id),
        ).fetchone() is None

    def current_version(self, policy: str) -> Version | None:
        """The version of the policy's last capture that shows one."""
        rows = list(self.db.query(
            "SELECT v.policy, v.number, v.key, v.sha256, v.first_capture, v.last_capture, v.first_seen, "
            "v.last_seen, v.captures, v.declared_date, v.word_count FROM versions v "
            "WHERE v.policy = ? ORDER BY v.last_seen DESC, v.last_capture DESC LIMIT 1", [policy]))
        return Version(**rows[0]) if rows else None

    def version_count(self, policy: str) -> int:
        return self.db.execute("SELECT count(*) FROM versions WHERE policy = ?", (policy,)).fetchone()[0]

    def version_with_key(self, policy: str, key: str) -> Version | None:
        rows = list(self.db.query(
            "SELECT policy, number, key, sha256, first_capture, last_capture, first_seen, last_seen, "
            "captures, declared_date, word_count FROM versions WHERE policy = ? AND key = ?", [policy, key]))
        return Version(**rows[0]) if rows else None

    def shown_elsewhere(self, capture: Capture, key: str, extractor: str) -> bool:
        """Whether another capture of the policy has this version key (read under ``extractor``;
        each capture's document is cached under the extractor, its format and its charset:
        see ``history.cache_key``)."""
        if key.startswith("sha256:"):
            query, args = "SELECT 1 FROM captures WHERE policy = ? AND id != ? AND sha256 = ? LIMIT 1", \
                (capture.policy, capture.id, key[7:])
        else:
            query = ("SELECT 1 FROM captures c JOIN documents d ON d.sha256 = c.sha256 "
                     "AND d.extractor = ? || '|' || c.format || '|' || coalesce(c.charset, '') "
                     "WHERE c.policy = ? AND c.id != ? AND d.text_sha256 = ? LIMIT 1")
            args = (extractor, capture.policy, capture.id, key)
        return self.db.execute(query, args).fetchone() is not None

    def language_of(self, sha256: str, extractor: str) -> str | None:
        row = self.db.execute("SELECT language FROM documents WHERE sha256 = ? AND extractor = ?",
                              (sha256, extractor)).fetchone()
        return row[0] if row else None

    def change_between(self, policy: str, from_version: int, to_version: int) -> Change | None:
        """A stored change between these two versions (a page flipping between two texts)."""
        rows = self._change_rows("c.policy = ? AND c.from_version = ? AND c.to_version = ? LIMIT 1",
                                 [policy, from_version, to_version])
        return change_from_row(rows[0]) if rows else None

    def versions(self, policy: str) -> list[Version]:
        rows = self.db.query(
            "SELECT policy, number, key, sha256, first_capture, last_capture, first_seen, last_seen, "
            "captures, declared_date, word_count FROM versions WHERE policy = ? ORDER BY number", [policy])
        return [Version(**r) for r in rows]

    def changes(self, policy: str) -> list[Change]:
        return [change_from_row(r) for r in self.change_rows(policy)]

    def change_rows(self, policy: str) -> list[dict]:
        """The changes as stored, their details still JSON text: for reports, which only parse
        the details of the pages they render."""
        return self._change_rows("c.policy = ? ORDER BY c.window_end, c.id", [policy])

    def _change_rows(self, where: str, args: list) -> list[dict]:
        """Rows of `changes` with their details as the JSON text they were stored as."""
        rows = []
        for r in self.db.query(
                "SELECT c.policy, c.from_version, c.to_version, c.window_start, c.window_end, c.from_capture, "
                "c.to_capture, c.kind, c.magnitude, c.reverts_to, c.technical, c.detected_at, "
                "j.body AS details_body, j.data AS details_data "
                f"FROM changes c LEFT JOIN details_json j ON j.sha256 = c.details WHERE {where}", args):
            body, data = r.pop("details_body"), r.pop("details_data")
            r["details"] = self._unpack(data, body).decode() if data is not None else None
            rows.append(r)
        return rows

    def version_at(self, policy: str, moment: str) -> int | None:
        """The version the policy showed at ``moment``: that of its last capture up to then."""
        row = self.db.execute(
            "SELECT cv.version FROM capture_versions cv JOIN captures c ON c.id = cv.capture_id "
            "WHERE cv.policy = ? AND cv.version IS NOT NULL AND c.captured_at <= ? "
            "ORDER BY c.captured_at DESC, c.id DESC LIMIT 1", (policy, moment)).fetchone()
        return row[0] if row else None

    def assigned_captures(self, policy: str) -> set[int]:
        """The captures the stored history has already placed (in a version or not)."""
        return {row[0] for row in self.db.execute(
            "SELECT capture_id FROM capture_versions WHERE policy = ?", (policy,))}

    def version_of(self, capture_id: int) -> tuple[int | None, str | None]:
        row = self.db.execute(
            "SELECT version, reason FROM capture_versions WHERE capture_id = ?", (capture_id,)).fetchone()
        return (row[0], row[1]) if row else (None, None)

    # -- digests ---------------------------------------------------------------------------

    def unsent_changes(self, since: str, until: str) -> list[tuple[str, Change]]:
        """Changes detected in (since, until] that no digest has carried, technical ones aside."""
        rows = self._change_rows(
            "c.technical = 0 AND c.detected_at > ? AND c.detected_at <= ? "
            "AND NOT EXISTS (SELECT 1 FROM digest_changes d WHERE d.policy = c.policy AND d.to_capture = c.to_capture) "
            "ORDER BY c.policy, c.window_end", [since, until])
        return [(r["policy"], change_from_row(r)) for r in rows]

    def add_digest(self, digest: dict, claims: list[tuple[str, int]]) -> int:
        """Record a digest about to be sent and the changes it carries, in one transaction."""
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO digests (created_at, period_start, period_end, subject, recipients, message, "
                "message_id, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                (utc_now(), digest["period_start"], digest["period_end"], digest["subject"],
                 json.dumps(digest["recipients"]), digest["message"], digest["message_id"]))
            digest_id = cursor.lastrowid
            self.db.conn.executemany("INSERT INTO digest_changes (digest_id, policy, to_capture) VALUES (?, ?, ?)",
                                     [(digest_id, policy, capture) for policy, capture in claims])
        return digest_id

    def digests(self, status: str | None = None) -> list[dict]:
        sql = "SELECT * FROM digests" + (" WHERE status = ?" if status else "") + " ORDER BY id"
        return list(self.db.query(sql, [status] if status else []))

    def digest(self, digest_id: int) -> dict:
        return next(iter(self.db.query("SELECT * FROM digests WHERE id = ?", [digest_id])))

    def digest_attempt(self, digest_id: int, error: str | None) -> None:
        now = utc_now()
        self.db.execute(
            "UPDATE digests SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?, "
            "status = CASE WHEN ? IS NULL THEN 'sent' ELSE status END, "
            "sent_at = CASE WHEN ? IS NULL THEN ? ELSE sent_at END WHERE id = ?",
            (now, error, error, error, now, digest_id))

    # -- schedule --------------------------------------------------------------------------

    def job_state(self, job: str) -> dict:
        """A scheduled job's state; a job seen for the first time is recorded as seen now."""
        self.db.execute("INSERT OR IGNORE INTO schedule (job, first_seen) VALUES (?, ?)", (job, utc_now()))
        return next(iter(self.db.query("SELECT * FROM schedule WHERE job = ?", [job])))

    def job_ran(self, job: str, at: str, outcome: str, next_run: str | None) -> None:
        self.db.execute("UPDATE schedule SET last_run = ?, last_outcome = ?, next_run = ? WHERE job = ?",
                        (at, outcome, next_run, job))

    def set_next_run(self, job: str, next_run: str | None) -> None:
        self.db.execute("UPDATE schedule SET next_run = ? WHERE job = ?", (next_run, job))

    def schedule(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM schedule ORDER BY job"))

    def failures_in_a_row(self, policy: str) -> int:
        """Checks of a policy that failed since its last good one."""
        outcomes = [r[0] for r in self.db.execute(
            "SELECT r.outcome FROM run_results r JOIN runs ON runs.id = r.run_id WHERE r.policy = ? "
            "AND runs.command = 'check' ORDER BY r.id DESC LIMIT 1000", (policy,))]
        return next((i for i, o in enumerate(outcomes) if o != "error"), len(outcomes))

    def last_archive_capture(self, policy: str) -> str | None:
        row = self.db.execute("SELECT max(captured_at) FROM captures WHERE policy = ? AND source != 'live'",
                              (policy,)).fetchone()
        return row[0]

    # -- runs ------------------------------------------------------------------------------

    def start_run(self, command: str) -> int:
        cursor = self.db.execute(
            "INSERT INTO runs (command, started_at) VALUES (?, ?)", (command, utc_now()))
        return cursor.lastrowid

    def finish_run(self, run_id: int, outcome: str, counts: dict[str, int], error: str | None = None) -> None:
        self.db.execute(
            "UPDATE runs SET ended_at = ?, outcome = ?, counts = ?, error = ? WHERE id = ?",
            (utc_now(), outcome, json.dumps(counts), error, run_id))

    def add_result(self, run_id: int, policy: str, outcome: str, capture_id: int | None = None,
                   version: int | None = None, message: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO run_results (run_id, policy, at, outcome, capture_id, version, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, policy, utc_now(), outcome, capture_id, version, message))

    def runs(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM runs ORDER BY id DESC LIMIT ?", [limit])
        return [{**r, "counts": json.loads(r["counts"] or "{}")} for r in rows]

    # -- status ----------------------------------------------------------------------------

    def policy_status(self, policy: str) -> dict[str, Any]:
        """What ``tracker status`` shows for one policy."""
        one = lambda sql: self.db.execute(sql, (policy,)).fetchone()  # noqa: E731
        last_check = one(
            "SELECT r.at, r.outcome, r.message FROM run_results r JOIN runs ON runs.id = r.run_id "
            "WHERE r.policy = ? AND runs.command = 'check' ORDER BY r.id DESC LIMIT 1")
        last_backfill = one(
            "SELECT r.at, r.outcome, r.message FROM run_results r JOIN runs ON runs.id = r.run_id "
            "WHERE r.policy = ? AND runs.command = 'backfill' ORDER BY r.id DESC LIMIT 1")
        last_error = one(
            "SELECT at, message FROM run_results WHERE policy = ? AND outcome = 'error' "
            "ORDER BY id DESC LIMIT 1")
        last_change = one(
            "SELECT window_start, window_end, to_version, kind FROM changes WHERE policy = ? "
            "ORDER BY window_end DESC, id DESC LIMIT 1")
        return {
            "policy": policy,
            "captures": one("SELECT count(*) FROM captures WHERE policy = ?")[0],
            "failures_in_a_row": self.failures_in_a_row(policy),
            "versions": one("SELECT count(*) FROM versions WHERE policy = ?")[0],
            "last_check": None if last_check is None else
                {"at": last_check[0], "outcome": last_check[1], "message": last_check[2]},
            "last_backfill": None if last_backfill is None else
                {"at": last_backfill[0], "outcome": last_backfill[1], "message": last_backfill[2]},
            "last_change": None if last_change is None else
                {"window_start": last_change[0], "window_end": last_change[1],
                 "to_version": last_change[2], "kind": last_change[3]},
            "last_error": None if last_error is None else {"at": last_error[0], "message": last_error[1]},
        }


def _raw_dictionary(content: bytes) -> zstandard.ZstdCompressionDict:
    return zstandard.ZstdCompressionDict(content, dict_type=zstandard.DICT_TYPE_RAWCONTENT)


def _pack(data: bytes, dictionary: bytes | None, level: int) -> bytes:
    """zstd, with another content as dictionary when given: what the two share costs almost nothing."""
    if dictionary is None:
        return zstandard.ZstdCompressor(level=level).compress(data)
    return zstandard.ZstdCompressor(level=level, dict_data=_raw_dictionary(dictionary)).compress(data)


def change_from_row(r: dict[str, Any]) -> Change:
    """A stored change (a row of `changes`, details as JSON text) as a Change."""
    return Change(**{k: v for k, v in r.items() if k != "id"} | {
        "technical": bool(r["technical"]), "details": json.loads(r["details"]) if r["details"] else None})


def _capture_row(c: NewCapture) -> dict[str, Any]:
    return {
        "policy": c.policy, "url": c.url, "captured_at": c.captured_at, "source": c.source,
        "archive_url": c.archive_url or "", "final_url": c.final_url, "status": c.status,
        "headers": json.dumps(c.headers, sort_keys=True), "content_type": c.content_type,
        "charset": c.charset, "format": c.format, "sha256": c.sha256, "size": c.size,
        "redirects": json.dumps(c.redirects), "flags": json.dumps(c.flags), "fetched_at": c.fetched_at,
        "digest": c.digest,
    }


def _capture_from_row(r: dict[str, Any]) -> Capture:
    return Capture(
        id=r["id"], policy=r["policy"], url=r["url"], captured_at=r["captured_at"],
        source=r["source"], archive_url=r["archive_url"] or None, final_url=r["final_url"],
        status=r["status"], headers=json.loads(r["headers"]), content_type=r["content_type"],
        charset=r["charset"], format=r["format"], sha256=r["sha256"], size=r["size"],
        redirects=json.loads(r["redirects"]), flags=json.loads(r["flags"]), fetched_at=r["fetched_at"],
        digest=r["digest"], saved_url=r["saved_url"], save_error=r["save_error"],
    )
