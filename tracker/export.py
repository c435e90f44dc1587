"""A policy's history as JSON, for other tools: the schema is documented in the README.

Everything here reads the store; nothing is computed that the history does not already hold,
except the diff of two versions that are not consecutive.
"""

from __future__ import annotations

from tracker import history
from tracker.config import PolicyConfig
from tracker.diff import diff_documents
from tracker.document import Document, Memo, Section
from tracker.errors import TrackerError
from tracker.models import Change, Version
from tracker.store import Store

SCHEMA = "policy-tracker/history/1"


def history_json(store: Store, policy: PolicyConfig) -> dict:
    versions, memo = store.history.versions(policy.name), Memo()
    return {
        "schema": SCHEMA,
        "policy": {"name": policy.name, "title": policy.display_title, "urls": policy.urls},
        "captures": [_capture(store, c) for c in store.captures.timeline(policy.name)],
        "versions": [_version(v, history.version_document(store, policy, v, memo)) for v in versions],
        "changes": [change_json(c) for c in store.history.changes(policy.name)],
    }


def _capture(store: Store, capture) -> dict:
    number, reason = store.history.version_of(capture.id)
    return {
        "captured_at": capture.captured_at, "url": capture.url, "source": capture.source,
        "archive_url": capture.archive_url, "status": capture.status, "sha256": capture.sha256,
        "version": number, "rejected": reason,
    }


def _version(version: Version, document: Document | None) -> dict:
    return {
        **version_summary(version),
        "text_sha256": version.key if document is not None else None,
        "body_sha256": version.sha256,
        "title": document.title if document else None,
        "sections": _sections(document.sections) if document else [],
    }


def version_summary(version: Version) -> dict:
    return {"number": version.number, "first_seen": version.first_seen, "last_seen": version.last_seen,
            "captures": version.captures, "declared_date": version.declared_date,
            "word_count": version.word_count}


def _sections(sections: list[Section], path: tuple[str, ...] = ()) -> list[dict]:
    out = []
    for section in sections:
        out.append({"heading": section.heading, "number": section.number, "level": section.level,
                    "path": list(path), "text": section.text})
        out.extend(_sections(section.children, (*path, section.heading)))
    return out


def change_json(change: Change) -> dict:
    details = change.details or {}
    return {
        "from_version": change.from_version, "to_version": change.to_version,
        "window": {"start": change.window_start, "end": change.window_end},
        "kind": change.kind, "magnitude": change.magnitude, "reverts_to": change.reverts_to,
        "technical": change.technical, "detected_at": change.detected_at,
        "words_added": details.get("words_added"), "words_removed": details.get("words_removed"),
        "sections": [s for s in details.get("sections", []) if s["status"] != "unchanged"],
        "unchanged_sections": sum(s["status"] == "unchanged" for s in details.get("sections", [])),
        "facts": details.get("facts", []),
    }


def compare_versions(store: Store, policy: PolicyConfig, old: Version, new: Version) -> dict:
    """A change between any two versions: the stored one when they are consecutive."""
    stored = next((c for c in store.history.changes(policy.name)
                   if c.from_version == old.number and c.to_version == new.number), None)
    if stored is not None and stored.details is not None:
        return change_json(stored)
    memo = Memo()
    old_doc = history.version_document(store, policy, old, memo)
    new_doc = history.version_document(store, policy, new, memo)
    if old_doc is None or new_doc is None:
        raise TrackerError(f"{policy.name}: version {old.number if old_doc is None else new.number} "
                        "is not a text this tool reads yet (PDF or other format): no section diff")
    result = diff_documents(old_doc, new_doc, memo).to_dict()
    return {
        "from_version": old.number, "to_version": new.number,
        "window": None,  # the versions are not consecutive: no single window
        "kind": result["kind"], "magnitude": result["magnitude"],
        "reverts_to": None, "technical": False, "detected_at": None,
        "words_added": result["words_added"], "words_removed": result["words_removed"],
        "sections": [s for s in result["sections"] if s["status"] != "unchanged"],
        "unchanged_sections": sum(s["status"] == "unchanged" for s in result["sections"]),
        "facts": result["facts"],
    }
