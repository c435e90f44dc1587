"""Derive a policy's versions and changes from its captures.

Captures are walked in capture-time order, whatever order they were stored in, so a backfill
that adds old captures after newer ones gives the same history as captures that came in order.
Two captures belong to the same version when their extracted, normalised policy texts are
equal. A capture showing the current text extends the current version; a different text
starts a change; a text seen before is a change back to that earlier version (a revert).
Captures that are not the policy (errors, challenge pages, another language, a page far
smaller than the policy) are kept but never become versions.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import parse_qsl, urlencode, urlsplit

from tracker.config import PolicyConfig
from tracker.diff import DIFF_VERSION, DocumentDiff, SectionChange, diff_documents
from tracker.document import Document, Memo, passages
from tracker.extract import EXTRACTOR_VERSION, ExtractSettings, Unreadable, assess, extract
from tracker.errors import TrackerError
from tracker.facts import FactChange
from tracker.models import Capture, Change, Version, latest_possible, utc_now
from tracker.normalise import clean_url
from tracker.store import Store

log = logging.getLogger(__name__)

SMALL_FRACTION = 0.3  # a text under 30% of the policy's usual length is suspect


@dataclass
class History:
    versions: list[Version] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    # capture id -> (version number, None) or (None, reason it is not a version)
    assignments: dict[int, tuple[int | None, str | None]] = field(default_factory=dict)
    documents: dict[int, Document | None] = field(default_factory=dict)  # version number -> its text


# What a body is to the history: a document, or the reason it is not one.
Extracted = tuple[Document | None, str | None]


def extractor_id(policy: PolicyConfig) -> str:
    """Identifies extraction output: a new extractor or other selectors mean new documents."""
    return f"v{EXTRACTOR_VERSION}|{policy.selector}|{'|'.join(policy.remove)}"


def derivation_id(policy: PolicyConfig) -> str:
    """Identifies how a stored history was derived: only one derived the same way is extended."""
    return f"{extractor_id(policy)}|diff{DIFF_VERSION}"


def _read_as(capture: Capture) -> str:
    """How a capture's bytes are read: the same bytes sent once as UTF-8 and once as UTF-16
    are two texts."""
    return f"{capture.format}|{capture.charset or ''}"


def reading(capture: Capture) -> str:
    """What a capture's document is made from, its bytes and how they are read: documents
    are keyed by it."""
    return f"{capture.sha256}|{_read_as(capture)}"


def cache_key(extractor: str, capture: Capture) -> str:
    """The name under which the store caches a capture's document (by body and this)."""
    return f"{extractor}|{_read_as(capture)}"


def documents(store: Store, policy: PolicyConfig, captures: list[Capture], memo: Memo) -> dict[str, Extracted]:
    """The document of each distinct reading of a body (see ``reading``), extracted once and
    cached in the store (``memo``: see ``Memo``: one for the captures of one piece of work)."""
    extractor = extractor_id(policy)
    settings = ExtractSettings(policy.selector, tuple(policy.remove))
    out: dict[str, Extracted] = {}
    new: dict[str, dict[str, Extracted]] = {}  # cache key -> body sha256 -> what was extracted
    for capture in captures:
        sha, read = capture.sha256, reading(capture)
        if sha is None or read in out or not capture.ok:
            continue
        key = cache_key(extractor, capture)
        cached = store.captures.cached_document(sha, key)
        if cached is None:
            try:
                cached = new.setdefault(key, {})[sha] = _extract(store.captures.body(sha), capture, settings, memo)
            except TrackerError:
                raise  # a selector that is wrong: the user's to fix, for every capture
            except Exception as e:  # a page that trips the extractor must not block the policy
                log.warning("%s: capture %s could not be read (%s: %s)", policy.name, capture.id,
                            type(e).__name__, e, exc_info=log.isEnabledFor(logging.DEBUG))
                cached = (None, f"could not be read (extraction failed: {type(e).__name__})")
        out[read] = cached
    for key, extracted in new.items():
        store.captures.save_documents(key, extracted)
    return out


def _extract(body: bytes, capture: Capture, settings: ExtractSettings, memo: Memo) -> Extracted:
    if capture.format in ("pdf", "other"):
        return None, None  # kept as a version by its exact bytes until such formats are read
    try:
        document = extract(body, capture.format, capture.charset, settings, memo)
    except Unreadable as e:
        return None, f"unreadable: {e}"
    return document, assess(document, memo)


