"""Every version's sections, kept for full-text search (SQLite FTS5, PostgreSQL tsvector).

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
the same texts indexed word by word, unstemmed. A section of over LONGEST_TEXT characters
is kept in parts (see below). Like the rest of the history it is derived, and written with
it in one transaction.

In PostgreSQL the same two indexes are two generated tsvector columns of ``section_texts``
with a GIN index each: ``stems`` (text search configuration ``tracker_stems``: unaccent, then
the Snowball English stemmer without stop words, as FTS5's porter keeps every word) and
``words`` (``tracker_words``: unaccent, lower case). The heading is weight A and the text
weight B, which is how a query names a column. Queries keep FTS5's syntax (``tsquery.py``
reads them); passages are ``ts_headline``'s.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from tracker.store.connection import Connection
from tracker.store.tsquery import tsquery

# (heading with its number, the section's own text): what a version's section is to the index
Passage = tuple[str, str]

# FTS5 scores every match of a text against every other to choose a snippet, and cannot be
# interrupted while it does: a section of 2 MB full of one word takes minutes. A longer text is
# kept in parts (under its heading), each beginning with the end of the one before, so that
# a phrase across a cut is whole in one of them; words far apart in such a section are no
# longer found together.
LONGEST_TEXT = 20_000  # characters
OVERLAP = 1_000
SPACE = re.compile(r"\s")
# Control characters are no wording (a page can write them as '&#2;'), and \x02 and \x03
# mark the matches in a snippet.
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f]")

_TABLES = """
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
"""
_FTS5 = """
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
_TSVECTOR = """;
    CREATE EXTENSION IF NOT EXISTS unaccent;
    CREATE TEXT SEARCH DICTIONARY tracker_english (TEMPLATE = snowball, Language = english);
    CREATE TEXT SEARCH CONFIGURATION tracker_stems (COPY = simple);
    ALTER TEXT SEARCH CONFIGURATION tracker_stems ALTER MAPPING FOR asciiword, asciihword, hword_asciipart,
        word, hword, hword_part, numword, numhword, hword_numpart WITH unaccent, tracker_english;
    CREATE TEXT SEARCH CONFIGURATION tracker_words (COPY = simple);
    ALTER TEXT SEARCH CONFIGURATION tracker_words ALTER MAPPING FOR asciiword, asciihword, hword_asciipart,
        word, hword, hword_part, numword, numhword, hword_numpart WITH unaccent, simple;
    ALTER TABLE section_texts ADD COLUMN stems tsvector GENERATED ALWAYS AS
        (setweight(to_tsvector('tracker_stems', {heading}), 'A') || setweight(to_tsvector('tracker_stems', {text}), 'B'))
        STORED;
    ALTER TABLE section_texts ADD COLUMN words tsvector GENERATED ALWAYS AS
        (setweight(to_tsvector('tracker_words', {heading}), 'A') || setweight(to_tsvector('tracker_words', {text}), 'B'))
        STORED;
    CREATE INDEX section_texts_stems ON section_texts USING GIN (stems);
    CREATE INDEX section_texts_words ON section_texts USING GIN (words)
"""


def _spaced(column: str) -> str:
    """A text with its punctuation as spaces, for PostgreSQL's parser: it reads an e-mail, a URL
    or a hyphenated word as one token, where FTS5 (and a reader) sees its words."""
    return f"regexp_replace({column}, '[!-/:-@[-`{{-~\u00a1-\u00bf\u2000-\u206f]+', ' ', 'g')"


_TSVECTOR = _TSVECTOR.format(heading=_spaced("heading"), text=_spaced("text"))
# The migration that makes the index, per dialect
SCHEMA = {"sqlite": _TABLES + _FTS5, "postgresql": _TABLES + _TSVECTOR}


def store_texts(db: Connection, passages: Iterable[Passage]) -> None:
    """In PostgreSQL, store the section texts a history is about to record, before the
    transaction that records it: indexing a text (two tsvectors and their GIN entries) is most
    of what that transaction would write, and there it would keep every other writer waiting
    (a rebuild on 2 workers spent 10 of its 35 s so). A text no version holds is found by no
    search (searches start from ``section_versions``); one left so by a process killed before
    its transaction is forgotten by the next rebuild (``PostgresSectionRepository.optimize``).
    In SQLite the write would be as exclusive outside the transaction as in it."""
    if db.dialect != "postgresql":
        return
    texts = {_sha(heading, text): (heading, text) for heading, text in _indexed(passages)}
    known = _ids_of(db, list(texts))
    # in the order of their sha256: two writers storing the same texts never wait on each other in a circle
    db.executemany("INSERT INTO section_texts (sha256, heading, text) VALUES (?, ?, ?) ON CONFLICT(sha256) DO NOTHING",
                   [(sha, *texts[sha]) for sha in sorted(texts) if sha not in known])


