"""Search over every version: where a wording is, and when it came and went, in the CLI and
the Python API, over the Krop demo and a store of three policies read from a WARC file; in a
SQLite store (FTS5) and in a PostgreSQL one (tsvector), with the same queries."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import Archived, on_postgres, run_cli, store_url, write_config, write_warc
from tracker import Tracker
from tracker import search
from tracker.search import SECTIONS
from tracker.store import Store, connection
from tracker.store.tsquery import tsquery

ROOT = Path(__file__).resolve().parents[1]
DEMO_WARC = ROOT / "examples" / "krop-demo.warc.gz"
KROP = ["https://www.krop.com/privacy", "https://krrop.com/trust"]

COLLECT = ("We collect the information you give us when you create an account, such as your name and your "
           "e-mail address, and the personal data your device sends us when you use the service.")
SELLS_NOT = "We never sell your personal information. We share it with the processors who host our service."
SELLS_NOT_REWORDED = ("We never sell your personal information, and we share it only with processors bound "
                      "by contract to keep it safe.")
SHARES = "We may share your information with our advertising partners, who use it to show you ads."
TRAINS = "We may use the content you upload to train our machine learning models."


def page(title: str, sections: dict[str, str], lang: str = "en") -> bytes:
    body = "".join(f"<h2>{heading}</h2><p>{text}</p>" for heading, text in sections.items())
    return (f"<!DOCTYPE html><html lang='{lang}'><head><meta charset='utf-8'><title>{title}</title></head>"
            f"<body><main><h1>{title}</h1>{body}</main></body></html>").encode()


def acme(retention: str, sharing: str, extra: dict[str, str] | None = None) -> bytes:
    return page("Acme Privacy Policy", {
        "1. Information we collect": COLLECT,
        "2. Sharing": sharing,
        "3. Retention": f"We keep your personal data for {retention} after you close your account, then delete it.",
        **(extra or {}),
        "4. Contact": "Write to privacy@acme.example with any question about this privacy policy and your data."})


def bonjour(extra: str = "") -> bytes:
    sections = {f"{n}. Vos données personnelles": (
        "Nous collectons les données personnelles que vous nous donnez lorsque vous créez un compte, et nous "
        "les conservons pendant trente jours après la fermeture de votre compte, conformément au RGPD.")
        for n in range(1, 6)}
    sections["6. Vente"] = "Nous ne vendons jamais vos données personnelles à des tiers." + extra
    return page("Politique de confidentialité", sections, lang="fr")


def zeta(arbitration: bool) -> bytes:
    disputes = ("Any dispute about this privacy policy is settled by binding arbitration, and you waive "
                "any class action." if arbitration else "Any dispute about this privacy policy goes to the courts of Delaware.")
    return page("Zeta Privacy Policy", {"Collection": COLLECT, "Disputes": disputes,
                                        "Contact": "Write to privacy@zeta.example about your personal data."})


ACME = [("2020-01-10", acme("30 days", SELLS_NOT)), ("2020-03-10", acme("30 days", SELLS_NOT)),
        ("2020-06-10", acme("90 days", SELLS_NOT)),
        ("2021-01-10", acme("90 days", SELLS_NOT_REWORDED)), ("2021-05-10", acme("90 days", SELLS_NOT_REWORDED)),
        ("2022-01-10", acme("90 days", SHARES, {"AI": TRAINS})), ("2022-06-10", acme("90 days", SHARES, {"AI": TRAINS}))]
BONJOUR = [("2021-03-01", bonjour()), ("2023-03-01", bonjour(" Nous utilisons vos données pour entraîner nos "
                                                             "modèles d'intelligence artificielle."))]
ZETA = [("2019-01-01", zeta(True)), ("2019-06-01", zeta(False)), ("2020-01-01", zeta(True))]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def three(request, tmp_path_factory) -> Path:
    """Acme (four versions: 'sell your personal information' in 1 to 3, gone in 4), Bonjour (in
    French, with accents) and Zeta (arbitration, then none, then arbitration again)."""
    tmp = tmp_path_factory.mktemp("three")
    policies = []
    for name, history in (("acme", ACME), ("bonjour", BONJOUR), ("zeta", ZETA)):
        url = f"https://{name}.example/privacy"
        warc = write_warc(tmp / f"{name}.warc.gz", [Archived(url, f"{day}T12:00:00Z", body) for day, body in history])
        policies.append({"name": name, "urls": [url], "archives": [f"warc:{warc}"], "live": False})
    config = write_config(tmp, policies)
    if request.param == "postgresql":
        on_postgres(config, request.getfixturevalue("postgres").new_database())
    result = run_cli(config, "backfill")
    assert result.exit_code == 0, result.stderr
    return config


def hit(hits, policy):
    (found,) = [h for h in hits if h.policy == policy]
    return found


def test_a_phrase_present_in_versions_1_to_3_and_removed_in_4_has_its_first_and_last_sighting(three):
    with Tracker(three) as t:
        assert [v.number for v in t.versions("acme")] == [1, 2, 3, 4]
        hits = t.search('"sell your personal information"')
        acme_hit = hit(hits, "acme")
        (span,) = acme_hit.spans
        assert (span.first_version, span.last_version) == (1, 3)
        assert span.first_seen.startswith("2020-01-10") and span.last_seen.startswith("2021-05-10")
        assert span.added_by is None  # there from the first capture
        removed = span.removed_by
        assert (removed.from_version, removed.to_version) == (3, 4)
        assert removed.window_start.startswith("2021-05-10") and removed.window_end.startswith("2022-01-10")
        assert not acme_hit.present
        (section,) = acme_hit.sections
        assert section.heading == "2 Sharing" and section.versions == [1, 2, 3]
        assert "We never [sell your personal information], and we share" in section.snippet.marked()
        assert [h.policy for h in hits] == ["acme"]  # Bonjour and Zeta never say it


def test_a_phrase_added_later_names_the_change_that_brought_it(three):
    with Tracker(three) as t:
        acme_hit = hit(t.search('"train our machine learning models"'), "acme")
    (span,) = acme_hit.spans
    assert (span.first_version, span.last_version) == (4, 4) and span.removed_by is None
    assert (span.added_by.from_version, span.added_by.to_version) == (3, 4)
    assert acme_hit.present and acme_hit.sections[0].heading == "AI"


def test_a_text_that_returns_is_two_spans_newest_first(three):
    with Tracker(three) as t:
        zeta_hit = hit(t.search("arbitration"), "zeta")
    newer, older = zeta_hit.spans
    assert newer.first_seen.startswith("2020-01-01") and newer.removed_by is None
    assert (newer.added_by.from_version, newer.added_by.to_version) == (2, 1)  # the revert
    assert older.first_seen.startswith("2019-01-01") and older.added_by is None
    assert (older.removed_by.from_version, older.removed_by.to_version) == (1, 2)


def test_prefix_not_and_near(three):
    with Tracker(three) as t:
        assert {h.policy for h in t.search("arbitr*")} == {"zeta"}
        assert {h.policy for h in t.search("sell*")} == {"acme"}
        # every policy has a contact e-mail; only Zeta's disputes go to arbitration
        assert {h.policy for h in t.search("privacy NOT arbitration")} >= {"acme", "zeta"}
        assert {s.heading for s in hit(t.search("privacy NOT arbitration"), "zeta").sections} >= {"Contact"}
        # Zeta's disputes section says 'privacy' in all its versions, but only the second has no arbitration
        disputes = [s for s in hit(t.search("privacy NOT arbitration"), "zeta").sections if s.heading == "Disputes"]
        assert [s.versions for s in disputes] == [[2]]
        assert [h.policy for h in t.search("NEAR(binding arbitration, 2)")] == ["zeta"]
        assert t.search("NEAR(settled class, 2)") == []  # 'settled' and 'class' are 9 words apart


def test_a_near_of_three_words_finds_them_close_together_and_marks_each(three):
    with Tracker(three) as t:
        (found,) = t.search("NEAR(dispute binding arbitration, 10)")
        assert t.search("NEAR(dispute binding courts, 10)") == []  # 'binding' is only in the arbitration versions
    (section,) = found.sections
    assert found.policy == "zeta" and section.heading == "Disputes"
    marked = " ".join(section.snippet.text[a:b].lower() for a, b in section.snippet.marks).split()
    assert {"dispute", "binding", "arbitration"} <= set(marked), section.snippet.marked()  # next to each other: one mark


def test_words_given_twice_count_once_and_terms_without_a_word_are_left_out(three):
    """As FTS5 reads them: an emoji, '_' or "" holds no word; alone, they find nothing."""
    with Tracker(three) as t:
        found = repr(t.search("arbitration"))
        assert repr(t.search("arbitration 🔒")) == found and repr(t.search("arbitration arbitration")) == found
        assert repr(t.search("arbitration NOT 😀")) == found
        assert t.search("🔒") == [] and t.search('""') == [] and t.search("_") == []
    result = run_cli(three, "search", "😀")
    assert result.exit_code == 0 and result.stdout.startswith("no version of any policy holds"), result


def test_a_query_is_read_for_postgresql_as_fts5_reads_it():
    """Marking the matches of a text found already, a NEAR is its words all present: spelt
    out distance by distance (66 alternatives for three words), ts_headline took minutes."""
    near = tsquery("NEAR(personal information data)")
    assert near.count("<") == 3 * 2 * 11 and "'personal' <1> 'information'" in near
    assert tsquery("NEAR(personal information data)", marking=True) == "('personal' & 'information' & 'data')"
    assert tsquery("heading:cookies") == "'cookies':A" and tsquery("heading:cookies", marking=True) == "'cookies'"
    assert tsquery("data " * 500) == "'data'" and tsquery('"third party" OR "third party"') == "('third' <-> 'party')"
    assert tsquery("data 🔒 privacy") == "('data' & 'privacy')" and tsquery("🔒 _") == ""
    assert tsquery("NEAR(data 🔒)") == "'data'" and tsquery("🔒 NOT data") == ""


def test_a_column_filter_searches_the_headings_or_the_texts(three):
    with Tracker(three) as t:
        assert {s.heading for s in hit(t.search("heading:disputes"), "zeta").sections} == {"Disputes"}
        assert t.search("heading:arbitration") == []  # only a text says it
        assert {h.policy for h in t.search("text:arbitration")} == {"zeta"}
        assert {h.policy for h in t.search("{heading text}:arbitration")} == {"zeta"}
        assert t.search("-text:arbitration") == []


def test_french_is_found_with_and_without_its_accents(three):
    with Tracker(three) as t:
        for query in ('"vos données personnelles"', '"vos donnees personnelles"', '"VOS DONNÉES"'):
            hits = t.search(query)
            assert [h.policy for h in hits] == ["bonjour"], query
        trained = hit(t.search("entraîner"), "bonjour")
        assert trained.spans[0].first_seen.startswith("2023-03-01")
        assert hit(t.search("entrainer"), "bonjour").spans == trained.spans
        assert "[entraîner]" in trained.sections[0].snippet.marked()
        for prefix in ("donné*", "DONNE*"):  # a prefix, with or without its accent
            (found,) = t.search(prefix)
            assert found.policy == "bonjour" and "[données]" in found.sections[0].snippet.marked(), prefix


def test_stemming_finds_other_forms_of_english_words(three):
    with Tracker(three) as t:
        assert {h.policy for h in t.search("selling")} == {"acme"}  # 'sell' in the text
        assert {h.policy for h in t.search('"trains our machine learning model"')} == {"acme"}
        # a prefix is matched against the words as written, no stem being a prefix of its words
        assert {h.policy for h in t.search("arbitrat*")} == {"zeta"}
        assert "[arbitration]" in hit(t.search("arbitrat*"), "zeta").sections[0].snippet.marked()


def test_policy_and_period_narrow_the_search(three):
    with Tracker(three) as t:
        assert {h.policy for h in t.search("privacy", "zeta", "bonjour")} <= {"zeta", "bonjour"}
        # Acme's fourth version (2022) no longer says it: searched from 2022 on, nothing is found
        assert t.search('"sell your personal information"', since="2022") == []
        # found in the period, the stretch is given whole: the change after version 1 kept the
        # wording (version 2 holds it too); the change 3 -> 4 removed it
        (span,) = hit(t.search('"sell your personal information"', until="2020-02"), "acme").spans
        assert (span.first_version, span.last_version) == (1, 3)
        assert (span.removed_by.from_version, span.removed_by.to_version) == (3, 4)
        (span,) = hit(t.search('"sell your personal information"', since="2021-03"), "acme").spans
        assert span.added_by is None and span.first_seen.startswith("2020-01-10")  # not 'added by 3 -> 4'


def test_the_cli_prints_newest_first_with_the_match_in_brackets_in_a_pipe(three):
    result = run_cli(three, "search", "privacy OR données")
    assert result.exit_code == 0, result.stderr
    policies = [line.split()[0] for line in result.stdout.splitlines() if line and not line.startswith(" ")]
    assert policies == ["bonjour", "acme", "zeta"]  # last seen 2023-03, 2022-06, 2020-01
    result = run_cli(three, "search", '"sell your personal information"')
    lines = result.stdout.splitlines()
    assert lines[0].startswith("acme")
    assert lines[1] == ("  2020-01-10 to 2021-05-10, versions 1 to 3: from the first capture; removed by change "
                        "3 -> 4 (substantive) between 2021-05-10 and 2022-01-10")
    assert lines[2] == "  § 2 Sharing  (versions 1, 2, 3)"
    assert "[sell your personal information]" in lines[3] and "\x1b" not in result.stdout


def test_search_history_draws_the_spans_on_a_timeline(three):
    result = run_cli(three, "search", "--history", "arbitration")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("zeta")
    start, bar, end = lines[1].split()
    assert (start, end) == ("2019-01-01", "2020-01-01")
    # present, absent from June 2019 to January 2020, present again at the end
    assert bar.startswith("█") and "·" in bar and bar.endswith("█") and bar.index("·") < len(bar) // 2
    assert len(lines) == 4 and "§" not in result.stdout


def test_a_bad_query_is_one_line_and_exit_1(three):
    for query in ('"unfinished', "AND", "nosuchcolumn:word", "   "):
        result = run_cli(three, "search", query)
        assert result.exit_code == 1, query
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
        assert "Traceback" not in result.stderr
    assert "no such column" in run_cli(three, "search", "nosuchcolumn:word").stderr
    assert "is not a date" in run_cli(three, "search", "privacy", "--since", "2020-13").stderr


def test_a_query_that_asks_too_much_is_refused_or_stopped_in_one_line(three, monkeypatch):
    from tracker.store.sections import PostgresSectionRepository
    # a one- or two-letter prefix stands for tens of thousands of words: refused before it runs
    for query in ("a*", "NEAR(pr* data)", '"third pa"*'):
        result = run_cli(three, "search", query)
        assert result.exit_code == 1 and "is too short: give at least 3 letters" in result.stderr, query
    assert run_cli(three, "search", '"a*"').exit_code == 0  # a '*' inside quotes is no prefix
    # whatever still runs too long is stopped, and says so
    monkeypatch.setattr(search, "TIME_LIMIT", 0.0)
    monkeypatch.setattr(connection, "CHECK_EVERY", 1)  # this store is small: looked at from the first step
    slow = PostgresSectionRepository.matches  # PostgreSQL's limit is a whole millisecond: a query slower than that
    monkeypatch.setattr(PostgresSectionRepository, "matches",
                        lambda self, *args: self.db.execute("SELECT pg_sleep(1)") and slow(self, *args))
    result = run_cli(three, "search", "privacy")
    assert result.exit_code == 1 and result.stderr.count("\n") == 1
    assert "stopped after 0 s: it matches too much" in result.stderr


def test_json_gives_the_same_as_data(three):
    result = run_cli(three, "search", "--json", '"sell your personal information"')
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["query"] == '"sell your personal information"'
    (policy,) = data["policies"]
    assert set(policy) == {"policy", "title", "first_seen", "last_seen", "spans", "sections", "more_sections",
                           "present"}
    assert policy["present"] is False
    (span,) = policy["spans"]
    assert span["removed_by"] == {"from_version": 3, "to_version": 4, "kind": "substantive",
                                  "window_start": "2021-05-10T12:00:00.000Z", "window_end": "2022-01-10T12:00:00.000Z"}
    (section,) = policy["sections"]
    snippet = section["snippet"]
    # FTS5 marks the phrase; ts_headline marks its words wherever they are, those next to each other as one
    assert "sell your personal information" in [snippet["text"][a:b] for a, b in snippet["marks"]]
    assert "[sell your personal information]" in snippet["marked"]
    assert run_cli(three, "search", "--json", "nowhereword").stdout.strip().endswith('"policies": []\n}')


def test_the_krop_demo(tmp_path, backend):
    config = backend.place(write_config(tmp_path, [{"name": "krop", "title": "Krop / KRROP", "urls": KROP,
                                                    "archives": [f"warc:{DEMO_WARC}"], "live": False}]))
    assert run_cli(config, "backfill").exit_code == 0
    with Tracker(config) as t:
        (krop,) = t.search('"outside parties"')
        (span,) = krop.spans
        assert (span.first_version, span.last_version, span.added_by) == (1, 1, None)
        assert (span.removed_by.from_version, span.removed_by.to_version, span.removed_by.kind) == (1, 2, "rewrite")
        assert "DO WE DISCLOSE ANY INFORMATION TO OUTSIDE PARTIES?" in [s.heading for s in krop.sections]
        (krop,) = t.search("HIPAA")
        assert krop.present and krop.spans[0].added_by.to_version == 2
        # a common word is in most sections: the newest few are given, the others counted
        (every,) = t.search("information", sections=None)
        (some,) = t.search("information")
        assert len(every.sections) > SECTIONS and every.more_sections == 0
        assert some.sections == every.sections[:SECTIONS] and some.more_sections == len(every.sections) - SECTIONS
        assert [s.versions for s in every.sections[:2]] == [[2], [2]]  # KRROP's sections before Krop's
    short, full = run_cli(config, "search", "information"), run_cli(config, "search", "--all", "information")
    assert f"  … and {len(every.sections) - SECTIONS} more sections (--all shows them)" in short.stdout.splitlines()
    headings = lambda result: [line for line in result.stdout.splitlines() if line.startswith("  § ")]  # noqa: E731
    assert len(headings(short)) == SECTIONS and len(headings(full)) == len(every.sections)
    assert "more section" not in full.stdout


def index_of(store: Store) -> list[tuple]:
    """The index as a reader sees it: the sections of each version."""
    return sorted((policy, version, heading, text) for policy, first, last, heading, text in store.db.execute(
        "SELECT s.policy, s.first_version, s.last_version, t.heading, t.text FROM section_versions s "
        "JOIN section_texts t ON t.id = s.text_id") for version in range(first, last + 1))


def copy_of(config: Path, tmp_path: Path, request) -> Path:
    """A copy of a store and its config, to change."""
    shutil.copytree(config.parent, tmp_path / "copy")
    copy = tmp_path / "copy" / "config.toml"
    url = store_url(config)
    if url:
        copy.write_text(copy.read_text().replace(url, request.getfixturevalue("postgres").copy(url)))
    return copy


def test_a_rebuild_gives_the_same_index_and_keeps_no_text_no_version_holds(three, tmp_path, request):
    config = copy_of(three, tmp_path, request)
    with Tracker(config) as t:
        before = index_of(t.store)
        versions = sum(len(t.versions(name)) for name in ("acme", "bonjour", "zeta"))
    assert len({(policy, version) for policy, version, *_ in before}) == versions == 4 + 2 + 2
    assert run_cli(config, "rebuild").exit_code == 0
    with Tracker(config) as t:
        assert index_of(t.store) == before
        orphans = t.store.db.execute("SELECT count(*) FROM section_texts WHERE id NOT IN "
                                     "(SELECT text_id FROM section_versions)").fetchone()[0]
        assert orphans == 0
        # each distinct text once: Acme's unchanged sections are shared by its four versions
        texts = t.store.db.execute("SELECT count(*) FROM section_texts").fetchone()[0]
        assert texts == len({(heading, text) for *_, heading, text in before}) < len(before)
        if t.store.db.dialect == "sqlite":
            t.store.db.execute("INSERT INTO section_texts_fts(section_texts_fts, rank) VALUES('integrity-check', 1)")
        t.store.db.execute("DELETE FROM versions WHERE policy = 'zeta'")  # as if zeta's history were emptied
        t.store.history.replace("zeta", [], [], {}, "x", {})
        assert t.search("arbitration") == []
        assert "arbitration" not in " ".join(r[0] for r in t.store.db.execute("SELECT text FROM section_texts"))


INDEX = {  # what schema 11 added, dropped
    "sqlite": "DROP TABLE section_texts_fts; DROP TABLE section_texts_words; ",
    "postgresql": "DROP TEXT SEARCH CONFIGURATION tracker_stems; DROP TEXT SEARCH CONFIGURATION tracker_words; "
                  "DROP TEXT SEARCH DICTIONARY tracker_english; ",
}


def test_a_store_derived_before_the_index_existed_is_indexed_by_its_first_search(three, tmp_path, request):
    config = copy_of(three, tmp_path, request)
    with Tracker(config) as t:
        before = index_of(t.store)
        t.store.db.script("DROP VIEW change_list; DROP VIEW version_list; DROP VIEW section_list; "
                          "DROP TABLE section_versions; DROP TABLE section_texts; " + INDEX[t.store.db.dialect] +
                          "ALTER TABLE versions DROP COLUMN sections; "
                          "DROP TABLE archive_hosts; DROP TABLE archive_slots", 10)  # a store of schema 10
    with Tracker(config) as t:  # migrated to the index, empty
        assert t.store.db.execute("SELECT count(*) FROM section_versions").fetchone()[0] == 0
        (span,) = hit(t.search('"sell your personal information"', "acme"), "acme").spans
        assert (span.first_version, span.last_version) == (1, 3)
        indexed = index_of(t.store)
        assert {row for row in before if row[0] == "acme"} == set(indexed)  # only the policy searched
        t.search("privacy")
        assert index_of(t.store) == before
