"""Policy documents: sections from text, Markdown and HTML; normalisation; not-a-policy pages."""

from __future__ import annotations

import pytest

from conftest import FIXTURES, Page, policy_html, run_cli, write_config
from tracker.diff import diff_documents
from tracker.normalise import normalise
from tracker.extract import ExtractSettings, assess, extract
from tracker.store import Store
from tracker.textparse import parse_text

SEEDS = FIXTURES / "seeds"


def seed(prefix: str):
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return parse_text(path.read_text(encoding="utf-8"))


def tops(document) -> list[str]:
    return [s.heading for s in document.sections]


def children(document, heading: str) -> list[str]:
    (section,) = [s for s in document.sections if s.heading == heading]
    return [c.heading for c in section.children]


def html(body: bytes | str, **settings):
    if isinstance(body, str):
        body = body.encode()
    return extract(body, "html", None, ExtractSettings(**settings))


# --- the seeds ---------------------------------------------------------------------------

def test_seed_000_krrop_plain_line_headings():
    doc = seed("000")
    assert tops(doc) == ["", "Preamble", "Acknowledgment", "Protection and Security of Information",
                         "Exclusion", "Client’s Personal and Non-Personal Information",
                         "Opt-out and removal of Client Information", "Conclusion"]
    assert doc.sections[0].text.startswith("Effective 2025-06-01")  # opening text kept, untitled
    assert "KRROP appreciates your interest" in doc.sections[0].text
    assert doc.declared_date == "2025-06-01"
    assert doc.title == "Trust & Privacy" and not doc.truncated


def test_seed_001_krop_markdown_from_the_wayback_machine():
    doc = seed("001")
    headings = tops(doc)
    assert headings[0] == ""  # the welcome text before the first section
    assert headings[1:] == [
        "INFORMATION WE COLLECT", "WHAT WE USE YOUR INFORMATION FOR?", "HOW DO WE PROTECT YOUR INFORMATION?",
        "DO WE USE COOKIES?", "DO WE DISCLOSE ANY INFORMATION TO OUTSIDE PARTIES?", "THIRD PARTY LINKS",
        "CALIFORNIA ONLINE PRIVACY PROTECTION ACT COMPLIANCE", "CHILDRENS’ ONLINE PRIVACY PROTECTION ACT COMPLIANCE",
        "ONLINE PRIVACY POLICY ONLY", "YOUR CONSENT", "CHANGES TO OUR PRIVACY POLICY",
        "THIS POLICY WAS LAST MODIFIED ON", "CONTACTING US"]
    assert doc.title == "Krop" and doc.declared_date == "2016-03-24"
    assert doc.provenance == "https://web.archive.org/web/20170327070820id_/https%3A//www.krop.com/privacy"
    assert doc.provenance_date == "2017-03-27"
    assert "The following text is extracted" not in doc.text  # provenance is not policy text
    items = [b.text for s in doc.sections for b in s.blocks if b.kind == "item"]
    assert "To personalize your experience;" in items
    assert not doc.truncated  # it ends on an e-mail address


def test_seed_002_krispcall_questions_and_attached_subheadings():
    doc = seed("002")
    assert tops(doc) == ["", "How KrispCall Uses Your Personal Information?", "How we collect your Personal Information?",
                         "Why Do We Collect Your Personal Information?", "Who Do We Disclose Your Data With?"]
    assert children(doc, "How we collect your Personal Information?") == [
        "Information provided by you", "Information from the third party",
        "Information collected automatically", "Information collected by clients"]
    assert children(doc, "Why Do We Collect Your Personal Information?") == ["Operations", "Request Feedback", "Analytics"]
    assert children(doc, "Who Do We Disclose Your Data With?") == ["Service Providers", "Business transfers", "Legal process"]
    assert doc.declared_date == "2024-05-16"
    assert doc.truncated  # the text stops mid-word


