"""Hostile input, end to end: the real `tracker` command against servers started here on
127.0.0.1, WARC files written here and databases held or damaged here.

Every case checks what a user sees: the exit code; no traceback; error lines that are short
and name what is at fault (the URL, file, key or policy); a terminal that is never sent
control characters; and that nothing already stored is lost (integrity, capture count).

Subprocess timeouts are guards against hanging, never timing assertions.
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import Archived, Page, policy_html, write_config, write_warc

GUARD = 60  # seconds: a hung command fails the test instead of hanging the suite
HANG_GUARD = 15  # for commands run with [fetch] timeout_s = 2 against a server that never finishes
ACME = "https://acme.example/privacy"
FAST_ARCHIVE = "[archive]\ncaptures_per_second = 200\nindex_per_minute = 6000\nretries = 0\n"
SHORT_FETCH = "[fetch]\ntimeout_s = 2\n"
MAX_ERROR_LINE = 300

# Binary garbage served as a page: NUL bytes, invalid UTF-8, control characters, some '<'.
GARBAGE = b"\x00\xff\xfe\x00<\x01\x02\x1b[2J\x00" + random.Random(20261130).randbytes(8192) + b"\x00\x00"


# --- pages ------------------------------------------------------------------------------------

def sections(retention: str = "30 days") -> str:
    """The sectioned text of conftest's policy page (h2 / p / ul), without any page around it."""
    html = policy_html(retention).decode()
    return html[html.index("<h2>"):html.index("</article>")]


def control_character_page(retention: str = "30 days") -> bytes:
    """A real policy after an empty script, a vertical tab and a navigation holding \\x01."""
    return (f"<html><body><script></script>\x0b<nav>\x01</nav><main><h1>Privacy Policy</h1>"
            f"{sections(retention)}</main></body></html>").encode()


def deep_page(depth: int = 400) -> bytes:
    """The policy's sections nested ``depth`` <div>s deep."""
    return (f"<!DOCTYPE html><html lang=\"en\"><head><title>Privacy Policy</title></head><body><main>"
            f"<h1>Privacy Policy</h1>{'<div>' * depth}{sections()}{'</div>' * depth}</main></body></html>").encode()


ESCAPES = ("\x1b]0;pwned\x07", "\x1b]52;c;ZXZpbA==\x07", "\x1b[2J")


def escape_page(retention: str) -> bytes:
    """A policy whose title, headings and text carry terminal escape sequences."""
    title, clipboard, clear = ESCAPES
    body = sections(retention)
    body = body.replace("<h2>1. Information We Collect</h2>", f"<h2>1. Information{title} We Collect</h2>")
    body = body.replace("We collect the information", f"We collect{clipboard} the information{clear}")
    body = body.replace("We keep your data", f"We keep{title} your data{clear}")
    return (f"<!DOCTYPE html><html lang=\"en\"><head><title>Privacy {title}Policy{clipboard}</title></head>"
            f"<body><main><article><h1>Privacy {clear}Policy{title}</h1><p>Last updated: March 3, 2024</p>"
            f"{body}</article></main></body></html>").encode()


class Pages(dict):
    """Site.pages that also answers a path whatever its query string (CDX queries)."""

    def get(self, path, default=None):
        found = super().get(path)
        if found is None:
            found = super().get(path.split("?", 1)[0], default)
        return found


@pytest.fixture
def stop():
    """Set at the end of a test: trickling handlers stop writing."""
    event = threading.Event()
    yield event
    event.set()


def trickle(stop: threading.Event, start: bytes, byte: bytes):
    """A handler that writes ``start`` at once, then ``byte`` every 0.5 s until the test ends."""
    def handler(h) -> None:
        h.close_connection = True
        try:
            h.wfile.write(start)
            while not stop.wait(0.5):
                h.wfile.write(byte)
        except OSError:
            return
    return handler


def trickle_body(stop: threading.Event):
    """Headers at once, then one byte of body every 0.5 s, forever."""
    return trickle(stop, b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n"
                         b"Content-Length: 10000000\r\n\r\n<html><body>", b"x")


def trickle_headers(stop: threading.Event):
    """A status line, then one byte of a header every 0.5 s, forever: the headers never end."""
    return trickle(stop, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Slow: ", b"a")


# --- running the command, and what every run must look like ------------------------------------

@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    out: str
    err: str

    def __str__(self) -> str:
        return (f"`tracker {' '.join(self.args)}` exited {self.code}\n--- stdout:\n{self.out[-3000:]}"
                f"\n--- stderr:\n{self.err[-3000:]}")

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]

    @property
    def output(self) -> str:
        return self.out + self.err


