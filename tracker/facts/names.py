"""What a policy names: laws (GDPR, CCPA, ...), known services (Google Analytics, Stripe, ...),
companies by their legal form, the processors a table lists, partners linked to their
privacy policy. The publisher itself and its representatives are not third parties.
"""

from __future__ import annotations

import re

from tracker.document import Document, Section
from tracker.facts.text import Sentences, _finder, _whole_words


def _law(name: str, pattern: str) -> tuple[str, re.Pattern, tuple[str, ...]]:
    """Names match in any case ('EU SAFE HARBOR'); short acronyms are marked case-sensitive.

    Searching 35 patterns through a long policy is slow, so each comes with the plain
    words one of its alternatives must contain ('oppa' for 'Cal-?OPPA'); a pattern is only
    searched when the text holds one of them.
    """
    triggers = []
    for alternative in pattern.split("|"):
        plain = re.sub(r"\\b|\(\?-i:|\)", "", alternative)
        runs = re.findall(r"[\w -]+(?![?*{])", plain)
        triggers.append(max(runs, key=len).strip().lower())
    return name, re.compile(pattern, re.I), tuple(triggers)


LAWS = [
    _law("GDPR", r"\bGDPR\b|General Data Protection Regulation|\bDSGVO\b|\bRGPD\b"),
    _law("UK GDPR", r"\bUK GDPR\b|Data Protection Act 2018"),
    _law("CCPA", r"\bCCPA\b|California Consumer Privacy Act"),
    _law("CPRA", r"\bCPRA\b|California Privacy Rights Act"),
    _law("COPPA", r"\bCOPPA\b|Children.?s Online Privacy Protection"),
    _law("CalOPPA", r"\bCal-?OPPA\b|California Online Privacy Protection Act"),
    _law("HIPAA", r"\bHIPAA\b|Health Insurance Portability and Accountability Act"),
    _law("Privacy Shield", r"Privacy Shield"),
    _law("Safe Harbor", r"Safe Harbou?r\b"),
    _law("Data Privacy Framework", r"Data Privacy Framework"),
    _law("Standard Contractual Clauses", r"Standard Contractual Clauses|(?-i:\bSCCs?\b)"),
    _law("Binding Corporate Rules", r"Binding Corporate Rules|(?-i:\bBCRs?\b)"),
    _law("EU adequacy decision", r"adequacy decisions?"),
    _law("PIPEDA", r"\bPIPEDA\b|Personal Information Protection and Electronic Documents Act"),
    _law("LGPD", r"\bLGPD\b|Lei Geral de Prote"),
    _law("CAN-SPAM", r"CAN-SPAM"),
    _law("FERPA", r"\bFERPA\b"),
    _law("GLBA", r"\bGLBA\b|Gramm-Leach-Bliley"),
    _law("BIPA", r"(?-i:\bBIPA\b)|Biometric Information Privacy Act"),
    _law("ePrivacy Directive", r"ePrivacy|Privacy and Electronic Communications"),
    _law("Digital Services Act", r"Digital Services Act|(?-i:\bDSA\b)"),
    _law("Shine the Light", r"Shine the Light|1798\.83"),
    _law("Virginia CDPA", r"\bVCDPA\b|Virginia Consumer Data Protection Act"),
    _law("Colorado Privacy Act", r"Colorado Privacy Act"),
    _law("Connecticut Data Privacy Act", r"\bCTDPA\b|Connecticut Data Privacy Act"),
    _law("Utah Consumer Privacy Act", r"\bUCPA\b|Utah Consumer Privacy Act"),
    _law("Texas Data Privacy and Security Act", r"Texas Data Privacy and Security Act|\bTDPSA\b"),
    _law("Swiss FADP", r"(?-i:\bn?FADP\b|\bn?DSG\b)|Federal Act on Data Protection"),
    _law("PIPL", r"\bPIPL\b|Personal Information Protection Law"),
    _law("APPI", r"\bAPPI\b|Act on the Protection of Personal Information"),
    _law("POPIA", r"\bPOPIA\b|Protection of Personal Information Act"),
    _law("Australian Privacy Act", r"Privacy Act 1988|Australian Privacy Principles"),
    _law("Loi Informatique et Libertés", r"Informatique et Libert"),
    _law("BDSG", r"\bBDSG\b|Bundesdatenschutzgesetz"),
    _law("TTDSG", r"\bTTDSG\b|\bTDDDG\b"),
    _law("PCI DSS", r"\bPCI[ -]DSS\b"),
    _law("TCPA", r"\bTCPA\b|Telephone Consumer Protection Act"),
    _law("HITECH", r"\bHITECH\b|Health Information Technology for Economic and Clinical Health"),
    _law("FTC Act", r"Federal Trade Commission Act|\bFTC Act\b"),
    _law("FCRA", r"\bFCRA\b|Fair Credit Reporting Act"),
    _law("VPPA", r"\bVPPA\b|Video Privacy Protection Act"),
    _law("ECPA", r"\bECPA\b|Electronic Communications Privacy Act"),
    _law("FISMA", r"\bFISMA\b|Federal Information Security"),
    _law("SOC 1", r"(?-i:\bSOC 1\b)"),
    _law("SOC 2", r"(?-i:\bSOC 2\b)"),
    _law("SSAE 16", r"(?-i:\bSSAE 16\b)"),
    _law("SSAE 18", r"(?-i:\bSSAE 18\b)"),
    _law("ISO 27001", r"\bISO(?:/IEC)? ?27001\b"),
    _law("ISO 27701", r"\bISO(?:/IEC)? ?27701\b"),
]


