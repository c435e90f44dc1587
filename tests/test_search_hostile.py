"""Search against what a hostile page or a careless user gives it: queries FTS5 would misread,
page text that writes the snippet marks or words of megabytes, a period given backwards,
two processes indexing a store at once, a daemon writing while a search reads."""

from __future__ import annotations

import itertools
import sqlite3
import time
from pathlib import Path

import pytest

from conftest import Archived, run_cli, write_config, write_warc
from tracker import Tracker
from tracker.console import TIMELINE_WIDTH
from tracker.errors import TrackerError
from tracker.store import sections

FILLER = " ".join(["This privacy policy says how we handle the personal information of the people who use "
                   "our service, and what they may ask of us."] * 6)
SELLS = "We never sell your personal information to anyone."


def page(sections: list[tuple[str, str]]) -> bytes:
    body = "".join(f"<h2>{heading}</h2><p>{text}</p>" for heading, text in sections + [("About", FILLER)])
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Policy</title></head>"
            f"<body><main><h1>Policy</h1>{body}</main></body></html>").encode()


def store_of(tmp_path: Path, histories: dict[str, list[tuple[str, bytes]]]) -> Path:
    """A config whose policies were backfilled from a WARC file: each a list of (day, page)."""
    policies = []
    for name, history in histories.items():
        url = f"https://{name}.example/privacy"
        warc = write_warc(tmp_path / f"{name}.warc.gz", [Archived(url, f"{day}T12:00:00Z", body) for day, body in history])
        policies.append({"name": name, "urls": [url], "archives": [f"warc:{warc}"], "live": False})
    config = write_config(tmp_path, policies)
    result = run_cli(config, "backfill")
    assert result.exit_code == 0, result.stderr
    return config


@pytest.fixture(scope="module")
def acme(tmp_path_factory) -> Path:
    """Acme says it never sells in versions 1 and 2, and no longer in 3."""
    return store_of(tmp_path_factory.mktemp("acme"), {"acme": [
        ("2020-01-01", page([("Sales", SELLS)])), ("2020-03-01", page([("Sales", SELLS)])),
        ("2020-06-01", page([("Sales", SELLS), ("Keep", "We keep your data for 30 days.")])),
        ("2021-01-01", page([("Sales", "We may sell your data."), ("Keep", "We keep your data for 30 days.")]))]})


def one_error_line(result) -> str:
    assert result.exit_code == 1 and result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), \
        result.stderr
    return result.stderr


def test_a_query_with_undecodable_bytes_or_control_characters_is_one_line(acme):
    # bytes a terminal could not decode reach Python as lone surrogates, which SQLite cannot take
    assert "holds U+DCFF, a byte that is not UTF-8" in one_error_line(run_cli(acme, "search", "sell\udcff"))
    line = one_error_line(run_cli(acme, "search", "\x1b]0;owned\x07sell"))
    assert "holds U+001B, a control character" in line and "\x1b" not in line and "\x07" not in line
    with Tracker(acme) as t:
        with pytest.raises(TrackerError, match=r"U\+0000, a control character"):
            t.search("sell\x00 nothing")  # SQLite would read the query up to the NUL: 'sell'
    assert run_cli(acme, "search", "sell\tyour\nsell").exit_code == 0  # white space is white space


def test_a_star_without_a_word_before_it_is_no_debugging_command(acme):
    # FTS5 reads '*reads' as a command ('unknown special query' or no rows at all)
    for query in ("*", "*reads", "sell **", "sell *"):
        assert "a '*' ends a prefix" in one_error_line(run_cli(acme, "search", query)), query
    assert run_cli(acme, "search", '"sell *"').exit_code == 0  # in quotes it is no prefix


def test_a_query_of_thousands_of_terms_is_refused_at_once(acme):
    # each term is weighed against every other for each passage shown: minutes, uninterruptible
    query = " OR ".join(["sell"] * 2_500)
    started = time.monotonic()
    line = one_error_line(run_cli(acme, "search", query))
    assert "the search query is 19,996 characters long: give at most 2,000" in line
    assert time.monotonic() - started < 2 and len(line) < 500
    assert run_cli(acme, "search", '"' + " ".join([SELLS] * 30)[:1_990] + '"').exit_code == 0  # a paragraph is fine


def test_a_period_given_backwards_is_an_error_not_an_empty_answer(acme):
    line = one_error_line(run_cli(acme, "search", "sell", "--since", "2021", "--until", "2020-06"))
    assert "since 2021 is after until 2020-06: nothing can be in that period" in line
    with Tracker(acme) as t:
        with pytest.raises(TrackerError, match="sections -1"):
            t.search("sell", sections=-1)


