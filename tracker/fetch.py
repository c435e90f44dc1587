"""Fetch a page over HTTP as a careful, bounded client.

Everything fetched is untrusted: the body is capped at ``max_bytes`` *after* decompression
(a gzip bomb never fills memory), the whole fetch is bounded in time, redirects are followed
by hand so that each hop is recorded and no redirect body is read, and conditional GET saves
the server (and us) a download when nothing changed.
"""

from __future__ import annotations

import codecs
import http.client
import functools
import ipaddress
import re
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.util.response

from tracker.config import FetchConfig
from tracker.errors import TrackerError
from tracker.models import utc_now

CHUNK = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
MAX_REDIRECTS = 10
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)


class FetchError(TrackerError):
    """A fetch that produced no usable response; the message names the URL."""


@dataclass
class Fetched:
    """An HTTP response as received: what a capture is made from."""

    url: str
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: str
    redirects: list[dict] = field(default_factory=list)

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def make_session(config: FetchConfig) -> requests.Session:
    session = requests.Session()
    for scheme in ("http://", "https://"):
        session.mount(scheme, _DeadlineAdapter())
    session.headers["User-Agent"] = config.full_user_agent
    # Only encodings we can decompress under a size cap ourselves.
    session.headers["Accept-Encoding"] = "gzip, deflate"
    return session


def fetch(session: requests.Session, url: str, config: FetchConfig,
          validators: dict[str, str] | None = None, follow_redirects: bool = True,
          resolve: Resolve | None = None, accept_language: str = "") -> Fetched:
    """GET ``url`` within ``config``'s limits; raises ``FetchError`` when there is no response.

    With ``follow_redirects=False`` a redirect is returned as it is (an archive's redirects
    mean different things: the caller reads them)."""
    with _Deadline(config.timeout_s) as guard:
        try:
            fetched = _exchange(session, url, config, _request_headers(validators, accept_language),
                                follow_redirects, guard.ends, resolve or resolve_host)
        except FetchError:
            if not guard.expired:
                raise
        else:
            if not guard.expired:
                return fetched
        # the deadline shut the socket under a read: whatever was read is not the page
        raise FetchError(f"{short(url)}: timed out after {config.timeout_s:g}s") from None


def _request_headers(validators: dict[str, str] | None, accept_language: str) -> dict[str, str]:
    """The conditional-GET validators of the last capture, and the language asked for: a site
    that picks the language of its page by the request would otherwise answer in its own."""
    headers = {}
    if validators:
        if validators.get("etag"):
            headers["If-None-Match"] = validators["etag"]
        if validators.get("last-modified"):
            headers["If-Modified-Since"] = validators["last-modified"]
    if accept_language:
        headers["Accept-Language"] = accept_language
    return headers


def _exchange(session: requests.Session, url: str, config: FetchConfig, headers: dict[str, str],
              follow_redirects: bool, deadline: float, resolve: Resolve) -> Fetched:
    redirects: list[dict] = []
    current = url
    fetched_at = utc_now()
    while True:
        response = _get(session, current, headers, deadline, config)
        with response:
            if follow_redirects and response.status_code in REDIRECT_STATUSES and "location" in response.headers:
                try:
                    target = urljoin(current, response.headers["location"])
                    urlsplit(target).port  # a port that is not a number, a broken IPv6 literal
                except ValueError:
                    raise FetchError(f"{short(url)}: redirected to an invalid URL "
                                     f"{short(response.headers['location'])!r}") from None
                redirects.append({"status": response.status_code, "url": current, "location": target})
                if len(redirects) > MAX_REDIRECTS:
                    raise FetchError(f"{short(url)}: more than {MAX_REDIRECTS} redirects")
                if urlsplit(target).scheme not in ("http", "https"):
                    raise FetchError(f"{short(url)}: redirected to a non-HTTP URL {short(target)!r}")
                check_redirect_target(current, target, resolve)
                current = target
                continue
            body = read_capped(response, config.max_bytes, current)
            return Fetched(
                url=url, final_url=current, status=response.status_code,
                headers={k.lower(): v for k, v in response.headers.items()},
                body=body, fetched_at=fetched_at, redirects=redirects,
            )


# --- redirects into the private network ----------------------------------------------------------

Resolve = Callable[[str], list[str]]  # a host name -> its IP addresses


def resolve_host(host: str) -> list[str]:
    try:
        return [str(info[4][0]) for info in socket.getaddrinfo(host, None)]
    except (socket.gaierror, UnicodeError):
        return []  # the fetch itself will say the name does not resolve