LAW_FINDER = _finder({trigger for _, _, triggers in LAWS for trigger in triggers})


def _laws(sentences: Sentences) -> tuple[str, ...]:
    """The laws named; one named only inside another's name ('GDPR' in 'UK GDPR') is not."""
    present = {trigger for _, trigger in LAW_FINDER.iter(sentences.lower)}
    if not present:
        return ()
    spans = {name: [m.span() for m in pattern.finditer(sentences.text)] for name, pattern, triggers in LAWS
             if present.intersection(triggers)}
    spans = {name: found for name, found in spans.items() if found}
    return tuple(name for name, found in spans.items()
                 if not all(_within(span, [b for other, theirs in spans.items() if other != name for b in theirs])
                            for span in found))


def _within(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end and span != (start, end) for start, end in others)


KNOWN_PARTIES = [
    "Google Analytics", "Google Ads", "Google Tag Manager", "Google AdSense", "DoubleClick", "Firebase",
    "reCAPTCHA", "YouTube", "Google Maps", "Facebook Pixel", "Meta Pixel", "Facebook", "Instagram",
    "WhatsApp", "LinkedIn", "TikTok", "Snapchat", "Pinterest", "Reddit", "Twitter", "Amazon Web Services",
    "AWS", "Microsoft Azure", "Microsoft Clarity", "Bing Ads", "Stripe", "PayPal", "Braintree", "Adyen",
    "Klarna", "Cleverbridge", "FastSpring", "Paddle", "2Checkout", "Mailchimp", "SendGrid", "Mailgun",
    "Twilio", "Zendesk", "Intercom", "HubSpot", "Salesforce", "Marketo", "Mixpanel",
    "Amplitude", "Hotjar", "FullStory", "Sentry", "Cloudflare", "Akamai", "Fastly", "AppsFlyer",
    "Kochava", "OneSignal", "Braze", "Iterable", "Optimizely", "New Relic",
    "Datadog", "Crashlytics", "Criteo", "Taboola", "Outbrain", "Xandr", "AppNexus", "The Trade Desk",
    "Adobe Analytics", "Matomo", "Plausible", "Yandex", "OpenAI", "Anthropic", "Jumio",
    "Onfido", "Veriff", "Zoom", "Slack", "Shopify", "Vimeo", "Apple Pay", "Google Pay",
    "Prighter", "Usercentrics", "OneTrust", "Didomi", "Cookiebot", "TrustArc", "Mixpanel",
    "Auth0", "Okta", "Trustpilot", "Typeform", "SurveyMonkey", "Qualtrics", "Calendly", "Vonage",
    "Five9", "Genesys", "Nice inContact", "Dropbox", "Oracle", "IBM",
]
PARTIES_BY_FIRST_WORD: dict[str, list[str]] = {}
for _party in sorted(set(KNOWN_PARTIES), key=len, reverse=True):
    PARTIES_BY_FIRST_WORD.setdefault(_party.split()[0], []).append(_party)
PARTY_FINDER = _finder(PARTIES_BY_FIRST_WORD)
COMPANY = re.compile(
    r"\b((?:[A-Z][\w&'’.-]*\s+){0,3}[A-Z][\w&'’.-]*),?\s+(Inc\.?|LLC|L\.L\.C\.|Ltd\.?|Limited|GmbH|AG|B\.V\.|"
    r"S\.A\.S\.?|SAS|S\.A\.|SA|S\.r\.l\.|Corp\.?|Corporation|PLC|plc|Pty Ltd|ApS|AB|Oy)(?=[\s,.;)]|$)")


LEGAL_FORM = re.compile(r"(?:Inc|LLC|L\.L\.C|Ltd|Limited|GmbH|AG|B\.V|S\.A|SAS|S\.r\.l|Corporation|Corp|PLC|plc|Pty|ApS|AB|Oy)\b")


