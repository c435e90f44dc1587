"""Derive a policy's versions and changes from its captures.

Captures are walked in capture-time order, whatever order they were stored in, so a backfill
that adds old captures after newer ones gives the same history as captures that came in order.
A capture showing the current text extends the current version; a different text starts a
change; a text seen before is a change back to that earlier version (a revert).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tracker.models import Capture, Change, Version
from tracker.store import Store


@dataclass
class History:
    versions: list[Version] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    # capture id -> (version number, None) or (None, reason it is not a version)
    assignments: dict[int, tuple[int | None, str | None]] = field(default_factory=dict)


def version_key(capture: Capture) -> tuple[str | None, str | None]:
    """What makes two captures the same version: (key, None), or (None, why it is no version).

    THE SWAP POINT: until policy documents are extracted, a version is a distinct body.
    Document extraction replaces the key with the hash of the normalised policy text.
    """
    if not capture.ok:
        return None, f"HTTP {capture.status}"
    if capture.sha256 is None:
        return None, "no body"
    return capture.sha256, None


def derive(captures: list[Capture]) -> History:
    history = History()
    by_key: dict[str, Version] = {}
    current: Version | None = None
    for capture in sorted(captures, key=lambda c: (c.captured_at, c.id or 0)):
        key, reason = version_key(capture)
        if key is None:
            history.assignments[capture.id] = (None, reason)
            continue
        version = by_key.get(key)
        if version is None:
            version = Version(
                policy=capture.policy, number=len(history.versions) + 1, key=key,
                sha256=capture.sha256, first_capture=capture.id, last_capture=capture.id,
                first_seen=capture.captured_at, last_seen=capture.captured_at, captures=0)
            history.versions.append(version)
            by_key[key] = version
        if current is not None and version is not current:
            history.changes.append(Change(
                policy=capture.policy, from_version=current.number, to_version=version.number,
                window_start=current.last_seen, window_end=capture.captured_at,
                reverts_to=version.number if version.captures else None))
        version.captures += 1
        version.last_capture, version.last_seen = capture.id, capture.captured_at
        history.assignments[capture.id] = (version.number, None)
        current = version
    return history


def rebuild(store: Store, policy: str) -> History:
    """Re-derive one policy's history from all its stored captures and store it."""
    history = derive(store.captures(policy))
    store.replace_history(policy, history.versions, history.changes, history.assignments)
    return history