def tracker_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tracker", "--config", str(config), *args]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env.pop("TRACKER_CONFIG", None)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def tracker(config: Path, *args: str, guard: float = GUARD, prefix: list[str] | None = None) -> Run:
    """Run the real `tracker` command as a user would; a run over ``guard`` seconds fails the test."""
    command = (prefix or []) + tracker_command(config, *args)
    try:
        done = subprocess.run(command, cwd=config.parent, capture_output=True, timeout=guard, env=_env())
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"`tracker {' '.join(args)}` hung: still running after {guard}s (killed)\n"
                    f"--- stderr so far:\n{(e.stderr or b'').decode('utf-8', 'replace')[-2000:]}")
    return Run(args, done.returncode, done.stdout.decode("utf-8", "replace"), done.stderr.decode("utf-8", "replace"))


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def assert_clean(run: Run, codes: int | tuple[int, ...], names: tuple[str, ...] = (), max_error_lines: int | None = None,
                 words: tuple[str, ...] = ()) -> None:
    """The run ended with one of ``codes``, printed no traceback and no control character;
    its stderr lines are short; when ``names`` are given, an error line names one of them
    (and, with ``words``, says one of those words)."""
    codes = (codes,) if isinstance(codes, int) else codes
    assert run.code in codes, f"expected exit {codes}; {run}"
    assert "Traceback" not in run.err, f"a traceback instead of a one-line error; {run}"
    assert not CONTROL.search(run.err), f"control characters on stderr: {CONTROL.findall(run.err)[:10]!r}; {run}"
    long = [line for line in run.error_lines if len(line) >= MAX_ERROR_LINE]
    assert not long, f"an error line of {len(long[0])} characters (over {MAX_ERROR_LINE}); {run}"
    if max_error_lines is not None:
        assert len(run.error_lines) <= max_error_lines, f"more than {max_error_lines} error line(s); {run}"
    if names:
        naming = [line for line in run.error_lines if any(n in line for n in names)]
        assert naming, f"no error line names any of {names}; {run}"
        if words:
            assert any(any(w in line.lower() for w in words) for line in naming), \
                f"no error line naming {names} says any of {words}; {run}"


@dataclass
class DbState:
    integrity: str
    captures: int


def db_state(db: Path) -> DbState:
    conn = sqlite3.connect(db)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        captures = conn.execute("SELECT count(*) FROM captures").fetchone()[0]
    finally:
        conn.close()
    return DbState(integrity, captures)


def assert_nothing_lost(db: Path, before: DbState) -> DbState:
    after = db_state(db)
    assert after.integrity == "ok", f"database damaged: integrity_check says {after.integrity!r}"
    assert after.captures >= before.captures, f"captures lost: {before.captures} before, {after.captures} after"
    return after


