"""Static HTML reports: an index, a history per policy, a page per change and per version,
and Atom feeds; a site a user opens from disk or publishes as it is.

Everything shown comes from captured pages and is untrusted: templates autoescape
everything, links are only made to http(s) URLs, and every page carries a
Content-Security-Policy that allows no script at all (the side-by-side view is a CSS toggle).

Rendering is incremental: each page has a fingerprint of what it is made from (read from
the store without parsing diffs), kept in ``.manifest.json`` beside the pages; a page is
rendered and written again only when its fingerprint changed.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
from dataclasses import astuple, dataclass, field, replace
from functools import cached_property, partial
from pathlib import Path
from typing import Callable

import jinja2
import markupsafe

from tracker import __version__, charts, console, copies, history, serve
from tracker.config import Config, PolicyConfig, ReportConfig
from tracker.console import CONTROLS, section_counts, when
from tracker.copies import Cited, safe_url
from tracker.diff import heading_name
from tracker.document import Block, Memo
from tracker.errors import TrackerError
from tracker.history import Comparison, Move, Window
from tracker.models import Capture, Version
from tracker.store import Store, change_from_row

TEMPLATES = Path(__file__).parent / "templates"
MANIFEST = ".manifest.json"
VIEW_MODULES = (charts, console, copies)  # the code besides this module and the templates that pages are made by


def _templates_fingerprint() -> str:
    """Changes when the templates or the view code change: every page is rendered again then."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(TEMPLATES.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    for module in VIEW_MODULES:
        digest.update(Path(inspect.getfile(module)).read_bytes())
    return digest.hexdigest()[:16]


def _copies_fingerprint() -> str:
    """Changes when what a copy is made by changes: its templates and copies.py, not the rest
    of the reports' code, whose every edit would otherwise rewrite (and decompress) every copy."""
    digest = hashlib.sha256(copies.fingerprint().encode())
    for name in ("base.html", "capture.html"):
        digest.update((TEMPLATES / name).read_bytes())
    return digest.hexdigest()[:16]


def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             finalize=_shown)
    env.filters.update(when=when, day=lambda t: (t or "")[:10], safe_url=safe_url, counts=section_counts,
                       heading_name=heading_name,
                       local=local,
                       percent=lambda x: "-" if x is None else f"{100 * x:.0f}%",
                       anchors=anchor_ids, opening=opening, grouped=grouped_blocks)
    return env


def _shown(value: object) -> object:
    """Every value a page, a feed or the digest shows, without control characters and bidi
    overrides: fetched text could otherwise mirror the tool's own words around it, break a
    feed's XML or ring a terminal reading the digest."""
    if isinstance(value, str):
        cleaned = CONTROLS.sub("", value)
        return markupsafe.Markup(cleaned) if isinstance(value, markupsafe.Markup) else cleaned
    return value


def local(path: str) -> str:
    """A page's path (under the reports folder) as a link from a page in its own folder."""
    return path.split("/", 1)[-1]


def anchor_ids(headings: list[str]) -> list[str]:
    """Ids for a page's sections, made from their headings, so that a link to a section
    (its ¶) still leads there when the page is rendered again; a heading met twice gets
    -2, -3. The prefix keeps them apart from the page's own ids (main, summary, ...)."""
    taken: set[str] = set()
    ids = []
    for heading in headings:
        base = "s-" + ("-".join(re.findall(r"\w+", heading_name(heading).casefold()))[:60].strip("-_") or "section")
        anchor, n = base, 1
        while anchor in taken:
            n += 1
            anchor = f"{base}-{n}"
        taken.add(anchor)
        ids.append(anchor)
    return ids


OPENING_LINES = 3  # lines of a long added or removed section shown before the rest is folded
OPENING_WORDS = 60  # at most this many words of them
FOLDED_WORDS = 25  # a rest shorter than this is shown, not folded away


