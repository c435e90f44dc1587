"""The semantic section diff: alignment, word diffs, classification, key facts, histories,
and the diff / history / export / rebuild commands."""

from __future__ import annotations

import email
import email.policy
import json
import sys

from conftest import FIXTURES, Page, policy_html, run_cli, write_config
from tracker import diff as diffmod
from tracker.diff import DocumentDiff, diff_documents, word_diff
from tracker.extract import ExtractSettings, extract
from tracker.document import Memo
from tracker.facts import facts
from tracker.store import Store
from tracker.textparse import parse_text

SEEDS = FIXTURES / "seeds"


def seed(prefix: str):
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return parse_text(path.read_text(encoding="utf-8"))


def md(*sections: tuple[str, str], preamble: str = "Last updated: May 1, 2024") -> object:
    text = "# Acme Privacy Policy\n\n" + preamble + "\n\n"
    text += "\n\n".join(f"## {heading}\n\n{body}" for heading, body in sections)
    return parse_text(text)


BODIES = {
    "collect": "We collect the name, e-mail address and phone number you give us when you sign up for an account.",
    "use": "We use your information to run the service, to keep it secure and to tell you about changes to it.",
    "share": "We share your information with the processors that host our servers in Europe. We also share your "
             "e-mail address with the service that sends our newsletters for us.",
    "keep": "We keep your information for 30 days after you close your account, and then we delete it for good.",
    "contact": "Write to privacy@acme.example or to Acme Inc, 1 Main Street, Springfield, IL 62701 with any question.",
}
BASE = [("Information We Collect", BODIES["collect"]), ("How We Use Information", BODIES["use"]),
        ("Sharing", BODIES["share"]), ("Retention", BODIES["keep"]), ("Contact", BODIES["contact"])]


def changed(result) -> dict[str, str]:
    return {s.heading: s.status for s in result.sections if s.touched}


# --- the acceptance case: Krop 2017 -> KRROP 2025 ----------------------------------------

def test_krop_to_krrop_is_a_rewrite_with_its_sections_and_facts():
    result = diff_documents(seed("001"), seed("000"))

    assert result.kind == "rewrite" and result.magnitude > 0.9
    removed = {s.old_heading for s in result.sections if s.status == "removed"}
    added = {s.new_heading for s in result.sections if s.status == "added"}
    assert {"CALIFORNIA ONLINE PRIVACY PROTECTION ACT COMPLIANCE",
            "CHILDRENS’ ONLINE PRIVACY PROTECTION ACT COMPLIANCE", "CONTACTING US"} <= removed
    assert {"Preamble", "Exclusion", "Acknowledgment", "Conclusion"} <= added
    summaries = [f.summary for f in result.facts]
    assert "declared date 2016-03-24 -> 2025-06-01" in summaries
    assert "contact e-mail support@krop.com removed" in summaries
    # "remove Confidential Information from our systems thirty days after project completion"
    assert "retention (confidential information after project completion): not stated -> 30 days" in summaries
    laws = next(f for f in result.facts if f.name == "law")
    assert {"COPPA", "CalOPPA"} <= set(laws.removed) and {"GDPR", "HIPAA"} <= set(laws.added)
    assert "minimum age 13 removed" in summaries
    # "We do not sell, trade, or otherwise transfer to outside parties your personally identifiable
    # information": the old policy does not sell or share; KRROP does not either: no change to report
    old_facts = facts(seed("001"), Memo())
    assert old_facts["sells data"] == [("", "no")] and old_facts["shares data"] == [("third parties", "no")]
    assert not [f for f in result.facts if f.name in ("sells data", "shares data")]


# --- alignment ---------------------------------------------------------------------------

def test_identical_documents_have_no_changed_section():
    result = diff_documents(md(*BASE), md(*BASE))
    assert changed(result) == {} and result.magnitude == 0 and result.kind == "unchanged"


