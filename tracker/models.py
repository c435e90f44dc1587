"""The things that flow through the pipeline: captures in, versions and changes out."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone


def utc_now() -> str:
    return iso(datetime.now(timezone.utc))


CLOCK_SKEW = timedelta(minutes=15)  # how far ahead of ours another clock may run


def latest_possible() -> str:
    """The latest capture time to believe: a capture dated after it (a WARC record dated 2099)
    would sort after every real capture and become the policy's current version for good."""
    return iso(datetime.now(timezone.utc) + CLOCK_SKEW)


def iso(moment: datetime) -> str:
    """One timestamp format everywhere, so that stored times sort as text."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_iso(timestamp: str) -> datetime:
    """A stored timestamp as an aware UTC datetime, to the second."""
    return datetime.strptime(timestamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)


@dataclass
class NewCapture:
    """One observation of a policy page, as a source makes it: a live fetch or an archived
    memento, kept untouched. The store saves it as a ``Capture``.

    ``captured_at`` is when the page looked like this (the archive's capture time for a
    memento); ``fetched_at`` is when this tool read it. ``sha256`` names a body already
    stored (a 304, or an archive digest seen before); a body that comes with the capture
    gets its ``sha256`` and ``size`` when it is stored.
    """

    policy: str
    url: str
    captured_at: str
    source: str  # "live", "ia", "memento" or "warc"
    status: int
    sha256: str | None
    fetched_at: str
    content_type: str = ""
    charset: str | None = None
    format: str = "html"  # "html", "pdf", "text" or "other"
    headers: dict[str, str] = field(default_factory=dict)
    archive_url: str | None = None
    final_url: str | None = None
    redirects: list[dict] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    size: int = 0
    digest: str | None = None  # the archive's content digest, for archived captures

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 or "not-modified" in self.flags

    def saved_as(self, capture_id: int) -> Capture:
        return Capture(**{f.name: getattr(self, f.name) for f in fields(NewCapture)}, id=capture_id)


@dataclass
class Capture(NewCapture):
    """A stored capture: its id is its identity, which versions and changes refer to. It
    has a ``sha256`` unless it has no body (an error page known from an archive's index)."""

    id: int = field(kw_only=True)
    saved_url: str | None = None  # a live capture saved to the Internet Archive: the memento
    save_error: str | None = None


@dataclass
class Version:
    """A distinct policy text and the span of captures that showed it."""

    policy: str
    number: int
    key: str
    sha256: str
    first_capture: int
    last_capture: int
    first_seen: str
    last_seen: str
    captures: int = 1
    declared_date: str | None = None
    word_count: int | None = None
    language: str | None = None  # ISO 639-1, None when the text has too little prose to tell


@dataclass
class Change:
    """The move from one version to the next; it happened somewhere inside its window.

    A change is identified by ``to_capture``, the first capture showing the new text: capture
    ids never change, so a rebuild finds the same change again and knows it was seen (and
    notified) before.
    """

    policy: str
    from_version: int
    to_version: int
    window_start: str  # captured_at of from_capture
    window_end: str  # captured_at of to_capture
    from_capture: int | None = None  # the last capture of the old version
    to_capture: int | None = None
    kind: str = "changed"  # cosmetic, date-only, substantive, rewrite; "changed" when unread
    magnitude: float | None = None
    reverts_to: int | None = None
    technical: bool = False  # produced by an extraction upgrade, not by the policy: never notified
    detected_at: str | None = None  # when this tool first derived it
    details: dict | None = None  # the section diff and fact changes (diff.DocumentDiff.to_dict)
