"""Key facts read off a policy's text: each kind, with its negations and near misses."""

from __future__ import annotations

import pytest

from tracker.facts import facts
from tracker.textparse import parse_text


def read(text: str) -> dict[str, list[str]]:
    """The values of each kind of fact (subjects aside)."""
    return {name: [value for _, value in found] for name, found in read_subjects(text).items()}


def read_subjects(text: str) -> dict[str, list[tuple[str, str]]]:
    return facts(parse_text("# Acme privacy policy\n\n" + text))


@pytest.mark.parametrize("text, sells, shares", [
    ("We do not sell, trade, or otherwise transfer to outside parties your personally identifiable information.",
     ["no"], ["no"]),
    ("We may share your information with third parties for marketing.", [], ["may"]),
    ("We never sell your personal data.", ["no"], []),
    ("We may sell your personal information to data brokers.", ["may"], []),
    ("We rent your e-mail address to other companies for their advertising.", [], ["may"]),
    ("Do we disclose any information to outside parties?", [], []),  # a question states nothing
    ("DO WE DISCLOSE ANY INFORMATION TO OUTSIDE PARTIES", [], []),  # nor does a heading asking it
    ("We share photos with your friends when you ask us to.", [], []),  # not a third party
])
def test_sale_and_sharing_statements_and_their_negations(text, sells, shares):
    found = read(text)
    assert found["sells data"] == sells and found["shares data"] == shares


def test_a_company_named_with_and_without_its_legal_form_is_one_third_party():
    found = read("We use OpenAI, L.L.C. to answer your questions; OpenAI does not keep them. "
                 "Payments go through Stripe, Inc. and Stripe's fraud checks.")
    assert found["third party"] == ["OpenAI", "Stripe"]


def test_a_policy_that_renames_itself_changes_and_says_so_but_a_page_title_does_not():
    from tracker.diff import diff_documents
    from tracker.extract import ExtractSettings, extract

    body = "\n\nWe collect your name when you sign up.\n\n## Sharing\n\nWe share it with processors.\n"
    old, new = parse_text("# Privacy Policy" + body), parse_text("# Privacy Notice" + body)
    assert old.text_hash != new.text_hash
    change = diff_documents(old, new)
    assert change.kind == "substantive"
    assert [f.summary for f in change.facts] == ["title Privacy Policy -> Privacy Notice"]

    def page(title: str) -> bytes:
        return (f"<html><head><title>{title}</title></head><body><main><p>We collect your name when you "
                "sign up for an account with us.</p><h2>Sharing</h2><p>We share it with processors.</p>"
                "</main></body></html>").encode()
    tabs = [extract(page(t), "html", "utf-8", ExtractSettings()) for t in ("Privacy", "Privacy | Acme | Sign up")]
    assert tabs[0].text_hash == tabs[1].text_hash  # the browser tab's title is the page's, not the policy's


def test_each_changed_value_comes_with_the_sentence_that_states_it():
    from tracker.diff import DocumentDiff, diff_documents

    old = parse_text("# Acme privacy policy\n\n## Children\n\nOur service is for everyone. We do not collect any "
                     "information from anyone under 13 years of age.\n\n## Contact\n\nWrite to support@acme.com.")
    new = parse_text("# Acme privacy policy\n\n## Children\n\nOur service is for adults only.\n\n## Contact\n\n"
                     "Write to privacy@acme.com or call us.")
    change = diff_documents(old, new)
    said = {f.name: ([(e.value, e.section, e.sentence) for e in f.old_evidence],
                     [(e.value, e.section, e.sentence) for e in f.new_evidence]) for f in change.facts}
    assert said["minimum age"] == (
        [("13", "Children", "We do not collect any information from anyone under 13 years of age.")], [])
    assert said["contact e-mail"] == ([("support@acme.com", "Contact", "Write to support@acme.com.")],
                                      [("privacy@acme.com", "Contact", "Write to privacy@acme.com or call us.")])
    assert DocumentDiff.from_dict(change.to_dict()) == change  # the evidence is stored with the change


