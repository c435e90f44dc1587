"""Archived captures of a page: where they are listed, and how they are fetched politely.

Three kinds of archive, one record type (``Memento``):
- ``ia``: the Internet Archive's CDX index (through waybackpy, see ``CDXIndex``), raw
  captures through ``id_`` replay URLs, never the viewer page;
- ``memento:<base URL>``: any archive that answers RFC 7089 TimeMaps (pywb, national archives);
- ``warc:<path or glob>``: WARC files read with warcio.

Archives are shared and fragile, so every request goes through an ``ArchiveClient``: a
rate limit per host for index requests and another for captures, a pause of at least a
minute on HTTP 429 with exponential back-off after it (never an immediate retry), bounded
retries for 5xx answers and lost connections, timeouts, and a User-Agent that names the tool
and a contact. Given a store's ``limits``, the limits and the pause hold for every process
using that store together (the workers of a cluster, a daemon, a command); without, for the
client alone.
"""

from __future__ import annotations

import glob
import random
import re
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Generator, Iterator, Protocol
from urllib.parse import quote, urlsplit

import requests
from waybackpy.cdx_api import WaybackMachineCDXServerAPI
from waybackpy.exceptions import WaybackError

from tracker.config import ArchiveConfig, FetchConfig
from tracker.errors import TrackerError
from tracker.fetch import REDIRECT_STATUSES, Fetched, FetchError, check_redirect_target, fetch, make_session, short
from tracker.models import iso

if TYPE_CHECKING:
    from tracker.store.limits import Slot

TIMESTAMP = re.compile(r"/(\d{14})(?:[a-z]{2}_)?/")
MAX_HOPS = 5  # an archive's own redirects towards the nearest capture


class ArchiveError(TrackerError):
    """An archive that could not be read; the message names the archive and the URL."""


class NotArchived(ArchiveError):
    """The archive has no capture at the URL its own index gave: nothing to store."""


class RateLimited(ArchiveError):
    """An archive kept answering 429: stop for now, the next run goes on from here."""


@dataclass
class Memento:
    """One archived capture of a page, as an archive lists it."""

    url: str  # the page's own URL, as archived
    timestamp: str  # 14 digits, UTC
    archive: str  # the archive as configured: "ia", "memento:<base>", "warc:<path>"
    archive_url: str  # where the raw capture is: an id_ replay URL, or "<file>#<offset>"
    digest: str | None = None  # the archive's content digest: equal digests, equal bodies
    status: int | None = None
    mimetype: str | None = None

    @property
    def source(self) -> str:
        return self.archive.partition(":")[0]

    @property
    def captured_at(self) -> str:
        return iso(parse_timestamp(self.timestamp))


