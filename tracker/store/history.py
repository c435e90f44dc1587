"""The history derived from the captures: versions, changes (with their details), and which
version each capture shows. All of it can be derived again at any time (``history.rebuild``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tracker.models import Capture, Change, Version
from tracker.store.bodies import Bodies, PackedJson
from tracker.store.connection import Connection
from tracker.store.sections import Passage, put_sections, sections_replaced, store_texts

# Change details are large JSON, written by the hundred in a rebuild: plain trees (no cycles),
# so the encoder need not look for any. They keep the text they always had (reports
# fingerprint it).
_DETAILS_JSON = json.JSONEncoder(check_circular=False)

_VERSION_COLUMNS = ("policy, number, key, sha256, first_capture, last_capture, first_seen, last_seen, "
                    "captures, declared_date, word_count, language")


@dataclass
class Timeline:
    """A policy's history as a line: its first and last capture showing a version, and its
    changes between them (without their details)."""

    first_seen: str
    last_seen: str
    changes: list[Change]


class HistoryRepository:
    def __init__(self, db: Connection, bodies: Bodies):
        self.db, self.bodies = db, bodies

    # -- writing -----------------------------------------------------------------------------

    def replace(self, policy: str, versions: list[Version], changes: list[Change],
                assignments: dict[int, tuple[int | None, str | None]], derived_with: str,
                sections: dict[int, list[Passage]]) -> None:
        """Swap in a freshly derived history for one policy, all at once; ``sections``: each
        version's, by number, for the search index."""
        details = [self._packed_details(c) for c in changes]  # before the write (see Bodies.pack_json)
        store_texts(self.db, (passage for v in versions for passage in sections.get(v.number, [])))
        with self.db.transaction():
            for table in ("changes", "versions", "capture_versions"):
                self.db.execute(f"DELETE FROM {table} WHERE policy = ?", (policy,))
            with sections_replaced(self.db, policy):
                for v in versions:
                    self._put_version(v)
                    put_sections(self.db, policy, v.number, sections.get(v.number, []))
            for c, text in zip(changes, details):
                self._insert_change(c, text)
            self.db.executemany(
                "INSERT INTO capture_versions (capture_id, policy, version, reason) VALUES (?, ?, ?, ?)",
                [(cid, policy, number, reason) for cid, (number, reason) in assignments.items()])
            self.db.execute("UPDATE policies SET derived_with = ? WHERE name = ?", (derived_with, policy))
            self.db.execute("DELETE FROM details_json WHERE NOT EXISTS "
                            "(SELECT 1 FROM changes WHERE details = details_json.sha256)")

    def extend(self, policy: str, capture_id: int, number: int | None, reason: str | None,
               version: Version | None, change: Change | None, sections: list[Passage] | None = None) -> None:
        """Place one more capture in a stored history: its version (new or grown), and the
        change it ends, if any; all at once. ``sections``: a new version's, for the search index."""
        details = self._packed_details(change) if change is not None else None
        with self.db.transaction():
            if version is not None:
                self._put_version(version)
                if sections is not None:
                    put_sections(self.db, policy, version.number, sections)
            if change is not None:
                self._insert_change(change, details)
            self.db.execute("INSERT INTO capture_versions (capture_id, policy, version, reason) VALUES (?, ?, ?, ?)",
                            (capture_id, policy, number, reason))

    def _put_version(self, v: Version) -> None:
        self.db.execute(
            f"INSERT INTO versions ({_VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(policy, number) DO UPDATE SET last_capture = excluded.last_capture, "
            "last_seen = excluded.last_seen, captures = excluded.captures",
            (v.policy, v.number, v.key, v.sha256, v.first_capture, v.last_capture,
             v.first_seen, v.last_seen, v.captures, v.declared_date, v.word_count, v.language))

    def _packed_details(self, change: Change) -> PackedJson | None:
        if change.details is None:
            return None
        return pack_details(self.db, self.bodies, _DETAILS_JSON.encode(change.details), change.to_capture)

    def _insert_change(self, c: Change, details: PackedJson | None) -> None:
        self.db.execute(
            "INSERT INTO changes (policy, from_version, to_version, window_start, window_end, "
            "from_capture, to_capture, kind, magnitude, reverts_to, technical, detected_at, details) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (c.policy, c.from_version, c.to_version, c.window_start, c.window_end, c.from_capture,
             c.to_capture, c.kind, c.magnitude, c.reverts_to, int(c.technical), c.detected_at,
             self.bodies.put_packed(details) if details is not None else None))

    # -- how it was derived, and where a new capture goes -------------------------------------

    def derived_with(self, policy: str) -> str | None:
        row = self.db.execute("SELECT derived_with FROM policies WHERE name = ?", (policy,)).fetchone()
        return row[0] if row else None

    def is_newest(self, capture: Capture, latest: str) -> bool:
        """Whether a capture not placed yet comes after every other capture of its policy
        (those dated up to ``latest``) in timeline order."""
        if self.db.execute("SELECT 1 FROM capture_versions WHERE capture_id = ?", (capture.id,)).fetchone():
            return False
        return self.db.execute(
            "SELECT 1 FROM captures WHERE policy = ? AND id != ? AND captured_at <= ? "
            "AND (captured_at > ? OR (captured_at = ? AND id > ?)) LIMIT 1",
            (capture.policy, capture.id, latest, capture.captured_at, capture.captured_at, capture.id),
        ).fetchone() is None

    def shown_elsewhere(self, capture: Capture, key: str, extractor: str) -> bool:
        """Whether another capture of the policy has this version key (read under ``extractor``;
        each capture's document is cached under the extractor, its format and its charset:
        see ``history.cache_key``)."""
        query: str
        args: tuple[Any, ...]
        if key.startswith("sha256:"):
            query, args = "SELECT 1 FROM captures WHERE policy = ? AND id != ? AND sha256 = ? LIMIT 1", \
                (capture.policy, capture.id, key[7:])
        else:
            query = ("SELECT 1 FROM captures c JOIN documents d ON d.sha256 = c.sha256 "
                     "AND d.extractor = ? || '|' || c.format || '|' || coalesce(c.charset, '') "
                     "WHERE c.policy = ? AND c.id != ? AND d.text_sha256 = ? LIMIT 1")
            args = (extractor, capture.policy, capture.id, key)
        return self.db.execute(query, args).fetchone() is not None

    def current_version(self, policy: str) -> Version | None:
        """The version of the policy's last capture that shows one."""
        rows = list(self.db.query(
            f"SELECT {_VERSION_COLUMNS} FROM versions "
            "WHERE policy = ? ORDER BY last_seen DESC, last_capture DESC LIMIT 1", [policy]))
        return Version(**rows[0]) if rows else None

    def version_count(self, policy: str) -> int:
        return self.db.execute("SELECT count(*) FROM versions WHERE policy = ?", (policy,)).fetchone()[0]

    def version_with_key(self, policy: str, key: str) -> Version | None:
        rows = list(self.db.query(f"SELECT {_VERSION_COLUMNS} FROM versions WHERE policy = ? AND key = ?",
                                  [policy, key]))
        return Version(**rows[0]) if rows else None

    def change_between(self, policy: str, from_version: int, to_version: int) -> Change | None:
        """A stored change between these two versions (a page flipping between two texts)."""
        rows = select_changes(self.db, self.bodies, "c.policy = ? AND c.from_version = ? AND c.to_version = ? "
                              "ORDER BY c.window_end, c.id LIMIT 1", [policy, from_version, to_version])
        return change_from_row(rows[0]) if rows else None

    def assigned_captures(self, policy: str) -> set[int]:
        """The captures the stored history has already placed (in a version or not)."""
        return {row[0] for row in self.db.execute(
            "SELECT capture_id FROM capture_versions WHERE policy = ?", (policy,))}

    # -- reading -------------------------------------------------------------------------------

    def shown_captures(self, policy: str) -> set[int]:
        """The captures that show a version of the policy (not those set aside)."""
        return {row[0] for row in self.db.execute(
            "SELECT capture_id FROM capture_versions WHERE policy = ? AND version IS NOT NULL", (policy,))}

    def versions(self, policy: str) -> list[Version]:
        rows = self.db.query(f"SELECT {_VERSION_COLUMNS} FROM versions WHERE policy = ? ORDER BY number", [policy])
        return [Version(**r) for r in rows]

    def changes(self, policy: str) -> list[Change]:
        return [change_from_row(r) for r in self.change_rows(policy)]

    def timelines(self, policies: list[str]) -> dict[str, Timeline]:
        """Each policy's first and last capture showing a version, and its changes without
        their details, oldest first: what a search needs of a history, for all of them in two
        queries."""
        if not policies:
            return {}
        marks = ", ".join("?" * len(policies))
        out = {policy: Timeline(first, last, []) for policy, first, last in self.db.execute(
            f"SELECT policy, min(first_seen), max(last_seen) FROM versions WHERE policy IN ({marks}) "
            "GROUP BY policy", policies)}
        for policy, old, new, start, end, kind in self.db.execute(
                "SELECT policy, from_version, to_version, window_start, window_end, kind FROM changes "
                f"WHERE policy IN ({marks}) ORDER BY policy, window_end, id", policies):
            out[policy].changes.append(Change(policy, old, new, start, end, kind=kind))
        return out

    def change_rows(self, policy: str) -> list[dict]:
        """The changes as stored, their details still JSON text: for reports, which only parse
        the details of the pages they render."""
        return select_changes(self.db, self.bodies, "c.policy = ? ORDER BY c.window_end, c.id", [policy])

    def version_at(self, policy: str, moment: str) -> int | None:
        """The version the policy showed at ``moment``: that of its last capture up to then."""
        row = self.db.execute(
            "SELECT cv.version FROM capture_versions cv JOIN captures c ON c.id = cv.capture_id "
            "WHERE cv.policy = ? AND cv.version IS NOT NULL AND c.captured_at <= ? "
            "ORDER BY c.captured_at DESC, c.id DESC LIMIT 1", (policy, moment)).fetchone()
        return row[0] if row else None

    def version_of(self, capture_id: int) -> tuple[int | None, str | None]:
        row = self.db.execute(
            "SELECT version, reason FROM capture_versions WHERE capture_id = ?", (capture_id,)).fetchone()
        return (row[0], row[1]) if row else (None, None)


