"""Copying a SQLite store into an empty PostgreSQL database (``tracker migrate``), verified.

The tables are read from the SQLite file's own schema, so a table a later migration adds is
copied with the rest; FTS5's virtual tables and their shadow tables are left out, as are the
views and PostgreSQL's generated columns (the search's tsvectors): PostgreSQL makes those
itself. Both stores are first brought to the same schema (each is opened as a ``Store``).

The copy streams each table in primary-key order, a row at a time from SQLite, a few
megabytes at a time back from PostgreSQL (a store can be gigabytes), into one transaction of the target: a copy that fails or is killed leaves the
target as empty as it was. Foreign keys are set aside while the rows go in (a body may refer
to a body copied after it) and put back before the end, which checks every row against them.
Ids are kept (what refers to a row refers to its id), and each id sequence is moved past the
highest one. Each table is then read back from PostgreSQL and compared with what was read
from SQLite: the number of rows and a sha256 over their values, which must agree before the
transaction commits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from tracker.config import StorageConfig, masked_url
from tracker.errors import TrackerError
from tracker.store import Store
from tracker.store.connection import Connection, database_errors, is_url

if TYPE_CHECKING:
    from tracker.store.postgres import PostgresConnection


@dataclass
class Copied:
    """One table, copied and verified: its rows and the sha256 of their values, the same in
    both stores."""

    table: str
    rows: int
    sha256: str


@dataclass
class Migrated:
    """What ``migrate`` copied, from which file, into which database (its password masked)."""

    source: str
    target: str
    tables: list[Copied]

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)


@dataclass
class Table:
    """A table to copy: its columns, and those of its primary key (the order rows are read in)."""

    name: str
    columns: list[str]
    key: list[str]


def check_source(storage: StorageConfig) -> Path:
    """The SQLite file a migration copies: checked before it is opened, which would create it."""
    if storage.url:
        raise TrackerError(f"storage.url: the store is already in PostgreSQL ({masked_url(storage.url)}); "
                           "migrate copies a SQLite store ([storage] path) into PostgreSQL")
    if not storage.path.is_file():
        raise TrackerError(f"{storage.path}: no such store to migrate (check [storage] path in the config)")
    return storage.path


def migrate(source: Store, url: str, each: Callable[[Copied], None] = lambda table: None) -> Migrated:
    """Copy the SQLite store ``source`` into the empty PostgreSQL database at ``url``; ``each``
    is called with every table once it is copied and verified."""
    if source.db.dialect != "sqlite":
        raise TrackerError(f"{source.name}: the store is already in PostgreSQL; "
                           "migrate copies a SQLite store into PostgreSQL")
    if not is_url(url):
        raise TrackerError(f"{masked_url(url)}: not a PostgreSQL URL "
                           "(give postgresql://user:password@host:port/database)")
    target = Store(url)
    try:
        if target.db.schema_version != source.db.schema_version:
            raise TrackerError(f"{target.name}: schema {target.db.schema_version}, but {source.name} is at "
                               f"schema {source.db.schema_version}: both must be at the same one")
        with source.db.snapshot(), target.db.transaction():
            tables = source_tables(source.db)
            _check_columns(target.db, tables)
            _check_empty(target.db, tables)
            copied = _copy_all(source.db, cast("PostgresConnection", target.db), tables, each)
        return Migrated(source.name, target.name, copied)
    finally:
        target.close()


def source_tables(db: Connection) -> list[Table]:
    """The SQLite store's tables in the order they were made: not its views, nor the
    full-text indexes' virtual tables and the shadow tables each keeps its data in."""
    rows = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table' "
                      "AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY rowid").fetchall()
    virtual = [name for name, sql in rows if sql.upper().startswith("CREATE VIRTUAL TABLE")]
    return [_table(db, name) for name, _ in rows
            if name not in virtual and not any(_shadow_of(name, table) for table in virtual)]


def _shadow_of(name: str, virtual: str) -> bool:
    """SQLite names a virtual table's shadow tables after it: section_texts_fts_data, ..._idx."""
    suffix = name.removeprefix(f"{virtual}_")
    return suffix != name and suffix.isalnum()


def _table(db: Connection, name: str) -> Table:
    info = db.execute("SELECT name, pk FROM pragma_table_info(?) ORDER BY cid", (name,)).fetchall()
    columns = [column for column, _ in info]
    key = [column for column, pk in sorted((row for row in info if row[1]), key=lambda row: row[1])]
    return Table(name, columns, key or columns)


def _check_empty(db: Connection, tables: list[Table]) -> None:
    """Inside the copy's transaction: a second migrate started meanwhile waits for the first,
    then finds its rows."""
    held = [table.name for table in tables
            if db.execute(f"SELECT EXISTS (SELECT 1 FROM {_quoted(table.name)})").fetchone()[0]]
    if held:
        raise TrackerError(f"{db.name}: already holds a store (rows in {', '.join(held)}); "
                           "migrate copies into an empty database: nothing was changed")


