"""The one connection the repositories share: everything they ask of the database.

The repositories write their own SQL; what is particular to SQLite (opening the file, its
pragmas, the schema version, scripts, its errors) is here alone. A second backend would be a
second class with these few methods.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import sqlite_utils

from tracker.errors import TrackerError


CHECK_EVERY = 10_000  # SQLite VM steps between two looks at the clock (more often costs time)


class Connection:
    """A SQLite file in WAL mode, with foreign keys checked."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite_utils.Database(path)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA busy_timeout = 10000")
        self._db.enable_wal()
        # Commits are not flushed to the disk one by one: a killed process still loses
        # nothing committed; a power cut may lose the last few, never the file's integrity.
        self._db.execute("PRAGMA synchronous = NORMAL")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement; outside a transaction, a write is committed at once."""
        return self._db.execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._db.conn.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict[str, Any]]:
        """Rows as dicts, by column name."""
        return self._db.query(sql, params)

    def insert(self, sql: str, params: Sequence[Any]) -> int:
        """Run an INSERT of one row; the row's id."""
        row_id = self.execute(sql, params).lastrowid
        assert row_id is not None  # set by every INSERT
        return row_id

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All the writes inside, or none of them."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """The reads inside see the database at one moment, whatever other processes commit
        meanwhile (inside a transaction already: that one's)."""
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
        """Statements that run longer than this are interrupted (sqlite3.OperationalError
        'interrupted'): a query from a user must not hang the command."""
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
        """Run a schema script and record the version it brings, together or not at all:
        executescript() commits whatever is open first, so the script holds its own transaction."""
        try:
            self._db.conn.executescript(f"BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {schema_version}; COMMIT;")
        except BaseException:
            if self._db.conn.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._db.close()


@contextmanager
def opening(path: Path) -> Iterator[None]:
    """Opening the database and bringing its schema up to date: a file that cannot be used
    is one line for the user, not a traceback."""
    try:
        yield
    except sqlite3.OperationalError as e:
        raise TrackerError(database_problem(path, e)) from None
    except sqlite3.DatabaseError as e:
        raise TrackerError(f"{path}: not a usable policy-tracker database ({e})") from None
    except OSError as e:
        raise TrackerError(f"{path}: cannot open the database ({e.strerror or e})") from None


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
