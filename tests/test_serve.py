"""`tracker serve`: the Krop demo's store in a real Datasette started on 127.0.0.1, read over
HTTP and in headless Chromium; its metadata against the schema; the history pages' link to it."""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import html5lib
import pytest
import requests

from conftest import Page, Site, free_port, policy_html, run_cli, stop, write_config
from tracker import serve
from tracker.store import Store

ROOT = Path(__file__).resolve().parents[1]
DEMO_WARC = ROOT / "examples" / "krop-demo.warc.gz"
KROP = ["https://www.krop.com/privacy", "https://krrop.com/trust"]
OUTSIDE_PARTIES = "DO WE DISCLOSE ANY INFORMATION TO OUTSIDE PARTIES?"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The Krop demo backfilled; a live policy that changed today; one whose page answers 404."""
    tmp_path = tmp_path_factory.mktemp("serve")
    site = Site()
    site.pages["/gone"] = Page(policy_html(), status=404)
    site.pages["/fresh"] = Page(policy_html("30 days"))
    config = write_config(tmp_path, [
        {"name": "krop", "title": "Krop / KRROP", "urls": KROP, "archives": [f"warc:{DEMO_WARC}"], "live": False},
        {"name": "fresh", "title": "Fresh", "urls": [site.url("/fresh")], "archives": []},
        {"name": "gone", "title": "Gone Inc.", "urls": [site.url("/gone")], "archives": []}])
    try:
        assert run_cli(config, "backfill", "krop").exit_code == 0
        assert run_cli(config, "check", "fresh").exit_code == 0
        site.pages["/fresh"] = Page(policy_html("90 days"))
        assert "new version 2" in run_cli(config, "check", "fresh").out
        assert run_cli(config, "check", "gone").exit_code == 1
    finally:
        site.close()
    return config


class Served:
    """``tracker serve`` run as a user runs it, in its own process."""

    def __init__(self, config: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(config.parent / f"serve-{self.port}.log", "w+")
        self.process = subprocess.Popen([sys.executable, "-m", "tracker", "--config", str(config), "serve",
                                         "--port", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise AssertionError(f"tracker serve did not start: {self.output()}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            return requests.get(self.url + "/-/versions.json", timeout=2).ok
        except requests.RequestException:
            return False

    def json(self, path: str, **params) -> list[dict]:
        response = requests.get(f"{self.url}/{path}.json", params={"_shape": "array", **params}, timeout=10)
        assert response.status_code == 200, response.text
        return response.json()

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def close(self) -> None:
        stop(self.process)
        self.log.close()


@pytest.fixture(scope="module")
def served(demo):
    server = Served(demo)
    try:
        yield server
    finally:
        server.close()


def test_it_says_where_it_serves_the_store_and_binds_loopback_only(served, demo):
    assert served.output().splitlines()[0] == \
        f"serving {demo.parent / 'snapshots' / 'tracker.db'} read-only at {served.url}/ (Ctrl-C to stop)"
    with pytest.raises(OSError):  # bound to 127.0.0.1 alone: another address of the machine is refused
        socket.create_connection(("127.0.0.2", served.port), 2).close()
    assert requests.get(served.url + "/-/metadata.json", timeout=5).json() == serve.metadata()


def test_substantive_changes_by_policy_gives_each_policy_and_its_changes(served):
    rows = served.json("tracker/substantive_changes_by_policy")
    assert [(r["policy"], r["title"], r["from_version"], r["to_version"], r["kind"]) for r in rows] == \
        [("fresh", "Fresh", 1, 2, "substantive"), ("krop", "Krop / KRROP", 1, 2, "rewrite")]
    assert rows[1]["window_start"][:10] == "2019-07-01" and rows[1]["window_end"][:10] == "2025-06-03"


def test_changes_this_week_gives_the_change_of_today_not_the_demo_of_2025(served):
    (row,) = served.json("tracker/changes_this_week")
    assert (row["policy"], row["title"], row["from_version"], row["to_version"]) == ("fresh", "Fresh", 1, 2)
    assert row["window_end"] >= time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 3600))  # checked just now


def test_the_search_view_finds_a_phrase_with_its_policy_version_and_dates(served):
    rows = served.json("tracker/section_list", _search='"outside parties"', policy="krop")
    found = [r for r in rows if r["heading"] == OUTSIDE_PARTIES]
    assert [(r["policy"], r["title"], r["version"], r["first_seen"][:10], r["declared_date"]) for r in found] == \
        [("krop", "Krop / KRROP", 1, "2016-03-30", "2016-03-24")]
    assert all("outside parties" in (r["heading"] + r["text"]).lower() for r in rows)
    assert served.json("tracker/section_list", _search='"outside parties"', policy="gone") == []
    assert served.json("tracker/section_list", _search="KRROP Trust", policy="krop")[0]["version"] == 2


def test_a_store_indexed_before_the_search_index_existed_is_searchable_once_served(demo, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(demo.parent, copy, ignore=shutil.ignore_patterns("serve-*.log"))
    store = Store(copy / "snapshots" / "tracker.db")
    with store.db.transaction():  # versions as a history derived before the index existed leaves them
        store.db.execute("DELETE FROM section_versions")
        store.db.execute("DELETE FROM section_texts")
        store.db.execute("UPDATE versions SET sections = NULL")
    store.close()
    server = Served(copy / "config.toml")
    try:
        found = server.json("tracker/section_list", _search='"outside parties"', policy="krop")
        assert OUTSIDE_PARTIES in [r["heading"] for r in found]
    finally:
        server.close()


def test_where_does_this_phrase_appear_marks_the_match(served):
    rows = served.json("tracker/where_does_this_phrase_appear", phrase="Outside Parties")
    first = next(r for r in rows if r["heading"] == OUTSIDE_PARTIES)
    assert (first["policy"], first["version"], first["first_seen"][:10]) == ("krop", 1, "2016-03-30")
    assert "transfer to [outside parties] your personally identifiable information" in first["snippet"]
    assert served.json("tracker/where_does_this_phrase_appear", phrase="parties outside") == []  # a phrase: in order
    assert served.json("tracker/where_does_this_phrase_appear", phrase='say "hi') == []  # quotes are words, not syntax


def test_policies_failing_checks_gives_the_error_and_since_when(served, demo):
    (row,) = served.json("tracker/policies_failing_checks")
    store = Store(demo.parent / "snapshots" / "tracker.db")
    (at, message), = store.db.execute("SELECT at, message FROM run_results WHERE policy = 'gone'").fetchall()
    store.close()
    assert (row["policy"], row["title"], row["message"], row["failing_since"], row["failed_checks"]) == \
        ("gone", "Gone Inc.", message, at, 1)
    assert "404" in message


def test_the_store_cannot_be_written_through_datasette(served, demo):
    database = demo.parent / "snapshots" / "tracker.db"
    before = hashlib.sha256(database.read_bytes()).hexdigest()
    for sql in ("DELETE FROM policies", "UPDATE changes SET kind = 'cosmetic'", "DROP VIEW change_list"):
        response = requests.get(f"{served.url}/tracker.json", params={"sql": sql}, timeout=5)
        assert response.status_code == 400, sql
    assert requests.post(f"{served.url}/tracker/policies/-/insert", json={"row": {"name": "x"}},
                         timeout=5).status_code in (403, 404, 405)
    assert len(served.json("tracker/policies")) == 3
    assert hashlib.sha256(database.read_bytes()).hexdigest() == before


def test_a_search_from_the_history_page_in_chromium(served, demo, browser):
    """A reader follows the report's link to Datasette, searches, and sees where the text is."""
    config = demo.parent / "linked.toml"
    config.write_text(demo.read_text() + f'\n[report]\ndatasette_url = "{served.url}"\n')
    assert run_cli(config, "report", "--out", str(demo.parent / "reports")).exit_code == 0
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto((demo.parent / "reports" / "krop" / "index.html").as_uri())
    page.click("text=Search this policy")
    page.wait_for_url(f"{served.url}/tracker/section_list?policy=krop")
    page.fill("#_search", "outside parties")
    page.press("#_search", "Enter")
    page.wait_for_url("**_search=outside+parties**")
    text = page.inner_text("body")
    assert OUTSIDE_PARTIES in text and "2016-03-30" in text and "Krop / KRROP" in text
    assert "KRROP Trust" not in text  # the 2025 text does not say it
    context.close()