def _internal(url: str, resolve: Resolve) -> bool:
    """Whether a URL's host is (or resolves to) an address outside the public Internet:
    private, loopback, link-local (cloud metadata), reserved. One such address is enough."""
    host = (urlsplit(url).hostname or "").strip("[]")
    for address in resolve(host):
        try:
            ip = ipaddress.ip_address(address.split("%")[0])
        except ValueError:
            continue
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
            ip = ip.ipv4_mapped
        if not ip.is_global:
            return True
    return False


def check_redirect_target(from_url: str, to_url: str, resolve: Resolve = resolve_host) -> None:
    """Refuse a redirect from a public address into the private network: a page must not make
    us fetch (and publish in reports) what only this machine can reach. A URL the config
    names is the user's choice, and so are redirects between addresses of the same kind."""
    if urlsplit(from_url).hostname == urlsplit(to_url).hostname:
        return
    if _internal(to_url, resolve) and not _internal(from_url, resolve):
        raise FetchError(f"{short(from_url)}: refused a redirect from a public address into the private network "
                         f"({short(to_url)})")


# --- one deadline over a whole exchange -------------------------------------------------------
# A socket timeout restarts with every byte received: a server that sends a byte every half
# second (in its headers or its body) would hold a fetch forever. So every socket a fetch
# opens or reuses is registered with the fetch's deadline, and a timer shuts them all when it
# passes: whatever read is waiting returns at once.

_current = threading.local()  # the _Deadline of the fetch running on this thread, if any


class _Deadline:
    def __init__(self, seconds: float):
        self.ends = time.monotonic() + seconds
        self.expired = False
        self.sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> "_Deadline":
        self._outer = getattr(_current, "deadline", None)
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        _current.deadline = self._outer

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self.sockets.append(sock)
            if self.expired:
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self.sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


def _watched(sock: socket.socket | None) -> None:
    deadline = getattr(_current, "deadline", None)
    if deadline is not None and sock is not None:
        deadline.watch(sock)


class _WatchedConnection:
    """Registers its socket with the running fetch's deadline: when opened, and when reused."""

    def _new_conn(self):
        sock = super()._new_conn()  # type: ignore[misc]
        _watched(sock)
        return sock

    def getresponse(self, *args, **kwargs):
        _watched(getattr(self, "sock", None))
        return super().getresponse(*args, **kwargs)  # type: ignore[misc]


@functools.cache
def _watching(connection_class: type) -> type:
    return type(f"Watched{connection_class.__name__}", (_WatchedConnection, connection_class), {})


class _HTTPPool(urllib3.HTTPConnectionPool):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # the connection class urllib3 has now (a recorder in tests may have put its own)
        self.ConnectionCls = _watching(urllib3.HTTPConnectionPool.ConnectionCls)


class _HTTPSPool(urllib3.HTTPSConnectionPool):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.ConnectionCls = _watching(urllib3.HTTPSConnectionPool.ConnectionCls)


class _DeadlineAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}


def _get(session: requests.Session, url: str, headers: dict, deadline: float,
         config: FetchConfig) -> requests.Response:
    remaining = max(deadline - time.monotonic(), 0.001)
    try:
        response = session.get(url, headers=headers, stream=True, allow_redirects=False,
                               timeout=(remaining, remaining))
        urllib3.util.response.assert_header_parsing(response.raw._original_response.msg)
        return response
    except urllib3.exceptions.HeaderParsingError:
        response.close()  # only its headers were read: the connection is not to be reused
        raise FetchError(f"{short(url)}: the server's answer has malformed or cut-off headers") from None
    except requests.Timeout:
        raise FetchError(f"{short(url)}: timed out after {config.timeout_s:g}s") from None
    except (requests.RequestException, urllib3.exceptions.HTTPError, ValueError) as e:
        raise FetchError(f"{short(url)}: {_reason(e)}") from None


