"""A policy's history as JSON, for other tools: the schema is documented in docs/export.md.

Everything here reads the store and writes out what the history holds: nothing is computed.
"""

from __future__ import annotations

from dataclasses import asdict

from tracker import history
from tracker.config import PolicyConfig
from tracker.document import Document, Memo, Section
from tracker.history import Comparison, Move
from tracker.models import Version
from tracker.search import PolicyHit
from tracker.store import Store

SCHEMA = "policy-tracker/history/1"


def history_json(store: Store, policy: PolicyConfig) -> dict:
    versions, memo = store.history.versions(policy.name), Memo()
    captures = store.captures.timeline(policy.name)
    return {
        "schema": SCHEMA,
        "policy": {"name": policy.name, "title": policy.display_title, "urls": policy.urls},
        "captures": [_capture(store, c) for c in captures],
        "versions": [_version(v, history.version_document(store, policy, v, memo)) for v in versions],
        "changes": [change_json(c) for c in history.stored_changes(store, policy.name)],
        "moves": [move_json(m) for m in history.moves(captures, store.history.shown_captures(policy.name))],
    }


def _capture(store: Store, capture) -> dict:
    number, reason = store.history.version_of(capture.id)
    return {
        "id": capture.id,  # what the reports cite it by, and `tracker capture ID` reads
        "captured_at": capture.captured_at, "url": capture.url, "source": capture.source,
        "archive_url": capture.archive_url, "status": capture.status, "sha256": capture.sha256,
        "version": number, "rejected": reason,
        # where the page led: a move of the policy is announced by a redirect
        "redirects": capture.redirects, "flags": capture.flags,
    }


def move_json(move: Move) -> dict:
    """A move, with the capture that shows it."""
    evidence = move.evidence
    return {"at": move.at, "from_url": move.from_url, "to_url": move.to_url,
            "redirect": asdict(move.redirect) if move.redirect else None,
            "evidence": {"id": evidence.id, "captured_at": evidence.captured_at, "url": evidence.url, "source": evidence.source,
                         "archive_url": evidence.archive_url, "status": evidence.status,
                         "sha256": evidence.sha256}}


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
            "word_count": version.word_count, "language": version.language}


def _sections(sections: list[Section], path: tuple[str, ...] = ()) -> list[dict]:
    out = []
    for section in sections:
        out.append({"heading": section.heading, "number": section.number, "level": section.level,
                    "path": list(path), "text": section.text})
        out.extend(_sections(section.children, (*path, section.heading)))
    return out


def change_json(change: Comparison) -> dict:
    """A change; the sections it left untouched are only counted (their text is in the versions)."""
    diff = change.diff
    languages = {"languages": {"from": diff.languages[0], "to": diff.languages[1]}} if diff and diff.languages else {}
    return {
        "from_version": change.from_version, "to_version": change.to_version,
        "window": asdict(change.window) if change.window else None,
        "kind": change.kind, "magnitude": change.magnitude, "reverts_to": change.reverts_to,
        "technical": change.technical, "detected_at": change.detected_at,
        "words_added": diff.words_added if diff else None, "words_removed": diff.words_removed if diff else None,
        "sections": [s.to_dict() for s in change.touched],
        "unchanged_sections": len(change.untouched),
        "facts": [f.to_dict() for f in change.facts],
        "facts_unchanged": [f.to_dict() for f in change.facts_unchanged],
        **languages,
    }


def diff_json(policy: PolicyConfig, old: Version, new: Version, change: Comparison) -> dict:
    """What `tracker diff --json` prints: the change, with the policy and its two versions."""
    return {**_compared(policy, old, new), **change_json(change)}


def _compared(policy: PolicyConfig, old: Version, new: Version) -> dict:
    """What `tracker diff --json` says first, with --stat or not: the policy and the two versions."""
    return {"policy": policy.name, "from": version_summary(old), "to": version_summary(new)}


def stat_json(policy: PolicyConfig, old: Version, new: Version, change: Comparison) -> dict:
    """What `tracker diff --stat --json` prints: each section touched with the words it
    gained and lost, without its text."""
    sections = [{"status": s.status, "heading": s.heading, "old_heading": s.old_heading, "new_heading": s.new_heading,
                 "moved": s.moved, "words_added": s.words_added, "words_removed": s.words_removed}
                for s in change.touched]
    return {**_compared(policy, old, new), "from_version": change.from_version, "to_version": change.to_version,
            "kind": change.kind, "magnitude": change.magnitude, "sections": sections,
            "words_added": sum(s["words_added"] for s in sections),
            "words_removed": sum(s["words_removed"] for s in sections),
            "unchanged_sections": len(change.untouched)}


def search_json(query: str, hits: list[PolicyHit]) -> dict:
    """`tracker search --json`: the hits as the Python API returns them; each snippet also
    with its matches in [brackets], as a pipe shows it."""
    policies = []
    for hit in hits:
        data = asdict(hit) | {"present": hit.present}
        for section, out in zip(hit.sections, data["sections"]):
            out["snippet"]["marked"] = section.snippet.marked()
        policies.append(data)
    return {"query": query, "policies": policies}
