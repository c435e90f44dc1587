"""The snapshot store: every capture, untouched, and what is derived, in one database: a
SQLite file (the default) or a PostgreSQL database that several machines share.

Captures and bodies are evidence and are never deleted in normal operation. Versions,
capture assignments and changes are derived from them and can be rebuilt at any time.
Every multi-row write happens in one transaction, so a killed process leaves either all of a
write or none of it.

A ``Store`` is a few repositories over one connection, one per concern:

    store.captures   captures, their bodies, and the documents read from them  (captures.py)
    store.history    versions, changes and their details, what each capture shows  (history.py)
    store.digests    e-mail digests and the changes they carried  (digests.py)
    store.runs       the policies, runs and their results, the daemon's schedule  (runs.py)
    store.sections   every version's sections, indexed for full-text search  (sections.py)
    store.limits     the archives' politeness limits, shared by every process  (limits.py)

Beneath them: ``connection.Connection``, the only code that talks to the database itself
(``SQLiteConnection``, ``postgres.PostgresConnection``);
``bodies.Bodies``, the compressed bodies that captures and history share; ``schema``, the
tables and their migrations.
"""

from __future__ import annotations

from pathlib import Path

from tracker.store.bodies import Bodies
from tracker.store.captures import CaptureRepository
from tracker.store.connection import (connect, database_errors, database_problem, describe, is_url, opening,
                                     postgres_backend)
from tracker.store.digests import DigestRepository
from tracker.store.history import HistoryRepository, change_from_row
from tracker.store.limits import LimitRepository
from tracker.store.runs import RunRepository
from tracker.store.sections import PostgresSectionRepository, SectionRepository
from tracker.store.schema import migrate

__all__ = ["Store", "database_errors", "database_problem", "describe", "is_url", "postgres_backend",
           "change_from_row"]


class Store:
    """Opens the database, brings its schema up to date, and holds the repositories.
    ``location``: a SQLite file's path, or a PostgreSQL URL (postgresql://...)."""

    def __init__(self, location: Path | str):
        self.location = location if is_url(location) else Path(location)
        with opening(self.location):
            self.db = connect(self.location)
            bodies = Bodies(self.db)
            self.captures = CaptureRepository(self.db, bodies)
            self.history = HistoryRepository(self.db, bodies)
            self.digests = DigestRepository(self.db, bodies)
            self.runs = RunRepository(self.db)
            self.sections = (PostgresSectionRepository if self.db.dialect == "postgresql"
                             else SectionRepository)(self.db)
            self.limits = LimitRepository(self.db)
            migrate(self.db, bodies)

    @property
    def name(self) -> str:
        """How messages name the store: its file, or its URL without the password."""
        return self.db.name

    def close(self) -> None:
        self.db.close()