def test_seed_003_prooph_numbered_and_colon_headings_and_version_history():
    doc = seed("003")
    numbered = [(s.number, s.heading) for s in doc.sections if s.number]
    assert numbered == [
        ("1", "Information We Collect"), ("2", "How We Use Your Information"), ("3", "Legal Basis for Processing"),
        ("4", "Data Retention"), ("5", "Data Retention by Third Parties"), ("6", "International Data Transfers"),
        ("7", "Data Security"), ("8", "Your Rights"), ("9", "Children’s Privacy"),
        ("10", "Changes to This Privacy Policy"), ("11", "Contact Us")]
    assert tops(doc)[1:] == [h for _, h in numbered]
    assert children(doc, "Information We Collect") == [
        "Personal Data", "Call Information", "Message Information", "Cookies and Tracking Technologies"]
    assert children(doc, "Your Rights") == ["How to Exercise Your Rights"]
    assert doc.declared_date == "2024-11-14"
    assert doc.version_history == ["Version 2, dated November 14, 2024", "Version 1, dated October 31, 2024"]
    # Sentences ending in a colon are text, not headings.
    assert "We do not retain the following data in our system:" in doc.text


def test_seed_004_kromtech_number_alone_and_separators():
    doc = seed("004")
    assert [(s.number, s.heading) for s in doc.sections] == [
        ("1", "Personal Information We Collect"), ("2", "Information Collected via Email"),
        ("3", "Information Provided by Third Parties"), ("4", "Cookies"), ("5", "E-mail Communication"),
        ("6", "Sharing Your Personal Information"), ("7", "Security"), ("8", "Changes To This Policy"),
        ("9", "Questions?")]
    assert "==" not in doc.text
    assert "Information Provided by You" in children(doc, "Personal Information We Collect")


def test_links_without_text_show_nothing_as_on_the_page():
    doc = parse_text("# Privacy Policy\n\n## [](#the-short-version)The short version\n\nWe keep little. "
                     "[](javascript:void(0))Write to [](mailto:privacy@example.com) or see [our terms](/terms).")
    assert [s.heading for s in doc.sections] == ["The short version"]
    assert doc.sections[0].text == "We keep little. Write to or see our terms."


@pytest.mark.parametrize("text, declared", [
    ("Last updated:\n\nMay 16, 2024\n\nWe collect your name.", "2024-05-16"),  # the date in the next paragraph
    ("Effective as of 1 March 2023. This policy replaces the one effective 2019-01-01.", "2023-03-01"),
    ("Our rules changed on 2020-02-02.\n\nLAST MODIFIED 12/31/2021", "2021-12-31"),  # a cue, not any date
    ("Version 1, dated October 31, 2024\n\nVersion 2, dated November 14, 2024", "2024-11-14"),  # the latest
    ("We updated our partners list.\n\nWe keep data for 30 days.", None),  # a cue word with no date after it
    ("Effective January 1, 2020, the CCPA gives California residents new rights over their data.\n\n"
     "Effective January 1, 2022", "2022-01-01"),  # a date line, not a law's date in a sentence
    ("This Privacy Policy applies from February 28, 2025.", "2025-02-28"),
    ("Last Update: Feb 10, 2026", "2026-02-10"),
    ("Last updated: 2025.02.19", "2025-02-19"),
    ("Dernière mise à jour : 1er janvier 2024", "2024-01-01"),
    ("Entrée en vigueur : 12.05.2026", "2026-05-12"),
    ("Stand: 26. März 2026", "2026-03-26"),
    ("Última actualización: 26 de marzo de 2026", "2026-03-26"),
    ("We may transfer data abroad (as of January 23, 2019, the European Commission has found that Japan protects "
     "it as well as the EU does).\n\nLast revised on September 1, 2023 (the United States was added to the "
     "countries and regions to which Personal Data is transferred.)", "2023-09-01"),  # a note in brackets
])
def test_the_declared_date_is_the_date_after_a_cue(text, declared):
    assert parse_text(f"# Privacy Policy\n\n{text}\n\n## Contact\n\nWrite to us.").declared_date == declared