def opening(text: str) -> tuple[str, str]:
    """The first lines of a whole section added or removed, and the rest (empty when the
    section is short): a rewrite's new sections read as a list, each opened on demand."""
    head = "\n".join(text.split("\n")[:OPENING_LINES])
    words = re.split(r"(\s+)", head)  # words and the spaces between them
    if len(words) > 2 * OPENING_WORDS:
        head = "".join(words[:2 * OPENING_WORDS - 1])
    rest = text[len(head):]
    return (text, "") if len(rest.split()) < FOLDED_WORDS else (head, rest)


CELLS = re.compile(r"(?<!\S)\|(?!\S)")  # extraction joins a row's cells with " | " (white space normalised)


def grouped_blocks(blocks: list[Block]) -> list[tuple[str, list]]:
    """A section's blocks as the version page lays them out: a run of table rows is one
    table (each row split back into its cells), a run of list items one list."""
    groups: list[tuple[str, list]] = []
    for block in blocks:
        kind = block.kind if block.kind in ("row", "item") else "para"
        item = [cell.strip() for cell in CELLS.split(block.text)] if kind == "row" else block.text
        if groups and kind != "para" and groups[-1][0] == kind:
            groups[-1][1].append(item)
        else:
            groups.append((kind, [item]))
    return groups


def change_page(policy: str, window_end: str, to_capture: int | None) -> str:
    """Where a change's page is, under the reports folder: named by the change's identity."""
    return f"{policy}/change-{window_end[:10]}-{to_capture}.html"


def history_page(policy: str) -> str:
    return f"{policy}/index.html"


@dataclass
class Page:
    path: str  # relative to the output folder
    fingerprint: str
    render: Callable[[], str]


@dataclass
class ChangePage:
    """A change as its policy's pages show it: where its own page is, the captures it rests on."""

    change: Comparison
    path: str
    evidence: list[Cited | None]
    old: Version | None
    new: Version | None


@dataclass
class Health:
    """How a policy's live checks go, read as ``tracker status`` reads them: the pages show
    it, so that a page that broke is seen where its history is read."""

    live: bool
    checked_at: str | None
    outcome: str | None
    message: str | None
    failures_in_a_row: int
    threshold: int  # failures in a row that make a policy failing ([schedule] failures), as tracker status says

    @classmethod
    def of(cls, store: Store, policy: PolicyConfig, threshold: int) -> Health:
        status = store.runs.status(policy.name)
        check = status["last_check"] or {}
        return cls(policy.live, check.get("at"), check.get("outcome"), check.get("message"),
                   status["failures_in_a_row"], threshold)

    @property
    def failing(self) -> bool:
        return self.failures_in_a_row >= self.threshold

    @property
    def key(self) -> tuple:
        """What the pages that show it are rendered again for: each check changes it (its
        time), so a check rewrites the index and the policy's history page, no other page."""
        return (self.live, self.checked_at, self.outcome, self.message, self.failures_in_a_row)


@dataclass
class Rendered:
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)


def render_site(store: Store, config: Config, out: Path) -> Rendered:
    """Render the reports of every configured policy into ``out``, incrementally."""
    env = environment()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TrackerError(f"{out}: cannot create the report folder ({e.strerror or e})") from None
    base = _templates_fingerprint()
    sites = [PolicySite(store, policy, env, base, config.report, config.schedule.failures)
             for policy in config.policies]
    pages = [page for site in sites for page in site.pages()]
    pages += _site_pages(env, base, sites, config.report.base_url)
    return _write(out, pages)