def test_a_page_that_writes_the_snippet_marks_gets_no_match_marked(tmp_path):
    # &#2; and &#3; are the characters FTS5 is asked to put around each match
    hostile = page([("Deals &#2;here&#3;", "We &#2;never&#3; share your data &#2;with anyone. We sell data.")])
    config = store_of(tmp_path, {"evil": [("2020-01-01", hostile)]})
    with Tracker(config) as t:
        (hit,) = t.search("sell")
    (section,) = hit.sections
    snippet = section.snippet
    assert [snippet.text[a:b] for a, b in snippet.marks] == ["sell"]
    assert "\x02" not in section.heading + snippet.text and "\x03" not in section.heading + snippet.text


def test_a_section_of_megabytes_is_searched_in_seconds_and_a_phrase_across_its_parts_is_found(tmp_path):
    # FTS5 weighs every match against every other to choose a passage, and cannot be
    # interrupted meanwhile: a 1 MB section full of one word took minutes
    words = itertools.cycle("data privacy sell share retain delete cookie partner".split())
    huge = " ".join(next(words) for _ in range(150_000))
    config = store_of(tmp_path, {"huge": [("2020-01-01", page([("Everything", huge + " the final clause")]))]})
    with Tracker(config) as t:
        longest = t.store.db.execute("SELECT max(length(text)) FROM section_texts").fetchone()[0]
        assert longest <= sections.LONGEST_TEXT
        started = time.monotonic()
        (hit,) = t.search("data AND share")
        assert time.monotonic() - started < 5
        assert [s.heading for s in hit.sections] == ["Everything"]  # its parts are one section
        assert "[data]" in hit.sections[0].snippet.marked()
        # a phrase is found wherever the text was cut
        cut = sections.LONGEST_TEXT - sections.OVERLAP // 2
        phrase = " ".join(huge[cut:cut + 200].split()[1:-1])
        assert [h.policy for h in t.search(f'"{phrase}"')] == ["huge"]
        assert [h.policy for h in t.search('"the final clause"')] == ["huge"]


def test_a_word_of_megabytes_is_cut_short_in_the_passage(tmp_path):
    config = store_of(tmp_path, {"long": [("2020-01-01", page([("Words", "begin " + "z" * 300_000 + " data"),
                                                                ("More", "data " + "y" * 1000)]))]})
    result = run_cli(config, "search", "--json", "data")
    assert result.exit_code == 0 and len(result.stdout) < 5_000
    result = run_cli(config, "search", "data")
    assert max(len(line) for line in result.stdout.splitlines()) < 300
    assert "[data] yyyyyyyy" in result.stdout and "y" * 80 not in result.stdout and "…" in result.stdout


def test_the_spans_of_a_period_are_whole_and_drawn_in_the_bar(tmp_path):
    # Beta said it from 2019 until mid-2020; searched from 2020-02, the span is given whole
    config = store_of(tmp_path, {"beta": [
        ("2019-01-01", page([("Sales", SELLS)])), ("2019-06-01", page([("Sales", SELLS), ("New", "A new part.")])),
        ("2020-03-01", page([("Sales", SELLS), ("New", "A new part.")])),
        ("2020-06-01", page([("Sales", "We may sell your data.")])), ("2021-01-01", page([("Sales", "We may sell it.")]))]})
    with Tracker(config) as t:
        (hit,) = t.search('"never sell"', since="2020-02")
    (span,) = hit.spans
    assert (span.first_version, span.last_version, span.added_by) == (1, 2, None)
    assert span.first_seen.startswith("2019-01-01")  # before the period
    assert (span.removed_by.from_version, span.removed_by.to_version) == (2, 3)
    result = run_cli(config, "search", "--history", "--since", "2020-02", '"never sell"')
    start, bar, end = result.stdout.splitlines()[1].split()
    assert len(bar) == TIMELINE_WIDTH and bar.startswith("█") and bar.endswith("·")


def test_a_history_of_one_moment_held_the_wording_all_along(tmp_path):
    config = store_of(tmp_path, {"once": [("2020-01-01", page([("Sales", SELLS)]))]})
    result = run_cli(config, "search", "--history", "sell")
    start, bar, end = result.stdout.splitlines()[1].split()
    assert start == end == "2020-01-01" and bar == "█" * TIMELINE_WIDTH


def copy_of(config: Path, tmp_path: Path) -> Path:
    """A copy of a config and its store, made with SQLite's backup: a copy of the files could
    catch the write-ahead log as another connection closing deletes it."""
    (tmp_path / "copy" / "snapshots").mkdir(parents=True)
    copied = tmp_path / "copy" / "config.toml"
    copied.write_text(config.read_text())
    source, target = (sqlite3.connect(path / "snapshots" / "tracker.db") for path in (config.parent, copied.parent))
    source.backup(target)
    source.close(), target.close()
    return copied