def derive(captures: list[Capture], docs: dict[str, Extracted], pinned: str = "") -> History:
    """``pinned``: the policy's language, if its config names one."""
    history = History()
    ordered = sorted(captures, key=lambda c: (c.captured_at, c.id))
    latest = latest_possible()
    keys = {c.id: version_key(c, docs) if c.captured_at <= latest else (None, "dated in the future")
            for c in ordered}
    keys.update(_out_of_language(ordered, keys, docs, pinned))
    shown = Counter(key for key, _ in keys.values() if key is not None)
    by_key: dict[str, Version] = {}
    current: Version | None = None
    for capture in ordered:
        key, reason = keys[capture.id]
        if key is not None and key != (current and current.key):
            reason = _out_of_place(docs.get(reading(capture), (None, None))[0], current, repeated=shown[key] >= 2)
        if reason is not None:
            history.assignments[capture.id] = (None, reason)
            continue
        assert key is not None  # a capture without a key has a reason (version_key, _out_of_language)
        version = by_key.get(key)
        if version is None:
            document = docs.get(reading(capture), (None, None))[0]
            version = _new_version(capture, document, len(history.versions) + 1)
            history.versions.append(version)
            history.documents[version.number] = document
            by_key[key] = version
        if current is not None and version is not current:
            history.changes.append(Change(
                policy=capture.policy, from_version=current.number, to_version=version.number,
                window_start=current.last_seen, window_end=capture.captured_at,
                from_capture=current.last_capture, to_capture=capture.id,
                reverts_to=version.number if version.captures else None))
        _grow(version, capture)
        history.assignments[capture.id] = (version.number, None)
        current = version
    return history


def version_key(capture: Capture, docs: dict[str, Extracted]) -> tuple[str | None, str | None]:
    """The version key of one capture, or the reason it has none."""
    if not capture.ok:
        return None, f"HTTP {capture.status}"
    if capture.sha256 is None:
        return None, "no body"
    document, reason = docs[reading(capture)]
    if reason:
        return None, reason
    if document is None:
        return f"sha256:{capture.sha256}", None
    return document.text_hash, None


def _out_of_language(ordered: list[Capture], keys: dict, docs: dict[str, Extracted],
                     pinned: str) -> dict[int, tuple[None, str]]:
    """The captures of the policy's text set aside for their language, with the reason.

    The first capture's language is the policy's. It may change (a site that moves to
    French): once a new language holds for the next capture too, or is the latest, it is the
    policy's language and the change is a translation. A lone capture in another language
    between captures in the usual one is a page served by location or browser language, not
    the policy changing: it is set aside. With a pinned language, every capture in another
    one is."""
    texts = [(c, language) for c in ordered if keys[c.id][0] is not None
             and (language := _language(docs.get(reading(c), (None, None))[0]))]
    out: dict[int, tuple[None, str]] = {}
    current = pinned
    for i, (capture, language) in enumerate(texts):
        if language == current:
            continue
        if pinned:
            out[capture.id] = (None, f"in another language ({language}; the policy is set to {pinned})")
        elif not current or i + 1 == len(texts) or texts[i + 1][1] == language:
            current = language  # the first language, or a switch
        else:
            out[capture.id] = (None, f"in another language ({language}) among captures in {current}: "
                                     "a page served by location or browser language")
    return out


def _language(document: Document | None) -> str | None:
    return document.language if document is not None else None


def _out_of_place(document: Document | None, current: Version | None, repeated: bool) -> str | None:
    """A new text that does not fit the policy: far shorter than the current version. A short
    text seen in two or more captures is taken as real: policies do shrink."""
    if document is None:
        return None
    if current is not None and current.word_count and document.word_count < SMALL_FRACTION * current.word_count:
        if not repeated:
            return f"far smaller than the policy ({document.word_count} words, the current version has {current.word_count})"
    return None


def version_document(store: Store, policy: PolicyConfig, version: Version, memo: Memo) -> Document | None:
    """The document of a stored version (None for a format not read yet, such as PDF)."""
    capture = store.captures.get(version.first_capture)
    return documents(store, policy, [capture], memo)[reading(capture)][0]


@dataclass
class Placed:
    """Where one capture landed in its policy's history."""

    version: int | None  # the version it shows, or None with the reason
    reason: str | None
    first: bool  # the first capture of its version
    change: Change | None  # the change it ends (it is the first capture after one)