# --- HTML --------------------------------------------------------------------------------

def test_html_automatic_mode_keeps_the_policy_and_drops_the_page_around_it():
    doc = html(policy_html())
    assert doc.title == "Privacy Policy"
    assert [(s.number, s.heading) for s in doc.sections] == [
        ("", ""), ("1", "Information We Collect"), ("2", "How We Use Information"), ("3", "Retention"),
        ("4", "Contact Us")]
    assert doc.declared_date == "2024-03-03"
    for chrome in ("Home", "Blog", "cookies to improve", "All rights reserved"):
        assert chrome not in doc.text
    items = [b.text for s in doc.all_sections() for b in s.blocks if b.kind == "item"]
    assert items == ["Account details you provide", "Usage data from our apps"]


def test_bold_paragraphs_definition_terms_and_tables_are_kept():
    page = """<html><body><main>
    <p><strong>Who we are</strong></p><p>Acme Inc. runs the service described in this policy and decides how data is used.</p>
    <p><b>What we collect</b><br>We collect your name, your e-mail address and the pages you visit on our site.</p>
    <dl><dt>Cookies</dt><dd>Small files a site stores in your browser so that it remembers you between visits.</dd></dl>
    <table><tr><th>Data</th><th>Kept for</th></tr><tr><td>Logs</td><td>90 days</td></tr></table>
    </main></body></html>"""
    doc = html(page)
    assert [s.heading for s in doc.all_sections()] == ["Who we are", "What we collect", "Cookies"]
    assert "Logs | 90 days" in doc.text


def test_word_processor_headings_one_item_lists_and_plain_title_lines():
    page = """<html><body><div class="content">
    <p>Updated: 01/08/2024</p><p>This policy explains how Acme uses your personal data when you use the app.</p>
    <ol start="8"><li>Exercising your rights over your Data</li></ol>
    <p>Your rights</p>
    <p>Under the GDPR every member has a right to access, correct and erase the personal data we hold.</p>
    <p><strong>Privacy rights that may be available to you include</strong>:</p>
    <ul><li>the right to know whether we process your data</li><li>the right to delete it</li></ul>
    <ol start="9"><li>Contact</li></ol>
    <p>Write to our data protection officer at this address for any question about your data:</p>
    <p>Paris</p><p>France</p>
    </div></body></html>"""
    doc = html(page)
    assert [(s.number, s.heading) for s in doc.all_sections()][1:] == [
        ("8", "Exercising your rights over your Data"), ("", "Your rights"),
        ("", "Privacy rights that may be available to you include"), ("9", "Contact")]
    assert "Paris\nFrance" in doc.text  # an address is not a run of headings


def test_text_policies_in_html_keep_their_underlined_headings_and_lose_the_rules():
    rule = "-" * 30
    page = f"""<html><body><main><pre>
This policy explains how Acme uses the personal data of the people who use its app.

DISCLOSURE OF YOUR INFORMATION
{rule}
We may disclose your information to the processors named below,
under contracts that protect it.
</pre><p>YOUR RIGHTS<br>{"=" * 11}<br>You may ask for a copy of your data or for its deletion at any time.</p>
</main></body></html>"""
    doc = html(page)
    assert [s.heading for s in doc.all_sections()][1:] == ["DISCLOSURE OF YOUR INFORMATION", "YOUR RIGHTS"]
    assert "---" not in doc.text and "===" not in doc.text
    assert "We may disclose your information to the processors named below, under contracts" in doc.text