def _copy_all(source: Connection, target: PostgresConnection, tables: list[Table],
              each: Callable[[Copied], None]) -> list[Copied]:
    keys = _foreign_keys(target)
    for owner, name, definition in keys:
        target.execute(f"ALTER TABLE {owner} DROP CONSTRAINT {name}")
    copied = []
    for table in tables:
        copied.append(_copy_table(source, target, table))
        each(copied[-1])
    for owner, name, definition in keys:
        try:
            target.execute(f"ALTER TABLE {owner} ADD CONSTRAINT {name} {definition}")
        except database_errors() as e:
            raise TrackerError(f"{target.name}: table {owner}: the copy breaks its foreign key {definition} "
                               f"({_one_line(e)}); nothing was kept") from None
    _restart_ids(target)
    return copied


def _check_columns(target: Connection, tables: list[Table]) -> None:
    """Every column SQLite has, PostgreSQL has, but for the columns it generates itself."""
    for table in tables:
        there = sorted(row[0] for row in target.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? AND is_generated = 'NEVER'", (table.name,)))
        if not there:
            raise TrackerError(f"{target.name}: no table {table.name}, which the SQLite store has; "
                               "nothing was changed")
        if there != sorted(table.columns):
            raise TrackerError(f"{target.name}: table {table.name} has columns ({', '.join(there)}) where the "
                               f"SQLite store has ({', '.join(sorted(table.columns))}); nothing was changed")


def _foreign_keys(target: Connection) -> list[tuple[str, str, str]]:
    """(table, constraint, its definition) of every foreign key, as PostgreSQL writes them."""
    return target.execute(
        "SELECT c.conrelid::regclass::text, quote_ident(c.conname), pg_get_constraintdef(c.oid) "
        "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE c.contype = 'f' AND n.nspname = current_schema() ORDER BY c.oid").fetchall()


def _copy_table(source: Connection, target: PostgresConnection, table: Table) -> Copied:
    """The rows in, hashed on the way; then read back and hashed again."""
    columns = ", ".join(_quoted(column) for column in table.columns)
    select = f"SELECT {columns} FROM {_quoted(table.name)} ORDER BY {', '.join(map(_quoted, table.key))}"
    sent, received = Digest(), Digest()
    try:
        target.load(table.name, table.columns, sent.of(source.execute(select)))  # a row at a time
        for row in target.stream(select):
            received.add(row)
    except database_errors() as e:
        raise TrackerError(f"{target.name}: table {table.name}: the copy failed ({_one_line(e)}); "
                           "nothing was kept") from None
    if (sent.rows, sent.hexdigest()) != (received.rows, received.hexdigest()):
        raise TrackerError(f"{target.name}: table {table.name} differs from the SQLite store after the copy "
                           f"({sent.rows} rows, sha256 {sent.hexdigest()[:16]} in SQLite; {received.rows} rows, "
                           f"sha256 {received.hexdigest()[:16]} in PostgreSQL); nothing was kept")
    return Copied(table.name, sent.rows, sent.hexdigest())


def _restart_ids(target: Connection) -> None:
    """Each identity column's sequence past the highest id copied: the next row stored gets a
    new id, not one a copied row holds."""
    for table, column in target.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND is_identity = 'YES'").fetchall():
        target.execute(f"SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max({_quoted(column)}), 0) + 1, false) "
                       f"FROM {_quoted(table)}", (_quoted(table), column))


class Digest:
    """A sha256 over rows, their values written the same way whichever database gave them:
    an integer (or a boolean, 0 or 1 in SQLite) as its digits, a float exactly, a text as
    UTF-8, bytes (or a memoryview of them) as they are, each tagged with its kind and length."""

    def __init__(self) -> None:
        self.rows = 0
        self._hash = hashlib.sha256()

    def of(self, rows: Iterable[Sequence[Any]]) -> Iterator[Sequence[Any]]:
        """The rows, passed on once counted and hashed."""
        for row in rows:
            self.add(row)
            yield row

    def add(self, row: Sequence[Any]) -> None:
        self.rows += 1
        for value in row:
            self._hash.update(_encoded(value))

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def _encoded(value: Any) -> bytes:
    if value is None:
        return b"n"
    if isinstance(value, int):  # bool is one
        tag, data = b"i", str(int(value)).encode()
    elif isinstance(value, float):
        tag, data = b"f", value.hex().encode()
    elif isinstance(value, str):
        tag, data = b"s", value.encode("utf-8", "surrogatepass")
    elif isinstance(value, (bytes, bytearray, memoryview)):
        tag, data = b"b", bytes(value)
    else:
        raise TypeError(f"no way to compare a {type(value).__name__} across stores")
    return tag + len(data).to_bytes(8, "big") + data


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