@pytest.mark.parametrize("text, trains, targeted", [
    ("We may use your chats to train and improve our machine learning models.", ["may"], []),
    ("Files you add are not used to train our generative AI models.", ["no"], []),
    ("We provide privacy training to our staff every year.", [], []),  # people trained, not models
    ("We use cookies to deliver targeted ads.", [], ["may"]),
    ("We never use your data for personalized advertising.", [], ["no"]),
    ("We do not sell personal information or share it for cross-context behavioral advertising.", [], ["no"]),
])
def test_ai_training_and_targeted_advertising_statements(text, trains, targeted):
    found = read(text)
    assert found["trains AI on user data"] == trains and found["targeted advertising"] == targeted


@pytest.mark.parametrize("text, rights", [
    ("You have the right to access, correct or delete your data, and the right to data portability.",
     ["access", "correction", "deletion", "portability"]),
    ("You have the right to lodge a complaint with a supervisory authority.", ["complaint"]),
    ("Residents of these states have the right to appeal our decision.", ["appeal"]),
    ("You may ask us what we hold about you.", []),  # no right named
    ("We reserve the right to change this policy.", []),  # the publisher's right, not the user's
    ("Our tools give you the ability to opt-out of data sharing with TikTok.", ["opt-out"]),
    ("Parents may write to privacy@acme.example in order to request the erasure of the child's data.", ["deletion"]),
    ("If we have not resolved it, visit the independent body's site to file a complaint.", ["complaint"]),
    ("We may request access to your camera to scan documents.", []),  # the service asking, not a right
    ("Our staff have the ability to access the servers.", []),  # staff, and no right of the user's
])
def test_user_rights_named(text, rights):
    assert read(text)["user right"] == rights


def test_retention_periods_are_paired_by_what_is_kept():
    # The case: one period changes, the other does not; the change says which is which.
    from tracker.diff import diff_documents

    def policy(account: str) -> object:
        return parse_text("# Acme privacy policy\n\n## Retention\n\n"
                          f"We delete your account data {account} after you close your account. "
                          "Server logs are kept for 90 days.")
    change = diff_documents(policy("30 days"), policy("18 months"))
    assert [f.summary for f in change.facts] == [
        "retention (account data after you close your account): 30 days -> 18 months"]
    (fact,) = change.facts
    assert [e.sentence for e in fact.old_evidence] == [
        "We delete your account data 30 days after you close your account."]
    assert [e.sentence for e in fact.new_evidence] == [
        "We delete your account data 18 months after you close your account."]


@pytest.mark.parametrize("text, kept", [
    ("Server logs are kept for 90 days.", [("server logs", "90 days")]),
    ("We store chat messages for up to 3 years unless you delete them.", [("chat messages", "3 years")]),
    ("Log files are stored on our servers for 14 days.", [("log files", "14 days")]),
    ("Backups: we keep them for 35 days.", [("backups", "35 days")]),
    ("We retain it for 2 years.", [("", "2 years")]),  # a pronoun: the sentence does not say what
    ("Users must be 13 years old.", []),  # an age, not a period of keeping
])
def test_what_a_retention_period_is_about(text, kept):
    assert read_subjects(text)["retention"] == kept


def test_sharing_statements_are_told_apart_by_recipient():
    found = read_subjects("We share your data with our affiliates. We never share your information with advertisers.")
    assert found["shares data"] == [("advertisers", "no"), ("affiliates", "may")]


@pytest.mark.parametrize("text, countries", [
    ("We may transfer your data to Canada, the UK or Brazil.", ["Brazil", "Canada", "United Kingdom"]),
    ("We transfer data outside the EEA to the United States.", ["United States"]),  # where it goes, not from
    ("Outside the European Economic Area, Switzerland and the UK, Gemini works differently.", []),
    ("Our servers are located in the People's Republic of China.", ["China"]),
    ("Our servers are located in New Jersey.", []),  # a state, not the island
    ("Viet Nam and Vietnam: data centres in Vietnam store your files.", ["Vietnam"]),  # one country, one name
    ("We were founded in Japan.", []),  # no transfer or storage said
])
def test_international_transfer_destinations(text, countries):
    assert read(text)["transfers to"] == countries