def test_accordions_aria_headings_and_collapsed_text_are_read():
    page = """<html><body><main><p>This policy explains how Acme uses the personal data of its users.</p>
    <h3><button aria-expanded="false" aria-controls="p1">How we share data</button></h3>
    <div id="p1" hidden>We share data with processors only, under contract.</div>
    <button class="accordion-toggle" aria-expanded="false">Cookies we use</button>
    <div aria-hidden="true">We use cookies to keep you signed in.</div>
    <div role="heading" aria-level="3">Your choices</div><p>You can opt out of marketing at any time.</p>
    <details><summary>Retention</summary><p>We keep data for 30 days after you close your account.</p></details>
    <dl><dt>Account data</dt><dd>Your name and e-mail address.</dd></dl>
    <button>Accept all cookies</button>
    </main></body></html>"""
    doc = html(page)
    assert [s.heading for s in doc.all_sections()][1:] == [
        "How we share data", "Cookies we use", "Your choices", "Retention", "Account data"]
    for hidden in ("processors only", "signed in", "30 days"):
        assert hidden in doc.text
    assert "Accept all" not in doc.text


def test_a_date_in_a_heading_is_the_policys_date_not_part_of_the_name():
    body = "\n\nWe collect data when you use the service and keep it safe.\n\n## Sharing\n\nWe share it with processors.\n"
    old = parse_text("# Acme\n\n## Our commitment (Last updated: 2022-02-09)" + body)
    new = parse_text("# Acme\n\n## Our commitment (Last updated: 2023-05-01)" + body)
    assert [s.heading for s in new.all_sections()] == ["Our commitment", "Sharing"]
    assert new.declared_date == "2023-05-01"
    change = diff_documents(old, new)
    assert change.kind == "date-only"
    assert [(s.status, s.new_heading) for s in change.sections if s.status != "unchanged"] == [
        ("modified", "Our commitment")]
    titled = [parse_text(f"Privacy Policy Last modified: {d}\n======\n" + body) for d in ("2022-02-09", "2023-05-01")]
    assert [d.title for d in titled] == ["Privacy Policy"] * 2 and titled[1].declared_date == "2023-05-01"
    assert diff_documents(*titled).kind == "date-only"
    only_date = parse_text("Acme privacy policy\n\n## Effective: March 3, 2021\n" + body)
    assert [s.heading for s in only_date.all_sections()] == ["", "Sharing"] and only_date.declared_date == "2021-03-03"


def test_numbered_sub_headings_and_bold_lead_in_lines_are_headings():
    doc = parse_text("""# Acme privacy policy

## 1. What we collect

1.1 Information you provide us.

We collect what you give us when you sign up for an account.

1.2 Information from your device.

We collect your device's model and system version.

**How we use it.**

We use it to run the service.

**We do not sell your data.**

Nobody buys it from us, and nobody ever will.
""")
    assert [(s.number, s.heading) for s in doc.all_sections()] == [
        ("1", "What we collect"), ("1.1", "Information you provide us"), ("1.2", "Information from your device"),
        ("", "How we use it")]
    assert "We do not sell your data." in doc.all_sections()[-1].text  # emphasis, not a heading


def test_real_tables_keep_cell_paragraphs_apart_and_named_anchors_are_not_widgets():
    doc = html((FIXTURES / "tinder-privacy-20250812.html").read_bytes())
    headings = [s.heading for s in doc.all_sections()]
    # <h3 id="how-we-share-data"> is policy text, not a share widget
    assert "How We Share Data" in headings and "Children's Privacy" in headings
    assert "Account Data Profile Data Technical Data" in doc.text
    assert "DataProfile" not in doc.text


def test_a_home_page_served_at_the_policy_url_is_not_a_policy():
    home = html((FIXTURES / "match-home-at-privacy-url-20240424.html").read_bytes())
    policy = html((FIXTURES / "match-privacy-20220421.html").read_bytes())
    assert assess(home).startswith("does not read like a policy")
    assert assess(policy) is None


def test_explicit_selector_and_remove():
    page = policy_html(extra='<div class="promo"><p>Try our premium plan today for free!</p></div>')
    doc = html(page, selector="article", remove=(".promo",))
    assert "premium plan" not in doc.text and "Information We Collect" in doc.text
    assert "Home" not in doc.text