def place(store: Store, policy: PolicyConfig, capture: Capture) -> Placed:
    """The history with one more capture, usually a check's. A capture that comes after all
    the others is added to the stored history as it stands: the same text extends the
    current version, another text adds one version and one change, so a check costs the same
    for a policy with ten captures or ten thousand. Whenever that could place any earlier
    capture differently (a text seen before only in captures that were set aside, another
    language, a history derived by another extractor), the history is derived again."""
    placed = _extend(store, policy, capture)
    if placed is not None:
        return placed
    history = rebuild(store, policy)
    number, reason = history.assignments[capture.id]
    change = next((c for c in reversed(history.changes) if c.to_capture == capture.id), None)
    first = number is not None and history.versions[number - 1].first_capture == capture.id
    return Placed(number, reason, first, change)


def _extend(store: Store, policy: PolicyConfig, capture: Capture) -> Placed | None:
    """``place`` without deriving again; None when only a derivation gives the right answer."""
    latest = latest_possible()
    if store.history.derived_with(policy.name) != derivation_id(policy) or capture.captured_at > latest \
            or not store.history.is_newest(capture, latest):
        return None
    memo = Memo()
    docs = documents(store, policy, [capture], memo)
    key, reason = version_key(capture, docs)
    current = store.history.current_version(policy.name)
    if key is None:
        store.history.extend(policy.name, capture.id, None, reason, None, None)
        return Placed(None, reason, False, None)
    if current is None:
        return None
    if key == current.key:
        _grow(current, capture)
        store.history.extend(policy.name, capture.id, current.number, None, current, None)
        return Placed(current.number, None, False, None)
    document = docs[reading(capture)][0]
    earlier = store.history.version_with_key(policy.name, key)
    if earlier is None and store.history.shown_elsewhere(capture, key, extractor_id(policy)):
        return None  # shown before only by captures set aside: this one may bring them in
    if document is not None and document.language:
        language = current.language
        if language is None:  # a history derived before versions knew their language
            language = store.captures.language_of(current.sha256, cache_key(
                extractor_id(policy), store.captures.get(current.first_capture)))
        if language != document.language:
            return None  # another language: a translation, or a stray page that sets aside no other
    reason = _out_of_place(document, current, repeated=earlier is not None)
    if reason is not None:
        store.history.extend(policy.name, capture.id, None, reason, None, None)
        return Placed(None, reason, False, None)
    version = earlier or _new_version(capture, document, store.history.version_count(policy.name) + 1)
    change = Change(policy=policy.name, from_version=current.number, to_version=version.number,
                    window_start=current.last_seen, window_end=capture.captured_at,
                    from_capture=current.last_capture, to_capture=capture.id,
                    reverts_to=version.number if earlier else None, detected_at=utc_now())
    same = store.history.change_between(policy.name, current.number, version.number)
    if same is not None:
        change.kind, change.magnitude, change.details = same.kind, same.magnitude, same.details
    else:
        _describe(change, version_document(store, policy, current, memo), document, [current.key, key], memo)
    _grow(version, capture)
    store.history.extend(policy.name, capture.id, version.number, None, version, change,
                         passages(document) if earlier is None and document is not None else None)
    return Placed(version.number, None, earlier is None, change)


def _new_version(capture: Capture, document: Document | None, number: int) -> Version:
    assert capture.sha256 is not None  # only a capture with a version key gets here: it has a body
    return Version(
        policy=capture.policy, number=number, key=document.text_hash if document else f"sha256:{capture.sha256}",
        sha256=capture.sha256, first_capture=capture.id, last_capture=capture.id,
        first_seen=capture.captured_at, last_seen=capture.captured_at, captures=0,
        declared_date=document.declared_date if document else None,
        word_count=document.word_count if document else None, language=document.language if document else None)


def _grow(version: Version, capture: Capture) -> None:
    version.captures += 1
    version.last_capture, version.last_seen = capture.id, capture.captured_at


def rebuild(store: Store, policy: PolicyConfig) -> History:
    """Re-derive one policy's history from all its stored captures and store it."""
    memo = Memo()
    captures = store.captures.timeline(policy.name)
    docs = documents(store, policy, captures, memo)
    history = derive(captures, docs, policy.language)
    describe_changes(history, store.history.changes(policy.name), store.history.assigned_captures(policy.name), memo)
    store.history.replace(policy.name, history.versions, history.changes, history.assignments,
                          derivation_id(policy), {n: passages(d) for n, d in history.documents.items() if d})
    return history