def query(db: Path, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def db_of(config: Path) -> Path:
    return config.parent / "snapshots" / "tracker.db"


def live_policy(site, name: str = "acme", path: str = "/privacy", **extra) -> dict:
    return {"name": name, "urls": [site.url(path)], "archives": [], **extra}


def warc_policy(name: str, warc: str, urls: list[str] | None = None) -> dict:
    return {"name": name, "urls": urls or [ACME], "archives": [f"warc:{warc}"], "live": False}


# --- 1. control characters and binary garbage ---------------------------------------------------

def test_control_characters_around_the_policy_do_not_stop_check(tmp_path, site):
    site.pages["/privacy"] = Page(control_character_page())
    config = write_config(tmp_path, [live_policy(site)])

    run = tracker(config, "check")

    assert_clean(run, 0)
    assert "acme  new version 1" in run.out or re.search(r"acme\s+new version 1", run.out), str(run)
    shown = tracker(config, "show", "acme")
    assert_clean(shown, 0)
    assert "We do not sell your personal information" in shown.out, str(shown)


def test_binary_garbage_page_is_a_one_line_error_then_a_good_page_gives_a_version(tmp_path, site):
    site.pages["/privacy"] = Page(GARBAGE)
    config = write_config(tmp_path, [live_policy(site)])

    bad = tracker(config, "check")

    assert_clean(bad, 1, names=(site.url("/privacy"),), max_error_lines=1)
    db = db_of(config)
    stored = db_state(db)
    assert stored.integrity == "ok" and stored.captures == 1, f"the garbage capture is not stored: {stored}"

    site.pages["/privacy"] = Page(policy_html())
    good = tracker(config, "check")
    assert_clean(good, 0)
    assert re.search(r"acme\s+new version 1", good.out), str(good)
    assert_nothing_lost(db, stored)

    rebuilt = tracker(config, "rebuild")
    assert_clean(rebuilt, 0)
    assert "acme: 1 version(s)" in rebuilt.out, str(rebuilt)
    assert_nothing_lost(db, stored)


def test_garbage_page_of_the_first_policy_does_not_stop_checking_the_second(tmp_path, site):
    site.pages["/bad"] = Page(GARBAGE)
    site.pages["/good"] = Page(policy_html())
    config = write_config(tmp_path, [live_policy(site, "alpha", "/bad"), live_policy(site, "beta", "/good")])

    run = tracker(config, "check")

    assert_clean(run, 1, names=(site.url("/bad"),), max_error_lines=1)
    assert re.search(r"beta\s+new version 1", run.out), f"the second policy was not checked; {run}"
    assert query(db_of(config), "SELECT count(*) FROM captures WHERE policy = 'beta'") == [(1,)]


def test_warc_with_garbage_and_control_character_pages_still_gives_the_good_versions(tmp_path):
    warc = write_warc(tmp_path / "hostile.warc.gz", [
        Archived(ACME, "2019-03-01T10:00:00Z", policy_html("30 days")),
        Archived(ACME, "2020-03-01T10:00:00Z", GARBAGE),
        Archived(ACME, "2021-03-01T10:00:00Z", control_character_page("60 days")),
        Archived(ACME, "2022-03-01T10:00:00Z", policy_html("90 days")),
    ])
    config = write_config(tmp_path, [warc_policy("acme", warc.name)])

    run = tracker(config, "backfill")

    assert_clean(run, (0, 1))
    if run.code == 1:
        assert_clean(run, 1, names=(warc.name, ACME), max_error_lines=1)
    db = db_of(config)
    assert db_state(db) == DbState("ok", 4), str(run)
    versions = query(db, "SELECT number, first_seen FROM versions WHERE policy = 'acme' ORDER BY number")
    assert len(versions) >= 2, f"the good captures gave {versions}; {run}"
    shown = tracker(config, "show", "acme")
    assert_clean(shown, 0)
    assert "90 days" in shown.out, str(shown)


# --- 2. slow servers ----------------------------------------------------------------------------

@pytest.mark.parametrize("trickle", [trickle_body, trickle_headers], ids=["body-trickles", "headers-trickle"])
def test_check_against_a_trickling_server_times_out(tmp_path, site, stop, trickle):
    site.pages["/privacy"] = Page(handler=trickle(stop))
    config = write_config(tmp_path, [live_policy(site)], SHORT_FETCH)

    run = tracker(config, "check", guard=HANG_GUARD)

    assert_clean(run, 1, names=(site.url("/privacy"),), max_error_lines=1, words=("timed out", "timeout"))


def test_backfill_from_a_memento_archive_whose_timemap_trickles_times_out(tmp_path, site, stop):
    base = site.url("/arch")
    site.pages[f"/arch/timemap/link/{ACME}"] = Page(handler=trickle_body(stop))
    config = write_config(tmp_path, [{"name": "acme", "urls": [ACME], "archives": [f"memento:{base}"],
                                      "live": False}], SHORT_FETCH + FAST_ARCHIVE)

    run = tracker(config, "backfill")

    assert_clean(run, 1, names=(base,), max_error_lines=1, words=("timed out", "timeout"))


def test_cron_run_with_a_check_due_against_a_trickling_server_finishes(tmp_path, site, stop):
    site.pages["/privacy"] = Page(handler=trickle_body(stop))
    config = write_config(tmp_path, [live_policy(site)], SHORT_FETCH + '[schedule]\ncheck = "1h"\n')

    run = tracker(config, "run", guard=HANG_GUARD)

    assert_clean(run, 1, names=(site.url("/privacy"),), words=("timed out", "timeout"))


# --- 3. the reports' manifest -------------------------------------------------------------------

@pytest.fixture
def checked(tmp_path, site) -> Path:
    """A config whose one policy has been checked once: something to report."""
    site.pages["/privacy"] = Page(policy_html())
    config = write_config(tmp_path, [live_policy(site)])
    assert_clean(tracker(config, "check"), 0)
    return config


def test_report_manifest_cannot_make_report_delete_files_outside_the_reports(tmp_path, checked):
    out = tmp_path / "site" / "reports"
    out.mkdir(parents=True)
    relative_victim = tmp_path / "victim.txt"  # out / "../../victim.txt"
    absolute_victim = tmp_path / "elsewhere" / "absolute-victim.txt"
    absolute_victim.parent.mkdir()
    for victim in (relative_victim, absolute_victim):
        victim.write_text("keep me")
    (out / ".manifest.json").write_text(json.dumps({"../../victim.txt": "x", str(absolute_victim): "y"}))
    before = db_state(db_of(checked))

    run = tracker(checked, "report", "--out", str(out))

    assert_clean(run, 0)
    assert relative_victim.exists(), "report deleted ../../victim.txt, named in a stale manifest"
    assert absolute_victim.exists(), f"report deleted {absolute_victim}, named in a stale manifest"
    assert (out / "index.html").exists() and (out / "acme" / "index.html").exists()
    assert_nothing_lost(db_of(checked), before)


@pytest.mark.parametrize("manifest", ["[1, 2]", '{"p": 5}', '"str"', "{not json"],
                         ids=["a-list", "a-number-fingerprint", "a-string", "not-json"])
def test_report_renders_whatever_the_manifest_holds(tmp_path, checked, manifest):
    out = tmp_path / "reports"
    out.mkdir()
    (out / ".manifest.json").write_text(manifest)

    run = tracker(checked, "report", "--out", str(out))

    assert_clean(run, 0)
    assert re.search(r"[1-9]\d* page\(s\) written", run.out), str(run)
    assert (out / "index.html").exists() and (out / "acme" / "index.html").exists()
    assert isinstance(json.loads((out / ".manifest.json").read_text()), dict)


# --- 4. a capture dated in the future -----------------------------------------------------------

def test_future_dated_warc_record_never_becomes_the_latest_version(tmp_path, site):
    warc = write_warc(tmp_path / "future.warc.gz", [
        Archived(ACME, "2020-01-01T10:00:00Z", policy_html("30 days")),
        Archived(ACME, "2099-01-01T10:00:00Z", policy_html("99 years")),
    ])
    site.pages["/privacy"] = Page(policy_html("365 days"))
    config = write_config(tmp_path, [{"name": "acme", "urls": [ACME, site.url("/privacy")],
                                      "archives": [f"warc:{warc.name}"]}])

    run = tracker(config, "backfill")

    assert_clean(run, (0, 1))
    warned = [line for line in run.output.splitlines() if warc.name in line and ("2099" in line or "future" in line)]
    assert warned, f"no line names {warc.name} and its future date; {run}"
    db = db_of(config)
    versions = query(db, "SELECT number, first_seen, last_seen FROM versions WHERE policy = 'acme'")
    assert len(versions) == 1 and versions[0][1].startswith("2020-01-01"), \
        f"a version was made from the 2099 record: {versions}"

    live = tracker(config, "check")
    assert_clean(live, 0)
    shown = tracker(config, "show", "acme")
    assert_clean(shown, 0)
    assert "365 days" in shown.out, f"the latest version is not the live page; {shown}"
    assert "99 years" not in shown.out, str(shown)
    history = tracker(config, "history", "acme")
    assert_clean(history, 0)
    assert "2099" not in history.out, str(history)


# --- 5. redirects into the private network -------------------------------------------------------

def test_a_loopback_url_the_user_configured_is_fetched_with_its_loopback_redirect(tmp_path, site):
    site.pages["/old"] = Page(status=301, headers={"Location": site.url("/privacy"), "Content-Length": "0"})
    site.pages["/privacy"] = Page(policy_html())
    config = write_config(tmp_path, [live_policy(site, path="/old")])

    run = tracker(config, "check")

    assert_clean(run, 0)
    assert re.search(r"acme\s+new version 1", run.out), str(run)


def _resolver(table: dict[str, list[str]]):
    """A resolver (host -> IP addresses) that never asks DNS: IP literals resolve to themselves."""
    def resolve(host: str) -> list[str]:
        host = host.strip("[]").lower()
        if re.fullmatch(r"[\d.]+|[0-9a-f:]+", host) and host not in table:
            return [host]
        return table[host]
    return resolve


RESOLVE = _resolver({"public.test": ["93.184.216.34"], "other-public.test": ["151.101.1.69"],
                     "internal.test": ["10.0.0.5"], "intranet.test": ["192.168.1.20"],
                     "sneaky.test": ["93.184.216.35", "127.0.0.1"]})


# ASSUMED API (the engineer adapts the name if needed): tracker.fetch.check_redirect_target(
# from_url, to_url, resolve) raises FetchError when from_url's host resolves to public addresses
# and to_url's host resolves to a private, loopback or link-local one; it returns None otherwise.
@pytest.mark.parametrize("from_url, to_url, refused", [
    ("http://public.test/a", "http://127.0.0.1:8080/x", True),
    ("http://public.test/a", "http://[::1]:8080/x", True),
    ("http://public.test/a", "http://internal.test/admin", True),
    ("http://public.test/a", "http://169.254.169.254/latest/meta-data/", True),
    ("http://public.test/a", "http://sneaky.test/x", True),  # one private address is enough
    ("http://public.test/a", "http://other-public.test/b", False),
    ("http://127.0.0.1:8080/a", "http://127.0.0.1:9090/b", False),  # the user's own choice
    ("http://intranet.test/a", "http://internal.test/b", False),
    ("http://intranet.test/a", "http://public.test/b", False),
], ids=["to-127.0.0.1", "to-::1", "to-10.x-by-name", "to-metadata-169.254", "to-name-with-a-loopback-address",
        "public-to-public", "loopback-to-loopback", "private-to-private", "private-to-public"])
def test_redirect_from_a_public_host_into_the_private_network_is_refused(from_url, to_url, refused):
    from tracker import fetch as fetch_module
    from tracker.fetch import FetchError

    check_redirect_target = getattr(fetch_module, "check_redirect_target", None)
    assert check_redirect_target is not None, "tracker.fetch.check_redirect_target(from_url, to_url, resolve) is missing"
    if refused:
        with pytest.raises(FetchError) as caught:
            check_redirect_target(from_url, to_url, RESOLVE)
        message = str(caught.value)
        assert to_url in message and len(message) < MAX_ERROR_LINE, message
        assert any(w in message.lower() for w in ("private", "loopback", "local", "internal")), message
    else:
        assert check_redirect_target(from_url, to_url, RESOLVE) is None


# ASSUMED API (the engineer adapts the name if needed): tracker.fetch.fetch(..., resolve=callable)
# where resolve(host) -> list of IP strings is what the redirect check asks. The test makes
# 'public.test' reachable by routing urllib3's connections to it to the loopback Site, and refuses
# any other connection that is not to loopback, so nothing leaves 127.0.0.1.
def test_fetch_refuses_a_redirect_from_a_public_host_to_loopback(site, monkeypatch):
    import urllib3.util.connection

    from tracker.config import FetchConfig
    from tracker.fetch import FetchError, fetch, make_session

    real_connect = urllib3.util.connection.create_connection

    def loopback_only(address, *args, **kwargs):
        host, port = address
        if host in ("public.test", "93.184.216.34"):
            host = "127.0.0.1"
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise OSError(f"test: no network beyond 127.0.0.1 (asked for {host})")
        return real_connect((host, port), *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", loopback_only)
    port = site.server.server_port
    public = f"http://public.test:{port}"
    site.pages["/ok"] = Page(status=302, headers={"Location": f"{public}/policy", "Content-Length": "0"})
    site.pages["/policy"] = Page(policy_html())
    site.pages["/start"] = Page(status=302, headers={"Location": site.url("/x"), "Content-Length": "0"})
    site.pages["/x"] = Page(b"internal admin page")
    config = FetchConfig(timeout_s=10)
    session = make_session(config)

    fetched = fetch(session, f"{public}/ok", config, resolve=RESOLVE)  # public -> public: followed
    assert fetched.status == 200 and fetched.final_url == f"{public}/policy"

    with pytest.raises(FetchError) as caught:
        fetch(session, f"{public}/start", config, resolve=RESOLVE)
    message = str(caught.value)
    assert site.url("/x") in message and any(w in message.lower() for w in ("private", "loopback")), message
    assert "/x" not in [path for path, _ in site.requests], "the private target was requested"


# --- 6. terminal escape sequences ---------------------------------------------------------------

TERMINAL_UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")


def test_terminal_escapes_in_a_policy_never_reach_the_terminal(tmp_path, site):
    site.pages["/privacy"] = Page(escape_page("30 days"))
    config = write_config(tmp_path, [live_policy(site)])
    first = tracker(config, "check")
    assert_clean(first, 0)
    site.pages["/privacy"] = Page(escape_page("90 days"))
    second = tracker(config, "check")
    assert_clean(second, 0)
    assert re.search(r"acme\s+new version 2", second.out), str(second)

    for args in (("show", "acme"), ("show", "acme", "1"), ("history", "acme"), ("diff", "acme"),
                 ("diff", "acme", "1", "2"), ("status",)):
        run = tracker(config, *args)
        assert_clean(run, 0)
        unsafe = TERMINAL_UNSAFE.findall(run.output)
        assert not unsafe, f"`tracker {' '.join(args)}` printed control characters {sorted(set(unsafe))!r}; {run}"
    shown = tracker(config, "show", "acme")
    assert "We collect" in shown.out and "the information" in shown.out, str(shown)


# --- 7. one-line errors instead of tracebacks -----------------------------------------------------

def test_a_database_held_by_another_process_is_a_one_line_error(tmp_path, checked):
    db = db_of(checked)
    before = db_state(db)
    # BEGIN EXCLUSIVE alone still lets WAL readers in; exclusive locking mode with a write
    # pending keeps every other process out, readers too, as a stuck writer would.
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("PRAGMA locking_mode = EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE policies SET title = title")
    commands = [("check",), ("export", "acme", "--json"), ("report",)]
    try:
        # all at once: each may wait out its busy timeout, and they wait together
        running = [(args, subprocess.Popen(tracker_command(checked, *args), cwd=checked.parent, env=_env(),
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)) for args in commands]
        runs = []
        for args, process in running:
            try:
                out, err = process.communicate(timeout=GUARD)
            except subprocess.TimeoutExpired:
                for _, p in running:
                    p.kill()
                pytest.fail(f"`tracker {' '.join(args)}` hung on a locked database: still running after {GUARD}s")
            runs.append(Run(args, process.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")))
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    problems = []
    for run in runs:
        try:
            assert_clean(run, 1, names=(str(db), db.name), max_error_lines=1, words=("locked", "busy"))
        except AssertionError as e:
            problems.append(str(e))
    assert not problems, "\n\n".join(problems)
    assert_nothing_lost(db, before)


def _without_root_powers() -> list[str]:
    """A command prefix under which root obeys file permissions, as any other user does."""
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0:
        return []
    if setpriv is None:
        pytest.skip("running as root and setpriv is missing: a read-only file cannot be made read-only for root")
    prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]
    probe = subprocess.run(prefix + ["true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"running as root and cannot drop CAP_DAC_OVERRIDE: {probe.stderr.decode(errors='replace')}")
    return prefix


def test_a_read_only_database_is_a_one_line_error(tmp_path, checked):
    prefix = _without_root_powers()
    db = db_of(checked)
    before = db_state(db)
    folder = db.parent
    made_read_only = [folder, *folder.iterdir()]
    for path in made_read_only:
        path.chmod(0o555 if path.is_dir() else 0o444)
    try:
        runs = [tracker(checked, *args, prefix=prefix) for args in (("check",), ("report",))]
        exported = tracker(checked, "export", "acme", "--json", prefix=prefix)
    finally:
        for path in made_read_only:
            if path.exists():
                path.chmod(0o755 if path.is_dir() else 0o644)
    problems = []
    for run in runs:
        try:
            assert_clean(run, 1, names=(str(db), db.name), max_error_lines=1,
                         words=("read-only", "readonly", "permission", "cannot write", "not writable"))
        except AssertionError as e:
            problems.append(str(e))
    try:
        assert_clean(exported, (0, 1))
        if exported.code == 1:
            assert_clean(exported, 1, names=(str(db), db.name), max_error_lines=1)
    except AssertionError as e:
        problems.append(str(e))
    assert not problems, "\n\n".join(problems)
    assert_nothing_lost(db, before)


@pytest.mark.parametrize("policy, extra, key", [
    ({"urls": ["http://[::1"]}, "", r"policy\[[01]\]\.urls"),
    ({}, '[report]\nbase_url = "http://[::1"\n', r"report\.base_url"),
    ({"archives": ["memento:http://[::1"]}, "", r"policy\[[01]\]\.archives"),
    ({}, "[fetch]\ntimeout_s = inf\n", r"fetch\.timeout_s"),
    ({}, "[fetch]\ntimeout_s = nan\n", r"fetch\.timeout_s"),
    ({}, "[fetch]\ntimeout_s = -inf\n", r"fetch\.timeout_s"),
    ({"name": "ok\n"}, "", r"policy\[[01]\]\.name"),
    ({}, "[fetch]\ntimeout_s = 1e10\n", r"fetch\.timeout_s"),
    ({}, '[fetch]\nuser_agent = "agent\u2603"\n', r"fetch\.user_agent"),
    ({}, "[email]\nsmtp_port = 99999999\n", r"email\.smtp_port"),
    ({"urls": ["http://127.0.0.1:1/" + "a" * 100_000]}, "", r"policy\[[01]\]\.urls"),
], ids=["url-bad-ipv6", "base_url-bad-ipv6", "memento-bad-ipv6", "timeout-inf", "timeout-nan", "timeout-minus-inf",
        "name-with-newline", "timeout-1e10", "user-agent-not-ascii", "smtp-port-too-big", "url-of-100-kB"])
def test_a_hostile_config_value_is_a_one_line_config_error(tmp_path, policy, extra, key):
    # a closed loopback port: should the config be accepted after all, nothing leaves 127.0.0.1
    config = write_config(tmp_path, [{"name": "acme", "urls": ["http://127.0.0.1:1/privacy"], "archives": [],
                                      **policy}], extra)

    run = tracker(config, "check")

    assert_clean(run, 1, names=("config.toml",), max_error_lines=1)
    assert re.search(key, run.err), f"the error does not name the key {key}; {run}"
    assert not (tmp_path / "snapshots").exists() or db_state(db_of(config)).captures == 0


def test_garbage_from_the_cdx_index_is_an_error_not_zero_captures(tmp_path, site):
    site.pages = Pages(site.pages)
    site.pages["/cdx"] = Page(GARBAGE, headers={"Content-Type": "text/plain"})
    config = write_config(tmp_path, [{"name": "acme", "urls": [ACME], "archives": ["ia"], "live": False}],
                          f'[archive]\ncdx_url = "{site.url("/cdx")}"\nreplay_url = "{site.url("/web")}"\n'
                          "captures_per_second = 200\nindex_per_minute = 6000\nretries = 0\n")

    run = tracker(config, "backfill")

    assert any(path.startswith("/cdx") for path, _ in site.requests), "the CDX index was never asked"
    assert_clean(run, 1, names=("acme", site.url("/cdx")), max_error_lines=1)
    assert re.search(r"^acme\b", run.error_lines[0]) or site.url("/cdx") in run.error_lines[0], str(run)
    dumped = re.findall(r"[^\x20-\x7e\n\t]", run.err)
    assert not dumped, f"binary bytes dumped on stderr ({len(dumped)} characters that are not printable ASCII); {run}"


# --- 8. validation holes -------------------------------------------------------------------------

@pytest.fixture
def two_versions(tmp_path) -> Path:
    """A policy with two versions (2020 and 2023) from a WARC file."""
    warc = write_warc(tmp_path / "history.warc.gz", [
        Archived(ACME, "2020-06-01T10:00:00Z", policy_html("30 days")),
        Archived(ACME, "2023-06-01T10:00:00Z", policy_html("90 days")),
    ])
    config = write_config(tmp_path, [warc_policy("acme", warc.name)])
    run = tracker(config, "backfill")
    assert_clean(run, 0)
    assert len(query(db_of(config), "SELECT number FROM versions")) == 2, str(run)
    return config


@pytest.mark.parametrize("bad", ["2099-13-45", "2022-02-30", "2021-13", "2021-00"])
def test_backfill_refuses_an_impossible_from_date(two_versions, bad):
    before = db_state(db_of(two_versions))

    run = tracker(two_versions, "backfill", "--from", bad)

    assert_clean(run, (1, 2), names=(bad,))
    assert_nothing_lost(db_of(two_versions), before)


def test_backfill_refuses_from_after_to(two_versions):
    run = tracker(two_versions, "backfill", "--from", "2022-05-01", "--to", "2021-01-01")

    assert_clean(run, (1, 2), names=("--from",))
    assert "--to" in run.err and any(w in run.err.lower() for w in ("after", "before", "later")), str(run)


@pytest.mark.parametrize("args", [("2022-02-30",), ("2020-06-01", "2023-13-01")], ids=["from-feb-30", "to-month-13"])
def test_diff_refuses_an_impossible_date(two_versions, args):
    run = tracker(two_versions, "diff", "acme", *args)

    assert_clean(run, (1, 2), names=(args[-1],), max_error_lines=None)
    assert "{+" not in run.out and "[-" not in run.out, f"a diff was printed for an impossible date; {run}"


# --- 9. quiet loss --------------------------------------------------------------------------------

def test_truncated_warc_gz_says_so_and_keeps_the_readable_records(tmp_path):
    from warcio.archiveiterator import ArchiveIterator

    warc = write_warc(tmp_path / "cut.warc.gz", [
        Archived(ACME, "2019-03-01T10:00:00Z", policy_html("30 days")),
        Archived(ACME, "2020-03-01T10:00:00Z", policy_html("60 days")),
        Archived(ACME, "2021-03-01T10:00:00Z", policy_html("90 days") + b"<!-- padding -->" * 200),
    ])
    data = warc.read_bytes()
    with io.BytesIO(data) as stream:
        offsets = []
        records = ArchiveIterator(stream)
        for _ in records:
            offsets.append(records.get_record_offset())
    assert len(offsets) == 3
    warc.write_bytes(data[:offsets[2] + (len(data) - offsets[2]) // 2])  # in the middle of the last record
    config = write_config(tmp_path, [warc_policy("acme", warc.name)])

    run = tracker(config, "backfill")

    assert_clean(run, 1, names=(warc.name,), max_error_lines=1, words=("truncated",))
    line = next(line for line in run.error_lines if warc.name in line)
    assert re.search(r"\b2\b[^/\d]{0,30}(record|capture)|(record|capture)s?\b[^/\d]{0,30}\b2\b", line), \
        f"the error does not say how many records were read (2); {run}"
    assert db_state(db_of(config)).captures >= 2, f"the readable records were not stored; {run}"


def test_policy_text_nested_400_elements_deep_is_extracted(tmp_path, site):
    site.pages["/privacy"] = Page(deep_page(400))
    config = write_config(tmp_path, [live_policy(site)])

    run = tracker(config, "check")

    assert_clean(run, 0)
    assert re.search(r"acme\s+new version 1", run.out), str(run)
    shown = tracker(config, "show", "acme")
    assert_clean(shown, 0)
    assert "We do not sell your personal information" in shown.out, f"the nested text is missing; {shown}"
    history = tracker(config, "history", "acme")
    assert_clean(history, 0)
    counted = re.search(r"([\d,]+) words", history.out)
    assert counted and int(counted.group(1).replace(",", "")) > 50, f"the version's word count; {history}"


# --- found by an adversarial run after the first fixes ------------------------------------------

def test_a_gzip_body_cut_short_is_an_error_not_a_new_version(tmp_path, site):
    import gzip
    site.pages["/privacy"] = Page(policy_html())
    config = write_config(tmp_path, [live_policy(site)])
    assert_clean(tracker(config, "check"), 0)
    cut = gzip.compress(policy_html())[:-200]
    site.pages["/privacy"] = Page(cut, headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"})

    run = tracker(config, "check")

    assert_clean(run, 1, names=(site.url("/privacy"),), max_error_lines=1, words=("truncated",))
    assert query(db_of(config), "SELECT count(*) FROM versions")[0][0] == 1


def test_a_gzip_body_of_two_members_is_read_whole(tmp_path, site):
    import gzip
    page = policy_html()
    half = len(page) // 2
    site.pages["/privacy"] = Page(gzip.compress(page[:half]) + gzip.compress(page[half:]),
                                  headers={"Content-Type": "text/html; charset=utf-8", "Content-Encoding": "gzip"})
    config = write_config(tmp_path, [live_policy(site)])
    assert_clean(tracker(config, "check"), 0)
    shown = tracker(config, "show", "acme")
    assert "Write to privacy@acme.example" in shown.out, str(shown)  # the last section, in the second member


@pytest.mark.parametrize("wrapper", [("<table><tr><td>", "</td></tr></table>", 1000), ("<ul><li>", "</li></ul>", 2000),
                                     ("<blockquote>", "</blockquote>", 3000)], ids=["tables", "lists", "quotes"])
def test_policy_text_in_thousands_of_nested_tables_lists_or_quotes_is_read(tmp_path, site, wrapper):
    opening, closing, depth = wrapper
    site.pages["/privacy"] = Page((f"<html><body><main><h1>Privacy Policy</h1>{opening * depth}{sections()}"
                                   f"{closing * depth}</main></body></html>").encode())
    config = write_config(tmp_path, [live_policy(site)])
    assert_clean(tracker(config, "check"), 0)
    shown = tracker(config, "show", "acme")
    assert "We do not sell your personal information" in shown.out, str(shown)


def test_one_page_read_in_a_wrong_charset_does_not_spoil_the_same_bytes_elsewhere(tmp_path, site):
    site.pages["/ok"] = Page(policy_html())
    site.pages["/evil"] = Page(policy_html(), headers={"Content-Type": "text/html; charset=utf-16"})
    config = write_config(tmp_path, [live_policy(site, "evil", "/evil"), live_policy(site, "good", "/ok")])

    run = tracker(config, "check")

    assert re.search(r"good\s+new version 1", run.out), str(run)



def test_a_page_once_served_in_a_wrong_charset_reads_right_when_served_right(tmp_path, site):
    site.pages["/privacy"] = Page(policy_html(), headers={"Content-Type": "text/html; charset=utf-16"})
    config = write_config(tmp_path, [live_policy(site)])
    assert_clean(tracker(config, "check"), 1)
    site.pages["/privacy"] = Page(policy_html())

    run = tracker(config, "check")

    assert re.search(r"acme\s+new version 1", run.out), str(run)
    assert_clean(tracker(config, "rebuild"), 0)
    assert query(db_of(config), "SELECT count(*) FROM versions")[0][0] == 1


def test_a_bad_warc_record_is_skipped_and_the_rest_of_the_file_is_read(tmp_path):
    warc = write_warc(tmp_path / "odd.warc.gz", [
        Archived(ACME, "garbage", policy_html("10 days")),
        Archived(ACME, "0001-01-01T00:00:00+05:00", policy_html("20 days")),
        Archived(ACME, "2019-03-01T10:00:00Z", policy_html("30 days")),
        Archived(ACME, "2020-03-01T10:00:00Z", policy_html("60 days")),
    ])
    config = write_config(tmp_path, [warc_policy("acme", warc.name)])

    run = tracker(config, "backfill")

    assert_clean(run, 0)
    assert warc.name in run.output and "WARC-Date" in run.output, f"the skipped records are not named; {run}"
    assert query(db_of(config), "SELECT count(*) FROM versions")[0][0] == 2


def test_report_never_writes_through_a_link_out_of_its_folder(tmp_path, checked):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "index.html").write_text("mine")
    (outside / "notes.txt").write_text("mine")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "acme").symlink_to(outside, target_is_directory=True)
    (reports / ".manifest.json").symlink_to(outside / "notes.txt")

    run = tracker(checked, "report", "--out", str(reports))

    assert_clean(run, 1, names=("acme",), max_error_lines=1)
    assert (outside / "index.html").read_text() == "mine" and (outside / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("args", [("show", "acme", "\u00b2"), ("diff", "acme", "\u00b2"),
                                  ("digest", "--until", "0001-01-01", "--dry-run"),
                                  ("backfill", "--strategy", "interval", "--every", "99999999y"),
                                  ("digest", "--dry-run", "--to", "a@b.example\nBcc: c@d.example"),
                                  ("backfill", "--from", "\uff12\uff10\uff12\uff10")],
                         ids=["superscript-version", "superscript-diff", "year-1", "every-huge", "header-injection",
                              "full-width-digits"])
def test_odd_arguments_are_usage_errors(two_versions, args):
    run = tracker(two_versions, *args)
    assert run.code in (1, 2), str(run)
    assert_clean(run, (1, 2), max_error_lines=3)


def test_digest_dry_run_with_to_sends_nothing(two_versions):
    # a closed port: were the digest sent, it would fail
    text = two_versions.read_text() + '\n[email]\nsmtp_host = "127.0.0.1"\nsmtp_port = 1\nfrom = "t@acme.example"\n'
    two_versions.write_text(text)
    run = tracker(two_versions, "digest", "--dry-run", "--to", "someone@example.org")
    assert_clean(run, 0)
    assert "sent" not in run.out.split("\n", 1)[0].lower(), str(run)


def test_a_redirect_to_a_huge_url_gives_a_short_error_line(tmp_path, site):
    site.pages["/privacy"] = Page(status=302, headers={"Location": "javascript:" + "a" * 60_000, "Content-Length": "0"})
    config = write_config(tmp_path, [live_policy(site)])
    assert_clean(tracker(config, "check"), 1, names=(site.url("/privacy"),), max_error_lines=1)


@pytest.mark.parametrize("charset", ["rot13", "base64", "hex", "undefined", "idna"])
def test_a_charset_that_is_no_text_encoding_reads_as_none_given(tmp_path, site, charset):
    site.pages["/privacy"] = Page(policy_html(), headers={"Content-Type": f"text/html; charset={charset}"})
    config = write_config(tmp_path, [live_policy(site)])
    run = tracker(config, "check")
    assert_clean(run, 0, max_error_lines=0)


def test_headers_cut_off_are_a_one_line_error(tmp_path, site):
    def cut(handler) -> None:
        handler.close_connection = True
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Ty")
    site.pages["/privacy"] = Page(handler=cut)
    config = write_config(tmp_path, [live_policy(site)])
    run = tracker(config, "check")
    assert_clean(run, 1, names=(site.url("/privacy"),), max_error_lines=1)


def test_bidirectional_overrides_never_reach_the_terminal(tmp_path, site):
    site.pages["/privacy"] = Page(policy_html().replace(b"Information We Collect", "Information \u202eWe Collect".encode()))
    config = write_config(tmp_path, [live_policy(site)])
    assert_clean(tracker(config, "check"), 0)
    shown = tracker(config, "show", "acme")
    assert "\u202e" not in shown.out and "Information We Collect" in shown.out, str(shown)