def test_wayback_toolbar_and_rewritten_links_are_undone():
    raw = policy_html(extra='<p>See <a href="https://example.org/opt-out">https://example.org/opt-out</a>.</p>').decode()
    replayed = raw.replace("<body>", """<body><!-- BEGIN WAYBACK TOOLBAR INSERT -->
        <script src="//archive.org/includes/athena.js"></script>
        <div id="wm-ipp-base"><div id="wm-ipp"><p>The Wayback Machine - captured 27 Mar 2017</p></div></div>
        <!-- END WAYBACK TOOLBAR INSERT -->""").replace(
        "https://example.org/opt-out</a>", "https://web.archive.org/web/20170327070820/https://example.org/opt-out</a>")
    assert html(replayed).text_hash == html(raw).text_hash
    assert "https://example.org/opt-out" in html(replayed).text


# --- normalisation -----------------------------------------------------------------------

@pytest.mark.parametrize("noisy", [
    "We keep\u00a0your data for 30\u00a0days.",
    "We keep your\u200b data for 30 days.\ufeff",
    "We  keep your data\n for 30 days. ",
])
def test_white_space_and_invisible_characters_are_not_changes(noisy):
    assert normalise(noisy) == "We keep your data for 30 days."


def test_curly_and_straight_quotes_are_the_same():
    assert normalise("“Services” we’ve built") == normalise('"Services" we\'ve built')


def test_tracking_parameters_and_archive_prefixes_leave_urls():
    assert normalise("See https://acme.example/privacy?utm_source=mail&utm_medium=x&lang=en") == \
        "See https://acme.example/privacy?lang=en"
    assert normalise("at https://web.archive.org/web/20170327070820id_/https://www.krop.com/privacy now") == \
        "at https://www.krop.com/privacy now"
    assert normalise("https://acme.example/o?token=a8f7c6e5d4b3a2f1e0d9") == "https://acme.example/o"


@pytest.mark.parametrize("before, after", [
    ("We keep data for 30 days.", "We keep data for 90 days."),
    ("We do not sell your data.", "We do sell your data."),
    ("Users must be 13 or older.", "Users must be 16 or older."),
    ("We share data with partners.", "We share data with partners!"),
])
def test_normalisation_never_hides_a_change_of_wording(before, after):
    assert normalise(before) != normalise(after)


def test_real_noise_snapshots_give_the_same_text_and_decode_cloudflare_emails():
    first = html((FIXTURES / "happn-privacy-20220920-a.html").read_bytes())
    second = html((FIXTURES / "happn-privacy-20220920-b.html").read_bytes())
    assert first.text_hash == second.text_hash
    assert "dpo@happn.fr" in first.text and "[email" not in first.text
    assert first.word_count > 3000


def test_a_real_word_change_changes_the_text_hash():
    page = (FIXTURES / "happn-privacy-20220920-a.html").read_text(encoding="utf-8")
    changed = page.replace("Data Protection Officers", "Data Protection Officer", 1)
    assert changed != page
    assert html(changed).text_hash != html(page).text_hash


# --- captures that are not the policy ----------------------------------------------------

@pytest.mark.parametrize("page, reason", [
    ("<html><head><title>Access Denied</title></head><body><h1>Access Denied</h1><p>You don't have permission "
     "to access this server. Reference #18.5f3c. Please contact the site owner if you think this is a mistake "
     "and include the reference number above with your request.</p></body></html>", "error or bot-challenge page"),
    ("<html><head><title>Just a moment...</title></head><body><h1>Checking your browser before accessing "
     "acme.example</h1><p>This process is automatic. Your browser will redirect to your requested content "
     "shortly. Please allow up to 5 seconds while we verify that you are not a robot and keep the site safe "
     "for everyone.</p></body></html>", "error or bot-challenge page"),
    ("<html><body><p>Loading…</p></body></html>", "no policy text"),
])
def test_error_and_challenge_pages_are_not_policies(page, reason):
    assert assess(html(page)).startswith(reason)
    assert assess(html(policy_html())) is None


