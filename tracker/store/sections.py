"""Every version's sections, kept for full-text search (SQLite FTS5).

A section's text is kept once however many versions and policies carry it (``section_texts``,
by the sha256 of its heading and text): most sections outlive most changes, so the index
grows with what changed, not with the number of versions. For the same reason
``section_versions`` says which versions hold a text as runs of version numbers (a text in
versions 1 to 40 is one row, not 40): a search for a common word reads thousands of rows,
not hundreds of thousands. ``versions.sections`` counts each version's sections (null: not
indexed yet). ``section_texts_fts`` indexes the texts with the
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
from contextlib import contextmanager

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
    CREATE TABLE section_versions (
        policy TEXT NOT NULL,
        text_id INTEGER NOT NULL REFERENCES section_texts(id),
        first_version INTEGER NOT NULL,   -- the text is in every version from this one
        last_version INTEGER NOT NULL,    -- to this one, both included
        position INTEGER NOT NULL,        -- its place in the first, from 0: reading order
        heading TEXT NOT NULL,            -- the text's heading again: a search reads it for every
                                          -- run, and a text's row is large
        PRIMARY KEY (policy, text_id, first_version)
    );
    CREATE INDEX section_versions_text ON section_versions(text_id);
    ALTER TABLE versions ADD COLUMN sections INTEGER;
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
    """Record a version's sections (inside the caller's transaction). Versions are recorded in
    the order of their numbers: a text the version before holds too extends its run."""
    held: set[int] = set()
    for position, (heading, text) in enumerate(passages):
        sha = hashlib.sha256(f"{heading}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()
        db.execute("INSERT INTO section_texts (sha256, heading, text) VALUES (?, ?, ?) "
                   "ON CONFLICT(sha256) DO NOTHING", (sha, heading, text))
        (text_id,) = db.execute("SELECT id FROM section_texts WHERE sha256 = ?", (sha,)).fetchone()
        if text_id in held:
            continue  # the same section twice in one version
        held.add(text_id)
        extended = db.execute("UPDATE section_versions SET last_version = ? WHERE policy = ? AND text_id = ? "
                              "AND last_version = ?", (version, policy, text_id, version - 1)).rowcount
        if not extended:
            db.execute("INSERT INTO section_versions (policy, text_id, first_version, last_version, position, "
                       "heading) VALUES (?, ?, ?, ?, ?, ?)", (policy, text_id, version, version, position, heading))
    db.execute("UPDATE versions SET sections = ? WHERE policy = ? AND number = ?", (len(held), policy, version))


@contextmanager
def sections_replaced(db: Connection, policy: str) -> Iterator[None]:
    """Forget a policy's sections, for the caller to record them anew inside (all in the
    caller's transaction); then forget the texts no version holds any more. A text the new
    sections hold again stays as it is: deleted and indexed again, it would cost a rebuild
    most of its time in the write, where no other process can write."""
    held = [row[0] for row in db.execute(
        "SELECT DISTINCT text_id FROM section_versions WHERE policy = ?", (policy,))]
    db.execute("DELETE FROM section_versions WHERE policy = ?", (policy,))
    yield
    db.executemany("DELETE FROM section_texts WHERE id = ? AND NOT EXISTS "
                   "(SELECT 1 FROM section_versions WHERE text_id = ?)", [(i, i) for i in held])


class SectionRepository:
    """Reading the index: which texts match, where they are, and their snippets."""

    def __init__(self, db: Connection):
        self.db = db

    def put(self, policy: str, version: int, passages: Iterable[Passage]) -> None:
        """Index the sections of a version derived before the index existed."""
        with self.db.transaction():
            put_sections(self.db, policy, version, passages)

    def unindexed(self, policy: str) -> list[int]:
        """The policy's versions the index does not hold yet, in the order to index them."""
        return [row[0] for row in self.db.execute(
            "SELECT number FROM versions WHERE policy = ? AND sections IS NULL ORDER BY number", (policy,))]

    def matches(self, query: str, policies: list[str], stemmed: bool) -> list[tuple[str, str, int, int, int, int]]:
        """Where the texts that match an FTS5 query are: (policy, heading, first version, last
        version, position, text id) rows. Raises sqlite3.OperationalError for a query FTS5
        cannot parse."""
        index = _index(stemmed)
        return self.db.execute(
            "SELECT s.policy, s.heading, s.first_version, s.last_version, s.position, s.text_id "
            "FROM section_versions s "
            f"WHERE s.text_id IN (SELECT rowid FROM {index} WHERE {index} MATCH ?) "
            # '+': the policies filter the rows the matching texts give; looked up by
            # policy first, each policy would be searched for every matching text
            f"AND +s.policy IN ({', '.join('?' * len(policies))})", [query, *policies]).fetchall()

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

    def words_starting(self, prefix: str, limit: int) -> list[str]:
        """The indexed words (as written, folded) that begin with ``prefix``."""
        self.db.execute("CREATE VIRTUAL TABLE IF NOT EXISTS temp.section_words "
                        "USING fts5vocab(main, section_texts_words, 'row')")
        return [row[0] for row in self.db.execute(
            "SELECT term FROM temp.section_words WHERE term >= ? AND term < ? LIMIT ?",
            (prefix, prefix + "\U0010ffff", limit))]

    def optimize(self) -> None:
        """Merge the indexes' segments: smaller and quicker to read after a rebuild."""
        for index in (_index(True), _index(False)):
            self.db.execute(f"INSERT INTO {index}({index}) VALUES('optimize')")


def _index(stemmed: bool) -> str:
    return "section_texts_fts" if stemmed else "section_texts_words"