def test_a_renamed_and_edited_section_is_renamed_not_removed_and_added():
    new = list(BASE)
    new[1] = ("What We Do With Your Data", BODIES["use"].replace("to keep it secure", "to keep it safe"))
    result = diff_documents(md(*BASE), md(*new))
    (section,) = [s for s in result.sections if s.touched]
    assert section.status == "renamed" and section.renamed and section.modified
    assert section.old_heading == "How We Use Information" and section.new_heading == "What We Do With Your Data"
    assert ["-", "secure"] in [list(op) for op in section.ops] and ["+", "safe"] in [list(op) for op in section.ops]


def test_a_renumbered_heading_is_the_same_section():
    old = parse_text("# Policy\n\n## 1. Collect\n\n" + BODIES["collect"] + "\n\n## 2. Keep\n\n" + BODIES["keep"])
    new = parse_text("# Policy\n\n## 1. Intro\n\nHello and welcome to this policy of ours, dear reader of it.\n\n"
                     "## 2. Collect\n\n" + BODIES["collect"] + "\n\n## 3. Keep\n\n" + BODIES["keep"])
    result = diff_documents(old, new)
    assert changed(result) == {"Intro": "added"}
    collect = next(s for s in result.sections if s.heading == "Collect")
    assert (collect.old_number, collect.new_number) == ("1", "2")


def test_a_moved_section_is_moved():
    new = [BASE[0], BASE[3], BASE[1], BASE[2], BASE[4]]  # Retention moved up
    result = diff_documents(md(*BASE), md(*new))
    assert changed(result) == {"Retention": "moved"}
    assert result.kind == "substantive" and result.words_added == result.words_removed == 0


def test_a_split_section_lists_its_parts():
    new = [BASE[0], BASE[1],
           ("Sharing with processors", "We share your information with the processors that host our servers in Europe."),
           ("Sharing for e-mail", "We also share your e-mail address with the service that sends our newsletters."),
           BASE[3], BASE[4]]
    result = diff_documents(md(*BASE), md(*new))
    (split,) = [s for s in result.sections if s.status == "split"]
    assert split.old_heading == "Sharing" and split.parts == ["Sharing with processors", "Sharing for e-mail"]
    assert split.new_heading == "Sharing with processors"  # each side named: the first part carries it on
    assert changed(result) == {"Sharing": "split"}


def test_a_split_section_that_keeps_its_heading_names_it_on_both_sides():
    new = [BASE[0], BASE[1],
           ("Sharing", "We share your information with the processors that host our servers in Europe."),
           ("Sharing for e-mail", "We also share your e-mail address with the service that sends our newsletters."),
           BASE[3], BASE[4]]
    old = [BASE[0], BASE[1], ("Sharing", new[2][1] + "\n\n" + new[3][1]), BASE[3], BASE[4]]
    result = diff_documents(md(*old), md(*new))
    (split,) = [s for s in result.sections if s.status == "split"]
    assert (split.old_heading, split.new_heading, split.parts) == ("Sharing", "Sharing", ["Sharing", "Sharing for e-mail"])
    assert split.display_heading == "Sharing"


def test_many_unmatched_sections_find_their_homes_through_the_index_as_without_it(monkeypatch):
    # Twelve short sections cut out of one long one: past INDEX_PARTS parts, shared word pairs
    # are counted through an index; the alignment must not depend on which way they were counted.
    topics = ["cookies", "analytics", "payments", "support", "marketing", "security", "children", "transfers",
              "retention", "rights", "contact", "changes"]
    paragraphs = [f"Our {t} practice: we handle {t} data with care, we review the {t} rules every year, "
                  f"and we tell you how {t} information is used." for t in topics]
    old = md(BASE[0], ("Everything else", "\n\n".join(paragraphs)))
    new = md(BASE[0], *[(t.title(), p) for t, p in zip(topics, paragraphs)])
    results = []
    for threshold in (1, 1000):
        monkeypatch.setattr(diffmod, "INDEX_PARTS", threshold)
        results.append(diff_documents(old, new).to_dict())
    assert results[0] == results[1]
    (split,) = [s for s in results[0]["sections"] if s["status"] == "split"]
    assert split["old_heading"] == "Everything else" and split["parts"] == [t.title() for t in topics]