def describe_changes(history: History, before: list[Change], known: set[int], memo: Memo) -> None:
    """Give each change its section diff, and keep what the previous history knew of it.

    A change found again (same first capture of the new text) keeps the time it was first
    detected, its technical mark, and its diff when both texts are the same as before. A
    change between two captures that the previous history had already placed, where that
    history saw no change, can only come from an extraction upgrade: it is technical.
    A history that flips between two texts (a page served in two variants) repeats a change:
    it is diffed once, as the same two versions give the same diff.
    """
    earlier_by_capture: dict[int | None, Change] = {c.to_capture: c for c in before if c.to_capture is not None}
    versions = {v.number: v for v in history.versions}
    described: dict[tuple[int, int], Change] = {}
    now = utc_now()
    for change in history.changes:
        old, new = versions[change.from_version], versions[change.to_version]
        earlier = earlier_by_capture.get(change.to_capture)
        keys = [old.key, new.key]
        details = earlier.details if earlier else None
        same = described.get((old.number, new.number))
        if earlier is not None and details and details.get("keys") == keys and details.get("diff_version") == DIFF_VERSION:
            change.kind, change.magnitude, change.details = earlier.kind, earlier.magnitude, details
        elif same is not None:
            change.kind, change.magnitude, change.details = same.kind, same.magnitude, same.details
        else:
            _describe(change, history.documents.get(old.number), history.documents.get(new.number), keys, memo)
        described[old.number, new.number] = change
        change.detected_at = (earlier and earlier.detected_at) or now
        change.technical = earlier.technical if earlier else \
            change.from_capture in known and change.to_capture in known


def _describe(change: Change, old: Document | None, new: Document | None, keys: list[str], memo: Memo) -> None:
    if old is None or new is None:
        return  # a format whose text is not read yet (PDF): a change of bytes, no section diff
    result = diff_documents(old, new, memo)
    change.kind, change.magnitude = result.kind, result.magnitude
    change.details = {"diff_version": DIFF_VERSION, "keys": keys, **result.to_dict()}


@dataclass
class Window:
    """When a change happened: after the last capture of the old text, by the first of the new."""

    start: str
    end: str


@dataclass
class Comparison:
    """What changed from one version to another, as every view shows it: a stored change with
    its section diff read back, or two versions that are not consecutive compared on demand
    (no window, no captures, never a revert, never technical)."""

    from_version: int
    to_version: int
    kind: str
    magnitude: float | None
    diff: DocumentDiff | None  # None: a format whose text is not read yet (PDF)
    window: Window | None = None
    from_capture: int | None = None
    to_capture: int | None = None
    reverts_to: int | None = None
    technical: bool = False
    detected_at: str | None = None

    @classmethod
    def of(cls, change: Change) -> Comparison:
        """A stored change, its details (JSON in the store) read back into their types."""
        return cls(change.from_version, change.to_version, change.kind, change.magnitude,
                   DocumentDiff.from_dict(change.details) if change.details is not None else None,
                   Window(change.window_start, change.window_end), change.from_capture, change.to_capture,
                   change.reverts_to, change.technical, change.detected_at)

    @property
    def label(self) -> str:
        """The kind as people read it: a translation names its languages."""
        if self.diff is not None and self.diff.languages:
            return f"translated from {self.diff.languages[0]} to {self.diff.languages[1]}"
        return self.kind

    @cached_property  # views read it several times
    def touched(self) -> list[SectionChange]:
        """The sections the change touched, in reading order."""
        return [s for s in self.diff.sections if s.touched] if self.diff else []

    @cached_property
    def untouched(self) -> list[SectionChange]:
        return [s for s in self.diff.sections if not s.touched] if self.diff else []

    @property
    def facts(self) -> list[FactChange]:
        return self.diff.facts if self.diff else []

    @property
    def facts_unchanged(self) -> list[FactChange]:
        return self.diff.facts_unchanged if self.diff else []


def stored_changes(store: Store, policy: str) -> list[Comparison]:
    """A policy's changes, oldest first, their details read back once, here."""
    return [Comparison.of(change) for change in store.history.changes(policy)]


def compare(store: Store, policy: PolicyConfig, old: Version, new: Version) -> Comparison:
    """What changed between any two versions: the stored change when they are consecutive."""
    stored = store.history.change_between(policy.name, old.number, new.number)
    if stored is not None and stored.details is not None:
        return Comparison.of(stored)
    memo = Memo()
    old_doc = version_document(store, policy, old, memo)
    new_doc = version_document(store, policy, new, memo)
    if old_doc is None or new_doc is None:
        raise TrackerError(f"{policy.name}: version {old.number if old_doc is None else new.number} "
                           "is not a text this tool reads yet (PDF or other format): no section diff")
    result = diff_documents(old_doc, new_doc, memo)
    return Comparison(old.number, new.number, result.kind, result.magnitude, result)