def select_changes(db: Connection, bodies: Bodies, where: str, args: list) -> list[dict]:
    """Rows of `changes` with their details as the JSON text they were stored as."""
    rows = []
    for r in db.query(
            "SELECT c.policy, c.from_version, c.to_version, c.window_start, c.window_end, c.from_capture, "
            "c.to_capture, c.kind, c.magnitude, c.reverts_to, c.technical, c.detected_at, "
            "j.body AS details_body, j.data AS details_data "
            f"FROM changes c LEFT JOIN details_json j ON j.sha256 = c.details WHERE {where}", args):
        body, data = r.pop("details_body"), r.pop("details_data")
        r["details"] = bodies.unpack(data, body).decode() if data is not None else None
        rows.append(r)
    return rows


def change_from_row(r: dict[str, Any]) -> Change:
    """A stored change (a row of `changes`, details as JSON text) as a Change."""
    return Change(**{k: v for k, v in r.items() if k != "id"} | {
        "technical": bool(r["technical"]), "details": json.loads(r["details"]) if r["details"] else None})


def pack_details(db: Connection, bodies: Bodies, text: str, to_capture: int | None) -> PackedJson:
    """A change's details, to store once per content, compressed against the body of the
    capture the change leads to (what the details quote, mostly)."""
    row = db.execute("SELECT sha256 FROM captures WHERE id = ?", (to_capture,)).fetchone()
    return bodies.pack_json("details_json", text.encode(), row[0] if row else None)