def put_sections(db: Connection, policy: str, version: int, passages: Iterable[Passage]) -> None:
    """Record a version's sections (inside the caller's transaction). Versions are recorded in
    the order of their numbers: a text the version before holds too extends its run. A few
    statements per version, whatever its sections: each is a round trip to PostgreSQL."""
    sections = [(position, heading, text, _sha(heading, text))
                for position, (heading, text) in enumerate(_indexed(passages))]
    ids = _text_ids(db, {sha: (heading, text) for _, heading, text, sha in sections})
    runs: dict[int, tuple[int, str]] = {}  # text id -> (position, heading): the same section twice counts once
    for position, heading, _, sha in sections:
        runs.setdefault(ids[sha], (position, heading))
    extended = _extend_runs(db, policy, version, list(runs))
    db.executemany("INSERT INTO section_versions (policy, text_id, first_version, last_version, position, heading) "
                   "VALUES (?, ?, ?, ?, ?, ?)", [(policy, text_id, version, version, position, heading)
                                                 for text_id, (position, heading) in runs.items()
                                                 if text_id not in extended])
    db.execute("UPDATE versions SET sections = ? WHERE policy = ? AND number = ?", (len(runs), policy, version))


def _text_ids(db: Connection, texts: dict[str, Passage]) -> dict[str, int]:
    """The id of each text (by sha256), stored first where it is new. Looked up before any
    insert: PostgreSQL spends an id on an insert its conflict clause drops."""
    ids = _ids_of(db, list(texts))
    new = [(sha, *texts[sha]) for sha in texts if sha not in ids]
    if new:
        db.executemany("INSERT INTO section_texts (sha256, heading, text) VALUES (?, ?, ?) "
                       "ON CONFLICT(sha256) DO NOTHING", new)
        ids.update(_ids_of(db, [sha for sha, _, _ in new]))
    return ids


