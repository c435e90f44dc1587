"""Shared test parts: a real HTTP server on 127.0.0.1, config files, the CLI."""

from __future__ import annotations

import http.server
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from tracker.cli import cli
from tracker.store import Store

FIXTURES = Path(__file__).parent / "fixtures"


def policy_html(retention: str = "30 days", extra: str = "", chrome: str = "") -> bytes:
    """A small but realistic policy page: site chrome around a sectioned policy text."""
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Privacy Policy | Acme</title></head>
<body><header><nav><a href="/">Home</a> <a href="/blog">Blog</a></nav></header>
<div id="onetrust-banner-sdk"><p>We use cookies to improve your experience. Accept all?</p></div>
<main><article><h1>Privacy Policy</h1><p>Last updated: March 3, 2024</p>
<h2>1. Information We Collect</h2>
<p>We collect the information you give us when you create an account, such as your name,
your e-mail address and your postal address, and the information your device sends us.</p>
<ul><li>Account details you provide</li><li>Usage data from our apps</li></ul>
<h2>2. How We Use Information</h2>
<p>We use your information to provide and improve the service, to keep it secure, and to
contact you about your account. We do not sell your personal information to anyone.</p>
<h2>3. Retention</h2>
<p>We keep your data for {retention} after you close your account, then delete it.</p>{extra}
<h2>4. Contact Us</h2><p>Write to privacy@acme.example with any question about this policy.</p>
</article></main>{chrome}<footer><p>&copy; 2024 Acme Inc. All rights reserved.</p></footer></body></html>""".encode()


@dataclass
class Page:
    """What the test server answers for one path."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})
    delay: float = 0.0            # seconds before answering
    handler: Callable | None = None  # full control: handler(request_handler) -> None


class Site:
    """A real HTTP server on 127.0.0.1 whose pages the test sets; it records each request."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                site.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                page = site.pages.get(self.path)
                if page is None:
                    page = Page(b"<html><body><h1>Not found</h1></body></html>", status=404)
                if page.delay:
                    time.sleep(page.delay)
                if page.handler is not None:
                    page.handler(self)
                    return
                self.send_response(page.status)
                for name, value in page.headers.items():
                    self.send_header(name, value)
                if not any(k.lower() == "content-length" for k in page.headers):
                    self.send_header("Content-Length", str(len(page.body)))
                self.end_headers()
                try:
                    self.wfile.write(page.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site():
    s = Site()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Loopback traffic must never go through a proxy from the environment."""
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("TRACKER_CONFIG", raising=False)


def write_config(tmp_path: Path, policies: list[dict], extra: str = "") -> Path:
    """A config.toml in tmp_path with its database beside it."""
    lines = ['[storage]\npath = "snapshots/tracker.db"\n', extra]
    for p in policies:
        lines.append("[[policy]]")
        for key, value in p.items():
            lines.append(f"{key} = {_toml(value)}")
        lines.append("")
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return '"' + escaped + '"'


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def out(self) -> str:
        """stdout with column padding squeezed to one space."""
        return re.sub(r"[ \t]+", " ", self.stdout)

    @property
    def err(self) -> str:
        return re.sub(r"[ \t]+", " ", self.stderr)


def run_cli(config: Path, *args: str) -> Result:
    """Run the CLI in-process, the way a user would call it."""
    result = CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)
    return Result(result.exit_code, result.stdout, result.stderr)


def run_tracker(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m tracker`` as a separate process: what a shell user sees."""
    return subprocess.run([sys.executable, "-m", "tracker", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={**os.environ, **(env or {})})


# --- archives: WARC files written with warcio, a real pywb server ----------------------------

@dataclass
class Archived:
    """One capture to write into a test WARC."""

    url: str
    date: str  # "2020-01-31T10:00:00Z"
    body: bytes
    status: str = "200 OK"
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("Content-Type", "text/html; charset=utf-8")])


def write_warc(path: Path, captures: list[Archived]) -> Path:
    """A gzipped WARC of response records, as a crawler (or ArchiveWeb.page) writes them."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for c in captures:
            headers = StatusAndHeaders(c.status, c.headers + [("Content-Length", str(len(c.body)))],
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                c.url, "response", payload=io.BytesIO(c.body), http_headers=headers,
                warc_headers_dict={"WARC-Date": c.date}))
    return path


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Pywb:
    """A real pywb archive server on 127.0.0.1 with one collection, ``test``."""

    def __init__(self, root: Path, warcs: list[Path]):
        bin_dir = Path(sys.executable).parent
        subprocess.run([bin_dir / "wb-manager", "init", "test"], cwd=root, check=True, capture_output=True)
        for warc in warcs:
            subprocess.run([bin_dir / "wb-manager", "add", "test", str(warc)], cwd=root, check=True,
                           capture_output=True)
        self.port = free_port()
        self.log = open(root / "pywb.log", "wb")
        self.process = subprocess.Popen([bin_dir / "wayback", "--bind", "127.0.0.1", "-p", str(self.port)],
                                        cwd=root, stdout=self.log, stderr=subprocess.STDOUT)
        self.base = f"http://127.0.0.1:{self.port}/test"
        import requests
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.close()
                    raise RuntimeError(f"pywb did not start: see {root / 'pywb.log'}")
                time.sleep(0.1)

    def close(self) -> None:
        stop(self.process)
        self.log.close()


