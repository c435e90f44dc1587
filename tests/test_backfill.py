"""Backfill from archives: WARC files, a real pywb Memento archive, the Internet Archive's
dialect from recorded traffic, politeness under a fake clock, and resuming after kill -9."""

from __future__ import annotations

import gzip
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import Archived, Page, Pywb, policy_html, run_cli, run_tracker, store_of, store_url, write_config, write_warc
from tracker import runs
from tracker.archive import (ArchiveClient, ArchiveError, Memento, NotArchived, RateLimited, RateLimiter, list_ia,
                             retrieve)
from tracker.backfill import Backfill, Backfilled
from tracker.config import ArchiveConfig, FetchConfig, load_config
from tracker.store import Store

ROOT = Path(__file__).resolve().parents[1]
DEMO_WARC = ROOT / "examples" / "krop-demo.warc.gz"
ACME = "https://acme.example/privacy"
BIG = "https://big.example/terms"


class FakeTime:
    """A clock that only moves when someone sleeps: waits are recorded, never waited."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds


def acme_history(count: int = 30, texts: int = 3) -> list[Archived]:
    """``count`` monthly captures of one policy whose text changes ``texts - 1`` times (the
    retention period), each capture with other bytes (the footer's build number)."""
    out = []
    for i in range(count):
        text = i * texts // count
        body = policy_html(retention=f"{30 * (text + 1)} days").replace(b"2024 Acme", f"2024 Acme build {i}".encode())
        out.append(Archived(ACME, f"{2019 + (i + 1) // 12}-{(i + 1) % 12 + 1:02d}-15T08:00:00Z", body))
    return out


def big_history() -> list[Archived]:
    """60 captures of a policy with 4 texts, for interrupting."""
    return [Archived(BIG, f"20{10 + i // 12}-{i % 12 + 1:02d}-03T12:00:00Z",
                     policy_html(retention=f"{i // 15 + 1} years").replace(b"2024 Acme", f"build {i}".encode()))
            for i in range(60)]


@pytest.fixture(scope="module")
def pywb(tmp_path_factory):
    root = tmp_path_factory.mktemp("pywb")
    warcs = [write_warc(root / "acme.warc.gz", acme_history()), write_warc(root / "big.warc.gz", big_history()),
             DEMO_WARC]
    server = Pywb(root, warcs)
    yield server
    server.close()


def dump(config: Path) -> dict:
    """What a user would compare: captures, versions and changes (not run logs or times)."""
    store = store_of(config)
    try:
        return {
            "captures": sorted(tuple(row) for row in store.db.execute(
                "SELECT url, captured_at, source, archive_url, status, sha256, flags FROM captures")),
            "versions": sorted(tuple(row) for row in store.db.execute(
                "SELECT number, key, first_seen, last_seen, captures FROM versions")),
            "changes": sorted(tuple(row) for row in store.db.execute(
                "SELECT from_version, to_version, window_start, window_end FROM changes")),
        }
    finally:
        store.close()


def archive_policy(name: str, urls: list[str], archives: list[str]) -> dict:
    return {"name": name, "urls": urls, "archives": archives, "live": False}


FAST = '[archive]\ncaptures_per_second = 200\nindex_per_minute = 6000\n'


# --- WARC files -------------------------------------------------------------------------------

def test_the_bundled_demo_backfills_offline_into_the_krop_history(tmp_path, backend):
    config = backend.place(write_config(tmp_path, [archive_policy(
        "krop", ["https://www.krop.com/privacy", "https://krrop.com/trust"], [f"warc:{DEMO_WARC}"])]))
    result = run_cli(config, "backfill")
    assert result.exit_code == 0, result.stderr
    # a WARC is read, not fetched; one change is "1 change"
    assert "8 captures listed, 8 new, 8 read from the WARC; 2 versions, 1 change\n" in result.out
    assert "fetched" not in result.out
    history = run_cli(config, "history", "krop")
    assert "declared 2016-03-24" in history.out and "declared 2025-06-01" in history.out
    assert "rewrite" in history.out and "between 2019-07-01 12:00 UTC and 2025-06-03 09:30 UTC" in history.out
    exported = __import__("json").loads(run_cli(config, "export", "krop", "--json").stdout)
    by_time = {c["captured_at"][:10]: c for c in exported["captures"]}
    assert by_time["2018-02-14"]["version"] is None and by_time["2018-02-14"]["status"] == 503
    assert by_time["2016-11-02"]["version"] == 1  # a revisit record: the same body as 2016-03-30
    assert by_time["2025-10-15"]["version"] == 2
    status = run_cli(config, "status", "krop")
    assert "last backfill" in status.out and "8 captures listed" in status.out


def test_a_backfill_run_from_another_folder_stores_no_warc_record_twice(tmp_path):
    shutil.copy(DEMO_WARC, tmp_path / "demo.warc.gz")
    config = write_config(tmp_path, [archive_policy("krop", ["https://www.krop.com/privacy", "https://krrop.com/trust"],
                                                    ["warc:demo.warc.gz"])])
    assert run_tracker("--config", "config.toml", "backfill", cwd=tmp_path).returncode == 0
    elsewhere = run_tracker("--config", str(config), "backfill", cwd=tmp_path.parent)
    assert elsewhere.returncode == 0 and "8 already stored" in elsewhere.stdout, elsewhere.stdout + elsewhere.stderr
    with sqlite3.connect(tmp_path / "snapshots" / "tracker.db") as db:
        assert db.execute("SELECT count(*) FROM captures").fetchone()[0] == 8


def test_a_dated_backfill_reads_a_revisit_whose_original_is_older(tmp_path):
    config = write_config(tmp_path, [archive_policy(
        "krop", ["https://www.krop.com/privacy", "https://krrop.com/trust"], [f"warc:{DEMO_WARC}"])])
    result = run_cli(config, "backfill", "--from", "2016-06", "--to", "2016-12")
    assert result.exit_code == 0 and "1 capture listed" in result.out, result.out + result.stderr
    exported = __import__("json").loads(run_cli(config, "export", "krop", "--json").stdout)
    assert [c["captured_at"][:10] for c in exported["captures"]] == ["2016-11-02"]
    assert exported["captures"][0]["version"] == 1  # the revisit's body: the 2016-03-30 capture's


def test_a_second_backfill_changes_nothing(tmp_path, backend):
    config = backend.place(write_config(tmp_path, [archive_policy(
        "krop", ["https://www.krop.com/privacy", "https://krrop.com/trust"], [f"warc:{DEMO_WARC}"])]))
    run_cli(config, "backfill")
    before = dump(config)
    assert len(before["captures"]) == 8 and len(before["changes"]) == 1
    again = run_cli(config, "backfill")
    assert again.exit_code == 0 and "8 already stored" in again.out
    assert dump(config) == before


def test_warc_paths_are_relative_to_the_config_and_globs_merge_files(tmp_path):
    (tmp_path / "crawls").mkdir()
    history = acme_history(count=6, texts=2)
    write_warc(tmp_path / "crawls" / "a.warc.gz", history[:3])
    write_warc(tmp_path / "crawls" / "b.warc.gz", history[3:])
    config = write_config(tmp_path, [archive_policy("acme", [ACME], ["warc:crawls/*.warc.gz"])])
    result = run_cli(config, "backfill")
    assert result.exit_code == 0 and "6 captures listed" in result.out and "2 versions" in result.out


def test_a_missing_or_broken_warc_is_one_line_naming_it(tmp_path):
    (tmp_path / "broken.warc.gz").write_bytes(b"this is not a WARC file at all\n" * 10)
    config = write_config(tmp_path, [archive_policy("acme", [ACME], ["warc:missing.warc.gz"]),
                                     archive_policy("other", [ACME], ["warc:broken.warc.gz"])])
    result = run_cli(config, "backfill")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in result.stderr
    assert "missing.warc.gz" in lines[0] and "broken.warc.gz" in lines[1] and "not a readable WARC" in lines[1]


# --- a Memento archive (pywb) -----------------------------------------------------------------

def test_a_memento_archive_gives_the_history_with_its_redirect_and_error(tmp_path, pywb, backend):
    config = backend.place(write_config(tmp_path, [archive_policy(
        "krop", ["https://www.krop.com/privacy", "https://krrop.com/trust"], [f"memento:{pywb.base}"])], FAST))
    result = run_cli(config, "backfill")
    assert result.exit_code == 0, result.stderr
    store = store_of(config)
    captures = store.captures.timeline("krop")
    assert len(captures) == 8 and {c.source for c in captures} == {"memento"}
    redirect = next(c for c in captures if c.status == 301)
    assert redirect.captured_at.startswith("2025-06-03T09:30:00")
    assert "archived-redirect" in redirect.flags and redirect.redirects[-1]["location"] == "https://krrop.com/trust"
    assert all("id_/" in c.archive_url and c.archive_url.startswith(pywb.base) for c in captures)
    assert [v.declared_date for v in store.history.versions("krop")] == ["2016-03-24", "2025-06-01"]
    store.close()


def test_bodies_seen_before_are_not_fetched_again(tmp_path, pywb):
    config = load_config(write_config(tmp_path, [archive_policy("acme", [ACME], [f"memento:{pywb.base}"])], FAST))
    store = Store(config.database)
    client = ArchiveClient(config.archive, config.fetch)
    (report,) = runs.backfill(store, config, (), Backfill(store, config, client))
    assert report.listed == 30 and report.fetched == 30 and report.versions == 3
    requests_before = client.requests
    (again,) = runs.backfill(store, config, (), Backfill(store, config, client))
    assert again.fetched == 0 and again.stored_before == 30
    assert client.requests - requests_before == 1  # the TimeMap, nothing else
    store.close()


def test_the_changes_strategy_finds_every_change_with_fewer_fetches(tmp_path, pywb):
    windows = {}
    for strategy in ("all", "changes"):
        folder = tmp_path / strategy
        folder.mkdir()
        config = load_config(write_config(folder, [archive_policy("acme", [ACME], [f"memento:{pywb.base}"])], FAST))
        store = Store(config.database)
        (report,) = runs.backfill(store, config, (), Backfill(store, config, ArchiveClient(config.archive, config.fetch),
                                                                strategy=strategy))
        windows[strategy] = [(c.window_start, c.window_end) for c in store.history.changes("acme")]
        if strategy == "changes":
            assert report.fetched < report.all_would_fetch == 30
            assert report.fetched <= 2 * 2 * 5 + 2  # about 2 changes x log2(30) fetches, and the ends
        store.close()
    assert len(windows["all"]) == 2 and windows["changes"] == windows["all"]


def test_the_changes_strategy_says_how_many_fetches_all_would_have_made(tmp_path, pywb):
    config = write_config(tmp_path, [archive_policy("acme", [ACME], [f"memento:{pywb.base}"])], FAST)
    first = run_cli(config, "backfill", "--strategy", "changes", "--to", "2019-03")  # 2 captures, one text
    assert first.exit_code == 0, first.stderr
    assert "2 captures listed, 2 new, 2 fetched, `all` would have made 2 fetches; 1 version, 0 changes" in first.out
    result = run_cli(config, "backfill", "--strategy", "changes")
    assert result.exit_code == 0, result.stderr
    fetched = int(result.out.split(" fetched")[0].rsplit(" ", 1)[-1])
    assert fetched < 28 and ", `all` would have made 28 fetches; 3 versions, 2 changes" in result.out


def test_the_interval_strategy_takes_one_capture_per_interval(tmp_path, pywb):
    config = write_config(tmp_path, [archive_policy("acme", [ACME], [f"memento:{pywb.base}"])], FAST)
    result = run_cli(config, "backfill", "--strategy", "interval", "--every", "6m")
    assert result.exit_code == 0, result.stderr
    store = Store(tmp_path / "snapshots" / "tracker.db")
    taken = [c.captured_at[:7] for c in store.captures.timeline("acme")]
    assert len(taken) == 5  # 30 monthly captures in 180-day intervals
    assert len(set(t[:4] for t in taken)) >= 3 and len(store.history.versions("acme")) == 3
    store.close()


def test_from_and_to_limit_the_period(tmp_path, pywb, backend):
    config = backend.place(write_config(tmp_path, [archive_policy("acme", [ACME], [f"memento:{pywb.base}"])], FAST))
    result = run_cli(config, "backfill", "--from", "2020-01", "--to", "2020")
    assert result.exit_code == 0, result.stderr
    store = store_of(config)
    assert {c.captured_at[:4] for c in store.captures.timeline("acme")} == {"2020"} and len(store.captures.timeline("acme")) == 12
    store.close()


def test_an_unreachable_archive_is_one_line_and_keeps_what_is_stored(tmp_path, backend):
    config = backend.place(write_config(tmp_path, [
        archive_policy("krop", ["https://www.krop.com/privacy"], [f"warc:{DEMO_WARC}", "memento:http://127.0.0.1:9/x"])],
        '[archive]\nretries = 1\n'))
    result = run_cli(config, "backfill")
    assert result.exit_code == 1 and "Traceback" not in result.stderr
    assert "127.0.0.1:9" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    store = store_of(config)
    assert len(store.captures.timeline("krop")) == 6  # the WARC's captures of this URL are stored all the same
    store.close()


def captures_stored(config: Path, check: bool = False) -> int | None:
    """How many captures the config's store holds, read as another program would, without
    making the store (None: not made yet); ``check``: an SQLite file must pass its integrity
    check."""
    url = store_url(config)
    if url:
        import psycopg
        with psycopg.connect(url) as conn:
            try:
                return conn.execute("SELECT count(*) FROM captures").fetchone()[0]
            except psycopg.errors.UndefinedTable:
                return None
    db = config.parent / "snapshots" / "tracker.db"
    if not db.exists():
        return None
    with sqlite3.connect(db) as conn:
        try:
            if check:
                assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            return conn.execute("SELECT count(*) FROM captures").fetchone()[0]
        except sqlite3.OperationalError:
            return None  # the schema is not made yet


def wait_for_captures(config: Path, more_than: int, process: subprocess.Popen, guard: float = 120) -> None:
    """Until the process has stored more than ``more_than`` captures (or has ended): the
    moment to kill it mid-backfill, whatever the machine's speed."""
    deadline = time.monotonic() + guard
    while process.poll() is None:
        if (captures_stored(config) or 0) > more_than:
            return
        assert time.monotonic() < deadline, "the backfill stored nothing new"
        time.sleep(0.01)


def test_a_killed_backfill_resumes_where_it_stopped_and_loses_nothing(tmp_path, pywb, backend):
    reference = tmp_path / "reference"
    reference.mkdir()
    slow = '[archive]\ncaptures_per_second = 25\nindex_per_minute = 6000\n'
    policy = [archive_policy("big", [BIG], [f"memento:{pywb.base}"])]
    reference_config = backend.place(write_config(reference, policy, slow))
    assert run_cli(reference_config, "backfill").exit_code == 0
    expected = dump(reference_config)
    assert len(expected["captures"]) == 60 and len(expected["versions"]) == 4

    config = backend.place(write_config(tmp_path, policy, slow))
    stored = []
    for _ in range(3):
        process = subprocess.Popen([sys.executable, "-m", "tracker", "--config", str(config), "backfill"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
        wait_for_captures(config, more_than=stored[-1] if stored else 0, process=process)
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        count = captures_stored(config, check=True)
        if count is not None:
            stored.append(count)
    assert stored == sorted(stored)  # nothing stored is ever lost
    final = run_cli(config, "backfill")
    assert final.exit_code == 0, final.stderr
    assert f"{stored[-1]} already stored" in final.out or stored[-1] == 0
    got = dump(config)
    assert [c[:5] for c in got["captures"]] == [c[:5] for c in expected["captures"]]
    assert got["versions"] == expected["versions"] and got["changes"] == expected["changes"]


# --- politeness -------------------------------------------------------------------------------

def client_for(fake: FakeTime, **archive) -> ArchiveClient:
    return ArchiveClient(ArchiveConfig(**archive), FetchConfig(contact="tests@example.org", timeout_s=5),
                         clock=fake.clock, sleep=fake.sleep, jitter=lambda: 0.5)


def test_the_rate_limiter_spaces_requests_for_all_threads():
    fake = FakeTime()
    limiter = RateLimiter(0.5, fake.clock, fake.sleep)  # 30 a minute
    starts = []

    def one():
        limiter.wait()
        starts.append(fake.now)
    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(fake.sleeps) == pytest.approx(10.0)  # 6 requests, 2 s apart: the last at +10 s
    limiter.pause(60)
    before = fake.now
    limiter.wait()
    assert fake.now - before >= 60


def test_index_and_capture_requests_have_their_own_limits(site):
    fake = FakeTime()
    client = client_for(fake)
    site.pages["/cdx"] = Page(b"")
    site.pages["/web/x"] = Page(b"capture")
    for _ in range(3):
        client.get(site.url("/cdx"), "index")
    assert sum(fake.sleeps) == pytest.approx(4.0)  # 30 a minute: 2 s apart
    fake.sleeps.clear()
    for _ in range(9):
        client.get(site.url("/web/x"), "capture")
    assert sum(fake.sleeps) == pytest.approx(1.0)  # 8 a second
    assert all(h["user-agent"].endswith("(+tests@example.org)") for _, h in site.requests)


def test_a_429_pauses_the_host_a_minute_then_backs_off(site):
    fake = FakeTime()
    client = client_for(fake)
    answers = iter([429, 429, 200])
    times = []

    def handler(request):
        times.append(fake.now)
        status = next(answers)
        request.send_response(status)
        request.send_header("Content-Length", "2")
        request.end_headers()
        request.wfile.write(b"ok")
    site.pages["/cdx"] = Page(handler=handler)
    assert client.get(site.url("/cdx"), "index").status == 200
    assert times[1] - times[0] >= 60  # never retried at once
    assert times[2] - times[1] >= 120  # and twice as long after a second 429
    site.pages["/web/y"] = Page(b"y")
    before = fake.now
    client.get(site.url("/web/y"), "capture")  # the host was unpaused by the 200
    assert fake.now - before < 1


def test_an_archive_that_keeps_answering_429_stops_the_run_for_that_host(site):
    fake = FakeTime()
    client = client_for(fake, retries=2)
    site.pages["/cdx"] = Page(b"slow down", status=429)
    with pytest.raises(RateLimited, match="429"):
        client.get(site.url("/cdx"), "index")
    assert len(site.requests) == 3
    with pytest.raises(RateLimited):
        client.get(site.url("/cdx"), "capture")  # no further request to that host in this run
    assert len(site.requests) == 3


def test_an_archived_429_is_a_capture_not_a_rate_limit(site):
    fake = FakeTime()
    client = client_for(fake)
    site.pages["/web/20150129034904id_/http://example.org/r"] = Page(
        b"Too many requests", status=429,
        headers={"Content-Type": "text/plain", "Memento-Datetime": "Thu, 29 Jan 2015 03:49:04 GMT"})
    got = retrieve(client, Memento("http://example.org/r", "20150129034904", "ia",
                                   site.url("/web/20150129034904id_/http://example.org/r")))
    assert got.response.status == 429 and not fake.sleeps and len(site.requests) == 1


def test_server_errors_are_retried_a_bounded_number_of_times(site):
    fake = FakeTime()
    client = client_for(fake, retries=2)
    answers = iter([503, 502, 200])

    def handler(request):
        request.send_response(next(answers))
        request.send_header("Content-Length", "0")
        request.end_headers()
    site.pages["/web/z"] = Page(handler=handler)
    assert client.get(site.url("/web/z"), "capture").status == 200
    site.pages["/web/down"] = Page(b"", status=500)
    with pytest.raises(ArchiveError, match="answered 500 3 times"):
        client.get(site.url("/web/down"), "capture")


def test_a_rate_limited_backfill_is_one_line_and_keeps_its_captures(tmp_path, site):
    site.pages["/timemap/link/https://acme.example/privacy"] = Page(b"", status=429)
    config = write_config(tmp_path, [archive_policy("acme", [ACME], [f"warc:{DEMO_WARC}", f"memento:{site.url('')}"])],
                          "[archive]\nretries = 1\npause_s = 0.01\n")
    result = run_cli(config, "backfill")
    assert result.exit_code == 1 and "429" in result.stderr and "Traceback" not in result.stderr


# --- the Internet Archive, from recorded traffic ----------------------------------------------

CASSETTES = Path(__file__).parent / "cassettes" / "edgi-wayback"


def ia_vcr():
    """Replay recorded Internet Archive traffic. CDX requests match on the query's meaning
    (url, period, resume key): this tool asks for more (collapse, a larger page) than the
    recording did."""
    import vcr
    from urllib.parse import parse_qs, urlsplit

    def cdx_query(r1, r2):
        keys = ("url", "from", "to", "resumeKey")
        q1, q2 = parse_qs(urlsplit(r1.uri).query), parse_qs(urlsplit(r2.uri).query)
        assert [q1.get(k) for k in keys] == [q2.get(k) for k in keys]

    recorder = vcr.VCR(record_mode="none", match_on=["method", "host", "path", "cdx_query"])
    recorder.register_matcher("cdx_query", cdx_query)
    return recorder


def test_ia_cdx_pages_through_resume_keys():
    fake = FakeTime()
    client = client_for(fake)
    with ia_vcr().use_cassette(str(CASSETTES / "test_search_multipage.yaml")) as cassette:
        mementos = list_ia(client, ArchiveConfig(), "cnn.com", "20010410000000", "20010510000000")
        assert cassette.all_played
    recorded = []
    for response in cassette.responses:
        lines = gzip.decompress(response["body"]["string"]).decode().strip().splitlines()
        recorded += [line.split() for line in lines if len(line.split()) == 7]  # not the resume keys
    distinct = list(dict.fromkeys((r[1], r[2]) for r in recorded))  # the index repeats some records
    assert len(cassette.requests) > 1 and len(distinct) > 50
    assert [(m.timestamp, m.url) for m in mementos] == distinct
    assert all("20010410" <= m.timestamp <= "20010510" for m in mementos)
    assert all(m.archive_url == f"https://web.archive.org/web/{m.timestamp}id_/{m.url}" for m in mementos)
    assert sum(fake.sleeps) >= 9 * 2 - 0.01  # 10 CDX pages at most 30 a minute


def ia_memento(url: str, stamp: str) -> Memento:
    return Memento(url, stamp, "ia", f"https://web.archive.org/web/{stamp}id_/{url}")


def retrieve_recorded(memento: Memento, cassette: str) -> tuple:
    """Fetch a memento from recorded traffic under a fake clock: (result, client, clock)."""
    fake = FakeTime()
    client = client_for(fake)
    with ia_vcr().use_cassette(str(CASSETTES / cassette)):
        return retrieve(client, memento), client, fake


def test_ia_redirect_to_the_nearest_capture_is_followed_and_an_archived_redirect_is_kept():
    got, _, _ = retrieve_recorded(ia_memento("http://epa.gov/climatechange", "20200201020357"),
                                  "test_get_memento_follows_historical_redirects.yaml")
    assert got.response.status == 301
    assert got.archived_redirect == "https://www.epa.gov/sites/production/files/signpost/cc.html"
    assert got.memento.timestamp == "20200201023757"  # the real capture time, not the one asked for
    assert [h["status"] for h in got.hops] == [302]


def test_ia_archived_429_is_kept_as_a_capture_without_pausing():
    got, client, fake = retrieve_recorded(ia_memento("http://www.reddit.com/r/PokemonGiveaway", "20150129034904"),
                                          "test_get_memento_works_on_archived_rate_limit_responses.yaml")
    assert got.response.status == 429 and got.response.body  # reddit's own answer, as archived
    assert max(fake.sleeps, default=0) < 1 and client.requests == 1


# --- Save Page Now ---------------------------------------------------------------------------

def test_a_new_live_version_is_saved_to_the_archive_and_a_failed_save_is_recorded(tmp_path, site):
    site.pages["/privacy"] = Page(policy_html())
    live = site.url("/privacy")
    site.pages[f"/save/{live}"] = Page(b"", status=302, headers={"Location": f"/web/20261124120000/{live}"})
    site.pages[f"/web/20261124120000/{live}"] = Page(b"saved")
    config = write_config(tmp_path, [{"name": "acme", "urls": [live], "archives": []}],
                          f'[archive]\nsave_on_change = true\nsave_url = "{site.url("/save")}"\n')
    first = run_cli(config, "check")
    assert first.exit_code == 0 and f"(saved: {site.url('/web/20261124120000/')}" in first.out
    again = run_cli(config, "check")
    assert "unchanged" in again.out and sum(p.startswith("/save/") for p, _ in site.requests) == 1

    site.pages["/privacy"] = Page(policy_html(retention="90 days"))
    site.pages[f"/save/{live}"] = Page(b"", status=403)
    changed = run_cli(config, "check")
    assert changed.exit_code == 0 and "new version 2" in changed.out and "not saved" in changed.out
    store = Store(tmp_path / "snapshots" / "tracker.db")
    captures = store.captures.timeline("acme")
    assert captures[0].saved_url.endswith(f"/web/20261124120000/{live}") and captures[0].save_error is None
    assert captures[-1].saved_url is None and "403" in captures[-1].save_error
    store.close()


def test_ia_capture_missing_from_the_archive_is_not_stored_as_a_404_of_the_page(tmp_path):
    memento = ia_memento("https://this-is-not-real-url.whatever/", "20170929002712")
    with pytest.raises(NotArchived, match="no such capture"):
        retrieve_recorded(memento, "test_get_memento_raises_no_memento_error.yaml")
    client = client_for(FakeTime())
    config = load_config(write_config(tmp_path, [archive_policy("x", [memento.url], ["ia"])]))
    store = Store(config.database)
    store.runs.sync_policies(config.policies)
    job, report = Backfill(store, config, client), Backfilled("x")
    with ia_vcr().use_cassette(str(CASSETTES / "test_get_memento_raises_no_memento_error.yaml")):
        assert job.obtain(config.policies[0], memento, report) is None
    assert report.missing == 1 and report.new == 0 and store.captures.timeline("x") == []
    store.close()