@pytest.mark.parametrize("text, laws", [
    ("UK GDPR Representative: Prighter Group", ["UK GDPR"]),  # not also the GDPR
    ("Under the GDPR and the UK GDPR you may ask.", ["GDPR", "UK GDPR"]),
    ("We rely on Binding Corporate Rules and the EU's adequacy decisions.", ["Binding Corporate Rules",
                                                                            "EU adequacy decision"]),
    ("Our data centres are SOC 2 and ISO 27001 certified, and meet FISMA and HITECH.",
     ["FISMA", "HITECH", "ISO 27001", "SOC 2"]),
    ("It may be challenged under Section 5 of the Federal Trade Commission Act.", ["FTC Act"]),
    ("Our society (soc 2nd floor) is at 27001 Main Street.", []),  # near misses: no standard named
])
def test_laws_named_each_on_its_own(text, laws):
    assert read(text)["law"] == laws


def test_third_parties_listed_in_a_processor_table_or_with_their_privacy_policy():
    doc = parse_text("# Acme privacy policy\n\n## Advertising partners\n\nWe share data with these partners:\n\n"
                     "- Actirise: Privacy Policy\n- Learn more: Opt-out\n\n## Appendix: Sub-Processors\n\n"
                     "| Company | Location | Service |\n| --- | --- | --- |\n| Pipedrive | EU | CRM System |\n"
                     "| Brevo | EU | Marketing |\n")
    assert [name for _, name in facts(doc)["third party"]] == ["Actirise", "Brevo", "Pipedrive"]


def test_a_representative_is_a_contact_not_a_third_party():
    found = read("You can reach our Swiss representative at rep_acme@prighter.com or by post:\n\n"
                 "Prighter CH GmbH, Obergrundstrasse 17, 6002 Luzern\n\nWe use Stripe for payments.")
    assert found["third party"] == ["Stripe"]
    assert found["contact e-mail"] == ["rep_acme@prighter.com"]


@pytest.mark.parametrize("text, addresses", [
    ("## Who we are\n\nThe company responsible for your information is:\n\n"
     "> Acme Ltd\n>\n> 1 Hatch Street Upper\n>\n> Dublin 2\n>\n> D02 PY28\n>\n> Ireland",
     ["1 Hatch Street"]),  # a line a paragraph
    ("c/o DP Dock GmbH,  \nAttn: Acme BV, Gut Projensdorf,  \n24161 Altenholz, Germany",
     ["Gut Projensdorf, 24161 Altenholz, Germany"]),  # no street word: the line above the postcode
    ("Prighter Group  \nObergrundstrasse 17  \n6002 Luzern  \nSwitzerland", ["Obergrundstrasse 17"]),
    ("Information Commissioner's Office  \nWycliffe House, Water Lane  \nWilmslow, Cheshire SK9 5AF  \n"
     "casework@ico.org.uk", []),  # a regulator's address: where to complain, not the publisher's
    ("We were founded in 2012.\n\nSince 2019 Acme", []),
])
def test_postal_addresses_written_line_by_line(text, addresses):
    assert read(text)["postal address"] == addresses


def test_a_regulators_contacts_are_not_the_publishers():
    found = read("Write to dpo@acme.com or lodge a complaint with the supervisory authority. "
                 "You can also complain to the ICO at casework@ico.org.uk.\n\n"
                 "## Data Protection Authorities\n\n### For residents of the UK\n\nicocasework@ico.org.uk")
    assert found["contact e-mail"] == ["dpo@acme.com"]


def test_addresses_a_page_hides_behind_cloudflare_are_not_removed():
    from tracker.diff import diff_documents
    old = parse_text("# Acme privacy policy\n\n## Contact\n\nWrite to privacy@acme.com or legal@acme.com.")
    hidden = parse_text("# Acme privacy policy\n\n## Contact\n\nWrite to [email protected] or legal@acme.com.")
    moved = parse_text("# Acme privacy policy\n\n## Contact\n\nWrite to help@acme.com.")
    assert diff_documents(old, hidden).facts == []
    assert [f.summary for f in diff_documents(old, moved).facts] == [
        "contact e-mail help@acme.com added; contact e-mail legal@acme.com removed; "
        "contact e-mail privacy@acme.com removed"]