def test_a_heading_used_many_times_pairs_each_section_with_its_own():
    # An FAQ repeating "Details" under each question: one answer changes, the others do not move.
    questions = [(f"Question {i}", f"Answer number {i} explains how we handle this kind of request in detail.")
                 for i in range(1, 9)]
    def faq(answers):
        text = "# Acme Privacy Policy\n\nLast updated: May 1, 2024\n\n"
        return parse_text(text + "\n\n".join(f"## {q}\n\nIntro.\n\n### Details\n\n{a}" for q, a in answers))
    new = list(questions)
    new[4] = ("Question 5", questions[4][1].replace("in detail", "in a few words"))
    result = diff_documents(faq(questions), faq(new))
    assert [(s.status, s.new_path) for s in result.sections if s.touched] == [("modified", ["Question 5"])]


def test_merged_sections_list_their_parts():
    new = [BASE[0], ("Use and Sharing", BODIES["use"] + "\n\n" + BODIES["share"]), BASE[3], BASE[4]]
    result = diff_documents(md(*BASE), md(*new))
    (merged,) = [s for s in result.sections if s.status == "merged"]
    assert merged.new_heading == "Use and Sharing"
    assert merged.old_heading == "How We Use Information"  # each side named
    assert set(merged.parts) == {"How We Use Information", "Sharing"}
    assert merged.words_added + merged.words_removed <= 4  # only the headings' words


def test_added_and_removed_sections_keep_their_place():
    new = [BASE[0], BASE[1], ("Cookies", "We use cookies to remember you are signed in and to count our visitors."),
           BASE[3], BASE[4]]  # Sharing removed, Cookies added in its place
    result = diff_documents(md(*BASE), md(*new))
    order = [(s.status, s.heading) for s in result.sections if s.touched]
    assert order == [("removed", "Sharing"), ("added", "Cookies")] or order == [("added", "Cookies"), ("removed", "Sharing")]



def test_a_new_section_repeating_an_unchanged_one_is_added_not_split_from_it():
    # A new "Complaints" section quotes Sharing word for word; Sharing itself is unchanged,
    # so nothing was cut out of it: Complaints is new text, and Sharing did not change.
    new = [*BASE, ("Complaints", "If you complain, remember: " + BODIES["share"])]
    result = diff_documents(md(*BASE), md(*new))
    assert changed(result) == {"Complaints": "added"}


def test_a_bare_heading_printed_twice_is_no_change_when_printed_once():
    # A page that prints a tab's label above its section ("Sharing" twice, the first with
    # no text) and later once: the reader's text is the same.
    doubled = [BASE[0], BASE[1], ("Sharing", ""), *BASE[2:]]
    assert changed(diff_documents(md(*doubled), md(*BASE))) == {}
    assert changed(diff_documents(md(*BASE), md(*doubled))) == {}
    # a bare heading that is really gone is still reported
    assert changed(diff_documents(md(*doubled[:2], ("Cookies", ""), *BASE[2:]), md(*BASE))) == {"Cookies": "removed"}

# --- word diff and classification ----------------------------------------------------------

def test_word_diff_works_on_whole_words():
    ops = word_diff("We keep data for 30 days after you leave.", "We keep data for 90 days after you go.")
    assert [op for op in ops if op[0] != "="] == [("-", "30"), ("+", "90"), ("-", "leave"), ("+", "go")]
    assert "".join(t for op, t in ops if op != "+") == "We keep data for 30 days after you leave."
    assert "".join(t for op, t in ops if op != "-") == "We keep data for 90 days after you go."


def test_diffs_in_threads_at_once_are_the_diffs_of_one_thread():
    from concurrent.futures import ThreadPoolExecutor
    versions = [seed(n) for n in ("000", "001", "002", "003", "004")]
    pairs = [(versions[1], versions[0]), (versions[2], versions[3]), (versions[4], versions[1])] * 12
    alone = [diff_documents(a, b).to_dict() for a, b in pairs]
    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns as often as they can: shared state would be torn
    try:
        with ThreadPoolExecutor(4) as pool:
            assert list(pool.map(lambda pair: diff_documents(*pair).to_dict(), pairs)) == alone
    finally:
        sys.setswitchinterval(switching)