def _write(out: Path, pages: list[Page]) -> Rendered:
    manifest = _read_manifest(out / MANIFEST)
    inside: dict[Path, bool] = {}  # folder -> whether it lies in the report folder (not linked out)
    result = Rendered()
    fresh = {}
    for page in pages:
        fresh[page.path] = page.fingerprint
        target = out / page.path
        if manifest.get(page.path) == page.fingerprint and target.exists():
            result.unchanged += 1
            continue
        try:
            if target.parent not in inside:
                target.parent.mkdir(parents=True, exist_ok=True)
                inside[target.parent] = target.parent.resolve().is_relative_to(out.resolve())
            if not inside[target.parent]:
                raise TrackerError(f"{target.parent}: leads out of the report folder (a symbolic link?): "
                                "no page is written there")
            temporary = target.with_name(target.name + ".tmp")
            temporary.write_text(page.render(), encoding="utf-8")
            os.replace(temporary, target)  # a reader never sees half a page
        except OSError as e:
            raise TrackerError(f"{target}: cannot write the page ({e.strerror or e})") from None
        result.written.append(page.path)
    for stale in sorted(set(manifest) - set(fresh)):
        if _ours(out, stale):
            (out / stale).unlink(missing_ok=True)
            result.removed.append(stale)
    try:  # replaced, not written through: the manifest may be a link to somewhere else
        temporary = out / (MANIFEST + ".tmp")
        temporary.write_text(json.dumps(fresh, indent=0, sort_keys=True))
        os.replace(temporary, out / MANIFEST)
    except OSError as e:
        raise TrackerError(f"{out / MANIFEST}: cannot write ({e.strerror or e})") from None
    return result


