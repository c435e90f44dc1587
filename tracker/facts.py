"""Key facts of a policy version, and how they moved in a change.

Readers of a changed policy ask the same few questions first: is the date new, can I still
write to the same address, how long do they keep my data, from what age, under which laws,
who else gets my data, what do they collect, do they sell it. Each fact is a set of short
values read off the text, so that a change reads as "minimum age 13 -> 17" or "GDPR added",
and each value that changed is shown with the sentence that states it (its evidence).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property

import ahocorasick
import pycountry
from rapidfuzz import fuzz

from tracker.dates import find_date, stated_dates
from tracker.document import Document, Memo, Section
from tracker.normalise import contains_any

# The order facts are shown in.
FACT_NAMES = ["title", "declared date", "contact e-mail", "postal address", "contact page", "retention", "minimum age",
              "law", "third party", "data collected", "sells data", "shares data", "targeted advertising",
              "trains AI on user data", "transfers to", "user right", "arbitration", "class-action waiver"]
STANCES = {"sells data", "shares data", "targeted advertising", "trains AI on user data"}


@dataclass
class Evidence:
    """Where a value was read: the sentence that states it, in the section that holds it."""

    value: str
    section: str  # the heading of the section ("" for the opening text)
    sentence: str

    def to_dict(self) -> dict:
        return {"value": self.value, "section": self.section, "sentence": self.sentence}


@dataclass
class FactChange:
    name: str
    old: list[str]
    new: list[str]
    # the sentences that state the values that changed, in the old and the new version
    old_evidence: list[Evidence] = field(default_factory=list)
    new_evidence: list[Evidence] = field(default_factory=list)
    subject: str = ""  # what the values are about ("server logs"), for the kinds that have one

    @property
    def label(self) -> str:
        """'retention (server logs)', 'shares data (advertisers)', 'law'."""
        return f"{self.name} ({self.subject})" if self.subject else self.name

    @property
    def added(self) -> list[str]:
        return [v for v in self.new if v not in self.old]

    @property
    def removed(self) -> list[str]:
        return [v for v in self.old if v not in self.new]

    @property
    def summary(self) -> str:
        """'minimum age 13 -> 17', 'GDPR added', 'retention (server logs): 90 days -> 30 days'."""
        if self.name in STANCES:  # "sells data: no -> may", "shares data (advertisers): not stated -> no"
            return f"{self.label}: {'/'.join(self.old) or 'not stated'} -> {'/'.join(self.new) or 'not stated'}"
        name = f"{self.label}:" if self.subject else self.label
        if len(self.old) == 1 and len(self.new) == 1:
            return f"{name} {self.old[0]} -> {self.new[0]}"
        if self.subject:
            return f"{name} {', '.join(self.old) or 'not stated'} -> {', '.join(self.new) or 'not stated'}"
        label = "" if self.name in ("law", "third party", "transfers to") else f"{name} "
        parts = [f"{label}{v} added" for v in self.added] + [f"{label}{v} removed" for v in self.removed]
        return "; ".join(parts)

    def to_dict(self) -> dict:
        # the summary is written for other tools, not read back: it follows from the values
        return {"name": self.name, "subject": self.subject, "old": self.old, "new": self.new, "summary": self.summary,
                "evidence": {"old": [e.to_dict() for e in self.old_evidence],
                             "new": [e.to_dict() for e in self.new_evidence]}}

    @classmethod
    def from_dict(cls, data: dict) -> FactChange:
        evidence = data.get("evidence", {})
        return cls(data["name"], data["old"], data["new"], [Evidence(**e) for e in evidence.get("old", [])],
                   [Evidence(**e) for e in evidence.get("new", [])], data.get("subject", ""))


Value = tuple[str, str]  # (subject, value): what a value is about ("" for kinds without a subject) and the value
# kinds whose values are compared per subject
SUBJECTED = {"contact e-mail", "postal address", "minimum age", "retention", "shares data", "user right",
             "trains AI on user data"}


def facts(document: Document, memo: Memo | None = None) -> dict[str, list[Value]]:
    """Every key fact of a version, each a sorted list of distinct (subject, value). Each fact
    is read within a sentence or a line, so a version's facts are those of its blocks; along a
    history most blocks recur: ``memo`` reads each once, also when a long section changes
    by a word."""
    block_facts = (memo or Memo()).of(_block_facts)
    found: dict[str, list[Value]] = {name: [] for name in FACT_NAMES}
    companies: list[tuple[str, str]] = []
    representing: set[str] = set()
    regulators = _regulator_sections(document)
    for section in document.all_sections():
        for text in (section.heading, *(b.text for b in section.blocks)):
            for name, values in block_facts(text).items():
                if name in REACH and id(section) in regulators:
                    continue  # how to reach a regulator, not the publisher
                if name == "companies":
                    companies.extend(values)
                elif name == "representing":
                    representing.update(values)
                else:
                    found[name].extend(values)
        for run in _short_runs(section) if id(section) not in regulators else ():  # an address a line a paragraph
            found["postal address"].extend(block_facts(run).get("postal address", ()))
    if any(mark in document.text for mark in HIDDEN_EMAIL):
        found[EMAILS_HIDDEN] = [("", "yes")]
    found["declared date"] = _declared_dates(document, memo or Memo())
    found["title"] = [("", document.title)] if document.title_in_text else []
    parties = [v for _, v in found["third party"]] + _other_companies(companies, document) + _tabled_parties(document)
    found["third party"] = [("", name) for name in _one_per_company(_not_representatives(parties, representing))]
    found["data collected"] = [("", item) for item in _collected(document)]
    return {name: sorted(set(values), key=_sort_key) for name, values in found.items()}


def _declared_dates(document: Document, memo: Memo) -> list[Value]:
    """The policy's date, and the other dates it states on lines of their own: a revision
    date beside the effective date ('last revised'), or the date of each notice a page
    carries (under the notice's heading)."""
    if not document.declared_date:
        return []
    stated = memo.of(stated_dates)
    lines = [(s.heading, said) for s in document.all_sections() for text in (s.heading, *_texts(s))
             for said in stated(text)]
    main = next(((heading, cue) for heading, (cue, day) in lines if day == document.declared_date), None)
    out = [("", document.declared_date)]
    for heading, (cue, day) in lines:
        subject = heading if main is None or heading != main[0] else cue if cue != main[1] else ""
        if subject and (heading, cue) != main:
            out.append((heading_name(subject), day))
    return out


def heading_name(heading: str) -> str:
    return heading.strip(" .:*#")


def _block_facts(text: str) -> dict[str, tuple]:
    """The facts one heading or paragraph states (only the kinds it states any of): (subject,
    value) pairs, and the companies it names by their legal form."""
    sentences = Sentences(text)
    cues = {word for _, word in CUE_FINDER.iter(sentences.lower)}  # which readers can find anything here
    found: dict[str, tuple] = {
        "contact page": _contact_pages(sentences) if "http" in cues else (),
        "law": _laws(sentences),
        "third party": _known_parties(text) + _linked_party(text),
        "sells data": _stance(sentences, SELL_WORD, SELL),
        "targeted advertising": _stance(sentences, ADS_WORD, TARGETED) if cues & TARGETING else (),
        "transfers to": _destinations(sentences) if cues & TRANSFER_WORDS and _whole_words(COUNTRY_FINDER, text)
        else (),
        "companies": _companies(text),
        "arbitration": _arbitration(sentences) if "arbitrat" in cues else (),
        "class-action waiver": _class_waiver(sentences) if "class" in cues else (),
    }
    out = {name: tuple(("", v) for v in values) for name, values in found.items() if values and name != "companies"}
    if found["companies"]:
        out["companies"] = found["companies"]
    if cues & REPRESENTATIVE_WORDS:
        out["representing"] = tuple(re.findall(r"\w+", " ".join(sentences.containing(REPRESENTATIVE)).lower()))
    role = _role(text[:ROLE_REACH]) if cues & ROLE_WORDS else ""
    subjected = {
        "contact e-mail": _emails(sentences) if "@" in cues else (),
        "postal address": () if _authority_block(text) else tuple((role, a) for a in _addresses(text)),
        "minimum age": _ages(sentences),
        "retention": _retention(sentences, bool(cues & NOT_KEPT_WORDS and cues & KEEP_WORDS)),
        "shares data": _sharing(sentences, found["third party"]) if found["third party"] or cues & SHARE_WITH
        else (),
        "trains AI on user data": _training(sentences) if "train" in cues else (),
        "user right": _rights(sentences) if cues & RIGHT_CUES and cues & RIGHT_STEMS else (),
    }
    out.update((name, values) for name, values in subjected.items() if values)
    return out


REPRESENTATIVE_WORDS = frozenset(("representative", "data protection officer", "dpo", "c/o", "care of", "vertreter",
                        "datenschutzbeauftragte", "représentant", "délégué", "representante", "rappresentante"))
REPRESENTATIVE = re.compile(r"\b(?:representatives?|data protection officer|dpo|c/o|care of|vertreter\w*|"
                            r"datenschutzbeauftragte\w*|représentant\w*|délégué à la protection|"
                            r"representante|rappresentante)\b")


def _not_representatives(names: list[str], representing: set[str]) -> list[str]:
    """A company named as the publisher's representative or data protection officer (its
    name among the words of a sentence saying so: 'our Swiss representative at
    rep@prighter.com') is how to reach the publisher, not someone who gets the data."""
    return [name for name in names if not _company(name) or _company(name).split()[0] not in representing]


def compare(old: dict[str, list[Value]], new: dict[str, list[Value]]) -> list[FactChange]:
    """The facts that changed, one change per kind and subject: a value is paired with the
    value of the same thing on the other side ("server logs: 90 days -> 30 days")."""
    out = []
    for name in FACT_NAMES:
        before, after = _by_subject(old.get(name, [])), _by_subject(new.get(name, []))
        for old_subject, new_subject in _paired_subjects(list(before), list(after)):
            values_before = before[old_subject] if old_subject is not None else []
            values_after = after[new_subject] if new_subject is not None else []
            if name == "contact e-mail":
                values_before, values_after = _unhidden(values_before, values_after, EMAILS_HIDDEN in old,
                                                        EMAILS_HIDDEN in new)
            if values_before != values_after:
                out.append(FactChange(name, values_before, values_after,
                                      subject=new_subject if new_subject is not None else old_subject or ""))
    return out


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


def unchanged_beside(changes: list[FactChange], old: dict[str, list[Value]],
                     new: dict[str, list[Value]]) -> list[FactChange]:
    """For each kind with subjects that changed, its subjects whose values stayed: a change
    of one retention period reads with the periods that did not change."""
    out = []
    for name in dict.fromkeys(c.name for c in changes if c.name in SUBJECTED):
        before, after = _by_subject(old.get(name, [])), _by_subject(new.get(name, []))
        out += [FactChange(name, values, values, subject=subject) for subject, values in after.items()
                if subject and before.get(subject) == values]
    return out


def _by_subject(values: list[Value]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for subject, value in values:
        out.setdefault(subject, []).append(value)
    return out


SAME_SUBJECT = 80  # rapidfuzz token-set ratio of two subjects taken as one thing reworded


def _paired_subjects(old: list[str], new: list[str]) -> list[tuple[str | None, str | None]]:
    """Subjects as (old, new) pairs: the same words first, then the most alike (a subject
    reworded: 'account data' and 'your account data after closing'); None for a subject one
    side does not have ("" is a subject: the values said of no subject in particular)."""
    pairs: list[tuple[str | None, str | None]] = [(s, s) for s in old if s in new]
    free_old, free_new = [s for s in old if s not in new], [s for s in new if s not in old]
    scored = sorted(((-fuzz.token_set_ratio(a, b), i, j) for i, a in enumerate(free_old)
                     for j, b in enumerate(free_new) if a and b), key=lambda t: t)
    used_old, used_new = set(), set()
    for score, i, j in scored:
        if -score >= SAME_SUBJECT and i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            pairs.append((free_old[i], free_new[j]))
    pairs += [(s, None) for i, s in enumerate(free_old) if i not in used_old]
    pairs += [(None, s) for j, s in enumerate(free_new) if j not in used_new]
    return sorted(pairs, key=lambda p: (p[1] if p[1] is not None else p[0] or "").lower())


def with_evidence(change: FactChange, old: Document, new: Document, memo: Memo) -> FactChange:
    """The change with the sentences that state its values: the values that went, in the old
    version, and those that came, in the new (a stance's values on both sides)."""
    shown = (change.old, change.new) if change.name in STANCES else (change.removed, change.added)
    change.old_evidence = evidence(old, change.name, shown[0], memo, _subject_in(change, old, memo, "old"))
    change.new_evidence = evidence(new, change.name, shown[1], memo, _subject_in(change, new, memo, "new"))
    return change


def _subject_in(change: FactChange, document: Document, memo: Memo, side: str) -> str:
    """The subject the change's values have in one version: a reworded subject is the new
    version's words, not the old one's."""
    if change.name not in SUBJECTED:
        return ""
    values = set(change.old if side == "old" else change.new)
    facts_of = memo.reading(_facts_reading, document)
    subjects = [subject for subject, value in facts_of.get(change.name, []) if value in values]
    return change.subject if change.subject in subjects or not subjects else \
        max(subjects, key=lambda s: fuzz.token_set_ratio(s, change.subject))


def _facts_reading(document: Document, memo: Memo) -> dict[str, list[Value]]:
    return facts(document, memo)


def evidence(document: Document, name: str, values: list[str], memo: Memo, subject: str = "") -> list[Evidence]:
    """For each value of the fact ``name`` about ``subject``, the first sentence of the
    document that states it: the block that states it, then its sentence that states it
    alone (the block, when the value takes more than one sentence to read). One pass over
    the document for all values."""
    if name == "title":
        return []  # the title is its own evidence
    block_facts = memo.of(_block_facts)  # the facts of each block are read once, as by ``facts``
    places = memo.reading(_places, document)
    out = []
    for value in values:
        place = places.get((name, subject, _company(value) if name == "third party" else value))
        if place is None and name == "declared date":  # read off the whole text, not a block
            place = next(((s.heading, text) for s in document.all_sections() for text in (s.heading, *_texts(s))
                          if _states(block_facts, text, name, ("", value))), None)
        if place is not None:
            heading, text = place
            sentence = next((s for s in Sentences(text).all() if _states(block_facts, s, name, (subject, value))),
                            text)
            out.append(Evidence(value, heading, sentence))
    return out


def _places(document: Document, memo: Memo) -> dict[tuple[str, str, str], tuple[str, str]]:
    """Where each value of each fact is first stated: (fact, subject, value) -> (section
    heading, block). Read once per document (a version is diffed with the one before and
    the one after)."""
    block_facts = memo.of(_block_facts)
    places: dict[tuple[str, str, str], tuple[str, str]] = {}
    for section in document.all_sections():
        for text in (section.heading, *_texts(section)):
            place = (section.heading, text)
            places.setdefault(("data collected", "", text), place)  # an item is its own value
            for name, values in block_facts(text).items():
                if name == "representing":
                    continue
                if name == "companies":
                    name, values = "third party", tuple(("", n) for _, n in values)
                for subject, value in values:
                    places.setdefault((name, subject, _company(value) if name == "third party" else value), place)
        for row, party in _party_rows(section):
            places.setdefault(("third party", "", _company(party)), (section.heading, row))
        for run in _short_runs(section):
            for subject, value in block_facts(run).get("postal address", ()):
                places.setdefault(("postal address", subject, value), (section.heading, run))
    return places


SHORT_LINE = 6  # words: a paragraph this short can be a line of an address


def _short_runs(section: Section) -> list[str]:
    """Runs of consecutive short paragraphs, each run one text a line a paragraph: an
    address laid out one line to a paragraph ('1 Hatch Street Upper' / 'Dublin 2' / 'D02 PY28')."""
    runs, run = [], []
    for block in [*section.blocks, None]:
        if block is not None and 0 < len(block.text.split()) <= SHORT_LINE and "\n" not in block.text:
            run.append(block.text)
            continue
        if len(run) >= 2:
            runs.append("\n".join(run))
        run = []
    return runs


def _texts(section: Section) -> list[str]:
    return [b.text for b in section.blocks]


def _states(block_facts: Callable[[str], dict[str, tuple]], text: str, name: str, fact: Value) -> bool:
    """Whether a text, read alone, states the (subject, value) ``fact`` of the kind ``name``."""
    value = fact[1]
    if name == "declared date":  # an ISO date: the text holds its year, as digits
        return value[:4] in text and find_date(text) == value
    if name == "data collected":
        return text == value
    found = block_facts(text)
    if name == "third party":
        names = [*(n for _, n in found.get("third party", ())), *(n for _, n in found.get("companies", ()))]
        return any(_company(n) == _company(value) for n in names)
    return fact in found.get(name, ())



def _sort_key(fact: Value) -> tuple:
    subject, value = fact
    number = re.match(r"\d+", value)
    return (subject.lower(), int(number.group()) if number else 1 << 30, value.lower(), fact)  # the last: deterministic


SENTENCE_END = re.compile(r"\n|(?<=[.!?;])\s+(?=[A-Z(\"“])")


class Sentences:
    """The sentences of a text, found by a word they contain.

    Searching every sentence for every cue was most of the time facts took on a long policy.
    A pattern that starts with a plain word, run once over the lower-cased text, is fast;
    the slower, exact patterns then run on the few sentences it found.
    """

    def __init__(self, text: str):
        self.text = text
        self.lower = text.lower()

    @cached_property  # most blocks have no cue at all: then their sentences are never needed
    def starts(self) -> list[int]:
        return [0] + [m.end() for m in SENTENCE_END.finditer(self.text)]

    def all(self) -> list[str]:
        ends = [*self.starts[1:], len(self.text)]
        return [s for start, end in zip(self.starts, ends) if (s := self.text[start:end].strip())]

    def containing(self, pattern: re.Pattern) -> list[str]:
        """Sentences in which the lower-case ``pattern`` matches."""
        out, last = [], -1
        for match in pattern.finditer(self.lower):
            i = bisect_right(self.starts, match.start()) - 1
            if i != last:
                end = self.starts[i + 1] if i + 1 < len(self.starts) else len(self.text)
                out.append(self.text[self.starts[i]:end].strip())
                last = i
        return out


EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")

REACH = ("contact e-mail", "postal address", "contact page")


def _regulator_sections(document: Document) -> set[int]:
    """The sections (by id) under a heading naming a regulator ('Data Protection Authorities',
    'Information Commissioner's Office (ICO)'), sub-sections included."""
    out: set[int] = set()
    for top in document.sections:
        stack = [(top, False)]
        while stack:
            section, under = stack.pop()
            inside = under or bool(AUTHORITY.search(section.heading))
            if inside:
                out.add(id(section))
            stack.extend((child, inside) for child in section.children)
    return out


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
    for sentence in sentences.containing(re.compile("https?://")):
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
DIGIT = re.compile(r"\d")
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


# --- retention periods and ages ----------------------------------------------------------

NUMBER_WORDS = {w: n for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}
NUMBER_WORDS.update({"thirty": 30, "forty": 40, "forty-five": 45, "fifty": 50, "sixty": 60, "ninety": 90,
                     "hundred": 100, "a": 1, "one hundred and eighty": 180})
NUMBER = r"(\d{1,4}|" + "|".join(sorted(map(re.escape, NUMBER_WORDS), key=len, reverse=True)) + r")"
PERIOD_UNIT = re.compile(r"(?:day|week|month|year)s?\b")
PERIOD = re.compile(NUMBER + r"\s*(?:\(\d+\)\s*)?(?:calendar\s+|business\s+|full\s+)?(day|week|month|year)s?\b", re.I)
RETENTION_CUE = re.compile(
    r"\b(?:retain|retention|retained|keep|kept|store|stored|storing|delete|deleted|deletion|remove|removed|"
    r"erase|erased|destroy|destroyed|purge|purged|anonymi[sz]e|anonymi[sz]ed|hold|held|conserv\w*|aufbewahr\w*|"
    r"speicher\w*|lösch\w*)\b", re.I)


def _number(word: str) -> int | None:
    return int(word) if word.isdigit() else NUMBER_WORDS.get(word.lower())


NOT_KEPT = re.compile(r"\b(?:(?:do|does|will|shall|may)\s+not|don['’]t|doesn['’]t|won['’]t|never)\s+(?:\w+\s+)?"
                      r"(?:store|retain|keep|save|record)\b|\b(?:is|are|will be)\s+(?:not|never)\s+(?:\w+\s+)?"
                      r"(?:stored|retained|kept|saved|recorded)\b", re.I)
NOT_KEPT_WORDS = frozenset(("not", "n't", "n’t", "never"))  # one of these and one of KEEP_WORDS is in every NOT_KEPT
KEEP_WORDS = frozenset(("store", "retain", "keep", "save", "record"))


def _retention(sentences: Sentences, says_not_kept: bool) -> tuple[Value, ...]:
    """'We delete account data thirty days after you close your account' -> ('account data
    after you close your account', '30 days'), when the sentence is about keeping or deleting
    data: each period with what it is the period of; and what is not kept at all ('Audio
    data is not stored' -> ('audio data', 'not stored'))."""
    out = []
    if says_not_kept:  # the text holds a negation and a keeping verb
        for sentence in sentences.containing(NOT_KEPT):
            match = NOT_KEPT.search(sentence)
            if match and not QUESTION.match(sentence):
                out.append((_not_kept_what(sentence, match), "not stored"))
    for sentence in sentences.containing(PERIOD_UNIT):
        if not RETENTION_CUE.search(sentence) or AGE_CUE.search(sentence):
            continue
        for match in PERIOD.finditer(sentence):
            n = _number(match.group(1))
            if n:
                unit = match.group(2).lower()
                out.append((_kept_what(sentence, match), f"{n} {unit}{'s' if n != 1 else ''}"))
    return tuple(out)


KEEP_VERB = (r"(?:retain|retains|retained|keep|keeps|kept|store|stores|stored|hold|holds|held|preserve[sd]?|"
             r"maintain|maintains|maintained|save[sd]?|delete[sd]?|remove[sd]?|erase[sd]?|destroy|destroys|destroyed|"
             r"purge[sd]?|anonymi[sz]e[sd]?)")
KEPT_AFTER_VERB = re.compile(KEEP_VERB + r"\s+((?:[\w'’-]+\s+){0,7}?)(?:for|up to|until|within|no longer than|"
                             r"not longer than|at most|after|beyond|of)?\s*$", re.I)
KEPT_BEFORE_VERB = re.compile(r"([\w'’-]+(?:\s+[\w'’-]+){0,5}?)\s+(?:is|are|will be|may be|shall be|can be|gets?|"
                              r"will|may)\s+(?:be\s+)?(?:automatically\s+|permanently\s+|only\s+)?" + KEEP_VERB + r"\b",
                              re.I)
SINCE = re.compile(r"\s*(?:after|following)\s+((?:[\w'’-]+\s*){1,6}?)(?=[,.;:()]|\s+(?:and|or|unless|except|if|"
                   r"when|so|to|in|for|before|at|with)\b|$)", re.I)
DETERMINER = {"your", "the", "all", "any", "such", "this", "that", "these", "those", "our", "their", "its", "a", "an",
              "some", "certain", "each", "also", "then", "only", "generally", "usually", "typically"}
PLACE_WORDS = {"from", "in", "on", "for", "within", "at", "up", "until", "by", "with", "to"}
PRONOUN = {"it", "them", "this", "that", "these", "those", "we", "us", "you", "they", "which"}


NOT_KEPT_END = re.compile(r"[,.;:]|\b(?:when|if|unless|after|once|because|but|and we)\b")


def _not_kept_what(sentence: str, match: re.Match) -> str:
    """What a sentence says is not kept: the object of 'we do not store [the contents of
    calls]', or the subject of '[audio data] is not stored'."""
    if match.group(0).lower().startswith(("is", "are", "will be")):
        words = sentence[:match.start()].rsplit(",", 1)[-1].split()
        cut = next((i for i, w in enumerate(words) if i and w.lower() in PRONOUN | PLACE_WORDS), len(words))
        return _noun_phrase(words[:cut][-6:])
    after = NOT_KEPT_END.split(sentence[match.end():], maxsplit=1)[0]
    return _noun_phrase(after.split()[:8])


def _noun_phrase(words: list[str]) -> str:
    """'your [account data] from our systems' -> 'account data'; '' for a pronoun."""
    cut = next((i for i, w in enumerate(words) if w.lower() in PLACE_WORDS), len(words))
    words = words[:cut]
    while words and words[0].lower() in DETERMINER:
        words.pop(0)
    while words and words[-1].lower() in ("or", "and", "of", "the", "a", "an"):
        words.pop()  # a phrase cut short: 'contents of calls [or]'
    words = [w.strip(".,;:") for w in words]
    return "" if not words or words[0].lower() in PRONOUN else " ".join(words).lower()


def _kept_what(sentence: str, period: re.Match) -> str:
    """What a retention period is the period of, in a few words ('' when the sentence does
    not say): the words the keeping verb governs ('we keep [server logs] for 90 days') or
    the subject of a passive ('[server logs] are kept for ...'), with the event the period
    runs from ('after you close your account')."""
    before = sentence[:period.start()]
    what = ""
    for pattern in (KEPT_AFTER_VERB, KEPT_BEFORE_VERB):
        found = [m.group(1).split() for m in pattern.finditer(before)]
        what = _noun_phrase(found[-1]) if found else ""
        if what:
            break
    if not what and ":" in before:  # a list item: 'Server logs: we keep it ...'
        what = _noun_phrase(before.split(":", 1)[0].split()[-6:])
    since = SINCE.match(sentence, period.end())
    return f"{what} after {since.group(1).strip().lower()}".strip() if since else what


AGE_CUE = re.compile(r"\b(?:age|aged|years? old|children|child|minors?|teen\w*|under \d{1,2}|older)\b", re.I)
AGE = re.compile(
    r"(?:under|over|below|above|at least|younger than|older than|minimum age of|age of|aged?)\s+(?:the\s+age\s+of\s+)?"
    r"(\d{1,2})\b|\b(\d{1,2})\s*(?:years? of age|years? old|\+)", re.I)


TWO_DIGITS = re.compile(r"\b\d{1,2}\b")


AGE_WORDS = ("age", "old", "child", "minor", "teen", "under")  # one is in every AGE_CUE


def _ages(sentences: Sentences) -> tuple[Value, ...]:
    """Minimum ages, each with where it applies when the sentence says ('under the age of 16
    in Europe, and under 18 in Indonesia' -> ('European Union'... , '16'), ('Indonesia',
    '18')): the place named right after an age, else the one place the sentence names."""
    if not DIGIT.search(sentences.lower) or not contains_any(sentences.lower, AGE_WORDS):
        return ()  # most blocks: cheaper than looking for numbers sentence by sentence
    out = []
    for sentence in sentences.containing(TWO_DIGITS):
        if not AGE_CUE.search(sentence):
            continue
        matches = [m for m in AGE.finditer(sentence) if 8 <= int(m.group(1) or m.group(2)) <= 21]
        places = _jurisdictions(sentence) if matches else []
        for match, following in zip(matches, [*(m.start() for m in matches[1:]), len(sentence)]):
            near = _jurisdictions(sentence[match.end():min(following, match.end() + AGE_PLACE_REACH)])
            place = near[0] if near else places[0] if len(places) == 1 else ""
            out.append((place, str(int(match.group(1) or match.group(2)))))
    return tuple(out)


AGE_PLACE_REACH = 40  # characters after an age in which the place it applies in is named ('16 in Europe')


# --- laws, third parties, data, selling --------------------------------------------------

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
]


def _finder(words: Iterable[str]) -> ahocorasick.Automaton:
    """Finds every one of ``words`` in a text in one pass (Aho-Corasick): searching the text
    for each of sixty law names in turn was the largest part of reading facts."""
    finder = ahocorasick.Automaton()
    for word in words:
        finder.add_word(word, word)
    finder.make_automaton()
    return finder


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
WORD_CHARACTER = re.compile(r"[\w-]")
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


def _whole_words(finder: ahocorasick.Automaton, text: str) -> set[str]:
    """The words of ``finder`` found in ``text`` as words of their own, not inside others."""
    found = set()
    for end, word in finder.iter(text):
        start = end - len(word) + 1
        if not (start and WORD_CHARACTER.match(text, start - 1)) and not WORD_CHARACTER.match(text, end + 1):
            found.add(word)
    return found


COLLECT_HEADING = re.compile(r"\b(?:collect\w*|gather\w*|obtain\w*|information we|data we|erheb\w*)\b", re.I)


def _collected(document: Document) -> list[str]:
    """The items listed under a section about what is collected, each by its lead words."""
    out = []
    for section in document.all_sections():
        if not _about_collection(section.heading):
            continue
        for block in _own_and_child_items(section):
            lead = re.split(r"[:;.–—(]| - ", block, maxsplit=1)[0].strip()
            if 0 < len(lead.split()) <= 8:
                out.append(lead[0].upper() + lead[1:])
    return out


def _about_collection(heading: str) -> bool:
    return bool(COLLECT_HEADING.search(heading))


def _own_and_child_items(section: Section) -> list[str]:
    return [b.text for s in section.walk() for b in s.blocks if b.kind == "item"]


SELL = re.compile(r"\b(?:sell|sells|sold|selling|sale of)\b[^.]*\b(?:personal|your|data|information)\b|"
                  r"\b(?:personal|your) (?:data|information)\b[^.]*\b(?:sell|sold|sale)\b", re.I)
SHARE_VERB = re.compile(r"\b(?:share|shares|shared|sharing|disclose|discloses|disclosed|transfer|transfers|"
                        r"transferred|trade|rent|release|provide|provides|make available|partag\w*|communiqu\w*|"
                        r"transm\w*|weitergeben|weitergegeben|übermitt\w*|compart\w*)\b")
RECIPIENT = re.compile(r"\b(advertis\w*|marketing|third[- ]part\w*|(?:outside|other) (?:part\w*|compan\w*)|"
                       r"partners?|affiliates?|tiers|partenaires|annonceurs|(?:autres )?(?:sociétés|entreprises)|"
                       r"dritte\w*|werbe\w*|terceros|socios|anunciantes)\b")
RECIPIENTS = [("advertis", "advertisers"), ("annonceur", "advertisers"), ("werbe", "advertisers"),
              ("anunciante", "advertisers"), ("marketing", "for marketing"), ("partner", "partners"),
              ("partenaire", "partners"), ("socio", "partners"), ("affiliate", "affiliates")]
# any other recipient word: third, outside or other parties
NEGATION = re.compile(r"\b(?:not|never|no|don't|doesn't|won't|neither|nor|ne|pas|jamais|aucun\w*|nicht|kein\w*|"
                      r"nie|niemals|nunca)\b|n’t\b|\bn['’]", re.I)


SELL_WORD = re.compile(r"s(?:ell|old|ale)")
SHARE_WITH = frozenset(("advertis", "marketing", "third", "outside", "other part", "other comp", "partner", "affiliate",
              "tiers", "partenaire", "annonceur", "société", "entreprise", "dritte", "werbe", "terceros", "socios",
              "anunciante"))  # one is in every SHARE statement


TARGETED = re.compile(r"\b(?:targeted|personali[sz]ed|interest[- ]based|behaviou?ral|cross[- ]context(?:ual)?|"
                      r"tailored)\s+(?:behaviou?ral\s+)?(?:advertising|ads|advertisements)\b", re.I)
ADS_WORD = re.compile(r"(?:advertis|\bads\b)")
TARGETING = frozenset(("targeted", "personali", "interest", "behavio", "cross", "tailored"))  # one is in every TARGETED
TRAINS = re.compile(r"\b(?:train|trains|trained|training|fine-tun\w*)\b[^.]*\b(?:models?|artificial intelligence|"
                    r"machine[- ]learning|AI|algorithms?|LLMs?)\b|\b(?:models?|artificial intelligence|"
                    r"machine[- ]learning|AI|LLMs?)\b[^.]*\b(?:train|trains|trained|training)\b", re.I)
TRAIN_WORD = re.compile(r"train")
RIGHT_WORDS = (r"access|delet\w*|eras\w*|correct\w*|rectif\w*|portab\w*|object\w*|restrict\w*|opt[- ]out|withdraw\w*|"
               r"appeal\w*|lodge a complaint|complain\w*|non-discrimination|judicial remedy|know")
RIGHTS = [  # (a word the sentence must hold, the pattern): each pattern is only tried where it can match
    ("right", re.compile(r"\bright(?:s)?\s+(?:to|of)\s+(?:[\w-]+\s+){0,3}?(" + RIGHT_WORDS + r")\b", re.I)),
    # 'you may opt out', 'Clients can request access', 'residents of Texas may appeal'
    (" may ", re.compile(r"\b(?:you|users?|clients?|customers?|residents?|consumers?|members?)"
                         r"(?:\s+(?:of|in)\s+[\w ,.'’-]{1,60}?)?\s+(?:(?:may|can)(?:\s+be\s+able\s+to)?|"
                         r"are (?:able|entitled) to|have the option to)\s+(?:also\s+)?(?:at any time\s+)?"
                         r"(?:request\s+(?:to\s+|that we\s+)?|ask\s+(?:us\s+)?(?:to\s+)?)?(" + RIGHT_WORDS + r")\b",
                         re.I)),
    # French and German: 'droit d'accès', 'droit de déposer une plainte', 'Recht auf Löschung'
    ("droit", re.compile(r"\bdroit\s+(?:d['’]|de\s+|à\s+(?:l['’]|la\s+)?)(accès|rectification|effacement|"
                         r"opposition|portabilité|limitation|retirer|introduire une réclamation|déposer une plainte|"
                         r"réclamation)", re.I)),
    ("recht", re.compile(r"\brecht\s+auf\s+(auskunft|berichtigung|löschung|einschränkung|datenübertragbarkeit|"
                         r"widerspruch|beschwerde)|\b(widerspruchs|beschwerde)recht", re.I)),
]
RIGHT_WORD = re.compile(r"\b(" + RIGHT_WORDS + r")\b", re.I)
RIGHT_CUES = frozenset(("right to", "right of", "rights to", "rights of", " may ", " can ", "able to", "entitled",
              "option to", "droit", "recht"))  # one is in every RIGHT
RIGHT_STEMS = frozenset(("access", "delet", "eras", "correct", "rectif", "portab", "object", "restrict", "opt", "withdraw",
               "appeal", "complain", "lodge", "judicial", "know", "accès", "effacement", "opposition", "limitation",
               "retirer", "réclamation", "plainte", "auskunft", "berichtigung", "löschung", "einschränkung",
               "übertragbar", "widerspruch", "beschwerde"))  # one is in every RIGHT
CLAUSE_END = re.compile(r"[.;:]|\bright")  # what ends a list of rights: 'access, correct or delete'
RIGHT_NAMES = [("access", "access"), ("delet", "deletion"), ("eras", "deletion"), ("correct", "correction"),
               ("rectif", "correction"), ("portab", "portability"), ("object", "objection"),
               ("restrict", "restriction"), ("opt", "opt-out"), ("withdraw", "withdrawal of consent"),
               ("appeal", "appeal"), ("lodge", "complaint"), ("complain", "complaint"),
               ("non-discrimination", "non-discrimination"), ("judicial", "judicial remedy"), ("know", "to know"),
               ("accès", "access"), ("auskunft", "access"), ("effacement", "deletion"), ("löschung", "deletion"),
               ("berichtigung", "correction"), ("opposition", "objection"), ("widerspruch", "objection"),
               ("portabilité", "portability"), ("datenübertragbarkeit", "portability"),
               ("limitation", "restriction"), ("einschränkung", "restriction"), ("retirer", "withdrawal of consent"),
               ("introduire", "complaint"), ("déposer", "complaint"), ("réclamation", "complaint"),
               ("beschwerde", "complaint")]


def _rights(sentences: Sentences) -> tuple[Value, ...]:
    """The rights the text says users have ('the right to request deletion', 'you may opt out',
    'the right to access, correct or delete it'), each with where it is offered when the
    sentence says: ('appeal', 'Texas') for 'residents of Texas ... may appeal'; ('',
    'access') for a right offered to all."""
    out = []
    for sentence in sentences.containing(RIGHT_STEM):
        lower = sentence.lower()
        matches = [m for cue, pattern in RIGHTS if cue in lower or (cue == " may " and MODAL.search(lower))
                   for m in pattern.finditer(sentence)]
        places = _jurisdictions(sentence) if matches else []
        for match in matches:
            word = next(g for g in match.groups() if g)
            listed = CLAUSE_END.split(sentence[match.end():], maxsplit=1)[0]
            for named in [word, *(m.group(1) for m in RIGHT_WORD.finditer(listed))]:
                right = next(name for start, name in RIGHT_NAMES if named.lower().startswith(start))
                out.extend([(right, place) for place in places] or [("", right)])
    return tuple(out)


RIGHT_STEM = re.compile("|".join(RIGHT_STEMS))
MODAL = re.compile(r"\b(?:may|can|able to|entitled to|option to)\b")
US_STATES = ("Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia Hawaii Idaho "
             "Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts Michigan Minnesota "
             "Mississippi Missouri Montana Nebraska Nevada Ohio Oklahoma Oregon Pennsylvania Tennessee Texas Utah "
             "Vermont Virginia Washington Wisconsin Wyoming").split() + [
    "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota", "Rhode Island",
    "South Carolina", "South Dakota", "West Virginia", "District of Columbia"]


def _jurisdiction_names() -> dict[str, str]:
    names = {state: state for state in US_STATES}
    names.update(COUNTRIES)
    names.update({"EEA": "European Economic Area", "EU": "European Union", "Europe": "Europe"})
    return names


def _jurisdictions(sentence: str) -> list[str]:
    """The states, countries and regions a sentence names, in reading order, once each (a
    state named 'West Virginia' is not also Virginia; 'New Jersey' is not Jersey; the
    country of the states named is not named again)."""
    found = sorted(((m.start(), m.end(), name) for name in _whole_words(JURISDICTION_FINDER, sentence)
                    for m in re.finditer(rf"(?<![\w-]){re.escape(name)}(?![\w-])", sentence)),
                   key=lambda f: (f[0], -f[1]))
    out: list[str] = []
    end = -1
    for start, stop, name in found:
        if start >= end:
            out.append(JURISDICTIONS[name])
            end = stop
    if any(place in US_STATES for place in out):  # 'Texas, or Connecticut, USA': the states say where
        out = [place for place in out if place != "United States"]
    return list(dict.fromkeys(out))


# --- international transfers ---------------------------------------------------------------

def _country_names() -> dict[str, str]:
    """Every country's names as written in policies -> the name shown ('Viet Nam' and
    'Vietnam' -> 'Vietnam'), from ISO 3166 (pycountry), with the usual short forms."""
    names: dict[str, str] = {}
    for country in pycountry.countries:
        shown = getattr(country, "common_name", None) or country.name.split(",")[0]
        for name in (country.name, shown, getattr(country, "official_name", None)):
            if name and "," not in name:
                names[name] = shown
    names.update({"U.S.": "United States", "U.S.A.": "United States", "USA": "United States",
                  "United States of America": "United States", "UK": "United Kingdom", "Great Britain":
                  "United Kingdom", "Korea": "South Korea", "Republic of Korea": "South Korea", "Russia":
                  "Russian Federation", "People's Republic of China": "China", "PRC": "China",
                  "European Economic Area": "European Economic Area", "European Union": "European Union"})
    return names


COUNTRIES = _country_names()
COUNTRY_FINDER = _finder(COUNTRIES)
JURISDICTIONS = _jurisdiction_names()
JURISDICTION_FINDER = _finder(JURISDICTIONS)
TRANSFER = re.compile(r"\b(?:transfer\w*|cross-border|outside|abroad|countr(?:y|ies)|"
                      r"(?:stor\w*|process\w*|host\w*|locat\w*|held|kept|servers?|data cent(?:er|re)s?)\s+"
                      r"(?:[\w'’-]+\s+){0,4}?in)\b")
TRANSFER_WORDS = frozenset(("transfer", "cross-border", "outside", "abroad", "countr", "stor", "process",
                  "host", "locat", "held", "kept", "server", "data cent"))  # one is in every TRANSFER
ORIGIN = re.compile(r"(?:outside|from|beyond|leaves?|within|inside)\s+(?:of\s+)?(?:the\s+)?$", re.I)
ORIGIN_WORD = re.compile(r"outside|from|beyond|leaves?|within|inside", re.I)
FRAMEWORK_PART = re.compile(r"[-–]|\s+Extension\b")
LIST_TOKEN = re.compile(r"[\w.'’-]+|,")
LIST_GLUE = {",", "and", "or", "the", "of"}


def _destinations(sentences: Sentences) -> tuple[str, ...]:
    """The countries (and the EEA, the EU) a sentence about moving or keeping data abroad
    names, except where the data comes from ('transfer data outside the EEA to the United
    States' -> United States). 'New Jersey' is not Jersey."""
    out = []
    for sentence in sentences.containing(TRANSFER):
        for name in _whole_words(COUNTRY_FINDER, sentence):
            for at in (m.start() for m in re.finditer(re.escape(name), sentence)):
                before, after = sentence[max(0, at - 200):at], sentence[at + len(name):at + len(name) + 12]
                if FRAMEWORK_PART.match(after) or before.endswith(("-", "–")):
                    continue  # 'the Swiss-U.S. DPF', 'the UK Extension': a framework's name, not where data goes
                if not before.endswith("New ") and not ORIGIN.search(_before_list(before)):
                    out.append(COUNTRIES[name])
                    break
    return tuple(out)


def _before_list(text: str) -> str:
    """The text before the list of names it ends in: 'outside [the EEA, Switzerland and the ]'
    -> 'outside ' (read backwards, token by token: a pattern for it backtracks without end
    on 'and , and , ...')."""
    start = len(text)
    for token in reversed(list(LIST_TOKEN.finditer(text))):
        word = token.group()
        if word not in LIST_GLUE and not word[0].isupper():
            break
        if word[0].isupper() and ORIGIN_WORD.fullmatch(word):
            break  # 'Outside the UK': the cue itself, capitalised at the start of a sentence
        start = token.start()
    return text[:start]


QUESTION = re.compile(r"^\W*(?:do|does|did|will|would|can|could|how|what|who|whom|why|when|where|which|is|are|"
                      r"may|should)\b", re.I)


def _sharing(sentences: Sentences, named: tuple[str, ...]) -> tuple[Value, ...]:
    """A sharing statement per kind of recipient: ('advertisers', 'no'), ('third parties',
    'may'): 'we share with our affiliates' and 'we never share with advertisers' are two facts;
    a service named (``named``: the known services the text names) is a recipient of its own."""
    out = []
    for sentence in sentences.containing(RECIPIENT_WORD):  # rarer than the verbs: fewer sentences to read
        if sentence.rstrip().endswith("?") or QUESTION.match(sentence):
            continue
        lower = sentence.lower()
        verbs = [m.end() for m in SHARE_VERB.finditer(lower)]
        for verb, following in zip(verbs, [*verbs[1:], len(lower)]):  # the first recipient after each verb
            match = RECIPIENT.search(lower, verb, following)
            if match:
                recipient = match.group(1)
                subject = next((name for start, name in RECIPIENTS if recipient.startswith(start)), "third parties")
                out.append((subject, "no" if _negated(sentence, match.start()) else "may"))
    for sentence in sentences.containing(SHARE_WITH_NAMED) if named else ():
        for match in SHARE_WITH_NAMED.finditer(sentence):  # 'data sharing with TikTok': a recipient by name
            party = next((p for p in named if sentence.startswith(p, match.end())), None)
            if party and not (sentence.rstrip().endswith("?") or QUESTION.match(sentence)):
                out.append((party, "no" if _negated(sentence, match.end()) else "may"))
    return tuple(out)


CLAUSE = re.compile(r",\s*(?:but|and|however|although|while|whereas)\b|;|\bbut\b|\bhowever\b|\bexcept\b", re.I)
RELATIVE = re.compile(r"\b(?:that|which|who|where)\b", re.I)


def _negated(sentence: str, at: int) -> bool:
    """Whether the clause that says something at ``at`` is negative: 'we do not share it
    with advertisers', but not 'we do not sell it, but we share it with partners' nor 'we
    provide identifiers that are not tied to you to advertisers' (a negation in a relative
    clause between the verb and the recipient)."""
    clause = CLAUSE.split(sentence[:at])[-1]
    relative = RELATIVE.search(clause)
    return bool(NEGATION.search(clause[:relative.start()] if relative else clause))


SHARE_WITH_NAMED = re.compile(r"\b(?:share|shares|shared|sharing|disclose|discloses|disclosed)\b[^.]*?\bwith\s+",
                              re.I)
RECIPIENT_WORD = re.compile("|".join(SHARE_WITH))


USED_FOR = re.compile(r"\buses?\s+((?:[\w'’-]+\s+){1,8}?)(?:to|for|in)\b", re.I)
USED_PASSIVE = re.compile(r"\b(?:is|are|will|may|won['’]t|aren['’]t|isn['’]t)\s+(?:be\s+)?(?:not\s+|never\s+)?(?:be\s+)?"
                          r"(?:\w+ly\s+)?used\b", re.I)


def _training(sentences: Sentences) -> tuple[Value, ...]:
    """Whether user data trains AI models, per kind of data when the sentence says ('files
    you add to your notebook' are not used to train; 'your chats' may be)."""
    out = []
    for sentence in sentences.containing(TRAIN_WORD):
        if sentence.rstrip().endswith("?") or QUESTION.match(sentence):
            continue
        match = TRAINS.search(sentence)
        if match:
            stance = "no" if NEGATION.search(sentence[:match.end()]) else "may"
            out.append((_trained_on(sentence[:match.end()]), stance))
    return tuple(out)


def _trained_on(text: str) -> str:
    """What a training statement is about: the words 'use' governs ('we use [your
    content] to train'), or the subject of a passive ('[files you add] are not used')."""
    passive = USED_PASSIVE.search(text)
    if passive:  # the clause's subject, up to a relative clause: '[Files] you add ... are not used'
        words = text[:passive.start()].rsplit(",", 1)[-1].split()
        cut = next((i for i, w in enumerate(words) if i and w.lower() in PRONOUN | PLACE_WORDS), len(words))
        return _noun_phrase(words[:cut][:6])
    found = [m.group(1).split() for m in USED_FOR.finditer(text)]
    return _noun_phrase(found[-1]) if found else ""


# --- terms of service: disputes ----------------------------------------------------------------

ARBITRATION = re.compile(r"\b(?:disputes?|claims?|controvers\w+)\b[^.]*\b(?:resolved|settled|decided|submitted|"
                         r"brought)\b[^.]*\barbitration\b|\bagree\w*\s+(?:that\s+)?(?:to\s+)?(?:resolve\s+[^.]{0,60}?by\s+)?"
                         r"(?:binding\s+|individual\s+|final\s+)*arbitrat\w+|\barbitration agreement\b|"
                         r"\bagreement to arbitrate\b", re.I)
RECOURSE = re.compile(r"privacy framework|\bdpf\b|privacy shield|annex i\b", re.I)  # a framework's recourse, not ours
ARBITRATION_OPT_OUT = re.compile(r"\bopt[- ]out\b[^.]*\barbitrat[^.]*?\bwithin\s+" + NUMBER + r"\s+days|"
                                 r"\bwithin\s+" + NUMBER + r"\s+days\b[^.]*\bopt[- ]out\b[^.]*\barbitrat", re.I)
CLASS_WAIVER = re.compile(r"\bclass[- ]actions?\b[^.]*\bwaive|\bwaive\w*\b[^.]*\bclass(?:[- ]wide|[- ]action)|"
                          r"\bnot as (?:a )?plaintiff or class member|\bno class (?:actions?|arbitrations?)\b", re.I)


def _arbitration(sentences: Sentences) -> tuple[str, ...]:
    """Terms that send disputes to arbitration ('binding arbitration'), and the window to opt
    out of it ('opt-out within 30 days'); a data-transfer framework's arbitration (the DPF's
    recourse for complaints) is not the terms' own."""
    out = []
    for sentence in sentences.containing(re.compile("arbitrat")):
        if RECOURSE.search(sentence) or QUESTION.match(sentence):
            continue
        match = ARBITRATION.search(sentence)
        if match and not _negated(sentence, match.start()):
            out.append("binding arbitration")
        window = ARBITRATION_OPT_OUT.search(sentence)
        if window:
            days = _number(window.group(1) or window.group(2))
            out.append(f"opt-out within {days} days")
    return tuple(out)


def _class_waiver(sentences: Sentences) -> tuple[str, ...]:
    """Terms in which users give up class actions."""
    return tuple("waived" for sentence in sentences.containing(re.compile(r"class")) if CLASS_WAIVER.search(sentence)
                 and not RECOURSE.search(sentence))


def _stance(sentences: Sentences, word: re.Pattern, pattern: re.Pattern) -> tuple[str, ...]:
    """'no' or 'may' for each statement the policy makes about it (in a sentence with ``word``);
    a question ('Do we disclose any information to outside parties?', often a heading) states
    nothing."""
    out = []
    for sentence in sentences.containing(word):
        if sentence.rstrip().endswith("?") or QUESTION.match(sentence):
            continue
        match = pattern.search(sentence)
        if match:
            before = sentence[:match.end()]
            out.append("no" if NEGATION.search(before) else "may")
    return tuple(out)


CUE_FINDER = _finder(TARGETING | TRANSFER_WORDS | REPRESENTATIVE_WORDS | SHARE_WITH | RIGHT_CUES | RIGHT_STEMS |
                     NOT_KEPT_WORDS | KEEP_WORDS | ROLE_WORDS | {"train", "http", "@", "arbitrat", "class"})  # every reader's cues