def test_word_diff_is_deterministic_and_has_no_time_limit(monkeypatch):
    old, new = seed("001").text, seed("000").text
    engine, limits = diffmod.fast_diff_match_patch.diff, []

    def recording(*args, **kwargs):
        limits.append(kwargs["timelimit"])
        return engine(*args, **kwargs)
    monkeypatch.setattr(diffmod.fast_diff_match_patch, "diff", recording)
    ops = word_diff(old, new)
    assert ops == word_diff(old, new)
    assert limits and set(limits) == {0}  # 0: no time limit, the diff is never cut short
    assert "".join(t for op, t in ops if op != "+") == old and "".join(t for op, t in ops if op != "-") == new


def test_a_retention_change_is_substantive_with_its_fact():
    new = list(BASE)
    new[3] = ("Retention", BODIES["keep"].replace("30 days", "90 days"))
    result = diff_documents(md(*BASE), md(*new))
    assert result.kind == "substantive" and 0 < result.magnitude < 0.05
    assert [f.summary for f in result.facts] == ["retention (information after you close your account): 30 days -> 90 days"]


def test_only_the_declared_date_changed_is_date_only():
    result = diff_documents(md(*BASE), md(*BASE, preamble="Last updated: June 3, 2025"))
    assert result.kind == "date-only"
    assert [f.summary for f in result.facts] == ["declared date 2024-05-01 -> 2025-06-03"]


def test_case_punctuation_and_numbering_only_is_cosmetic():
    new = [(f"{i}. {heading.upper()}", body.replace(",", ";")) for i, (heading, body) in enumerate(BASE, 1)]
    result = diff_documents(md(*BASE), md(*new))
    assert result.kind == "cosmetic"


def test_most_of_the_text_new_is_a_rewrite():
    new = [(h, "This section now says something entirely different from what it said before, in new words.")
           for h, _ in BASE]
    assert diff_documents(md(*BASE), md(*new)).kind == "rewrite"


def test_facts_read_ages_laws_parties_and_selling():
    doc = parse_text("# Policy\n\nLast updated 2024-01-02\n\n## Children\n\nOur service is not for children under "
                     "16 years of age, as the GDPR and COPPA require.\n\n## Partners\n\nWe use Google Analytics "
                     "and Stripe. We do not sell your personal information.\n\n## Information we collect\n\n"
                     "- Contact details: your name and e-mail\n- Device data: your IP address")
    found = {name: [value for _, value in values] for name, values in facts(doc).items()}
    assert found["minimum age"] == ["16"] and found["law"] == ["COPPA", "GDPR"]
    assert found["third party"] == ["Google Analytics", "Stripe"] and found["sells data"] == ["no"]
    assert found["data collected"] == ["Contact details", "Device data"]
    assert found["declared date"] == ["2024-01-02"]


def test_known_services_are_whole_words_and_laws_are_found_in_any_case():
    doc = parse_text("# Policy\n\n## Partners\n\nOur stripes are blue. We host on Zoomify, bill with Stripe-like "
                     "tools and meet on Zoom. Under the uk gdpr and Cal-OPPA you may ask.")
    found = {name: [value for _, value in values] for name, values in facts(doc).items()}
    assert found["third party"] == ["Zoom"]
    assert found["law"] == ["CalOPPA", "UK GDPR"]  # the GDPR in "uk gdpr" is not named on its own


def test_a_company_name_does_not_run_from_a_heading_into_its_text():
    doc = parse_text("# Policy\n\n## Offices in the Netherlands\n\nAcme Holdings Ltd processes your data for us.")
    assert facts(doc)["third party"] == [("", "Acme Holdings Ltd")]


