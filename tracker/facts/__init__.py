"""Key facts of a policy version, and how they moved in a change.

Readers of a changed policy ask the same few questions first: is the date new, can I still
write to the same address, how long do they keep my data, from what age, under which laws,
who else gets my data, what do they collect, do they sell it. Each fact is a set of short
values read off the text, so that a change reads as "minimum age 13 -> 17" or "GDPR added",
and each value that changed is shown with the sentence that states it (its evidence).

Here: the facts of a version (a block at a time, then what only the whole document says: its
dates, the third parties it names, what it collects), how two versions' facts compare, and
the evidence of a change. The readers live in modules named for what they read:
``contacts`` (e-mails, postal addresses, contact pages), ``periods`` (retention, minimum
ages), ``names`` (laws, third parties), ``places`` (countries, states, transfers),
``statements`` (selling, sharing, advertising, AI training, rights, disputes); ``text``
holds what they share, ``model`` the dataclasses that flow.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rapidfuzz import fuzz

from tracker.dates import find_date, stated_dates
from tracker.document import Document, Memo, Section
from tracker.facts.contacts import (EMAILS_HIDDEN, HIDDEN_EMAIL, REACH, REPRESENTATIVE, REPRESENTATIVE_WORDS,
                                    ROLE_REACH, ROLE_WORDS, _addresses, _authority_block, _contact_pages, _emails,
                                    _regulator_sections, _role, _short_runs, _unhidden)
from tracker.facts.model import FACT_NAMES, STANCES, SUBJECTED, Evidence, FactChange, Value
from tracker.facts.names import (_companies, _company, _known_parties, _laws, _linked_party, _not_representatives,
                                 _one_per_company, _other_companies, _party_rows, _tabled_parties)
from tracker.facts.periods import KEEP_WORDS, NOT_KEPT_WORDS, _ages, _retention
from tracker.facts.places import COUNTRY_FINDER, TRANSFER_WORDS, _destinations
from tracker.facts.statements import (ADS_WORD, RIGHT_CUES, RIGHT_STEMS, SELL, SELL_WORD, SHARE_WITH, TARGETED,
                                      TARGETING, _arbitration, _class_waiver, _rights, _sharing, _stance, _training)
from tracker.facts.text import Sentences, _finder, _whole_words


def facts(document: Document, memo: Memo | None = None) -> dict[str, list[Value]]:
    """Every key fact of a version, each a sorted list of distinct (subject, value). Each fact
    is read within a sentence or a line, so a version's facts are those of its blocks; along a
    history most blocks recur: ``memo`` reads each once, also when a long section changes
    by a word."""
    memo = memo or Memo()
    block_facts = memo.of(_block_facts)
    found: dict[str, list[Value]] = {name: [] for name in FACT_NAMES}
    companies: list[tuple[str, str]] = []
    representing: set[str] = set()
    regulators = _regulator_sections(document)
    for section in document.all_sections():
        for text in (section.heading, *_texts(section)):
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
    found["declared date"] = _declared_dates(document, memo)
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
        if subject:
            out.append((subject.strip(" .:*#"), day))
    return out


def _texts(section: Section) -> list[str]:
    return [b.text for b in section.blocks]


def _sort_key(fact: Value) -> tuple:
    subject, value = fact
    number = re.match(r"\d+", value)
    return (subject.lower(), int(number.group()) if number else 1 << 30, value.lower(), fact)  # the last: deterministic


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


CUE_FINDER = _finder(TARGETING | TRANSFER_WORDS | REPRESENTATIVE_WORDS | SHARE_WITH | RIGHT_CUES | RIGHT_STEMS |
                     NOT_KEPT_WORDS | KEEP_WORDS | ROLE_WORDS | {"train", "http", "@", "arbitrat", "class"})  # every reader's cues


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


# --- how the facts of two versions compare ----------------------------------------------------

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


# --- the sentences that state a change's values --------------------------------------------------

def with_evidence(change: FactChange, old: Document, new: Document, memo: Memo,
                  old_facts: dict[str, list[Value]], new_facts: dict[str, list[Value]]) -> FactChange:
    """The change with the sentences that state its values: the values that went, in the old
    version, and those that came, in the new (a stance's values on both sides). ``old_facts``
    and ``new_facts``: the versions' facts, as the change was found in them."""
    shown = (change.old, change.new) if change.name in STANCES else (change.removed, change.added)
    change.old_evidence = evidence(old, change.name, shown[0], memo, _subject_in(change, old_facts, change.old))
    change.new_evidence = evidence(new, change.name, shown[1], memo, _subject_in(change, new_facts, change.new))
    return change


def _subject_in(change: FactChange, facts_of: dict[str, list[Value]], side: list[str]) -> str:
    """The subject the change's values have in one version: a reworded subject is the new
    version's words, not the old one's."""
    if change.name not in SUBJECTED:
        return ""
    values = set(side)
    subjects = [subject for subject, value in facts_of.get(change.name, []) if value in values]
    return change.subject if change.subject in subjects or not subjects else \
        max(subjects, key=lambda s: fuzz.token_set_ratio(s, change.subject))


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
