"""Captures, their bodies, and the documents read from those bodies.

Captures and bodies are evidence and are never deleted in normal operation; a cached
document can always be read again from its body.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

from tracker.document import Document, document_from_dict, document_to_dict
from tracker.models import Capture, NewCapture
from tracker.store.bodies import Bodies
from tracker.store.connection import Connection

# Documents are the store's largest JSON, written by the hundred in a rebuild; they are plain
# trees made here (no cycles), so the encoder need not look for any. They are read by the store
# alone, and their words unescaped are found in the body they are compressed against.
DOCUMENT_JSON = json.JSONEncoder(check_circular=False, ensure_ascii=False)


class CaptureRepository:
    def __init__(self, db: Connection, bodies: Bodies):
        self.db, self.bodies = db, bodies

    def add(self, capture: NewCapture, body: bytes | None) -> Capture:
        """Store a capture (and its body, once per content); returns it saved. Storing the
        same capture again leaves the store as it was, and returns it with the id it was
        stored under before."""
        if body is not None:
            sha256 = hashlib.sha256(body).hexdigest()
            capture = replace(capture, sha256=sha256, size=len(body))
        with self.db.transaction():
            # stored before: its identity finds it. Looked up first, as PostgreSQL spends an id
            # on an insert its conflict clause then drops: the ids would differ from SQLite's.
            capture_id = self._id_of(capture)
            if capture_id is None:
                if body is not None and not self.bodies.has(sha256):
                    self.bodies.put(sha256, body, self._delta_base(capture.policy))
                row = _capture_row(capture)
                capture_id = self.db.insert(
                    f"INSERT INTO captures ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values()))
        return capture.saved_as(capture_id)

    def _id_of(self, capture: NewCapture) -> int | None:
        row = self.db.execute(
            "SELECT id FROM captures WHERE policy = ? AND source = ? AND url = ? AND captured_at = ? AND archive_url = ?",
            (capture.policy, capture.source, capture.url, capture.captured_at, capture.archive_url or "")).fetchone()
        return row[0] if row else None

    def _delta_base(self, policy: str) -> tuple[str, int] | None:
        """(sha256, depth) of the body of the policy's last successful capture stored:
        consecutive captures of a page are nearly identical, and an error page is not."""
        row = self.db.execute(
            "SELECT b.sha256, b.depth FROM captures c JOIN bodies b ON b.sha256 = c.sha256 "
            "WHERE c.policy = ? AND c.status BETWEEN 200 AND 299 ORDER BY c.id DESC LIMIT 1",
            (policy,)).fetchone()
        return (row[0], row[1]) if row else None

    def body(self, sha256: str) -> bytes:
        return self.bodies.get(sha256)

    def get(self, capture_id: int) -> Capture:
        rows = list(self.db.query("SELECT * FROM captures WHERE id = ?", [capture_id]))
        if not rows:
            raise KeyError(capture_id)
        return _capture_from_row(rows[0])

    def timeline(self, policy: str) -> list[Capture]:
        """A policy's captures in timeline order (capture time, then insertion)."""
        rows = self.db.query("SELECT * FROM captures WHERE policy = ? ORDER BY captured_at, id", [policy])
        return [_capture_from_row(r) for r in rows]

    def archive_urls(self, policy: str) -> set[str]:
        """The archived captures of a policy already stored: a backfill does not fetch them again."""
        return {r[0] for r in self.db.execute(
            "SELECT archive_url FROM captures WHERE policy = ? AND archive_url != ''", (policy,))}

    def with_digest(self, digest: str) -> Capture | None:
        """A stored capture whose archive listed this content digest, with its body."""
        rows = list(self.db.query("SELECT * FROM captures WHERE digest = ? AND sha256 IS NOT NULL LIMIT 1", [digest]))
        return _capture_from_row(rows[0]) if rows else None

    def last_live(self, policy: str, url: str) -> Capture | None:
        """The newest successful live capture of ``url``: its validators allow a conditional GET."""
        rows = list(self.db.query(
            "SELECT * FROM captures WHERE policy = ? AND source = 'live' AND url = ? "
            "AND status = 200 AND sha256 IS NOT NULL ORDER BY captured_at DESC, id DESC LIMIT 1",
            [policy, url]))
        return _capture_from_row(rows[0]) if rows else None

    def last_archived_at(self, policy: str) -> str | None:
        """When the newest archived capture of a policy was taken: an archive refresh starts there."""
        return self.db.execute("SELECT max(captured_at) FROM captures WHERE policy = ? AND source != 'live'",
                               (policy,)).fetchone()[0]

    def record_save(self, capture_id: int, memento_url: str | None, error: str | None) -> None:
        self.db.execute("UPDATE captures SET saved_url = ?, save_error = ? WHERE id = ?",
                        (memento_url, error, capture_id))

    # -- documents, cached by body and by how it was read (see history.cache_key) -------------

    def cached_document(self, sha256: str, extractor: str) -> tuple[Document | None, str | None] | None:
        """A stored extraction of a body: (document, None) or (None, reason); None if absent."""
        row = self.db.execute(
            "SELECT j.body, j.data, d.reason, d.text_sha256, d.word_count FROM documents d "
            "LEFT JOIN document_json j ON j.sha256 = d.document WHERE d.sha256 = ? AND d.extractor = ?",
            (sha256, extractor)).fetchone()
        if row is None:
            return None
        if row[1] is None:
            return None, row[2]
        document = document_from_dict(json.loads(self.bodies.unpack(row[1], row[0]).decode("utf-8", "surrogatepass")))
        # stored with it: no need to normalise and count the text again
        document.__dict__["text_hash"], document.__dict__["word_count"] = row[3], row[4]
        return document, row[2]

    def save_documents(self, extractor: str, documents: dict[str, tuple[Document | None, str | None]]) -> None:
        """Cache extractions: body sha256 -> (document, None) or (None, reason).

        Bodies whose documents are equal (a page whose markup alone changed) share one JSON."""
        packed = {sha256: self.bodies.pack_json("document_json", DOCUMENT_JSON.encode(document_to_dict(document))
                                                .encode("utf-8", "surrogatepass"), sha256)
                  for sha256, (document, _) in documents.items() if document is not None}
        with self.db.transaction():
            rows = []
            for sha256, (document, reason) in documents.items():
                json_sha256 = self.bodies.put_packed(packed[sha256]) if document is not None else None
                rows.append((sha256, extractor, document.text_hash if document else None,
                             document.word_count if document else 0, document.language if document else None,
                             reason, json_sha256))
            self.db.executemany(
                "INSERT INTO documents (sha256, extractor, text_sha256, word_count, language, reason, document) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(sha256, extractor) DO UPDATE SET "
                "text_sha256 = excluded.text_sha256, word_count = excluded.word_count, "
                "language = excluded.language, reason = excluded.reason, document = excluded.document", rows)

    def language_of(self, sha256: str, extractor: str) -> str | None:
        row = self.db.execute("SELECT language FROM documents WHERE sha256 = ? AND extractor = ?",
                              (sha256, extractor)).fetchone()
        return row[0] if row else None


def _capture_row(c: NewCapture) -> dict[str, Any]:
    return {
        "policy": c.policy, "url": c.url, "captured_at": c.captured_at, "source": c.source,
        "archive_url": c.archive_url or "", "final_url": c.final_url, "status": c.status,
        "headers": json.dumps(c.headers, sort_keys=True), "content_type": c.content_type,
        "charset": c.charset, "format": c.format, "sha256": c.sha256, "size": c.size,
        "redirects": json.dumps(c.redirects), "flags": json.dumps(c.flags), "fetched_at": c.fetched_at,
        "digest": c.digest,
    }


def _capture_from_row(r: dict[str, Any]) -> Capture:
    return Capture(
        id=r["id"], policy=r["policy"], url=r["url"], captured_at=r["captured_at"],
        source=r["source"], archive_url=r["archive_url"] or None, final_url=r["final_url"],
        status=r["status"], headers=json.loads(r["headers"]), content_type=r["content_type"],
        charset=r["charset"], format=r["format"], sha256=r["sha256"], size=r["size"],
        redirects=json.loads(r["redirects"]), flags=json.loads(r["flags"]), fetched_at=r["fetched_at"],
        digest=r["digest"], saved_url=r["saved_url"], save_error=r["save_error"],
    )