def test_a_number_that_is_not_a_date_is_not_date_only():
    new = list(BASE)
    new[4] = ("Contact", BODIES["contact"].replace("1 Main Street", "12 Main Street"))
    assert diff_documents(md(*BASE), md(*new)).kind == "substantive"
    moved = [BASE[1], BASE[0], *BASE[2:]]
    assert diff_documents(md(*BASE), md(*moved, preamble="Last updated: June 3, 2025")).kind == "substantive"


# --- the diff as stored and read back -------------------------------------------------------

def real_diffs() -> list[DocumentDiff]:
    """Diffs of real policies, both ways: the Krop history, Match against Tinder (a split and
    a merge), two captures of Happn's page (nothing changed)."""
    krop = [seed(f"00{i}") for i in range(5)]
    match, tinder, happn_a, happn_b = [
        extract((FIXTURES / name).read_bytes(), "html", None, ExtractSettings("", ()))
        for name in ("match-privacy-20220421.html", "tinder-privacy-20250812.html",
                     "happn-privacy-20220920-a.html", "happn-privacy-20220920-b.html")]
    pairs = [*zip(krop, krop[1:]), *zip(krop[1:], krop), (match, tinder), (tinder, match), (happn_a, happn_b)]
    return [diff_documents(old, new) for old, new in pairs]


def test_a_diff_reads_back_from_its_json_as_it_was_written():
    diffs = real_diffs()
    statuses = {s.status for d in diffs for s in d.sections}
    assert statuses >= {"unchanged", "modified", "added", "removed", "renamed", "split", "merged"}
    assert any(not s.heading for d in diffs for s in d.sections)  # the opening text, untitled
    for result in diffs:
        data = json.loads(json.dumps(result.to_dict()))
        back = DocumentDiff.from_dict(data)
        assert back.to_dict() == data
        assert DocumentDiff.from_dict({"diff_version": 1, "keys": ["a", "b"], **data}) == back  # as stored
        for section in result.sections:  # the one thing not written: the text of untouched sections
            if not section.touched:
                section.ops = []
        assert back == result


# --- along a history, through the CLI ----------------------------------------------------

def check(config, site, body: bytes) -> None:
    site.pages["/privacy"] = Page(body)
    assert run_cli(config, "check").exit_code == 0


KEPT = "retention (data after you close your account): 30 days -> 90 days"  # the test page's retention change


def test_history_diff_and_a_revert(tmp_path, site):
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    check(config, site, policy_html("30 days"))
    check(config, site, policy_html("90 days"))
    check(config, site, policy_html("30 days"))  # back to the first text

    store = Store(tmp_path / "snapshots" / "tracker.db")
    versions, changes = store.history.versions("acme"), store.history.changes("acme")
    assert len(versions) == 2 and [(c.from_version, c.to_version, c.reverts_to) for c in changes] == [(1, 2, None), (2, 1, 1)]
    assert changes[0].kind == "substantive" and changes[0].details["facts"][0]["summary"] == KEPT
    assert changes[0].window_start == versions[0].first_seen and changes[0].window_end == versions[1].first_seen

    history = run_cli(config, "history", "acme")
    assert history.exit_code == 0
    assert f"reverts to the version first seen {versions[0].first_seen[:10]}" in history.out
    assert KEPT in history.out

    shown = run_cli(config, "diff", "acme", "1", "2")
    assert shown.exit_code == 0
    assert "modified: \"Retention\"" in shown.out and "[-30-]{+90+}" in shown.out
    assert KEPT in shown.out
    latest = json.loads(run_cli(config, "diff", "acme", "--json").out)
    assert (latest["from_version"], latest["to_version"], latest["reverts_to"]) == (2, 1, 1)
    assert latest["sections"][0]["new_heading"] == "Retention" and latest["kind"] == "substantive"
    by_date = json.loads(run_cli(config, "diff", "acme", versions[0].first_seen[:10], "2", "--json").out)
    assert by_date["from"]["number"] == by_date["from_version"] == 1 and by_date["to_version"] == 2