@pytest.mark.parametrize("text, rights", [
    ("If you are a resident of Delaware, Iowa, New Jersey or Texas, you may be able to appeal our decision.",
     [("appeal", "Delaware"), ("appeal", "Iowa"), ("appeal", "New Jersey"), ("appeal", "Texas")]),
    ("Residents of West Virginia can opt out of targeted advertising.", [("opt-out", "West Virginia")]),
    ("At any time, a Client may opt-out of any form of sales contact.", [("", "opt-out")]),
    ("Vous avez le droit de déposer une plainte auprès de la CNIL.", [("", "complaint")]),
    ("Sie haben das Recht auf Löschung Ihrer Daten.", [("", "deletion")]),
    ("You may contact us at any time.", []),  # a way to reach the publisher, no right
    ("We can delete your account if you break the rules.", []),  # the publisher's power, not a right
])
def test_user_rights_with_where_they_are_offered(text, rights):
    assert read_subjects(text)["user right"] == rights


def test_a_right_offered_in_more_states_says_which_were_added():
    from tracker.diff import diff_documents

    def policy(states: str) -> object:
        return parse_text(f"# Acme privacy policy\n\n## Your rights\n\nYou have the right to access your data.\n\n"
                          f"If you are a resident of {states}, you may appeal our decision.")
    (change,) = diff_documents(policy("Texas or Oregon"), policy("Iowa, Texas or Oregon")).facts
    assert change.summary == "user right (appeal): Oregon, Texas -> Iowa, Oregon, Texas"
    assert change.added == ["Iowa"]


def test_a_page_with_several_dates_states_each_of_its_own():
    # An effective date and a revision date; a hub page carrying a notice with its own date.
    from tracker.diff import diff_documents

    def policy(revised: str, notice: str) -> object:
        return parse_text(f"# Acme privacy policy\n\nEffective December 15, 2022.\n\nLast Revised {revised}.\n\n"
                          f"We collect your name.\n\n## Assistant privacy notice\n\nLast updated: {notice}\n\n"
                          "Your chats are kept for 18 months.")
    change = diff_documents(policy("November 15, 2022", "April 28, 2026"), policy("July 31, 2023", "April 29, 2026"))
    assert [f.summary for f in change.facts] == [
        "declared date (Assistant privacy notice): 2026-04-28 -> 2026-04-29",
        "declared date (last revised): 2022-11-15 -> 2023-07-31"]


def test_two_dates_on_one_line_are_each_stated():
    from tracker.diff import diff_documents

    def policy(effective: str, revised: str) -> object:
        return parse_text(f"# Acme privacy policy\n\nEffective {effective}. Last Revised {revised}.\n\n"
                          "## Collection\n\nWe collect your name.")
    change = diff_documents(policy("December 15, 2022", "November 15, 2022"), policy("July 31, 2023", "July 31, 2023"))
    assert [f.summary for f in change.facts] == ["declared date 2022-12-15 -> 2023-07-31",
                                                 "declared date (last revised): 2022-11-15 -> 2023-07-31"]


@pytest.mark.parametrize("text, pages", [
    ("For other rights you will need to submit a request at https://x.ai/privacy-portal/ with your name.",
     ["x.ai/privacy-portal"]),
    ("Contact us at https://www.acme.com/contact.", ["acme.com/contact"]),
    ("See our Cookie Notice at https://acme.com/policies/cookies for more.", []),  # pointed to, not a way to reach
    ("Read more: https://acme.com/privacy. Contact us by mail.", []),  # the address comes before the cue
])
def test_contact_pages(text, pages):
    assert read(text)["contact page"] == pages


def test_a_state_list_names_no_country_besides():
    found = read_subjects("If you are a resident of Texas, Oregon, or Connecticut, USA, you may appeal our decision.")
    assert found["user right"] == [("appeal", "Connecticut"), ("appeal", "Oregon"), ("appeal", "Texas")]