@dataclass
class Move:
    """The policy published at another URL: an event of its history, like a change.

    ``evidence`` is the capture that shows it: the redirect that announced it (an archived 301,
    or a live fetch that was redirected), else the first capture at the new URL; ``at`` is its
    time."""

    at: str
    from_url: str
    to_url: str
    evidence: Capture

    @property
    def redirect(self) -> Redirect | None:
        """The redirect that announced the move; None when the new URL simply showed the policy."""
        return redirect_of(self.evidence)


@dataclass
class Redirect:
    """Where a policy's page sent its readers, and with which status."""

    status: int
    location: str


def published_url(capture: Capture) -> str:
    """Where a capture found the policy: a live fetch ends where its redirects led; an archived
    capture's ``final_url`` is the archive's copy, not the page's address."""
    return (capture.final_url or capture.url) if capture.source == "live" else capture.url


def redirect_of(capture: Capture) -> Redirect | None:
    """The redirect a capture recorded of the policy's page. An archived capture's own hops are
    the archive's (to its nearest copy), not the page's: only its archived redirect counts. A
    live fetch followed the page's redirects to their end."""
    if "archived-redirect" in capture.flags and capture.redirects:
        return Redirect(capture.redirects[-1]["status"], capture.redirects[-1]["location"])
    if capture.source == "live" and capture.redirects and capture.final_url:
        return Redirect(capture.redirects[0]["status"], capture.final_url)
    return None


def moves(captures: list[Capture], shown: set[int]) -> list[Move]:
    """The moves of a policy, oldest first, from its captures and those of them that show a
    version (``shown``): where the policy is published is read only off captures of the policy
    itself, so an error page or a redirect elsewhere is no move. A redirect to the new URL seen
    since the last capture at the old one is the move's evidence."""
    stays = _stays(captures, shown)
    out = []
    for before, after in zip(stays, stays[1:]):
        url = published_url(after.first)
        announced = next((r for r in reversed(after.redirects) if _address(_location(r)) == after.address),
                         after.first)
        out.append(Move(announced.captured_at, published_url(before.last), url, announced))
    return out


@dataclass
class _Stay:
    """Consecutive captures showing the policy at one address."""

    address: tuple[str, str, str]
    first: Capture
    last: Capture
    captures: int
    redirects: list[Capture]  # seen since the stay before it: one to this address announced the move


def _stays(captures: list[Capture], shown: set[int]) -> list[_Stay]:
    """Where the policy was published, stay after stay. A lone capture at another address
    between two stays at one address is no move and back: it joins them (a crawler's detour,
    an alias served once)."""
    stays: list[_Stay] = []
    redirects: list[Capture] = []  # since the last capture showing a version
    for capture in sorted(captures, key=lambda c: (c.captured_at, c.id)):
        if redirect_of(capture) is not None:
            redirects.append(capture)
        if capture.id not in shown:
            continue
        address = _address(published_url(capture))
        if stays and stays[-1].address == address:
            stays[-1].last, stays[-1].captures = capture, stays[-1].captures + 1
        elif len(stays) > 1 and stays[-1].captures == 1 and stays[-2].address == address:
            detour = stays.pop()
            stays[-1].last, stays[-1].captures = capture, stays[-1].captures + detour.captures + 1
        else:
            stays.append(_Stay(address, capture, capture, 1, redirects))
        redirects = []
    return stays


def _location(capture: Capture) -> str | None:
    redirect = redirect_of(capture)
    return redirect.location if redirect else None


NOT_THE_PAGE = {"hl", "lang", "language", "locale"}  # query parameters that pick a language, not a page


def _address(url: str | None) -> tuple[str, str, str]:
    """A page's address as a move is told by, as the Internet Archive tells one page: scheme,
    'www.', a default port, the case of the path, a trailing slash and the order of the query
    are no move; nor are parameters that track a visit or pick a language (a redirect adding
    '?hl=en')."""
    parts = urlsplit(clean_url(url or ""))
    host = parts.netloc.lower().rpartition("@")[2].removeprefix("www.")
    host = host.removesuffix(":80").removesuffix(":443")
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in NOT_THE_PAGE)
    return (host, parts.path.rstrip("/").casefold(), urlencode(query))


def policy_moves(store: Store, policy: str) -> list[Move]:
    """A policy's moves, read off its stored captures and the versions they show."""
    return moves(store.captures.timeline(policy), store.history.shown_captures(policy))