def test_the_terminal_diff_keeps_the_space_before_and_after_a_change(tmp_path, site):
    # unchanged text long enough to be shortened on both sides of the change
    before = " ".join(f"word{i}" for i in range(40))
    after = " ".join(f"more{i}" for i in range(40))
    deletion = "<h2>Deletion</h2><p>{} We delete your data within {} days of a request. {}</p>"
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    check(config, site, policy_html(extra=deletion.format(before, "thirty", after)))
    check(config, site, policy_html(extra=deletion.format(before, "eighteen", after)))
    shown = run_cli(config, "diff", "acme").stdout
    section = shown.split('## modified: "Deletion"\n')[1]
    assert "data within [-thirty-]{+eighteen+} days of" in section
    assert section.startswith("… word") and section.endswith(" more6 …\n")  # the unchanged text shortened


def test_a_page_flipping_between_two_texts_is_diffed_once_per_direction(tmp_path, site, monkeypatch):
    import tracker.history
    diffed = []
    monkeypatch.setattr(tracker.history, "diff_documents",
                        lambda old, new, memo: diffed.append(1) or diff_documents(old, new, memo))
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    for days in ("30 days", "90 days", "30 days", "90 days"):
        check(config, site, policy_html(days))
    changes = Store(tmp_path / "snapshots" / "tracker.db").history.changes("acme")
    assert [(c.from_version, c.to_version) for c in changes] == [(1, 2), (2, 1), (1, 2)]
    assert changes[2].details == changes[0].details and changes[2].kind == "substantive"
    assert len(diffed) == 2


def test_diff_of_a_policy_with_one_version_and_bad_version_names(tmp_path, site):
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    check(config, site, policy_html())
    for args, message in [(("diff", "acme"), "acme: no change recorded yet"),
                          (("diff", "acme", "1", "9"), "acme: no version 9 (versions 1 to 1)"),
                          (("diff", "acme", "yesterday"), "acme: 'yesterday' is not a version"),
                          (("diff", "acme", "1999-01-01"), "acme: no version seen on or before 1999-01-01")]:
        result = run_cli(config, *args)
        assert result.exit_code == 1 and message in result.err and "Traceback" not in result.err


def test_export_is_the_whole_history_as_documented(tmp_path, site):
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    check(config, site, policy_html("30 days"))
    site.pages["/privacy"] = Page(b"<html><title>Just a moment...</title><body>Checking your browser</body></html>")
    run_cli(config, "check")
    check(config, site, policy_html("90 days"))

    data = json.loads(run_cli(config, "export", "acme", "--json").out)
    assert json.loads(run_cli(config, "export", "acme").out) == data  # JSON is its one format: the default
    assert data["policy"] == {"name": "acme", "title": "acme", "urls": [site.url("/privacy")]}
    assert [c["version"] for c in data["captures"]] == [1, None, 2]
    assert data["captures"][1]["rejected"].startswith("error or bot-challenge page")
    first = data["versions"][0]
    assert set(first) >= {"number", "first_seen", "last_seen", "declared_date", "text_sha256", "word_count", "sections"}
    retention = next(s for s in first["sections"] if s["heading"] == "Retention")
    assert retention["path"] == [] and "30 days" in retention["text"] and retention["level"] == 1
    (change,) = data["changes"]
    assert set(change) >= {"from_version", "to_version", "window", "kind", "magnitude", "reverts_to", "sections", "facts"}
    (section,) = change["sections"]
    assert section["status"] == "modified" and section["words_added"] == section["words_removed"] == 1
    assert ["-", "30"] in section["ops"] and ["+", "90"] in section["ops"]
    kept = "We keep your data for {} after you close your account, then delete it."
    assert change["facts"] == [{"name": "retention", "subject": "data after you close your account",
                                "old": ["30 days"], "new": ["90 days"], "summary": KEPT,
                                "evidence": {side: [{"value": v, "section": "Retention", "sentence": kept.format(v)}]
                                             for side, v in (("old", "30 days"), ("new", "90 days"))}}]