@pytest.mark.parametrize("text, shares", [
    ("We may provide identifiers that are not tied to your name to advertisers located abroad.",
     [("advertisers", "may")]),  # the negation is in a relative clause
    ("We do not sell your data, but we share it with partners.", [("partners", "may")]),
    ("Nous ne partageons pas vos données avec des tiers.", [("third parties", "no")]),
    ("You can opt out of data sharing with TikTok in your cookie settings.", [("TikTok", "may")]),
])
def test_sharing_statements_read_in_their_clause(text, shares):
    assert read_subjects(text)["shares data"] == shares


@pytest.mark.parametrize("text, kept", [
    ("Audio data is not stored.", [("audio data", "not stored")]),
    ("We generally do not store the contents of video or voice calls or channels.",
     [("contents of video or voice calls", "not stored")]),
])
def test_what_is_not_kept(text, kept):
    assert read_subjects(text)["retention"] == kept


def test_a_change_shows_the_values_of_its_kind_that_did_not_change(tmp_path):
    # The issue's case in every view: the account data period changed, the server logs' did not.
    from tracker.diff import DocumentDiff, diff_documents

    def policy(account: str) -> object:
        return parse_text("# Acme privacy policy\n\n## Retention\n\n"
                          f"We delete your account data {account} after you close your account. "
                          "Server logs are kept for 90 days.")
    change = diff_documents(policy("30 days"), policy("18 months"))
    assert [(f.label, f.old, f.new) for f in change.facts_unchanged] == [
        ("retention (server logs)", ["90 days"], ["90 days"])]
    assert DocumentDiff.from_dict(change.to_dict()) == change


@pytest.mark.parametrize("text, arbitration, waiver", [
    ("You and Acme agree that any dispute will be resolved by binding individual arbitration.",
     ["binding arbitration"], []),
    ("You may opt out of this arbitration agreement by writing to us within 30 days of accepting these Terms.",
     ["binding arbitration", "opt-out within 30 days"], []),
    ("YOU AND ACME MAY BRING CLAIMS AGAINST THE OTHER ONLY IN YOUR OR ITS INDIVIDUAL CAPACITY AND NOT AS A "
     "PLAINTIFF OR CLASS MEMBER IN ANY PURPORTED CLASS PROCEEDING.", [], ["waived"]),
    ("You waive any right to participate in a class action lawsuit.", [], ["waived"]),
    # a data-transfer framework's recourse for complaints is not the terms' own arbitration
    ("Under certain conditions, you may invoke binding arbitration under the Data Privacy Framework.", [], []),
    ("We do not require arbitration of disputes.", [], []),
    ("Our privacy classes are free.", [], []),
])
def test_arbitration_and_class_action_waivers(text, arbitration, waiver):
    found = read(text)
    assert found["arbitration"] == arbitration and found["class-action waiver"] == waiver


@pytest.mark.parametrize("text, ages", [
    ("We protect minors in the U.S., Europe, or Thailand (under the age of 13 in the U.S., under the age of 16 in "
     "Europe, and under the age of 11 in Thailand).", [("Europe", "16"), ("Thailand", "11"), ("United States", "13")]),
    ("Our service is not for children under 16 years of age.", [("", "16")]),
    ("Users in the EEA must be at least 16 years old.", [("European Economic Area", "16")]),
])
def test_minimum_ages_with_where_they_apply(text, ages):
    assert read_subjects(text)["minimum age"] == ages


@pytest.mark.parametrize("text, emails", [
    ("Contact our Data Protection Officer at dpo@acme.com.", [("DPO", "dpo@acme.com")]),
    ("Our UK GDPR Representative: Prighter Group, rep_acme@prighter.com", [("UK representative",
                                                                            "rep_acme@prighter.com")]),
    ("Wenn Sie in der Schweiz wohnen, können Sie unseren Schweizer Vertreter unter rep@prighter.com erreichen.",
     [("Swiss representative", "rep@prighter.com")]),
    ("Write to privacy@acme.com.", [("", "privacy@acme.com")]),
])
def test_contacts_with_the_role_they_reach(text, emails):
    assert read_subjects(text)["contact e-mail"] == emails
