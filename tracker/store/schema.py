"""The schema, and the migrations that brought it where it is: a store written by any earlier
version is brought up to date when it is opened, losing nothing.

One list of migrations for SQLite and PostgreSQL: the DDL is written with SQLite's types,
which the connection translates (see ``postgres.ddl``); the steps that cannot be written
once (the search index, a date difference in a view) give a script per dialect.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Callable

from tracker.errors import TrackerError
from tracker.store.bodies import Bodies
from tracker.store.captures import DOCUMENT_JSON
from tracker.store.connection import Connection
from tracker.store.history import pack_details
from tracker.store.sections import CONTROLS, LONGEST_TEXT, sections_replaced
from tracker.store.sections import SCHEMA as SECTIONS_SCHEMA

log = logging.getLogger(__name__)


def _compact(db: Connection, bodies: Bodies) -> None:
    """Schema 9: bodies become deltas against a neighbouring body of their policy, each
    document's JSON is kept once, and documents and change details are compressed against a
    body they came from, whose text they mostly repeat. Run inside the migration's transaction."""
    for statement in _COMPACT_SCHEMA:
        db.alter(statement)
    _delta_encode_bodies(db, bodies)
    _move_documents(db, bodies)
    _move_details(db, bodies)
    db.alter("ALTER TABLE documents DROP COLUMN old_document")
    db.alter("ALTER TABLE changes DROP COLUMN old_details")


def _index_again(db: Connection, bodies: Bodies) -> None:
    """Forget the index of each policy holding a section kept whole though longer than
    LONGEST_TEXT, or with control characters (FTS5 takes minutes over such a section, and
    reads the characters as match marks): its next search indexes it again, as sections.py
    now keeps sections."""
    unsafe = [text_id for text_id, heading, text in db.execute("SELECT id, heading, text FROM section_texts")
              if len(text) > LONGEST_TEXT or CONTROLS.search(heading) or CONTROLS.search(text)]
    policies = {row[0] for text_id in unsafe
                for row in db.execute("SELECT policy FROM section_versions WHERE text_id = ?", (text_id,))}
    for policy in sorted(policies):
        with sections_replaced(db, policy):  # by none: the next search indexes them
            db.execute("UPDATE versions SET sections = NULL WHERE policy = ?", (policy,))


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

# The views' days between a change's first and last possible moment
_VIEWS = """
    CREATE VIEW change_list AS
    SELECT c.id, c.policy, p.title, c.from_version, c.to_version, c.kind, c.magnitude, c.technical,
           c.reverts_to, c.window_start, c.window_end,
           {window_days} AS window_days,
           v.declared_date, c.detected_at, c.from_capture, c.to_capture
    FROM changes c
    JOIN policies p ON p.name = c.policy
    LEFT JOIN versions v ON v.policy = c.policy AND v.number = c.to_version;

    CREATE VIEW version_list AS
    SELECT v.id, v.policy, p.title, v.number AS version, v.first_seen, v.last_seen, v.declared_date,
           v.word_count, v.language, v.captures, v.first_capture, v.last_capture
    FROM versions v
    JOIN policies p ON p.name = v.policy;

    CREATE VIEW section_list AS
    SELECT s.text_id, s.policy, p.title, v.number AS version, v.first_seen, v.last_seen, v.declared_date,
           s.position, t.heading, t.text
    FROM section_versions s
    JOIN section_texts t ON t.id = s.text_id
    JOIN versions v ON v.policy = s.policy AND v.number BETWEEN s.first_version AND s.last_version
    JOIN policies p ON p.name = s.policy;
"""
_WINDOW_DAYS = {
    "sqlite": "round(julianday(c.window_end) - julianday(c.window_start), 1)",
    "postgresql": "CAST(round(CAST(extract(epoch FROM CAST(c.window_end AS timestamptz) - "
                  "CAST(c.window_start AS timestamptz)) / 86400 AS numeric), 1) AS double precision)",
}