FRENCH = """<html lang="fr"><body><main><h1>Politique de confidentialité</h1>
<h2>1. Données que nous collectons</h2><p>Nous collectons les données que vous nous donnez lorsque vous créez un
compte, comme votre nom et votre adresse, et les données que votre appareil nous envoie pour le service.</p>
<h2>2. Utilisation des données</h2><p>Nous utilisons vos données pour fournir et améliorer le service, pour le
sécuriser et pour vous contacter au sujet de votre compte. Nous ne vendons pas vos données à des tiers.</p>
<h2>3. Conservation</h2><p>Nous conservons vos données pendant 30 jours après la fermeture de votre compte.</p>
</main></body></html>""".encode()


def test_check_never_makes_versions_of_pages_that_are_not_the_policy(tmp_path, site):
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    more = "<h2>Sharing</h2><p>" + "We share data only with the processors named in our list of partners. " * 20 + "</p>"
    site.pages["/privacy"] = Page(policy_html(extra=more))
    run_cli(config, "check")
    rejected = {
        "challenge": b"<html><head><title>Just a moment...</title></head><body><p>Checking your browser before "
                     b"accessing the site. Please enable JavaScript and cookies to continue, and wait while we "
                     b"verify that your connection is secure and that you are a human visitor of this site.</p></body></html>",
        "french": FRENCH,
        "stub": policy_html().replace(b"<main>", b"<main><!--").replace(b"</main>", b"--></main><p>" + b"Privacy policy of Acme, see the full text on our help centre for all the details on data. " * 3 + b"</p>"),
    }
    for name, body in rejected.items():
        site.pages["/privacy"] = Page(body)
        result = run_cli(config, "check")
        assert result.exit_code == 1, name
    site.pages["/privacy"] = Page(policy_html(extra=more))
    assert "unchanged (version 1)" in run_cli(config, "check").out

    store = Store(tmp_path / "snapshots" / "tracker.db")
    reasons = [store.history.version_of(c.id)[1] for c in store.captures.timeline("acme")]
    assert reasons[0] is None and reasons[-1] is None
    assert reasons[1].startswith("error or bot-challenge page")
    assert reasons[2].startswith("far smaller than the policy")  # a lone page in another language: see test_language
    assert reasons[3].startswith("far smaller than the policy")
    assert len(store.history.versions("acme")) == 1 and store.history.changes("acme") == []


def test_show_prints_a_version_as_sectioned_text(tmp_path, site):
    config = write_config(tmp_path, [{"name": "acme", "urls": [site.url("/privacy")]}])
    site.pages["/privacy"] = Page(policy_html("30 days"))
    run_cli(config, "check")
    site.pages["/privacy"] = Page(policy_html("90 days"))
    run_cli(config, "check")

    latest = run_cli(config, "show", "acme")
    first = run_cli(config, "show", "acme", "1")

    assert latest.exit_code == 0 and "version 2 of 2" in latest.stdout
    assert "\n## 1 Information We Collect\n" in latest.stdout and "- Usage data from our apps" in latest.stdout
    assert "for 90 days" in latest.stdout and "for 30 days" in first.stdout
    assert "declared date: 2024-03-03\nlanguage: en\n" in latest.stdout  # as the README says it prints
    missing = run_cli(config, "show", "acme", "7")
    assert missing.exit_code == 1 and "no version 7 (versions 1 to 2)" in missing.stderr


def test_a_bad_selector_is_a_config_error(tmp_path):
    config = write_config(tmp_path, [{"name": "acme", "urls": ["https://acme.example/"], "selector": "main >> p["}])
    result = run_cli(config, "status")
    assert result.exit_code == 1 and "policy[1].selector: 'main >> p[' is not a valid CSS selector" in result.stderr
