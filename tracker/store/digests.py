"""E-mail digests: each one as it is sent, and the changes it carried (see ``tracker.digest``)."""

from __future__ import annotations

import json

from tracker.models import Change, utc_now
from tracker.store.bodies import Bodies
from tracker.store.connection import Connection
from tracker.store.history import change_from_row, select_changes


class DigestRepository:
    def __init__(self, db: Connection, bodies: Bodies):
        self.db, self.bodies = db, bodies

    def unsent_changes(self, since: str, until: str) -> list[tuple[str, Change]]:
        """Changes detected in (since, until] that no digest has carried, technical ones aside."""
        rows = select_changes(
            self.db, self.bodies,
            "c.technical = 0 AND c.detected_at > ? AND c.detected_at <= ? "
            "AND NOT EXISTS (SELECT 1 FROM digest_changes d WHERE d.policy = c.policy AND d.to_capture = c.to_capture) "
            "ORDER BY c.policy, c.window_end", [since, until])
        return [(r["policy"], change_from_row(r)) for r in rows]

    def failures(self, since: str, until: str) -> list[dict]:
        """Per policy whose checks failed in (since, until]: how many failed, the last time, and
        the last error's message."""
        return list(self.db.query(
            "SELECT policy, count(*) AS count, max(at) AS last, "
            "(SELECT message FROM run_results r2 WHERE r2.policy = r.policy AND r2.outcome = 'error' "
            " ORDER BY r2.id DESC LIMIT 1) AS message "
            "FROM run_results r WHERE outcome = 'error' AND at > ? AND at <= ? GROUP BY policy ORDER BY policy",
            [since, until]))

    def add(self, digest: dict, claims: list[tuple[str, int]]) -> int:
        """Record a digest about to be sent and the changes it carries, in one transaction."""
        with self.db.transaction():
            digest_id = self.db.insert(
                "INSERT INTO digests (created_at, period_start, period_end, subject, recipients, message, "
                "message_id, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                (utc_now(), digest["period_start"], digest["period_end"], digest["subject"],
                 json.dumps(digest["recipients"]), digest["message"], digest["message_id"]))
            self.db.executemany("INSERT INTO digest_changes (digest_id, policy, to_capture) VALUES (?, ?, ?)",
                                [(digest_id, policy, capture) for policy, capture in claims])
        return digest_id

    def all(self, status: str | None = None) -> list[dict]:
        """The digests recorded (those with ``status`` only, when given), oldest first."""
        sql = "SELECT * FROM digests" + (" WHERE status = ?" if status else "") + " ORDER BY id"
        return list(self.db.query(sql, [status] if status else []))

    def get(self, digest_id: int) -> dict:
        return next(iter(self.db.query("SELECT * FROM digests WHERE id = ?", [digest_id])))

    def attempted(self, digest_id: int, error: str | None) -> None:
        """Record an attempt to send a digest: sent, or the error that kept it pending."""
        now, sent = utc_now(), int(error is None)
        self.db.execute(
            "UPDATE digests SET attempts = attempts + 1, last_attempt_at = ?, last_error = ?, "
            "status = CASE WHEN ? = 1 THEN 'sent' ELSE status END, "
            "sent_at = CASE WHEN ? = 1 THEN ? ELSE sent_at END WHERE id = ?",
            (now, error, sent, sent, now, digest_id))
