"""The archives' politeness limits, kept where every process using the store sees them: when
each host may next be asked each kind of request (index, capture, save), the pause its last
429 asked for, and its 429s in a row. Workers on a cluster, a daemon and a command run by hand
reserve their moments here, so together they ask no more of an archive than one process would.

A reservation is one short transaction (read, compute, write); the caller waits outside it.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

from tracker.store.connection import Connection


class Slot(NamedTuple):
    """A reserved moment, and the host's state when it was reserved."""

    at: float  # when the request may start (seconds since 1970)
    paused_until: float
    refusals: int  # 429s in a row


class LimitRepository:
    def __init__(self, db: Connection):
        self.db = db

    def reserve(self, host: str, kind: str, interval: float, now: float) -> Slot:
        """The first moment from ``now`` that is ``interval`` after the last request of this
        kind reserved, and not while the host is paused; the next one comes ``interval`` after it."""
        with self.db.transaction():
            paused_until, refusals = self.state(host)
            row = self.db.execute("SELECT next_at FROM archive_slots WHERE host = ? AND kind = ?",
                                  (host, kind)).fetchone()
            at = max(now, paused_until, row[0] if row else now)
            self.db.execute("INSERT INTO archive_slots (host, kind, next_at) VALUES (?, ?, ?) "
                            "ON CONFLICT (host, kind) DO UPDATE SET next_at = excluded.next_at",
                            (host, kind, at + interval))
        return Slot(at, paused_until, refusals)

    def state(self, host: str) -> tuple[float, int]:
        """(paused until, 429s in a row) of a host; (0, 0) for one never refused."""
        row = self.db.execute("SELECT paused_until, refusals FROM archive_hosts WHERE host = ?", (host,)).fetchone()
        return (row[0], row[1]) if row else (0.0, 0)

    def refused(self, host: str, now: float, pause: Callable[[int], float]) -> int:
        """A 429 from the host: no request of any kind until ``pause(429s in a row)`` seconds
        from ``now``; returns the 429s in a row, this one included."""
        with self.db.transaction():
            paused_until, refusals = self.state(host)
            refusals += 1
            self.db.execute("INSERT INTO archive_hosts (host, paused_until, refusals) VALUES (?, ?, ?) "
                            "ON CONFLICT (host) DO UPDATE SET paused_until = excluded.paused_until, "
                            "refusals = excluded.refusals",
                            (host, max(paused_until, now + pause(refusals)), refusals))
        return refusals

    def answered(self, host: str) -> None:
        """The host answered: its 429s are no longer in a row. (Read first: a write would wait
        for every other process's write, once per request.)"""
        if self.state(host)[1]:
            self.db.execute("UPDATE archive_hosts SET refusals = 0 WHERE host = ?", (host,))