def stop(process: subprocess.Popen) -> None:
    """End a server the tests started: asked first, then killed."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


# --- a real browser ------------------------------------------------------------------------

def chromium() -> str | None:
    """Debian's Chromium; installed here when it is missing and this user may install it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        for command in (["apt-get", "install", "-y", "chromium"], ["apt-get", "update"],
                        ["apt-get", "install", "-y", "chromium"]):  # the package lists may be stale
            subprocess.run(command, capture_output=True, timeout=900)
            found = shutil.which("chromium")
            if found:
                break
    return found


@pytest.fixture(scope="module")
def browser():
    path = chromium()
    if path is None:
        pytest.skip("headless Chromium is not installed and could not be installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        yield launched
        launched.close()


# --- stores: SQLite files, and a real PostgreSQL server ----------------------------------------

def postgres_bin(program: str) -> str | None:
    """A PostgreSQL server program: on the PATH, or where Debian's packages put it."""
    found = shutil.which(program)
    if found is None:
        candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{program}"))
        found = str(candidates[-1]) if candidates else None
    return found


class Postgres:
    """A PostgreSQL server of the test session's own, on 127.0.0.1 (its socket in its folder),
    made with initdb and stopped at the end; each test asks it for a fresh database. initdb
    refuses to run as root: then the server runs as `nobody`, in a folder of theirs."""

    def __init__(self, durable: bool = False) -> None:
        """``durable``: with PostgreSQL's own settings (benchmarks/scale.py); the tests' server
        does not wait for the disk."""
        initdb, self.pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
        self.durable = durable
        if initdb is None or self.pg_ctl is None:
            pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run installs it)")
        self.as_user = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        self.folder = Path(tempfile.mkdtemp(prefix="tracker-pg-"))  # not under pytest's folders, which only root may enter
        if self.as_user:
            shutil.chown(self.folder, "nobody")
        self.data = self.folder / "data"
        subprocess.run([*self.as_user, initdb, "-D", str(self.data), "-U", "postgres", "-A", "trust",
                        "-E", "UTF8", "--no-sync"], check=True, capture_output=True)
        self.port = self._start()
        self.admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self._numbers = itertools.count(1)

    def _start(self) -> int:
        """Start on a free port; pg_ctl -w returns once the server accepts connections."""
        for _ in range(5):  # a free port may be taken between asking and starting
            port = free_port()
            started = subprocess.run(
                [*self.as_user, self.pg_ctl, "-D", str(self.data), "-w", "-t", "60", "-l", str(self.folder / "log"),
                 "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {self.folder}" + (
                     "" if self.durable else " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"),
                 "start"], capture_output=True)
            if started.returncode == 0:
                return port
        raise RuntimeError(f"PostgreSQL did not start: see {self.folder / 'log'}")

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        import psycopg
        name = f"t{next(self._numbers)}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def copy(self, url: str) -> str:
        """The URL of a new database holding what the one at ``url`` holds (no one connected to it)."""
        import psycopg
        name = f"t{next(self._numbers)}"
        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {url.rsplit('/', 1)[1]}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres():
    server = Postgres()
    yield server
    server.stop()


def on_postgres(config: Path, url: str) -> Path:
    """A config written by ``write_config``, its store in the PostgreSQL database at ``url``."""
    config.write_text(config.read_text().replace('path = "snapshots/tracker.db"', f'url = "{url}"'))
    return config


def store_url(config: Path) -> str | None:
    """The PostgreSQL URL a config names, if any."""
    found = re.search(r'^url = "(postgresql://[^"]+)"', config.read_text(), re.M)
    return found.group(1) if found else None


@dataclass
class Backend:
    """Where a test's stores are: SQLite files in its folder, or databases on the PostgreSQL
    server; and the errors each raises."""

    name: str
    new_location: Callable[[], Any]  # a new, empty store's location: a path or a URL
    integrity_error: type[Exception]
    error: type[Exception]  # any of its database errors

    def place(self, config: Path) -> Path:
        """A config written by ``write_config``, its store on this backend."""
        return on_postgres(config, self.new_location()) if self.name == "postgresql" else config


def store_of(config: Path) -> Store:
    """The store a config written by ``write_config`` names, on either backend; the caller
    closes it."""
    return Store(store_url(config) or config.parent / "snapshots" / "tracker.db")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path) -> Backend:
    if request.param == "sqlite":
        import sqlite3
        numbers = itertools.count(1)
        return Backend("sqlite", lambda: tmp_path / f"store-{next(numbers)}" / "tracker.db",
                       sqlite3.IntegrityError, sqlite3.Error)
    import psycopg
    server = request.getfixturevalue("postgres")
    return Backend("postgresql", server.new_database, psycopg.IntegrityError, psycopg.Error)
