"""Every version's sections, kept for full-text search (SQLite FTS5).

A section's text is kept once however many versions and policies carry it (``section_texts``,
by the sha256 of its heading and text): most sections outlive most changes, so the index
grows with what changed, not with the number of versions. ``version_sections`` says which
version holds which text, in reading order. ``section_texts_fts`` indexes the texts with the
Porter stemmer over unicode61 with diacritics folded ('donnees' finds 'données'); it is laid
out as sqlite-utils' ``enable_fts`` lays one out (the same names and triggers), so
sqlite-utils and Datasette find it. Stems cannot be matched by a prefix ('arbitrat*' is
no prefix of the stem 'arbitr'), so a query with a prefix goes to ``section_texts_words``,
the same texts indexed word by word, unstemmed. Like the rest of the history it is derived, and written
with it in one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Any

from tracker.store.connection import Connection

# (heading with its number, the section's own text): what a version's section is to the index
Passage = tuple[str, str]

SCHEMA = """
    CREATE TABLE section_texts (
        id INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL UNIQUE,      -- of heading and text
        heading TEXT NOT NULL,            -- with its number ('2.1 Cookies'); '' for the opening
        text TEXT NOT NULL                -- the section's own text, its sub-sections aside
    );
    CREATE TABLE version_sections (
        policy TEXT NOT NULL,
        version INTEGER NOT NULL,
        position INTEGER NOT NULL,        -- reading order in the version, from 0
        text_id INTEGER NOT NULL REFERENCES section_texts(id),
        PRIMARY KEY (policy, version, position)
    );
    CREATE INDEX version_sections_text ON version_sections(text_id);
    CREATE VIRTUAL TABLE "section_texts_fts" USING FTS5 (
        "heading", "text",
        tokenize='porter unicode61 remove_diacritics 2',
        content="section_texts"
    );
    CREATE VIRTUAL TABLE section_texts_words USING FTS5 (
        heading, text,
        tokenize='unicode61 remove_diacritics 2',
        content="section_texts"
    );
    CREATE TRIGGER "section_texts_ai" AFTER INSERT ON "section_texts" BEGIN
      INSERT INTO "section_texts_fts" (rowid, "heading", "text") VALUES (new.rowid, new."heading", new."text");
      INSERT INTO section_texts_words (rowid, heading, text) VALUES (new.rowid, new.heading, new.text);
    END;
    CREATE TRIGGER "section_texts_ad" AFTER DELETE ON "section_texts" BEGIN
      INSERT INTO "section_texts_fts" ("section_texts_fts", rowid, "heading", "text")
      VALUES('delete', old.rowid, old."heading", old."text");
      INSERT INTO section_texts_words (section_texts_words, rowid, heading, text)
      VALUES('delete', old.rowid, old.heading, old.text);
    END;
    CREATE TRIGGER "section_texts_au" AFTER UPDATE ON "section_texts" BEGIN
      INSERT INTO "section_texts_fts" ("section_texts_fts", rowid, "heading", "text")
      VALUES('delete', old.rowid, old."heading", old."text");
      INSERT INTO "section_texts_fts" (rowid, "heading", "text") VALUES (new.rowid, new."heading", new."text");
      INSERT INTO section_texts_words (section_texts_words, rowid, heading, text)
      VALUES('delete', old.rowid, old.heading, old.text);
      INSERT INTO section_texts_words (rowid, heading, text) VALUES (new.rowid, new.heading, new.text);
    END
"""


def put_sections(db: Connection, policy: str, version: int, passages: Iterable[Passage]) -> None:
    """Record a version's sections (inside the caller's transaction)."""
    rows = []
    for position, (heading, text) in enumerate(passages):
        sha = hashlib.sha256(f"{heading}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
        db.execute("INSERT INTO section_texts (sha256, heading, text) VALUES (?, ?, ?) "
                   "ON CONFLICT(sha256) DO NOTHING", (sha, heading, text))
        (text_id,) = db.execute("SELECT id FROM section_texts WHERE sha256 = ?", (sha,)).fetchone()
        rows.append((policy, version, position, text_id))
    db.executemany("INSERT OR REPLACE INTO version_sections (policy, version, position, text_id) "
                   "VALUES (?, ?, ?, ?)", rows)


def drop_sections(db: Connection, policy: str) -> None:
    """Forget a policy's sections, and the texts no version holds any more (inside the
    caller's transaction)."""
    held = [row[0] for row in db.execute(
        "SELECT DISTINCT text_id FROM version_sections WHERE policy = ?", (policy,))]
    db.execute("DELETE FROM version_sections WHERE policy = ?", (policy,))
    db.executemany("DELETE FROM section_texts WHERE id = ? AND NOT EXISTS "
                   "(SELECT 1 FROM version_sections WHERE text_id = ?)", [(i, i) for i in held])


class SectionRepository:
    """Reading the index: which texts match, where they are, and their snippets."""

    def __init__(self, db: Connection):
        self.db = db

    def put(self, policy: str, version: int, passages: Iterable[Passage]) -> None:
        """Index the sections of a version derived before the index existed."""
        with self.db.transaction():
            put_sections(self.db, policy, version, passages)

    def unindexed(self, policy: str) -> list[int]:
        """The policy's versions with no sections in the index."""
        return [row[0] for row in self.db.execute(
            "SELECT v.number FROM versions v WHERE v.policy = ? AND NOT EXISTS "
            "(SELECT 1 FROM version_sections s WHERE s.policy = v.policy AND s.version = v.number) "
            "ORDER BY v.number", (policy,))]

    def matches(self, query: str, policies: list[str], stemmed: bool) -> Iterator[dict[str, Any]]:
        """Where the texts that match an FTS5 query are: policy, version, position, text id and
        heading. Raises sqlite3.OperationalError for a query FTS5 cannot parse."""
        index = _index(stemmed)
        return self.db.query(
            "SELECT s.policy, s.version, s.position, s.text_id, t.heading FROM version_sections s "
            "JOIN section_texts t ON t.id = s.text_id "
            f"WHERE s.text_id IN (SELECT rowid FROM {index} WHERE {index} MATCH ?) "
            f"AND s.policy IN ({', '.join('?' * len(policies))})", [query, *policies])

    def snippets(self, query: str, stemmed: bool, text_ids: list[int], start: str, end: str,
                 words: int) -> dict[int, str]:
        """The best passage of each text for the query, its matches between ``start`` and ``end``."""
        index, out = _index(stemmed), dict[int, str]()
        for chunk in range(0, len(text_ids), 500):
            ids = text_ids[chunk:chunk + 500]
            out.update(self.db.execute(
                f"SELECT rowid, snippet({index}, -1, ?, ?, '…', ?) FROM {index} "
                f"WHERE {index} MATCH ? AND rowid IN ({', '.join('?' * len(ids))})",
                (start, end, words, query, *ids)).fetchall())
        return out

    def optimize(self) -> None:
        """Merge the indexes' segments: smaller and quicker to read after a rebuild."""
        for index in (_index(True), _index(False)):
            self.db.execute(f"INSERT INTO {index}({index}) VALUES('optimize')")


def _index(stemmed: bool) -> str:
    return "section_texts_fts" if stemmed else "section_texts_words"