# A migration is a script, a script per dialect, or a function run in the migration's transaction.
MIGRATIONS: list[str | dict[str, str] | Callable[[Connection, Bodies], None]] = [
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
    # 10: each version's language (a policy may change language); filled when the history is
    # next derived.
    """
    ALTER TABLE versions ADD COLUMN language TEXT;
    """,
    # 11: every version's sections, indexed for full-text search (see sections.py); filled as
    # histories are derived, and for histories derived before, by the first search.
    SECTIONS_SCHEMA,
    # 12: views for people and other tools reading the store (Datasette, SQL): each row whole,
    # with its policy's title and the dates a reader asks for first.
    {dialect: _VIEWS.format(window_days=days) for dialect, days in _WINDOW_DAYS.items()},
    # 13: sections indexed as they now are (see _index_again).
    _index_again,
    # 14: the archives' politeness limits, shared by every process using this store (see
    # limits.py). Moments are seconds since 1970 (UTC), comparable across machines.
    """
    CREATE TABLE archive_hosts (
        host TEXT PRIMARY KEY,
        paused_until DOUBLE PRECISION NOT NULL,  -- nothing is asked of the host before (a 429)
        refusals INTEGER NOT NULL                -- 429s in a row
    );
    CREATE TABLE archive_slots (
        host TEXT NOT NULL,
        kind TEXT NOT NULL,                      -- index, capture, save
        next_at DOUBLE PRECISION NOT NULL,       -- when the next request of this kind may start
        PRIMARY KEY (host, kind)
    );
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
COMPACT_SCHEMA = MIGRATIONS.index(_compact) + 1


def migrate(db: Connection, bodies: Bodies) -> None:
    if db.schema_version == SCHEMA_VERSION:
        return
    # One process at a time: two commands started together on a new or older store would
    # otherwise both read its version and both run its next step.
    with db.migration_lock():
        _migrate(db, bodies)


def _migrate(db: Connection, bodies: Bodies) -> None:
    current = db.schema_version  # read under the lock: another process may have just migrated it
    if current > SCHEMA_VERSION:
        raise TrackerError(f"{db.name}: written by a newer policy-tracker "
                           f"(schema {current}, this one knows {SCHEMA_VERSION}); upgrade it")
    for number in range(current + 1, SCHEMA_VERSION + 1):
        # A migration and its version number land together or not at all.
        step = MIGRATIONS[number - 1]
        if isinstance(step, str):
            db.script(step, number)
        elif isinstance(step, dict):
            db.script(step[db.dialect], number)
        else:
            with db.transaction():
                step(db, bodies)
                db.set_schema_version(number)
    if current and current < COMPACT_SCHEMA <= SCHEMA_VERSION:
        _shrink(db)


def _shrink(db: Connection) -> None:
    """Give back to the file system the space the compaction freed: once, after it (only a
    SQLite store is older than the compaction); a VACUUM that fails (the disk too full for
    the copy it makes) leaves the store usable."""
    try:
        db.execute("VACUUM")
    except sqlite3.OperationalError as e:
        log.warning("%s: compacted, but the file could not be shrunk (%s): "
                    "run VACUUM on it when there is room", db.name, e)


def _delta_encode_bodies(db: Connection, bodies: Bodies) -> None:
    """Store every body again as a capture now stores it, along each policy's captures in
    the order they were stored: a base is always stored again before the bodies using it."""
    depths: dict[str, int] = {}
    previous: dict[str, str] = {}  # policy -> the body of its last successful capture
    for policy, sha256, status in db.execute(
            "SELECT policy, sha256, status FROM captures WHERE sha256 IS NOT NULL ORDER BY id").fetchall():
        if sha256 not in depths:
            base = previous.get(policy)
            depths[sha256] = bodies.put(sha256, bodies.get(sha256), (base, depths[base]) if base else None)
        if 200 <= status <= 299:
            previous[policy] = sha256


def _move_documents(db: Connection, bodies: Bodies) -> None:
    """Each cached document's JSON into document_json, once per content."""
    for sha256, extractor in db.execute(
            "SELECT sha256, extractor FROM documents WHERE old_document IS NOT NULL "
            "ORDER BY sha256, extractor").fetchall():
        (text,) = db.execute("SELECT old_document FROM documents WHERE sha256 = ? AND extractor = ?",
                             (sha256, extractor)).fetchone()
        data = DOCUMENT_JSON.encode(json.loads(text)).encode("utf-8", "surrogatepass")
        db.execute("UPDATE documents SET document = ? WHERE sha256 = ? AND extractor = ?",
                   (bodies.put_json("document_json", data, sha256), sha256, extractor))


def _move_details(db: Connection, bodies: Bodies) -> None:
    """Each change's details into details_json, their text unchanged."""
    for (change_id,) in db.execute(
            "SELECT id FROM changes WHERE old_details IS NOT NULL ORDER BY id").fetchall():
        text, to_capture = db.execute(
            "SELECT old_details, to_capture FROM changes WHERE id = ?", (change_id,)).fetchone()
        db.execute("UPDATE changes SET details = ? WHERE id = ?",
                   (bodies.put_packed(pack_details(db, bodies, text, to_capture)), change_id))