def parse_timestamp(stamp: str) -> datetime:
    return datetime.strptime(stamp[:14].ljust(14, "0"), "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)


def to_timestamp(moment: datetime) -> str:
    """14 digits, UTC; ValueError for a moment no web capture can have (before 1990)."""
    try:
        utc = moment.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{moment} is out of range") from None
    if utc.year < 1990:
        raise ValueError(f"{moment} is before the web")
    return utc.strftime("%Y%m%d%H%M%S")


def in_period(stamp: str, start: str | None, end: str | None) -> bool:
    """Within [start, end], both given as timestamp prefixes ('2016', '201603', '20160324')."""
    return (not start or stamp >= start.ljust(14, "0")) and (not end or stamp <= end.ljust(14, "9"))


# --- politeness ----------------------------------------------------------------------------

class RateLimiter:
    """At most one request per ``interval`` seconds, for all threads together; and nothing at
    all while paused. A caller reserves its slot under the lock and sleeps outside it."""

    def __init__(self, per_second: float, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.interval = 1.0 / per_second
        self.clock, self.sleep = clock, sleep
        self.next_slot = 0.0
        self.paused_until = 0.0
        self.waited = 0.0  # seconds spent waiting, for benchmarks
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self.clock()
            slot = max(now, self.next_slot, self.paused_until)
            self.next_slot = slot + self.interval
            self.waited += slot - now
        if slot > now:
            self.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self.paused_until = max(self.paused_until, self.clock() + seconds)


class Limits(Protocol):
    """Where the limits of every process sharing a store are kept (``store.limits``)."""

    def reserve(self, host: str, kind: str, interval: float, now: float) -> Slot: ...
    def state(self, host: str) -> tuple[float, int]: ...
    def refused(self, host: str, now: float, pause: Callable[[int], float]) -> int: ...
    def answered(self, host: str) -> None: ...


class Host(Protocol):
    """One archive host's limits, as the client asks them: wait for a request's moment,
    record a 429 or an answer."""

    name: str

    def wait(self, kind: str) -> None:
        """Until a request of this ``kind`` may start; ``RateLimited`` once the host is given up."""

    def refused(self, pause: Callable[[int], float]) -> int:
        """A 429: the host paused for ``pause(429s in a row)`` seconds; the 429s in a row."""

    def answered(self) -> None: ...


@dataclass
class LocalHost:
    """Limits kept in this process alone (a client without a store). Given up, the host is
    asked nothing more by this client."""

    name: str
    limiters: dict[str, RateLimiter]
    retries: int
    refusals: int = 0  # 429s in a row

    def wait(self, kind: str) -> None:
        if self.refusals > self.retries:
            raise RateLimited(_given_up(self.name))
        self.limiters[kind].wait()

    def refused(self, pause: Callable[[int], float]) -> int:
        self.refusals += 1
        seconds = pause(self.refusals)
        for limiter in self.limiters.values():
            limiter.pause(seconds)
        return self.refusals

    def answered(self) -> None:
        self.refusals = 0


@dataclass
class SharedHost:
    """Limits kept in the store, for every process sharing it. Given up, the host is asked
    nothing until the pause of its last 429 ends; then one request tries again."""

    name: str
    limits: Limits
    intervals: dict[str, float]
    retries: int
    clock: Callable[[], float]
    sleep: Callable[[float], None]

    def wait(self, kind: str) -> None:
        while True:
            now = self.clock()
            slot = self.limits.reserve(self.name, kind, self.intervals[kind], now)
            if slot.refusals > self.retries and slot.paused_until > now:
                raise RateLimited(_given_up(self.name))
            if slot.at > now:
                self.sleep(slot.at - now)
            # another process may have met a 429 while this one waited: then wait for the pause
            if self.limits.state(self.name)[0] <= self.clock():
                return

    def refused(self, pause: Callable[[int], float]) -> int:
        return self.limits.refused(self.name, self.clock(), pause)

    def answered(self) -> None:
        self.limits.answered(self.name)


def _given_up(host: str) -> str:
    return (f"{host}: the archive keeps answering 429 Too Many Requests; stopped asking it "
            "(run again later: stored captures are kept)")


class ArchiveClient:
    """Every archive request goes through here (see the module docstring). With ``limits``
    (a store's), the limits hold for every process sharing that store; without, for this
    client alone. The clock is wall-clock seconds: limits are compared across processes."""

    def __init__(self, config: ArchiveConfig, fetch_config: FetchConfig, limits: Limits | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random):
        self.config, self.fetch_config, self.limits = config, fetch_config, limits
        self.clock, self.sleep, self.jitter = clock, sleep, jitter
        self.session: requests.Session = make_session(fetch_config)
        self.hosts: dict[str, Host] = {}
        self.requests = 0
        self._lock = threading.Lock()

    def host(self, url: str) -> Host:
        name = urlsplit(url).netloc.lower()
        with self._lock:
            if name not in self.hosts:
                self.hosts[name] = self._limited(name)
            return self.hosts[name]

    def _limited(self, name: str) -> Host:
        per_second = {"index": self.config.index_per_minute / 60, "capture": self.config.captures_per_second,
                      "save": self.config.saves_per_minute / 60}
        if self.limits is not None:
            return SharedHost(name, self.limits, {kind: 1 / rate for kind, rate in per_second.items()},
                              self.config.retries, self.clock, self.sleep)
        return LocalHost(name, {kind: RateLimiter(rate, self.clock, self.sleep) for kind, rate in per_second.items()},
                         self.config.retries)

    def get(self, url: str, kind: str, follow_redirects: bool = True) -> Fetched:
        """GET an index page (``kind="index"``), a capture or a save request, within the host's limits.

        Answers 429 pause the host for ``pause_s`` and then twice as long each time (with
        jitter), 5xx answers and lost connections are retried after a short back-off; after
        ``retries`` of either, ``ArchiveError`` (``RateLimited`` for 429s)."""
        host = self.host(url)
        failures = 0
        while True:
            host.wait(kind)
            self.requests += 1
            try:
                fetched = fetch(self.session, url, self.fetch_config, follow_redirects=follow_redirects)
            except FetchError as e:
                failures += 1
                if failures > self.config.retries:
                    raise ArchiveError(str(e)) from None
                self.sleep(2 ** failures + self.jitter())
                continue
            archived = "memento-datetime" in fetched.headers  # the page's own answer, as captured
            if fetched.status == 429 and not archived:
                refusals = host.refused(lambda n: self.config.pause_s * 2 ** (n - 1) * (1 + self.jitter() / 4))
                if refusals > self.config.retries:
                    raise RateLimited(_given_up(host.name))
                continue
            host.answered()
            if fetched.status >= 500 and fetched.status != 501 and not archived:
                failures += 1
                if failures > self.config.retries:
                    raise ArchiveError(f"{url}: the archive answered {fetched.status} "
                                       f"{self.config.retries + 1} times")
                self.sleep(2 ** failures + self.jitter())
                continue
            return fetched


# --- discovery -----------------------------------------------------------------------------

class CDXIndex(WaybackMachineCDXServerAPI):
    """waybackpy's CDX query and record parsing, with this tool's HTTP underneath.

    waybackpy builds and checks the query (filters, collapses, from/to) and turns lines into
    records; but its own requests have no timeout, no rate limit, and on a 429 it returns an
    empty result as if there were no captures. So the one method that talks HTTP is replaced:
    pages come through ``ArchiveClient`` (which never hands back a 429), and paging uses the
    CDX resume keys."""

    def __init__(self, client: ArchiveClient, cdx_url: str, url: str, start: str | None, end: str | None,
                 page_size: int = 5000):
        # No collapse=digest: it would drop the last capture of each text, and with it the
        # tight edge of a change's window. Equal digests are not fetched twice anyway.
        super().__init__(url, user_agent=client.fetch_config.full_user_agent, start_timestamp=start,
                         end_timestamp=end, limit=str(page_size))
        self.client = client
        self.endpoint = cdx_url

    def cdx_api_manager(self, payload: dict[str, str], headers: dict[str, str]) -> Generator[str, None, None]:
        payload.update(showResumeKey="true", limit=str(self.limit))
        while True:
            query = "&".join(f"{k}={quote(v, safe=':[]*')}" for k, v in payload.items())
            fetched = self.client.get(f"{self.endpoint}?{query}", "index")
            if fetched.status != 200:
                raise ArchiveError(f"{self.endpoint}: CDX search for {self.url} answered {fetched.status}")
            lines = fetched.body.decode("utf-8", "replace").strip().splitlines()
            if len(lines) >= 2 and not lines[-2].strip():
                # the last line is a resume key: more pages follow
                payload["resumeKey"] = lines[-1].strip()
                yield "\n".join(lines[:-2])
                continue
            yield "\n".join(lines)
            return


def list_ia(client: ArchiveClient, config: ArchiveConfig, url: str, start: str | None,
            end: str | None) -> list[Memento]:
    """Every distinct capture of ``url`` in the Internet Archive (or a CDX server like it)."""
    index = CDXIndex(client, config.cdx_url, url, start, end)
    replay = config.replay_url.rstrip("/")
    out, seen = [], set()
    try:
        for record in index.snapshots():
            if (record.timestamp, record.original) in seen:
                continue  # the index repeats records, within a page and across resume keys
            seen.add((record.timestamp, record.original))
            parse_timestamp(record.timestamp)  # a line that only looks like a record is refused
            out.append(Memento(
                url=record.original, timestamp=record.timestamp, archive="ia",
                archive_url=f"{replay}/{record.timestamp}id_/{record.original}",
                digest=record.digest, status=int(record.statuscode) if record.statuscode.isdigit() else None,
                mimetype=record.mimetype))
    except (WaybackError, ValueError, IndexError, AttributeError):
        # its text may be anything: it is not repeated
        raise ArchiveError(f"{config.cdx_url}: the answer to the CDX search for {url} is not a CDX "
                           "listing") from None
    return out


LINK = re.compile(r'<([^>]*)>\s*((?:;\s*[\w-]+\s*=\s*(?:"[^"]*"|[^;,\s]+)\s*)*)')
PARAM = re.compile(r'([\w-]+)\s*=\s*(?:"([^"]*)"|([^;,\s]+))')


def list_memento(client: ArchiveClient, archive: str, url: str, start: str | None, end: str | None) -> list[Memento]:
    """The mementos of ``url`` in a Memento archive's TimeMap (RFC 7089, link format)."""
    base = archive.partition(":")[2].rstrip("/")
    timemap = f"{base}/timemap/link/{url}"
    fetched = client.get(timemap, "index")
    if fetched.status == 404:
        return []  # the archive has no capture of this URL
    if fetched.status != 200:
        raise ArchiveError(f"{timemap}: the TimeMap answered {fetched.status}")
    out = []
    for target, params in LINK.findall(fetched.body.decode("utf-8", "replace")):
        attributes = {m[0].lower(): m[1] or m[2] for m in PARAM.findall(params)}
        if "memento" not in attributes.get("rel", "").split() or "datetime" not in attributes:
            continue
        try:
            stamp = to_timestamp(parsedate_to_datetime(attributes["datetime"]))
        except (TypeError, ValueError):
            continue
        if in_period(stamp, start, end):
            out.append(Memento(url=url, timestamp=stamp, archive=archive, archive_url=raw_url(target)))
    return out


def raw_url(memento_url: str) -> str:
    """The replay URL of the capture as it was archived (``id_``), not the archive's rewritten view."""
    return TIMESTAMP.sub(lambda m: f"/{m.group(1)}id_/", memento_url, count=1)


# --- fetching a capture --------------------------------------------------------------------

@dataclass
class Retrieved:
    """A memento as fetched: the archived response, and how the archive got there."""

    memento: Memento
    response: Fetched
    hops: list[dict] = field(default_factory=list)  # the archive's own redirects to the capture
    archived_redirect: str | None = None  # the page itself redirected here, to this URL


def retrieve(client: ArchiveClient, memento: Memento) -> Retrieved:
    """Fetch a raw capture. The archive redirects to the nearest capture when the timestamp
    is not exact (no Memento-Datetime header: follow it, and keep the real capture time);
    an archived redirect (the page redirected when it was captured) carries Memento-Datetime
    and is returned as it is. A 404 without Memento-Datetime is the archive's, not the page's:
    ``NotArchived``."""
    url = memento.archive_url
    hops: list[dict] = []
    while True:
        fetched = client.get(url, "capture", follow_redirects=False)
        location = fetched.headers.get("location")
        if fetched.status in REDIRECT_STATUSES and location:
            target = requests.compat.urljoin(url, location)
            if "memento-datetime" in fetched.headers:
                return Retrieved(_as_captured(memento, fetched, url), fetched, hops,
                                 archived_redirect=_original(target))
            if len(hops) >= MAX_HOPS:
                raise ArchiveError(f"{memento.archive_url}: the archive redirected more than {MAX_HOPS} times")
            try:
                check_redirect_target(url, target)
            except FetchError as e:
                raise ArchiveError(str(e)) from None
            hops.append({"status": fetched.status, "url": url, "location": target})
            url = target
            continue
        if fetched.status == 404 and "memento-datetime" not in fetched.headers:
            raise NotArchived(f"{memento.archive_url}: the archive has no such capture (404)")
        return Retrieved(_as_captured(memento, fetched, url), fetched, hops)


def _as_captured(memento: Memento, fetched: Fetched, url: str) -> Memento:
    """The memento with its real capture time (from the URL reached, or Memento-Datetime)."""
    stamp = TIMESTAMP.search(url)
    timestamp = stamp.group(1) if stamp else memento.timestamp
    if "memento-datetime" in fetched.headers:
        try:
            timestamp = to_timestamp(parsedate_to_datetime(fetched.headers["memento-datetime"]))
        except (TypeError, ValueError):
            pass
    return Memento(url=memento.url, timestamp=timestamp, archive=memento.archive, archive_url=url,
                   digest=memento.digest, status=fetched.status, mimetype=memento.mimetype)


def _original(replay_url: str) -> str:
    """'https://web.archive.org/web/2017id_/https://x.com/a' -> 'https://x.com/a'."""
    match = re.search(r"/\d{14}(?:[a-z]{2}_)?/(.*)$", replay_url)
    return match.group(1) if match else replay_url


# --- Save Page Now ------------------------------------------------------------------------

def save_page(client: ArchiveClient, save_url: str, url: str) -> str:
    """Ask the Internet Archive to capture ``url`` now (Save Page Now): evidence made at the
    moment a change is seen. Returns the new memento's URL.

    Not waybackpy's save API: it has no timeout, sleeps 5 to 10 s between its own retries,
    and only accepts answers from web.archive.org, so it could not be bounded or tested."""
    fetched = client.get(f"{save_url.rstrip('/')}/{url}", "save")
    if fetched.status >= 400:
        raise ArchiveError(f"{url}: Save Page Now answered {fetched.status}")
    links = re.findall(r'<([^>]*)>\s*;[^,]*rel="[^"]*memento', fetched.headers.get("link", ""))
    for candidate in (fetched.final_url, fetched.headers.get("content-location", ""), *links):
        if TIMESTAMP.search(candidate):
            return requests.compat.urljoin(fetched.final_url, candidate)
    raise ArchiveError(f"{url}: Save Page Now answered {fetched.status} without a memento URL")


# --- WARC files ----------------------------------------------------------------------------

def read_warcs(archive: str, urls: list[str], start: str | None, end: str | None,
               max_bytes: int, skipped: list[str], base: Path) -> Iterator[Retrieved]:
    """The responses for ``urls`` in the WARC files an archive names, with their bodies;
    a record that cannot be a capture (no valid date or status) is skipped and said in
    ``skipped``: one bad record must not cost the rest of the file. A record is named by
    its file relative to ``base`` (the config's folder) and its offset: the same name
    whatever folder the command runs in, so a record is never stored twice."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    pattern = archive.partition(":")[2]
    paths = sorted(glob.glob(pattern)) or ([pattern] if Path(pattern).exists() else [])
    if not paths:
        raise ArchiveError(f"{archive}: no WARC file matches {pattern!r}")
    wanted = {same_page_key(u) for u in urls}
    bodies: dict[str, Retrieved] = {}  # payload digest -> a response, for revisit records
    for path in paths:
        read = 0  # whole records: a file cut short says how far it could be read
        try:
            with open(path, "rb") as stream:
                if not _looks_like_warc(stream):
                    raise ValueError("it does not start with a WARC record")
                records = ArchiveIterator(stream)
                name = _named(path, base)
                for record in records:
                    try:
                        retrieved = _wanted_response(record, wanted, start, end, max_bytes, path, archive,
                                                     lambda: f"{name}#{records.get_record_offset()}", bodies)
                    except _BadRecord as e:
                        skipped.append(f"{path}#{records.get_record_offset()}: {e}")
                        retrieved = None
                    if _cut_short(record):
                        raise ArchiveError(_truncated(path, read))
                    read += 1
                    if retrieved is not None:
                        yield retrieved
                if not _gzip_complete(stream):
                    raise ArchiveError(_truncated(path, read))
        except (ArchiveLoadFailed, OSError, ValueError, EOFError, zlib.error) as e:
            raise ArchiveError(f"{path}: not a readable WARC file ({short(str(e), 120)})") from None


def _wanted_response(record, wanted: set[str], start: str | None, end: str | None, max_bytes: int, path: str,
                     archive: str, where: Callable[[], str], bodies: dict[str, Retrieved]) -> Retrieved | None:
    """A record's response, if it is a capture of one of the policy's pages in the period.
    (``where`` is the record's place in the file: warcio knows it once the record is read.)"""
    if record.rec_type not in ("response", "revisit") or record.http_headers is None:
        return None
    target = record.rec_headers.get_header("WARC-Target-URI") or ""
    if same_page_key(target) not in wanted:
        return None
    date = record.rec_headers.get_header("WARC-Date") or ""
    try:
        stamp = to_timestamp(datetime.fromisoformat(date.replace("Z", "+00:00")))
    except ValueError:
        raise _BadRecord(f"no valid WARC-Date ({date[:40]!r})") from None
    status = record.http_headers.get_statuscode() or ""
    if not re.fullmatch("[1-9][0-9]{2}", status):
        raise _BadRecord(f"no valid HTTP status ({status[:20]!r})")
    # a response outside the period is still read: a revisit inside it may repeat its body
    wanted_now = in_period(stamp, start, end)
    body = record.content_stream().read(max_bytes + 1) if record.rec_type == "response" else b""
    if len(body) > max_bytes:
        if not wanted_now:
            return None
        raise ArchiveError(f"{path}: the capture of {target} at {stamp} is over max_bytes ({max_bytes:,})")
    retrieved = _warc_response(record, body, where(), archive, target, stamp, bodies)
    if wanted_now and retrieved is None:
        raise _BadRecord(f"a revisit of {short(target, 80)} whose original these files do not hold")
    return retrieved if wanted_now else None


class _BadRecord(Exception):
    """A WARC record that cannot be a capture; the message says why."""


def _named(path: str, base: Path) -> str:
    """A WARC file's path relative to ``base`` when it lies inside it, else as it is."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(base)) if resolved.is_relative_to(base) else str(resolved)


def _truncated(path: str, read: int) -> str:
    return f"{path}: the file is truncated: {read} whole record(s) read before its end, the rest is lost"


def _cut_short(record) -> bool:
    """Whether a record ends before the length its header gives (warcio says nothing)."""
    payload = record.raw_stream
    while payload.read(1 << 16):
        pass
    return payload.limit > 0


def _gzip_complete(stream) -> bool:
    """Whether a gzipped file ends where a gzip member ends (True for a file not gzipped):
    a file cut between two records, or in a member's trailer, still reads record by record."""
    stream.seek(0)
    if stream.read(2) != b"\x1f\x8b":
        return True
    stream.seek(0)
    member, started = zlib.decompressobj(zlib.MAX_WBITS | 16), False
    while chunk := stream.read(1 << 20):
        while chunk:
            started = True
            member.decompress(chunk, 1 << 20)
            if member.eof:
                chunk = member.unused_data
                member, started = zlib.decompressobj(zlib.MAX_WBITS | 16), False
            else:
                chunk = member.unconsumed_tail
    return not started


def _looks_like_warc(stream) -> bool:
    head = stream.read(512)
    stream.seek(0)
    if head.startswith(b"\x1f\x8b"):
        try:
            head = zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(head, 16)
        except zlib.error:
            return False
    return head.startswith(b"WARC/")


def _warc_response(record, body: bytes, where: str, archive: str, target: str, stamp: str,
                   bodies: dict[str, Retrieved]) -> Retrieved | None:
    digest = record.rec_headers.get_header("WARC-Payload-Digest")
    status = int(record.http_headers.get_statuscode() or 0)
    headers = {k.lower(): v for k, v in record.http_headers.headers}
    if record.rec_type == "revisit":
        original = bodies.get(digest or "")
        if original is None:
            return None  # its original is not in these files
        body = original.response.body
    memento = Memento(url=target, timestamp=stamp, archive=archive, archive_url=where,
                      digest=digest, status=status, mimetype=headers.get("content-type"))
    when = iso(parse_timestamp(stamp))
    response = Fetched(url=target, final_url=target, status=status, headers=headers, body=body, fetched_at=when)
    location = headers.get("location")
    retrieved = Retrieved(memento, response,
                          archived_redirect=requests.compat.urljoin(target, location)
                          if status in REDIRECT_STATUSES and location else None)
    if record.rec_type == "response" and digest:
        bodies[digest] = retrieved
    return retrieved


def same_page_key(url: str) -> str:
    """URLs an archive treats as one page: scheme, 'www.', a trailing slash and the fragment aside."""
    parts = urlsplit(url.strip())
    host = parts.netloc.lower().removeprefix("www.")
    host = host.removesuffix(":80").removesuffix(":443")
    path = parts.path.rstrip("/") or ""
    return f"{host}{path}" + (f"?{parts.query}" if parts.query else "")