def _read_manifest(path: Path) -> dict[str, str]:
    """The pages written last time and their fingerprints; anything else there (a damaged or
    edited file) is ignored, and every page is rendered again."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                 for k, v in manifest.items()):
        return {}
    return manifest


def _ours(out: Path, name: str) -> bool:
    """Whether a page the manifest lists is one this tool wrote inside the report folder: the
    manifest is a file anyone may edit, and only such pages may be removed."""
    path = out / name
    try:
        inside = path.resolve().is_relative_to(out.resolve()) and not path.is_symlink()
        if not inside or path.suffix not in (".html", ".xml") or not path.is_file():
            return False
        with path.open("rb") as page:
            return b"policy-tracker" in page.read(4096)
    except OSError:
        return False


def _text_key(version: Version | None) -> tuple | None:
    """A version as a change page shows it: its text as read (a rebuild by a newer extractor
    can change its declared date), not its span of captures, which each check extends."""
    if version is None:
        return None
    return (version.number, version.key, version.sha256, version.declared_date, version.word_count, version.language)


def _hash(*parts) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:20]


# --- one policy --------------------------------------------------------------------------

class PolicySite:
    """The pages of one policy, and the figures the index shows of it."""

    def __init__(self, store: Store, policy: PolicyConfig, env: jinja2.Environment, base: str, settings: ReportConfig,
                 failures: int):
        self.store, self.policy, self.env, self.base = store, policy, env, base
        self.feed_root = feed_root(settings.base_url, "../")
        # where its history page sends a reader to search its texts: a `tracker serve` instance
        self.search_url = serve.search_link(settings.datasette_url, policy.name) if settings.datasette_url else None
        self.dir = policy.name
        self.versions = store.history.versions(policy.name)
        self.rows = store.history.change_rows(policy.name)  # details unparsed: cheap fingerprints
        self.captures = store.captures.timeline(policy.name)
        self.by_number = {v.number: v for v in self.versions}
        self.capture_by_id = {c.id: c for c in self.captures}
        self.shown = store.history.shown_captures(policy.name)
        self.moves = history.moves(self.captures, self.shown)
        self._move_anchors = {id(m): f"move-{i}" for i, m in enumerate(self.moves, 1)}
        self.health = Health.of(store, policy, failures)
        self._parsed: dict[int, ChangePage] = {}

    # what pages link to
    def change_path(self, row: dict) -> str:
        return change_page(self.policy.name, row["window_end"], row["to_capture"])

    def version_path(self, number: int) -> str:
        return f"{self.dir}/version-{number}.html"

    @property
    def history_path(self) -> str:
        return history_page(self.policy.name)

    @property
    def fingerprint(self) -> str:
        return _hash(self.base, self.policy.display_title, self.policy.urls,
                     [astuple(v) for v in self.versions],
                     [self._row_key(r) for r in self.rows], len(self.captures),
                     self.captures[-1].captured_at if self.captures else None, self._moves_key(self.moves))

    @property
    def feed_fingerprint(self) -> str:
        """What the feeds show of the policy: its changes, not its captures, so that a check
        that changed nothing leaves the feeds as they are."""
        return _hash(self.base, self.policy.display_title,
                     [(self._row_key(r), r["window_start"], r["detected_at"]) for r in self.rows])

    @staticmethod
    def _moves_key(moves: list[Move]) -> list:
        return [(m.at, m.from_url, m.to_url, m.evidence.id) for m in moves]

    def move_anchor(self, move: Move) -> str:
        """The id of a move on its policy's history page: every link to a move is made by it."""
        return self._move_anchors[id(move)]

    def moves_during(self, window: Window | None) -> list[Move]:
        """The moves in a change's window, or at its edges: a change and a move that coincide."""
        return [m for m in self.moves if window and window.start <= m.at <= window.end]

    def move_evidence(self, move: Move) -> Cited | None:
        return self._evidence(move.evidence.id, "redirect that announced it" if move.redirect
                              else "first capture at the new URL")

    def change_windows(self, in_folder: bool) -> list[charts.ChangeWindow]:
        """The changes as the charts draw them, linked from the policy's folder (``in_folder``:
        its history page, which shows technical changes too) or from the index, which does not."""
        return [charts.ChangeWindow(r["from_version"], r["to_version"], r["kind"], r["magnitude"], r["window_start"],
                                    r["window_end"], local(self.change_path(r)) if in_folder else self.change_path(r))
                for r in self.rows if in_folder or not r["technical"]]

    def _row_key(self, row: dict) -> tuple:
        return (row["to_capture"], row["from_version"], row["to_version"], row["kind"], row["magnitude"],
                row["technical"], hashlib.sha1((row["details"] or "").encode()).hexdigest())

    @property
    def changes(self) -> list[ChangePage]:
        """The changes as the pages show them, oldest first."""
        return [self.change(i) for i in range(len(self.rows))]

    def change(self, i: int) -> ChangePage:
        """The i-th change as pages show it: its diff is parsed once, when a page needs it."""
        if i not in self._parsed:
            self._parsed[i] = self._change(self.rows[i])
        return self._parsed[i]

    def _change(self, row: dict) -> ChangePage:
        change = Comparison.of(change_from_row(row))
        return ChangePage(change, self.change_path(row),
                          [self._evidence(change.from_capture, "last capture of the old version"),
                           self._evidence(change.to_capture, "first capture of the new version")],
                          self.by_number.get(change.from_version), self.by_number.get(change.to_version))

    def _evidence(self, capture_id: int | None, role: str) -> Cited | None:
        capture = self.capture_by_id.get(capture_id) if capture_id is not None else None
        return None if capture is None else copies.cite(capture, role)

    @cached_property
    def kept(self) -> set[int]:
        """The captures whose copies the reports keep: the ends of each change, the first
        capture of each version, the evidence of each move. A version's last capture is cited
        by its date and hash alone: each live check makes a new one, whose copy would be
        written, and the previous one deleted, at every check. A page that links one more copy
        must name its capture here, so that the copy is written."""
        ids = {i for r in self.rows for i in (r["from_capture"], r["to_capture"])}
        ids |= {v.first_capture for v in self.versions}
        return ids | {m.evidence.id for m in self.moves}

    def cited(self) -> list[Capture]:
        """The captures whose copies are kept, in timeline order."""
        return [c for c in self.captures if c.id in self.kept]

    def pages(self) -> list[Page]:
        pages = [Page(self.history_path, _hash(self.fingerprint, self.health.key, self.search_url),
                      self.render_history),
                 Page(f"{self.dir}/feed.xml", _hash(self.feed_fingerprint, self.feed_root), lambda: self.render_feed())]
        for i, row in enumerate(self.rows):
            neighbours = [self._row_key(r) for r in self.rows[max(i - 1, 0):i + 2]]
            ends = [self.by_number.get(n) for n in (row["from_version"], row["to_version"])]
            pages.append(Page(self.change_path(row), _hash(self.base, self.policy.display_title, neighbours,
                                                          [_text_key(v) for v in ends],
                                                          self._evidence_key(row), self._moves_key(self.moves)),
                              partial(self.render_change, i)))
        for version in self.versions:
            pages.append(Page(self.version_path(version.number),
                              _hash(self.base, self.policy.display_title, astuple(version),
                                    version is self.versions[-1], version.last_capture in self.kept),
                              partial(self.render_version, version)))
        return pages + self.copy_pages()

    def copy_pages(self) -> list[Page]:
        """A copy of each cited capture that no archive serves, written once: its fingerprint
        is the capture's, which never changes, and how copies are made."""
        made = _copies_fingerprint()
        return [Page(f"{self.dir}/{copies.copy_name(c.id)}",
                     _hash(made, self.policy.display_title, c.id, c.sha256, c.captured_at, c.url,
                           c.status, c.archive_url, c.redirects, c.content_type),
                     partial(self.render_copy, c))
                for c in self.cited() if copies.has_copy(c)]

    def _evidence_key(self, row: dict) -> tuple:
        ids = (row["from_capture"], row["to_capture"])
        return tuple((c.id, c.archive_url, c.saved_url) for c in map(self.capture_by_id.get, ids) if c)

    # rendering
    def render_history(self) -> str:
        return self.env.get_template("policy.html").render(
            site=self, policy=self.policy, versions=self.versions, changes=list(reversed(self.changes)),
            urls=self.urls_over_time(), timeline=timeline(self), root="../")

    def render_change(self, i: int) -> str:
        page = self.change(i)
        return self.env.get_template("change.html").render(
            site=self, policy=self.policy, page=page, change=page.change, root="../",
            previous=self.change(i - 1) if i > 0 else None,
            next=self.change(i + 1) if i + 1 < len(self.rows) else None)

    def render_version(self, version: Version) -> str:
        document = history.version_document(self.store, self.policy, version, Memo())
        return self.env.get_template("version.html").render(
            site=self, policy=self.policy, version=version, document=document, root="../",
            sections=[s for top in document.sections for s in top.walk()] if document else [],
            last=version is self.versions[-1], evidence=self._version_evidence(version))

    def _version_evidence(self, version: Version) -> list[Cited]:
        ends = [(version.first_capture, "first capture of this version")]
        if version.last_capture != version.first_capture:
            ends.append((version.last_capture, "last capture of this version"))
        cited = [e for e in (self._evidence(i, role) for i, role in ends) if e]
        return [e if e.capture.id in self.kept else replace(e, copy=None) for e in cited]

    def render_copy(self, capture: Capture) -> str:
        assert capture.sha256 is not None, "only a capture with a body has a copy"
        body = self.store.captures.body(capture.sha256)
        page_url = history.published_url(capture)
        content = copies.inert_html(body, capture.charset, page_url) if capture.format == "html" else None
        text = copies.plain_text(body, capture.charset) if capture.format == "text" else \
            copies.text_of_html(body, capture.charset) if capture.format == "html" and content is None else None
        return self.env.get_template("capture.html").render(
            site=self, policy=self.policy, capture=capture, where=copies.where(capture), size=len(body),
            content=content, text=text, raw_name=console.raw_file_name(capture),
            too_deep=capture.format == "html" and content is None, root="../../")

    def render_feed(self) -> str:
        return self.env.get_template("feed.xml").render(
            title=f"{self.policy.display_title}: changes", feed_id=self.policy.name,
            entries=[(self, c) for c in reversed(self.changes) if not c.change.technical], root=self.feed_root,
            updated=_updated(self.rows))

    def urls_over_time(self) -> list[dict]:
        spans: dict[str, dict] = {}
        for capture in self.captures:
            span = spans.setdefault(capture.url, {"url": capture.url, "link": safe_url(capture.url),
                                                  "first": capture.captured_at, "captures": 0})
            span["last"] = capture.captured_at
            span["captures"] += 1
        return sorted(spans.values(), key=lambda s: s["first"])

    @property
    def last_change(self) -> dict | None:
        row = self.rows[-1] if self.rows else None
        if row is None:
            return None
        new = self.by_number.get(row["to_version"])
        return {"when": row["window_end"], "start": row["window_start"], "kind": row["kind"],
                "path": self.change_path(row), "declared": new.declared_date if new else None}