def _sha(heading: str, text: str) -> str:
    return hashlib.sha256(f"{heading}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()


def _ids_of(db: Connection, shas: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(shas):
        out.update((sha, text_id) for text_id, sha in db.execute(
            f"SELECT id, sha256 FROM section_texts WHERE sha256 IN ({', '.join('?' * len(chunk))})", chunk))
    return out


def _extend_runs(db: Connection, policy: str, version: int, text_ids: list[int]) -> set[int]:
    """The texts among ``text_ids`` whose run ends at the version before: now extended to this one."""
    extended: set[int] = set()
    for chunk in _chunks(text_ids):
        ending = [row[0] for row in db.execute(
            "SELECT text_id FROM section_versions WHERE policy = ? AND last_version = ? "
            f"AND text_id IN ({', '.join('?' * len(chunk))})", [policy, version - 1, *chunk])]
        if ending:
            db.execute("UPDATE section_versions SET last_version = ? WHERE policy = ? AND last_version = ? "
                       f"AND text_id IN ({', '.join('?' * len(ending))})", [version, policy, version - 1, *ending])
        extended.update(ending)
    return extended


def _chunks(items: list, size: int = 500) -> Iterator[list]:
    """``items`` a few hundred at a time: as many placeholders as one statement takes well."""
    return (items[i:i + size] for i in range(0, len(items), size))


def _indexed(passages: Iterable[Passage]) -> Iterator[Passage]:
    """The passages as the index keeps them: without control characters, a long text in parts."""
    for heading, text in passages:
        heading = CONTROLS.sub("", heading)
        for part in _parts(CONTROLS.sub("", text)):
            yield heading, part


def _parts(text: str) -> Iterator[str]:
    """A text in parts of at most LONGEST_TEXT characters, cut between words where it has
    any, each from the first word of the last OVERLAP characters of the one before."""
    start = 0
    while len(text) - start > LONGEST_TEXT:
        end = start + LONGEST_TEXT
        cut = max(text.rfind(" ", start + OVERLAP, end), text.rfind("\n", start + OVERLAP, end))
        cut = cut if cut > start + OVERLAP else end  # one word longer than a part: cut inside it
        yield text[start:cut]
        space = SPACE.search(text, cut - OVERLAP, cut)
        start = space.end() if space else cut
    yield text[start:]


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
        """Index the sections of a version derived before the index existed, unless another
        process (a search started at the same time) has just done it."""
        with self.db.transaction():
            if self.db.execute("SELECT 1 FROM versions WHERE policy = ? AND number = ? AND sections IS NULL",
                               (policy, version)).fetchone():
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
        if self.db.dialect != "sqlite":
            return
        for index in (_index(True), _index(False)):
            self.db.execute(f"INSERT INTO {index}({index}) VALUES('optimize')")


def _index(stemmed: bool) -> str:
    return "section_texts_fts" if stemmed else "section_texts_words"


class PostgresSectionRepository(SectionRepository):
    """The index read in PostgreSQL: FTS5's query syntax as tsquery, passages by ts_headline."""

    def matches(self, query: str, policies: list[str], stemmed: bool) -> list[tuple[str, str, int, int, int, int]]:
        column, config = _tsvector(stemmed)
        words = tsquery(query)
        if not words:
            return []  # nothing but terms without a word: FTS5 finds nothing either
        return self.db.execute(
            "SELECT s.policy, s.heading, s.first_version, s.last_version, s.position, s.text_id "
            f"FROM section_versions s WHERE s.text_id IN (SELECT id FROM section_texts "
            f"WHERE {column} @@ to_tsquery('{config}', ?)) AND s.policy IN ({', '.join('?' * len(policies))})",
            [words, *policies]).fetchall()

    def snippets(self, query: str, stemmed: bool, text_ids: list[int], start: str, end: str,
                 words: int) -> dict[int, str]:
        """From the text, or the heading when only the heading matches; matches next to each
        other are marked as one, as FTS5 marks a phrase, and a cut end is '…', as in FTS5's."""
        config = _tsvector(stemmed)[1]
        options = (f'StartSel="{start}", StopSel="{end}", MaxWords={words}, MinWords={max(1, words // 2)}, '
                   "MaxFragments=1, ShortWord=0")
        out = {}
        for chunk in range(0, len(text_ids), 500):
            ids = text_ids[chunk:chunk + 500]
            for text_id, source, passage in self.db.execute(
                    f"SELECT id, source, ts_headline('{config}', source, q, ?) FROM (SELECT id, q, "
                    f"CASE WHEN to_tsvector('{config}', {_spaced('text')}) @@ q THEN text ELSE heading END AS source "
                    f"FROM section_texts, to_tsquery('{config}', ?) AS q "
                    f"WHERE id IN ({', '.join('?' * len(ids))})) AS chosen",
                    [options, tsquery(query, marking=True), *ids]):
                out[text_id] = _cut(source, re.sub(f"{end}(\\s+){start}", r"\1", passage), start, end)
        return out

    def words_starting(self, prefix: str, limit: int) -> list[str]:
        """Read off the texts holding such a word (ts_stat of those only)."""
        return [row[0] for row in self.db.execute(
            "SELECT word FROM ts_stat(format('SELECT words FROM section_texts "
            "WHERE words @@ to_tsquery(''tracker_words'', %L)', CAST(? AS TEXT))) "
            'WHERE word COLLATE "C" >= ? AND word COLLATE "C" < ? ORDER BY word COLLATE "C" LIMIT ?',
            (f"'{prefix}':*", prefix, prefix + "\U0010ffff", limit))]

    def optimize(self) -> None:
        """GIN indexes keep themselves: nothing to merge. Forget the texts no version holds
        (stored by ``store_texts`` in a process killed before it recorded them); under the
        writers' lock, as a writer looks its texts up under it again."""
        with self.db.transaction():
            self.db.execute("DELETE FROM section_texts WHERE NOT EXISTS "
                            "(SELECT 1 FROM section_versions WHERE text_id = section_texts.id)")


def _cut(source: str, passage: str, start: str, end: str) -> str:
    """A passage with '…' where it begins after the start of its source, or ends before its end."""
    plain = passage.replace(start, "").replace(end, "").strip()
    return ("" if source.strip().startswith(plain) else "…") + passage.strip() + \
        ("" if source.strip().endswith(plain) else "…")


def _tsvector(stemmed: bool) -> tuple[str, str]:
    """The column and the text search configuration of the stemmed index, or the one of words."""
    return ("stems", "tracker_stems") if stemmed else ("words", "tracker_words")
