"""What the tool did and for which policies: the policies configured, each run of check or
backfill with every policy's result in it, and the daemon's schedule."""

from __future__ import annotations

import json
from typing import Any, Protocol, Sequence

from tracker.models import utc_now
from tracker.store.connection import Connection


class PolicyRecord(Protocol):
    """What the store records of a configured policy (a ``config.PolicyConfig`` is one)."""

    name: str
    urls: list[str]

    @property
    def display_title(self) -> str: ...


class RunRepository:
    def __init__(self, db: Connection):
        self.db = db

    def sync_policies(self, policies: Sequence[PolicyRecord]) -> None:
        """Record the configured policies; policies dropped from the config keep their data."""
        with self.db.transaction():
            for p in policies:
                self.db.execute(
                    "INSERT INTO policies (name, title, urls, added_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT(name) DO UPDATE SET title = excluded.title, urls = excluded.urls",
                    (p.name, p.display_title, json.dumps(p.urls), utc_now()),
                )

    # -- runs --------------------------------------------------------------------------------

    def start(self, command: str) -> int:
        return self.db.insert("INSERT INTO runs (command, started_at) VALUES (?, ?)", (command, utc_now()))

    def finish(self, run_id: int, outcome: str, counts: dict[str, int], error: str | None = None) -> None:
        self.db.execute(
            "UPDATE runs SET ended_at = ?, outcome = ?, counts = ?, error = ? WHERE id = ?",
            (utc_now(), outcome, json.dumps(counts), error, run_id))

    def add_result(self, run_id: int, policy: str, outcome: str, capture_id: int | None = None,
                   version: int | None = None, message: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO run_results (run_id, policy, at, outcome, capture_id, version, message) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (run_id, policy, utc_now(), outcome, capture_id, version, message))

    def recent(self, limit: int = 20) -> list[dict[str, Any]]:
        """The last runs, newest first."""
        rows = self.db.query("SELECT * FROM runs ORDER BY id DESC LIMIT ?", [limit])
        return [{**r, "counts": json.loads(r["counts"] or "{}")} for r in rows]

    def failures_in_a_row(self, policy: str) -> int:
        """Checks of a policy that failed since its last good one."""
        outcomes = [r[0] for r in self.db.execute(
            "SELECT r.outcome FROM run_results r JOIN runs ON runs.id = r.run_id WHERE r.policy = ? "
            "AND runs.command = 'check' ORDER BY r.id DESC LIMIT 1000", (policy,))]
        return next((i for i, o in enumerate(outcomes) if o != "error"), len(outcomes))

    def status(self, policy: str) -> dict[str, Any]:
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

    # -- the daemon's schedule -----------------------------------------------------------------

    def job_state(self, job: str) -> dict:
        """A scheduled job's state; a job seen for the first time is recorded as seen now."""
        self.db.execute("INSERT INTO schedule (job, first_seen) VALUES (?, ?) ON CONFLICT DO NOTHING", (job, utc_now()))
        return next(iter(self.db.query("SELECT * FROM schedule WHERE job = ?", [job])))

    def job_ran(self, job: str, at: str, outcome: str, next_run: str | None) -> None:
        self.db.execute("UPDATE schedule SET last_run = ?, last_outcome = ?, next_run = ? WHERE job = ?",
                        (at, outcome, next_run, job))

    def set_next_run(self, job: str, next_run: str | None) -> None:
        self.db.execute("UPDATE schedule SET next_run = ? WHERE job = ?", (next_run, job))

    def schedule(self) -> list[dict]:
        return list(self.db.query("SELECT * FROM schedule ORDER BY job"))
