"""How to reach the publisher: e-mail addresses, postal addresses, contact pages, each
with the role it reaches (DPO, EU/UK/Swiss representative) when the text says.

A regulator's address (where to complain) is not the publisher's, and a representative or
data protection officer named is how to reach the publisher, not a third party that gets data.
"""

from __future__ import annotations

import re

from tracker.document import Document, Section
from tracker.facts.model import Value
from tracker.facts.text import DIGIT, Sentences

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")

REACH = ("contact e-mail", "postal address", "contact page")
HIDDEN_EMAIL = ("[email protected]", "[email\xa0protected]", "[email&#160;protected]")  # Cloudflare's stand-in
EMAILS_HIDDEN = "e-mails hidden"  # not a fact shown: that a version's page hid addresses from its readers


def _unhidden(old: list[str], new: list[str], hidden_before: bool, hidden_after: bool) -> tuple[list[str], list[str]]:
    """E-mail addresses a page hid behind Cloudflare's '[email protected]' were not removed
    (or added, when it stops hiding them): only the page's way of showing them changed."""
    if hidden_after:
        old = [v for v in old if v in new]
    if hidden_before:
        new = [v for v in new if v in old]
    return old, new


def _regulator_sections(document: Document) -> set[int]:
    """The sections (by id) under a heading naming a regulator ('Data Protection Authorities',
    'Information Commissioner's Office (ICO)'), sub-sections included."""
    return {id(s) for section in document.all_sections() if AUTHORITY.search(section.heading)
            for s in section.walk()}


AUTHORITY = re.compile(r"\b(?:commissioner|commission|supervisory|authorit(?:y|ies)|autorit[ée]|behörde|"
                       r"datenschutzbeauftragte[rn]?|garante|agencia|datatilsynet|cnil|ico|regulator|ombudsman)\b", re.I)


def _authority_block(text: str) -> bool:
    """An address block headed by a regulator's name ('Information Commissioner's Office' /
    'Wycliffe House' / ...): where to complain, not how to reach the publisher."""
    return "\n" in text and bool(AUTHORITY.search(text.split("\n", 1)[0]))


REGULATOR_BEFORE = 60  # characters before an address in which a regulator named makes it the regulator's


def _emails(sentences: Sentences) -> tuple[Value, ...]:
    """The e-mail addresses given, each with the role it reaches when the text says ('our
    data protection officer at dpo@acme.com' -> ('DPO', ...)), except a regulator's
    ('complain to the ICO at casework@ico.org.uk'; but 'write to dpo@acme.com or complain to
    the ICO' is Acme's)."""
    if _authority_block(sentences.text):
        return ()
    text = sentences.text
    return tuple((_role(text[max(0, m.start() - ROLE_REACH):m.end()]), m.group().lower()) for m in EMAIL.finditer(text)
                 if not AUTHORITY.search(text, max(0, m.start() - REGULATOR_BEFORE), m.start()))


ROLE_REACH = 150  # characters before an address in which the role it reaches is named
ROLE_WORDS = frozenset(("data protection officer", "dpo", "délégué", "datenschutzbeauftragte", "representative",
                        "vertreter", "représentant", "representante", "rappresentante"))  # one is in every ROLE
REPRESENTATIVE_OF = re.compile(r"\b(EU|EEA|European|UK|United Kingdom|Swiss|Switzerland|Schweizer|Brazil\w*|"
                               r"Turkish|Korean)\b[^.\n]{0,40}?\b(?:representative|vertreter|représentant)", re.I)
REGION_NAMES = {"eea": "EU", "european": "EU", "united kingdom": "UK", "switzerland": "Swiss", "schweizer": "Swiss"}
REPRESENTATIVE_WORDS = frozenset(("representative", "data protection officer", "dpo", "c/o", "care of", "vertreter",
                        "datenschutzbeauftragte", "représentant", "délégué", "representante", "rappresentante"))
REPRESENTATIVE = re.compile(r"\b(?:representatives?|data protection officer|dpo|c/o|care of|vertreter\w*|"
                            r"datenschutzbeauftragte\w*|représentant\w*|délégué à la protection|"
                            r"representante|rappresentante)\b")


def _role(text: str) -> str:
    """Whom an address reaches, when the text before it says: 'DPO', 'UK representative'."""
    lower = text.lower()
    if re.search(r"data protection officer|\bdpo\b|délégué à la protection|datenschutzbeauftragte", lower):
        return "DPO"
    region = REPRESENTATIVE_OF.search(text)
    if region:
        name = region.group(1).lower()
        return f"{REGION_NAMES.get(name, region.group(1).upper() if len(name) <= 3 else region.group(1))} representative"
    return "representative" if re.search(r"representative|vertreter|représentant|representante", lower) else ""


