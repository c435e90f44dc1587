"""The one connection the repositories share: everything they ask of the database.

The repositories write their own SQL, in the dialect SQLite and PostgreSQL share: ``?``
placeholders, ``INSERT ... ON CONFLICT``, the column types of ``schema.py``. What differs is
here, behind the few methods of ``Connection``: opening the database, how a transaction
keeps writers apart, the schema version, scripts, the DDL types, errors. ``SQLiteConnection``
is the embedded default; ``postgres.PostgresConnection`` the shared store.
"""

from __future__ import annotations

import fcntl
import importlib
import sqlite3
import sys
import time
from abc import ABC, abstractmethod
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, Iterable, Iterator, Protocol, Sequence

import sqlite_utils

from tracker.config import masked_url
from tracker.errors import TrackerError


CHECK_EVERY = 10_000  # SQLite VM steps between two looks at the clock (more often costs time)


class Cursor(Protocol):
    """What a statement gives back: its rows as tuples, and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Connection(ABC):
    """What the repositories and the migrations ask of a database."""

    dialect: str  # "sqlite" or "postgresql": the key of a migration written per dialect
    name: str  # how messages name the database: its file, or its URL without the password

    @abstractmethod
    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement; outside a transaction, a write is committed at once."""

    @abstractmethod
    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    @abstractmethod
    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        """Rows as dicts, by column name."""

    @abstractmethod
    def insert_if_new(self, sql: str, params: Sequence[Any]) -> int | None:
        """Run an INSERT of one row into a table with an ``id``: the new row's id, or None
        when its ``ON CONFLICT DO NOTHING`` left the table as it was."""

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        """Run an INSERT of one row; the row's id."""
        row_id = self.insert_if_new(sql, params)
        assert row_id is not None  # no conflict clause: inserted, or an error raised
        return row_id

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """A context: all the writes inside, or none of them; one writer at a time."""

    @abstractmethod
    def snapshot(self) -> AbstractContextManager[None]:
        """A context: the reads inside see the database at one moment, whatever other
        processes commit meanwhile (inside a transaction already: that one's)."""

    @abstractmethod
    def time_limit(self, seconds: float) -> AbstractContextManager[None]:
        """A context: statements that run longer than this fail: a query from a user must
        not hang the command."""

    @property
    @abstractmethod
    def schema_version(self) -> int: ...

    @abstractmethod
    def set_schema_version(self, number: int) -> None:
        """Inside the transaction of the migration that brings it."""

    @abstractmethod
    def script(self, sql: str, schema_version: int) -> None:
        """Run a schema script (its DDL in SQLite's types) and record the version it brings,
        together or not at all."""

    @abstractmethod
    def alter(self, statement: str) -> None:
        """Run one schema statement (in SQLite's types) inside the caller's transaction."""

    @abstractmethod
    def migration_lock(self) -> AbstractContextManager[None]:
        """A context: one process at a time brings the store up to date."""

    @abstractmethod
    def close(self) -> None: ...