def copy_at_schema_10(config: Path, tmp_path: Path) -> Path:
    """A copy of a store as a version before the index wrote it: derived, not indexed."""
    copied = copy_of(config, tmp_path)
    with Tracker(copied) as t:
        t.store.db.script("DROP VIEW change_list; DROP VIEW version_list; DROP VIEW section_list; "
                          "DROP TABLE section_versions; DROP TABLE section_texts_fts; "
                          "DROP TABLE section_texts_words; DROP TABLE section_texts; "
                          "ALTER TABLE versions DROP COLUMN sections", 10)
    return copied


def test_two_first_searches_at_once_index_the_store_once(acme, tmp_path):
    config = copy_at_schema_10(acme, tmp_path)
    with Tracker(config) as first, Tracker(config) as second:
        stale = second.store.sections.unindexed("acme")  # read before the first search indexed them
        assert stale == [1, 2, 3]
        first.search("sell")
        second.store.sections.unindexed = lambda policy: stale  # type: ignore[method-assign]
        (hit,) = second.search('"never sell"')  # the versions the other indexed are left as they are
        assert (hit.spans[0].first_version, hit.spans[0].last_version) == (1, 2)
        runs = second.store.db.execute("SELECT count(*), count(DISTINCT text_id || '-' || first_version) "
                                       "FROM section_versions").fetchone()
        assert runs[0] == runs[1]


def test_a_search_reads_the_index_and_the_history_at_one_moment(acme, tmp_path):
    """The daemon stores version 4, which still keeps data for 30 days, while a search reads:
    the search sees the store before it or after it, never the index before and the changes
    after (which said that the change 3 -> 4 removed it)."""
    config = copy_of(acme, tmp_path)
    with Tracker(config) as t:
        store = t.store
        real = store.sections.matches

        def matches_then_daemon_writes(*args):
            rows = real(*args)
            daemon = sqlite3.connect(store.location, isolation_level=None)
            daemon.executescript("""
                BEGIN;
                INSERT INTO versions (policy, number, key, sha256, first_capture, last_capture, first_seen,
                                      last_seen, captures, sections)
                SELECT policy, 4, 'v4', sha256, last_capture, last_capture, '2021-06-01T12:00:00.000Z',
                       '2021-06-01T12:00:00.000Z', 1, sections FROM versions WHERE policy = 'acme' AND number = 3;
                INSERT INTO changes (policy, from_version, to_version, window_start, window_end, kind)
                VALUES ('acme', 3, 4, '2021-01-01T12:00:00.000Z', '2021-06-01T12:00:00.000Z', 'substantive');
                UPDATE section_versions SET last_version = 4 WHERE policy = 'acme' AND last_version = 3;
                COMMIT;""")
            daemon.close()
            return rows

        store.sections.matches = matches_then_daemon_writes  # type: ignore[method-assign]
        (hit,) = t.search('"30 days"')
        # as it was when the search began: versions 2 and 3 say it, and the last still does
        assert [(s.first_version, s.last_version) for s in hit.spans] == [(2, 3)] and hit.present
        store.sections.matches = real  # type: ignore[method-assign]
        (hit,) = t.search('"30 days"')  # the next search sees version 4
        assert [(s.first_version, s.last_version) for s in hit.spans] == [(2, 4)] and hit.present


def test_a_store_that_indexed_a_long_section_whole_indexes_it_again_in_parts(tmp_path):
    config = store_of(tmp_path, {"huge": [("2020-01-01", page([("Everything", "data share " * 20_000)]))]})
    with Tracker(config) as t:  # as the index kept sections before they were cut: whole
        t.store.db.script("DELETE FROM section_versions; DELETE FROM section_texts; "
                          "INSERT INTO section_texts (sha256, heading, text) "
                          f"VALUES ('whole', 'Everything', '{'data share ' * 20_000}'); "
                          "INSERT INTO section_versions (policy, text_id, first_version, last_version, position, heading) "
                          "SELECT 'huge', id, 1, 1, 0, 'Everything' FROM section_texts", 12)
    with Tracker(config) as t:  # brought to the current schema: the policy is to be indexed again
        assert t.store.sections.unindexed("huge") == [1]
        (hit,) = t.search("data AND share")
        longest = t.store.db.execute("SELECT max(length(text)) FROM section_texts").fetchone()[0]
    assert longest <= sections.LONGEST_TEXT and [s.heading for s in hit.sections] == ["Everything"]