# --- without a server ----------------------------------------------------------------------

def test_the_metadata_describes_every_table_view_and_column(tmp_path):
    """A column added to the schema without a description here fails this test."""
    store = Store(tmp_path / "fresh.db")
    virtual = [name for (name,) in store.db.execute(
        "SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")]
    schema = {name: {column[1] for column in store.db.execute(f'PRAGMA table_info("{name}")')}
              for (name,) in store.db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
              if not any(name.startswith(f"{table}_") for table in virtual)}  # FTS5's shadow tables
    store.close()
    tables = serve.metadata()["databases"][serve.DATABASE]["tables"]
    assert {name: set(table["columns"]) for name, table in tables.items()} == schema
    assert all(table["description"] and all(table["columns"].values()) for table in tables.values())
    assert tables[serve.SEARCH_VIEW]["fts_table"] in virtual


def search_links(history_page: Path) -> list[str]:
    tree = html5lib.parse(history_page.read_text(encoding="utf-8"), namespaceHTMLElements=False)
    return [a.get("href") for a in tree.iter("a") if "".join(a.itertext()) == "Search this policy"]


def test_the_history_page_links_to_its_search_only_when_datasette_url_is_set(demo, tmp_path):
    out, history = tmp_path / "reports", tmp_path / "reports" / "krop" / "index.html"
    hostile = 'http://example.org/ds/"><script>alert(1)</script>'
    linked = demo.parent / "hostile.toml"
    linked.write_text(demo.read_text() + f"\n[report]\ndatasette_url = '{hostile}'\n")
    assert run_cli(demo, "report", "--out", str(out)).exit_code == 0
    assert search_links(history) == [] and "Datasette" not in history.read_text()
    assert run_cli(linked, "report", "--out", str(out)).exit_code == 0  # the setting alone changed: rendered again
    assert search_links(history) == [f"{hostile}/tracker/section_list?policy=krop"]
    assert "<script>" not in history.read_text()  # the URL is escaped, the page runs no script
    assert run_cli(demo, "report", "--out", str(out)).exit_code == 0
    assert search_links(history) == []


def test_a_port_in_use_is_one_line_naming_it(demo):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        result = run_cli(demo, "serve", "--port", str(port))
    assert result.exit_code == 1
    assert result.stderr == f"error: port {port} on 127.0.0.1 is in use: stop what holds it, or pass --port\n"


def test_without_datasette_it_says_how_to_install_it(demo, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasette.app", None)  # as if it were not installed
    result = run_cli(demo, "serve")
    assert result.exit_code == 1
    assert result.stderr == "error: Datasette is not installed: pip install 'policy-tracker[datasette]'\n"