class SQLiteConnection(Connection):
    """A SQLite file in WAL mode, with foreign keys checked."""

    dialect = "sqlite"

    def __init__(self, path: Path):
        self.path, self.name = path, str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite_utils.Database(path)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.enable_wal()
        # Commits are not flushed to the disk one by one: a killed process still loses
        # nothing committed; a power cut may lose the last few, never the file's integrity.
        self._db.execute("PRAGMA synchronous = NORMAL")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._db.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._db.conn.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        return self._db.query(sql, params)

    def insert_if_new(self, sql: str, params: Sequence[Any]) -> int | None:
        cursor = self.execute(sql, params)
        return cursor.lastrowid if cursor.rowcount == 1 else None

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN IMMEDIATE: the write lock is taken first, so two writers never both read,
        then both fail to upgrade their lock."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self._db.conn.in_transaction:
            yield
            return
        self._db.execute("BEGIN")
        try:
            yield
        finally:
            if self._db.conn.in_transaction:
                self._db.execute("COMMIT")  # nothing was written: it ends the read

    @contextmanager
    def time_limit(self, seconds: float) -> Iterator[None]:
        """Past it, a statement fails with sqlite3.OperationalError 'interrupted'."""
        deadline = time.monotonic() + seconds
        self._db.conn.set_progress_handler(lambda: time.monotonic() > deadline, CHECK_EVERY)
        try:
            yield
        finally:
            self._db.conn.set_progress_handler(None, 0)

    @property
    def schema_version(self) -> int:
        return self._db.execute("PRAGMA user_version").fetchone()[0]

    def set_schema_version(self, number: int) -> None:
        self._db.execute(f"PRAGMA user_version = {number}")

    def script(self, sql: str, schema_version: int) -> None:
        """executescript() commits whatever is open first, so the script holds its own transaction."""
        try:
            self._db.conn.executescript(f"BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {schema_version}; COMMIT;")
        except BaseException:
            if self._db.conn.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def alter(self, statement: str) -> None:
        self._db.execute(statement)

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        """Two commands started together on a new or older store would otherwise both read
        its version and both run its next step ('table policies already exists'). A lock
        file beside the store, released however the process ends."""
        try:
            lock = open(f"{self.path}.migrate-lock", "a")
        except OSError:  # a folder we cannot write to: the migration itself says what is wrong
            yield
            return
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def close(self) -> None:
        self._db.close()


def is_url(location: Path | str) -> bool:
    """Whether a store's location is a PostgreSQL URL (else it is a SQLite file)."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def connect(location: Path | str) -> Connection:
    if is_url(location):
        return postgres_backend().PostgresConnection(str(location))
    return SQLiteConnection(Path(location))


def postgres_backend() -> ModuleType:
    """The PostgreSQL backend: its driver, psycopg, is an extra a SQLite user need not install."""
    try:
        return importlib.import_module("tracker.store.postgres")
    except ImportError:
        raise TrackerError("storage.url: a PostgreSQL store needs psycopg: "
                           "pip install 'policy-tracker[postgresql]'") from None


def describe(location: Path | str) -> str:
    """How a message names a store: its file, or its URL with any password masked."""
    return masked_url(str(location)) if is_url(location) else str(location)


def database_errors() -> tuple[type[Exception], ...]:
    """The errors the database layer raises: SQLite's, and PostgreSQL's once its driver is in
    use (a store that never opened PostgreSQL never imports it)."""
    psycopg = sys.modules.get("psycopg")
    return (sqlite3.Error, psycopg.Error) if psycopg is not None else (sqlite3.Error,)


@contextmanager
def opening(location: Path | str) -> Iterator[None]:
    """Opening the database and bringing its schema up to date: a database that cannot be
    used is one line for the user, not a traceback."""
    if is_url(location):
        with postgres_backend().opening(str(location)):
            yield
        return
    try:
        yield
    except sqlite3.OperationalError as e:
        raise TrackerError(database_problem(location, e)) from None
    except sqlite3.DatabaseError as e:
        raise TrackerError(f"{location}: not a usable policy-tracker database ({e})") from None
    except OSError as e:
        raise TrackerError(f"{location}: cannot open the database ({e.strerror or e})") from None


def database_problem(location: Path | str, error: Exception) -> str | None:
    """What a user should read when the database itself fails (held by another process, a
    full disk, read-only, damaged, a server gone); None for an error that is a bug."""
    if not isinstance(error, sqlite3.Error):
        return postgres_backend().problem(describe(location), error)
    if not isinstance(error, sqlite3.OperationalError) and type(error) is not sqlite3.DatabaseError:
        return None
    text = str(error).lower()
    if "locked" in text or "busy" in text:
        return (f"{location}: the database is busy: another process is writing to it (a daemon, another "
                "tracker command, or a program with the file open); run again when it is done")
    if "readonly" in text or "read-only" in text:
        return f"{location}: the database is read-only (check the permissions of the file and its folder)"
    if "full" in text:
        return f"{location}: the disk is full; what was stored is kept: free some space and run again"
    if "unable to open" in text:
        return f"{location}: cannot open the database file"
    return f"{location}: the database failed ({error})"