def _companies(text: str) -> tuple[tuple[str, str], ...]:
    """Companies by their legal form ('Badoo Trading Limited'), each with its first word in
    lower case. COMPANY is only tried on the stretch of text before each legal form: the full
    pattern over a whole long policy is slow."""
    out = []
    for hint in LEGAL_FORM.finditer(text):
        start = text.rfind("\n", 0, max(0, hint.start() - 60)) + 1
        start = max(start, hint.start() - 60)
        while start > 0 and not text[start - 1].isspace():
            start -= 1
        for m in COMPANY.finditer(text, start, min(len(text), hint.end() + 4)):
            if m.start(2) == hint.start():
                name = re.sub(r"^(?:The|By|And|Or|Of|With|From|To|At)\s+", "", m.group(1))
                out.append((name.split()[0].lower(), f"{name} {m.group(2).rstrip('.')}"))
                break
    return tuple(out)


def _other_companies(companies: list[tuple[str, str]], document: Document) -> list[str]:
    """The companies named, leaving out the publisher itself: named in the title, or the
    company named most often."""
    own = {w.lower() for w in re.findall(r"\w+", document.title)}
    if companies:
        lower = document.text.lower()
        mentions = {first: lower.count(first) for first in dict.fromkeys(first for first, _ in companies)}
        publisher = max(mentions, key=mentions.__getitem__)
        if mentions[publisher] >= 3:
            own.add(publisher)
    return [name for first, name in companies if first not in own]


def _one_per_company(names: list[str]) -> list[str]:
    """One name per company: 'OpenAI' and 'OpenAI L.L.C' are one, named the shorter way."""
    by_company: dict[str, str] = {}
    for name in names:
        company = _company(name)
        if company not in by_company or len(name) < len(by_company[company]):
            by_company[company] = name
    return list(by_company.values())


def _company(name: str) -> str:
    """A company's name without its legal form, in lower case: 'OpenAI, L.L.C.' -> 'openai'."""
    return " ".join(re.findall(r"\w+", LEGAL_FORM.sub("", name).lower()))


PARTY_HEADING = re.compile(r"processor|third[- ]part|vendor|partner|service provider|recipient|sub-?contractor|"
                           r"who we share|providers", re.I)
TABLE_HEADER = re.compile(r"(?:company|name|processor|sub-?processor|vendor|provider|partner|entity|recipient|"
                          r"third[- ]party|service provider)s?", re.I)
NAME = re.compile(r"[A-Z0-9][\w&.,'’ -]{0,48}")
LINKED_PARTY = re.compile(r"([A-Z][\w&.'’-]*(?: [A-Z0-9][\w&.'’-]*){0,3})\s*(?::|[-–—]|\()\s*(?:its\s+)?"
                          r"(?i:privacy (?:policy|notice|statement)|opt[- ]out)(?i: page| link| here)?\W*")
NOT_A_PARTY = {"learn", "read", "see", "contact", "our", "your", "view", "more", "click", "visit", "link", "opt",
               "the", "this", "privacy", "cookie", "cookies", "here", "website", "app"}


def _tabled_parties(document: Document) -> list[str]:
    return [party for section in document.all_sections() for _, party in _party_rows(section)]


def _party_rows(section: Section) -> list[tuple[str, str]]:
    """The companies a table of processors or partners lists, each with its row: the first
    cell of each row under a heading about them ('Appendix: Sub-Processors')."""
    if not PARTY_HEADING.search(section.heading):
        return []
    out = []
    for block in section.blocks:
        if block.kind != "row":
            continue
        first = block.text.split(" | ", 1)[0].strip()
        if NAME.fullmatch(first) and not TABLE_HEADER.fullmatch(first) and len(first.split()) <= 5:
            out.append((block.text, first))
    return out


def _linked_party(text: str) -> tuple[str, ...]:
    """A list entry naming a company with a link to its privacy policy: 'Actirise: Privacy
    Policy', the way policies list their advertising partners."""
    match = LINKED_PARTY.fullmatch(text)
    return (match.group(1),) if match and match.group(1).split()[0].lower() not in NOT_A_PARTY else ()


def _known_parties(text: str) -> tuple[str, ...]:
    """Known services named in the text; only those whose first word occurs are searched."""
    names = []
    for first in _whole_words(PARTY_FINDER, text):
        for party in PARTIES_BY_FIRST_WORD[first]:
            if party == first or (party in text and re.search(rf"\b{re.escape(party)}\b", text)):
                names.append(party)
    return tuple(names)


def _not_representatives(names: list[str], representing: set[str]) -> list[str]:
    """A company named as the publisher's representative or data protection officer (its
    name among the words of a sentence saying so: 'our Swiss representative at
    rep@prighter.com') is how to reach the publisher, not someone who gets the data."""
    return [name for name in names if not _company(name) or _company(name).split()[0] not in representing]