def test_rebuild_keeps_changes_and_marks_extraction_upgrades_technical(tmp_path, site):
    sidebar = "<div class='promo'><p>Try our new premium plan today, with a free month for every new member!</p></div>"
    body = lambda promo: policy_html(extra=f"<h2>News</h2>{promo}")  # noqa: E731
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")], "remove": [".promo"]}])
    check(config, site, body(sidebar))
    check(config, site, body(sidebar.replace("free month", "free week")))  # a change in what is removed
    store = Store(tmp_path / "snapshots" / "tracker.db")
    assert len(store.history.versions("acme")) == 1

    # The user stops removing the promo box: the texts now differ between known captures.
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    result = run_cli(config, "rebuild")
    assert result.exit_code == 0 and "acme: 2 version(s), 1 change(s), 1 technical" in result.out
    (change,) = store.history.changes("acme")
    assert change.technical and change.details["sections"]

    # A real change afterwards is not technical, and a second rebuild changes nothing.
    check(config, site, body(sidebar.replace("free month", "free week")).replace(b"30 days", b"60 days"))
    before = [(c.to_capture, c.technical, c.detected_at, c.kind) for c in store.history.changes("acme")]
    assert [t for _, t, _, _ in before] == [True, False]
    run_cli(config, "rebuild")
    assert [(c.to_capture, c.technical, c.detected_at, c.kind) for c in store.history.changes("acme")] == before
    assert len(store.captures.timeline("acme")) == 3


def test_the_opening_text_has_one_name_in_every_view(tmp_path, site, monkeypatch):
    # Renamed in the one place that names it, the untitled section is renamed in the terminal,
    # the report and the digest alike.
    monkeypatch.setattr(diffmod, "UNTITLED", "(before the first heading)")
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    check(config, site, policy_html())
    opening = b"<p>Last updated: March 3, 2024</p>"
    check(config, site, policy_html().replace(opening, opening + b"<p>This policy covers every Acme app.</p>"))

    shown = run_cli(config, "diff", "acme").out
    assert "## modified: (before the first heading)" in shown
    assert run_cli(config, "report", "--out", str(tmp_path / "reports")).exit_code == 0
    (page,) = (tmp_path / "reports" / "acme").glob("change-*.html")
    assert "Modified:\n(before the first heading)" in page.read_text()
    assert "(before the first heading) (modified)" in (tmp_path / "reports" / "acme" / "index.html").read_text()
    assert run_cli(config, "digest", "--dry-run", "--out", str(tmp_path / "digest.eml")).exit_code == 0
    message = email.message_from_bytes((tmp_path / "digest.eml").read_bytes(), policy=email.policy.default)
    text, html = (message.get_body((part,)).get_content() for part in ("plain", "html"))
    assert "Sections: 1 modified: (before the first heading)" in text
    assert 'Added in "(before the first heading)": This policy covers every Acme app.' in text
    assert "Sections: 1 modified: (before the first heading)</p>" in html
    assert "Added in “(before the first heading)”:" in html
    for view in (shown, page.read_text(), text, html):
        assert "opening text" not in view


def test_a_fact_shows_its_evidence_linked_to_its_section_and_what_did_not_change(tmp_path, site):
    import re
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    logs = "<p>Server logs are kept for 14 days.</p>"
    check(config, site, policy_html("30 days", extra=logs))
    check(config, site, policy_html("90 days", extra=logs))

    shown = run_cli(config, "diff", "acme")
    assert KEPT in shown.out and "retention (server logs): 14 days (unchanged)" in shown.out

    assert run_cli(config, "report").exit_code == 0
    (page,) = (tmp_path / "reports" / "acme").glob("change-*.html")
    html = page.read_text()
    assert re.search(r'<tr class="muted"><th scope="row">retention \(server logs\)</th><td colspan="2">14 days '
                     r'\(unchanged\)</td></tr>', html)
    # the sentence's section links to that section on the version page, which has the anchor
    links = re.findall(r'\(<a href="(version-(\d)\.html)#([\w-]+)">Retention</a>\)', html)
    assert {(v, anchor) for _, v, anchor in links} == {("1", "s-retention"), ("2", "s-retention")}
    assert 'id="s-retention"' in (tmp_path / "reports" / "acme" / "version-1.html").read_text()