WEB = re.compile("https?://")
WEB_ADDRESS = re.compile(r"https?://([^\s()<>\[\]\"']+)", re.I)
CONTACT_CUE = re.compile(r"\b(?:contact|request|submit|portal|form|appeal|exercise|reach|write|opt[- ]out|"
                         r"do not sell|complaint)", re.I)
CONTACT_PATH = re.compile(r"privacy|portal|request|form|contact|dsar|rights|dpo|gdpr|opt-?out|do-?not-?sell|"
                          r"support|help", re.I)


def _contact_pages(sentences: Sentences) -> tuple[str, ...]:
    """Web addresses given as a way to reach the publisher or to exercise a right ('submit a
    request at https://x.ai/privacy-portal/'), as 'x.ai/privacy-portal'; a page merely
    pointed to ('see our Cookie Notice at ...') is none."""
    out = []
    for sentence in sentences.containing(WEB):
        cue = CONTACT_CUE.search(sentence)
        for match in WEB_ADDRESS.finditer(sentence):
            address = match.group(1).rstrip("/.,;:")
            if cue and cue.start() < match.start() and CONTACT_PATH.search(address):
                out.append(re.sub(r"^www\.", "", address))
    return tuple(out)


# --- postal addresses ----------------------------------------------------------------------

STREET = re.compile(
    r"\b\d{1,5}[a-z]?,?\s+(?:[A-Z][\w'’.-]*\s+){0,4}(?:Street|St\.|Avenue|Ave\.?|Road|Rd\.?|Boulevard|Blvd\.?|"
    r"Lane|Drive|Dr\.|Way|Place|Square|Court|Parkway|Highway|Terrace|High Street)\b"
    r"|\b(?:rue|avenue|boulevard|place|quai|allée)\s+[\w'’ -]{2,40}"
    r"|\b[A-ZÄÖÜ][\wäöüß-]*(?:straße|strasse|str\.|weg|platz|allee|gasse)\s+\d{1,4}\b"
    r"|\bP\.?\s?O\.? Box \d+", re.U)
POSTCODE = re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|\d{5}(?:-\d{4})?|\d{4} ?[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d|"
                      r"(?:[AC-FHKNPRTV-Y]\d{2}|D6W) ?[0-9AC-FHKNPRTV-Y]{4})\b")  # UK, US, NL, CA, IE (Eircode)
NEAR_STREET = re.compile(POSTCODE.pattern + r"|\b\d{4} (?=[A-ZÄÖÜ][a-zäöüéè])")  # and after a street: '6002 Luzern'
ADDRESS_LINES = 4  # a postcode up to three lines below a street line (an address written line by line)


def _addresses(text: str) -> tuple[str, ...]:
    """A street with a postcode on its line or the next ones ('Skadden, 22 Bishopsgate,
    London, EC2N 4BQ'); in an address written line by line with no street word ('Gut
    Projensdorf' / '24161 Altenholz'), the postcode's line with the line above it."""
    out = []
    lines = [line.strip() for line in text.split("\n")]
    streets: set[int] = set()
    for i, line in enumerate(lines):
        if not DIGIT.search(line):
            continue  # every street number and postcode has a digit
        for match in STREET.finditer(line):
            below = " ".join(lines[i + 1:i + ADDRESS_LINES])
            if NEAR_STREET.search(line, match.start(), match.end() + 80) or NEAR_STREET.search(below):
                out.append(" ".join(match.group(0).split()).rstrip(","))
                streets.update(range(i, i + ADDRESS_LINES))
    for i, line in enumerate(lines):
        if i and i not in streets and len(line.split()) <= 5 and POSTCODE.search(line) and _address_line(lines[i - 1]):
            street = lines[i - 1].rstrip(",").split(",")[-1].strip()  # 'Attn: GitHub BV, [Gut Projensdorf],'
            out.append(f"{street}, {line}")
    return tuple(out)


def _address_line(line: str) -> bool:
    """A line that can be the one above a postcode: short, not a sentence."""
    return 0 < len(line.split()) <= 6 and not re.search(r"[.:;!?]$|@", line)


SHORT_LINE = 6  # words: a paragraph this short can be a line of an address


SHORT_CHARACTERS = 120  # longer than any line of an address: a paragraph this long is not split into words


def _short_runs(section: Section) -> list[str]:
    """Runs of consecutive short paragraphs, each run one text a line a paragraph: an
    address laid out one line to a paragraph ('1 Hatch Street Upper' / 'Dublin 2' / 'D02 PY28')."""
    runs, run = [], []
    for block in [*section.blocks, None]:
        if block is not None and len(block.text) <= SHORT_CHARACTERS and "\n" not in block.text and \
                0 < len(block.text.split()) <= SHORT_LINE:
            run.append(block.text)
            continue
        if len(run) >= 2:
            runs.append("\n".join(run))
        run = []
    return runs