def _updated(rows: list[dict]) -> str:
    """The time a feed last changed (changes as stored, details unparsed)."""
    times = [r["detected_at"] or r["window_end"] for r in rows]
    return max(times) if times else "1970-01-01T00:00:00.000Z"


# --- pages across policies ---------------------------------------------------------------

def feed_root(base_url: str, relative: str) -> str:
    """What a feed's links begin with: the published reports' address when [report] base_url
    says where that is, so that a feed reader can open them wherever it read the feed from;
    else the way from the feed to the report folder, resolved against the feed's own URL."""
    return base_url.rstrip("/") + "/" if base_url else relative


def _site_pages(env: jinja2.Environment, base: str, sites: list[PolicySite], base_url: str) -> list[Page]:
    fingerprint = _hash(base, [(s.fingerprint, s.health.key) for s in sites])

    def recent(count: int) -> list[tuple[PolicySite, int]]:
        """The newest changes across policies: each policy's site and the change's index."""
        rows = [(row["window_end"], s, i) for s in sites for i, row in enumerate(s.rows) if not row["technical"]]
        rows.sort(key=lambda r: r[0], reverse=True)
        return [(s, i) for _, s, i in rows[:count]]

    def index() -> str:
        return env.get_template("index.html").render(sites=sites, recent=[(s, s.change(i)) for s, i in recent(200)],
                                                      root="", sparkline=sparkline, overview=overview(sites))

    def feed() -> str:
        entries = recent(100)
        return env.get_template("feed.xml").render(title="Policy changes", feed_id="all",
                                                   entries=[(s, s.change(i)) for s, i in entries],
                                                   root=feed_root(base_url, ""),
                                                   updated=_updated([s.rows[i] for s, i in entries]))
    return [Page("index.html", fingerprint, index),
            Page("feed.xml", _hash(base, [s.feed_fingerprint for s in sites], base_url), feed)]


# --- charts ------------------------------------------------------------------------------

def timeline(site: PolicySite) -> charts.Timeline | None:
    """The chart of a policy's history, on its history page."""
    return charts.timeline(site.captures, site.versions, site.change_windows(in_folder=True), site.moves, site.shown,
                           lambda number: local(site.version_path(number)),
                           lambda move: f"#{site.move_anchor(move)}")


def overview(sites: list[PolicySite]) -> charts.Overview | None:
    """The chart of every policy, on the index: what changed when, and which moved."""
    return charts.overview([charts.Track(s.policy.display_title, s.history_path, s.captures[0].captured_at,
                                         s.captures[-1].captured_at, s.change_windows(in_folder=False),
                                         [(m, f"{s.history_path}#{s.move_anchor(m)}") for m in s.moves])
                            for s in sites if s.captures])


def sparkline(site: PolicySite, width: int = 120, height: int = 24) -> str:
    """Points of a small line of text length per version, for the index."""
    words = [v.word_count or 0 for v in site.versions]
    if len(words) < 2:
        return ""
    most = max(words) or 1
    step = (width - 4) / (len(words) - 1)
    return " ".join(f"{2 + i * step:.1f},{height - 2 - (height - 4) * w / most:.1f}" for i, w in enumerate(words))