def read_capped(response: requests.Response, limit: int, url: str) -> bytes:
    """Read and decompress the body, refusing more than ``limit`` decompressed bytes."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("identity", ""):
        decoder = None
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise FetchError(f"{short(url)}: page is {int(declared):,} bytes, over max_bytes ({limit:,})")
    elif encoding in ("gzip", "x-gzip", "deflate"):
        decoder = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
    else:
        raise FetchError(f"{short(url)}: unsupported Content-Encoding {short(encoding, 40)!r}")
    out = bytearray()
    try:
        while chunk := response.raw.read(CHUNK, decode_content=False):
            if decoder is None:
                out += chunk
            else:
                decoder, inflated = _inflate(decoder, chunk, limit - len(out))
                out += inflated
            if len(out) > limit:
                raise FetchError(f"{short(url)}: page is over max_bytes ({limit:,} bytes)"
                                 + (" once decompressed" if decoder else ""))
        if decoder is not None:
            out += decoder.flush()
            if not decoder.eof:  # a body cut short must not be stored as the page
                raise FetchError(f"{short(url)}: the {short(encoding, 40)} body ends before its end (truncated)")
    except zlib.error as e:
        raise FetchError(f"{short(url)}: corrupt {short(encoding, 40)} body ({e})") from None
    except (urllib3.exceptions.ReadTimeoutError, socket.timeout):
        raise FetchError(f"{short(url)}: timed out while reading") from None
    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as e:
        raise FetchError(f"{short(url)}: connection lost while reading ({_reason(e)})") from None
    return bytes(out)


def _inflate(decoder, data: bytes, room: int) -> tuple:
    """(the decompressor to go on with, the bytes ``data`` inflates to), never more than one
    byte past ``room``; a gzip member that ends gives way to the next (RFC 1952 allows several)."""
    out = bytearray()
    while True:
        out += decoder.decompress(data, room + 1 - len(out))
        if decoder.unconsumed_tail:
            return decoder, bytes(out) + b"x"  # more output pending: certainly over the room
        if len(out) > room or not (decoder.eof and decoder.unused_data[:2] == GZIP_MAGIC):
            return decoder, bytes(out)  # what follows the last member, if anything, is not the page
        data, decoder = decoder.unused_data, zlib.decompressobj(zlib.MAX_WBITS | 32)


def short(text: str, limit: int = 200) -> str:
    """A URL or other fetched text cut to a length an error line can carry."""
    return text if len(text) <= limit else f"{text[:limit - 20]}…{text[-15:]}"


def _reason(exc: BaseException) -> str:
    """The innermost readable cause of a requests/urllib3 error ('Connection refused')."""
    seen = exc
    while True:
        inner = seen.__cause__ or seen.__context__ or (seen.args[0] if seen.args and isinstance(seen.args[0], BaseException) else None)
        if inner is None or inner is seen:
            break
        seen = inner
        if isinstance(seen, OSError) and seen.strerror:
            return seen.strerror
    if isinstance(seen, http.client.HTTPException) and not isinstance(seen, http.client.IncompleteRead):
        return "the server's answer is not valid HTTP"
    text = str(seen)
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if match:
        return match.group(1)
    return text if len(text) < 160 else type(seen).__name__


def describe_body(content_type: str, body: bytes) -> tuple[str, str | None, str]:
    """Media type, charset and format ('html', 'pdf', 'text', 'other') of a response body.

    The declared type is checked against the body itself: servers often mislabel pages.
    """
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    charset = _charset_param(params) or _sniff_charset(body)
    head = body[:1024].lstrip().lower()
    if media == "application/pdf" or body.startswith(b"%PDF-"):
        return media, charset, "pdf"
    if media in ("text/html", "application/xhtml+xml") or head.startswith((b"<!doctype html", b"<html")):
        return media, charset, "html"
    if media.startswith("text/"):
        return media, charset, "text"
    return media, charset, "other"


def _charset_param(params: str) -> str | None:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return _known_codec(value.strip().strip("\"'"))
    return None


def _sniff_charset(body: bytes) -> str | None:
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return encoding
    match = META_CHARSET.search(body[:4096])
    if not match:
        return None
    name = _known_codec(match.group(1).decode("ascii"))
    # a <meta> naming UTF-16 was read by the parser as ASCII-compatible text: browsers use UTF-8
    return "utf-8" if name in ("utf-16", "utf-16-le", "utf-16-be") else name


def _known_codec(name: str) -> str | None:
    """The codec of a charset name, if it is a text encoding ('base64' and 'rot13' are codecs
    too, but no page is written in them)."""
    try:
        info = codecs.lookup(name)
        "policy".encode(info.name).decode(info.name)
    except (LookupError, ValueError, TypeError):
        return None
    text = getattr(info, "_is_text_encoding", True) and info.name not in ("idna", "punycode")
    return info.name if text else None


def decode_body(body: bytes, charset: str | None) -> str:
    """Text of a body: its declared charset, else UTF-8, else Windows-1252 (what browsers do)."""
    if charset:
        try:
            return body.decode(charset, errors="replace")
        except Exception:  # a stored charset that is no text encoding: read as if none were given
            pass
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return body.decode("cp1252", errors="replace")
