"""Key facts read off a policy's text: each kind, with its negations and near misses."""

from __future__ import annotations

import pytest

from tracker.facts import facts
from tracker.textparse import parse_text


def read(text: str) -> dict[str, list[str]]:
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
])
def test_user_rights_named(text, rights):
    assert read(text)["user right"] == rights
