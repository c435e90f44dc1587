"""What changed between two versions of a policy, the way a careful reader would say it.

A whole-document diff of a reorganised policy is slow (minutes on real policies) and reads
badly: a moved section shows as a deletion and an unrelated insertion. So sections are
aligned first, by heading and by content, and only the text of each aligned pair is diffed,
word by word. Alignment runs in stages, most certain first; each stage only sees the
sections the earlier ones left unmatched:

1. the same heading (ignoring case, punctuation and numbering);
2. a similar heading (a reworded title) over related text;
3. similar text under another heading (a renamed section);
4. one section's text spread over several (a split) or several gathered into one (a merge);
5. what is left was added or removed.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field, fields
from itertools import chain, repeat

import fast_diff_match_patch
from rapidfuzz import fuzz

from tracker.dates import DATE_PATTERNS, MONTH
from tracker.document import Document, Memo, Section
from tracker.facts import FactChange, Value, compare, facts, unchanged_beside, with_evidence

DIFF_VERSION = 9  # bump when the output of this module changes for the same documents

FUZZY_HEADING = 85  # rapidfuzz ratio of two normalised headings taken as the same title
RELATED_TEXT = 0.3  # overlap (Dice of word pairs) a fuzzy heading match needs, unless the text is short
SIMILAR_TEXT = 0.5  # overlap that matches sections under different headings
CONTAINED = 0.7  # share of a section's word pairs found in another: a part of a split or merge
MIN_PART_WORDS = 8  # a part of a split or merge has at least this many words
INDEX_PARTS = 8  # from this many unmatched sections on, word pairs are indexed (see _shared_pairs)
PARAGRAPH_PAIR = 0.3  # overlap at which a changed paragraph is diffed against a new one
SHORT = 12  # paragraphs this short (in word pairs) in the same place are always compared
PART_OF = 0.6  # share of a paragraph found in another: one was cut out of the other
REWRITE = 0.5  # a change touching at least half of the words is a rewrite

Op = tuple[str, str]  # ("=", "+" or "-", text)


@dataclass(eq=False)  # each unit is one section of one version: the same unit is the same object
class Unit:
    """A section as alignment sees it: its own text, without its sub-sections."""

    index: int
    section: Section
    path: list[str]  # headings of the enclosing sections
    words: str  # the heading's words (see heading_key)
    key: str  # the heading normalised, dates masked: "Last updated: <date>" is one heading
    size: int  # words
    shingles: frozenset  # pairs of neighbouring words: unlike single words, two unrelated
    # paragraphs of one policy rarely share many of them

    @property
    def heading(self) -> str:
        return self.section.heading

    @property
    def says_nothing(self) -> bool:
        """An untitled part with no text of its own: adding or removing it is no change."""
        return not (self.words or self.size)

    def repeats_a_heading(self, other_keys: set[str]) -> bool:
        """A bare heading (no text, no sub-sections) whose heading the other version still
        has: a heading printed twice (a tab's label above its section) is no change."""
        return not (self.size or self.section.children) and self.key in other_keys


UNTITLED = "(opening text)"  # what views call the text before a policy's first heading


def heading_name(heading: str | None) -> str:
    """A section's heading as views name it: the opening text has none, yet needs a name."""
    return heading or UNTITLED


@dataclass
class SectionChange:
    status: str  # unchanged, modified, added, removed, moved, renamed, split, merged
    old_heading: str | None
    new_heading: str | None
    old_path: list[str] = field(default_factory=list)
    new_path: list[str] = field(default_factory=list)
    modified: bool = False  # the text changed (also for a moved or renamed section)
    moved: bool = False
    renamed: bool = False
    parts: list[str] = field(default_factory=list)  # the other side of a split or merge
    old_number: str = ""  # the numbering printed before the heading: "3", "2.1"
    new_number: str = ""
    words_added: int = 0
    words_removed: int = 0
    ops: list[Op] = field(default_factory=list)

    @property
    def heading(self) -> str:
        """The heading a section is known by, the new one before the old one (a split section
        by the one that was split); empty for the opening text."""
        if self.status == "split":
            return self.old_heading or self.new_heading or ""
        return self.new_heading or self.old_heading or ""

    @property
    def display_heading(self) -> str:
        return heading_name(self.heading)

    @property
    def touched(self) -> bool:
        """Whether the change did anything to this section: views list only these."""
        return self.status != "unchanged"

    def to_dict(self) -> dict:
        # by hand: dataclasses.asdict would deep-copy every op, and a rebuild writes thousands
        out = {name: getattr(self, name) for name in _SECTION_FIELDS}
        # an untouched section is listed without its text: it is in the versions
        out["ops"] = [list(op) for op in self.ops] if self.touched else []
        return out

    @classmethod
    def from_dict(cls, data: dict) -> SectionChange:
        return cls(**{**data, "ops": [(op, text) for op, text in data["ops"]]})


_SECTION_FIELDS = [f.name for f in fields(SectionChange)]


@dataclass
class DocumentDiff:
    kind: str  # unchanged, cosmetic, date-only, substantive, rewrite, translated
    magnitude: float  # share of the words of both versions that were added or removed
    sections: list[SectionChange]
    facts: list[FactChange]
    words_added: int = 0
    words_removed: int = 0
    languages: tuple[str, str] | None = None  # translated: the language before and after
    # beside a fact that changed for one subject, the same kind's subjects that did not
    # ("server logs: 90 days (unchanged)"): what a reader checks next
    facts_unchanged: list[FactChange] = field(default_factory=list)

    def to_dict(self) -> dict:
        out = {
            "kind": self.kind, "magnitude": self.magnitude,
            "words_added": self.words_added, "words_removed": self.words_removed,
            "sections": [s.to_dict() for s in self.sections],
            "facts": [f.to_dict() for f in self.facts],
        }
        if self.facts_unchanged:
            out["facts_unchanged"] = [f.to_dict() for f in self.facts_unchanged]
        if self.languages:
            out["languages"] = {"from": self.languages[0], "to": self.languages[1]}
        return out

    @classmethod
    def from_dict(cls, data: dict) -> DocumentDiff:
        """The diff ``to_dict`` wrote; other keys (how a stored diff was made) are not the diff's."""
        languages = data.get("languages")
        return cls(data["kind"], data["magnitude"], [SectionChange.from_dict(s) for s in data["sections"]],
                   [FactChange.from_dict(f) for f in data["facts"]], data["words_added"], data["words_removed"],
                   (languages["from"], languages["to"]) if languages else None,
                   [FactChange.from_dict(f) for f in data.get("facts_unchanged", [])])


def translated(old: Document, new: Document) -> tuple[str, str] | None:
    """The languages of two versions in different languages: their sections are not compared,
    a translation is not a rewrite."""
    if old.language and new.language and old.language != new.language:
        return old.language, new.language
    return None


def diff_documents(old: Document, new: Document, memo: Memo | None = None) -> DocumentDiff:
    """Align the sections of two versions, diff each pair, classify the change. Along a
    history each version is diffed twice (with the one before and the one after) and most
    sections do not change from one version to the next: with one ``memo`` for the
    history, each version and each section text is read once."""
    if languages := translated(old, new):
        return DocumentDiff(kind="translated", magnitude=1.0, sections=[], facts=[], words_added=new.word_count,
                            words_removed=old.word_count, languages=languages)
    memo = memo or Memo()
    before, after = memo.reading(_read, old), memo.reading(_read, new)
    sections = _order(align(before.units, after.units), before.units, after.units)
    added = sum(s.words_added for s in sections)
    removed = sum(s.words_removed for s in sections)
    total = old.word_count + new.word_count
    magnitude = round(min(1.0, (added + removed) / total), 4) if total else 0.0
    changed_facts = [with_evidence(f, old, new, memo, before.facts, after.facts)
                     for f in compare(before.facts, after.facts)]
    return DocumentDiff(kind=classify(before, after, sections, magnitude), magnitude=magnitude, sections=sections,
                        facts=changed_facts, words_added=added, words_removed=removed,
                        facts_unchanged=unchanged_beside(changed_facts, before.facts, after.facts))


@dataclass
class DiffSide:
    """What a diff reads off one version."""

    document: Document
    units: list[Unit]
    facts: dict[str, list[Value]]
    wording: str


def _read(document: Document, memo: Memo) -> DiffSide:
    return DiffSide(document, units(document, memo), facts(document, memo), _wording(document, memo))


def classify(old: DiffSide, new: DiffSide, sections: list[SectionChange], magnitude: float) -> str:
    """cosmetic: only case, punctuation, white space or numbering differ; date-only: only
    dates differ; rewrite: most of the text is new; else substantive."""
    if old.wording == new.wording:
        return "cosmetic" if old.document.text_hash != new.document.text_hash else "unchanged"
    if _same_title(old.document, new.document) and _only_date_words(sections) and _only_dates_differ(sections):
        return "date-only"
    return "rewrite" if magnitude >= REWRITE else "substantive"


def _same_title(old: Document, new: Document) -> bool:
    """Whether the titles the texts give themselves (if any) have the same words."""
    titles = [heading_key(d.title) if d.title_in_text else "" for d in (old, new)]
    return titles[0] == titles[1]


DATE_WORD = re.compile(rf"(?:\d+|st|nd|rd|th|of|{MONTH})$", re.I)


def _only_date_words(sections: list[SectionChange]) -> bool:
    """Every word inserted or deleted could belong to a date (a cheap test before the exact
    one; it stops at the first word that cannot)."""
    if any(s.status in ("added", "removed", "split", "merged") for s in sections):
        return False
    for s in sections:
        words = [word for op, text in s.ops if op != "=" for word in WORD.findall(text)]
        if s.renamed:
            words.extend(set(WORD.findall(s.old_heading or "")) ^ set(WORD.findall(s.new_heading or "")))
        if not all(DATE_WORD.match(word) for word in words):
            return False
    return True


def _only_dates_differ(sections: list[SectionChange]) -> bool:
    """Each changed section reads the same once its dates are masked, and none moved."""
    for s in sections:
        if s.moved:
            return False
        if s.modified or s.renamed:
            old = "".join(text for op, text in s.ops if op != "+")
            new = "".join(text for op, text in s.ops if op != "-")
            if _mask_dates(_words_of(f"{s.old_heading}\n{old}")) != _mask_dates(_words_of(f"{s.new_heading}\n{new}")):
                return False
    return True


def _wording(document: Document, memo: Memo) -> str:
    """The words of a document in order, lower case, without numbering or punctuation."""
    words_of, read_text = memo.of(heading_key), memo.of(_read_text)
    title = [words_of(document.title)] if document.title_in_text else []
    return " ".join(title + [words for s in document.all_sections()
                             for words in (words_of(s.heading), read_text(s.text)[0]) if words])


def _read_text(text: str) -> tuple[str, int, frozenset]:
    """A section's words (lower case, joined by spaces), their number and their pairs (for
    overlaps)."""
    words = WORD.findall(text.lower())
    return " ".join(words), len(words), _pairs(words)


def _words_of(text: str) -> str:
    return " ".join(WORD.findall(text.lower()))


def _mask_dates(text: str) -> str:
    # _wording dropped punctuation, so dates are found in their word form: "2024 05 16",
    # "may 16 2024", "16 5 2024".
    text = re.sub(r"\b\d{4} \d{1,2} \d{1,2}\b|\b\d{1,2} \d{1,2} \d{4}\b", "<date>", text)
    for pattern, _ in DATE_PATTERNS[1:3]:
        text = pattern.sub("<date>", text)
    return text


# --- units and alignment -----------------------------------------------------------------

WORD = re.compile(r"\w+")


def units(document: Document, memo: Memo) -> list[Unit]:
    """The sections in document order, each with the headings enclosing it."""
    words_of, masked, read_text = memo.of(heading_key), memo.of(_mask_dates), memo.of(_read_text)
    out: list[Unit] = []
    stack: list[tuple[Section, list[str]]] = [(top, []) for top in reversed(document.sections)]
    while stack:
        section, path = stack.pop()
        words = words_of(section.heading)
        out.append(Unit(len(out), section, path, words, masked(words), *read_text(section.text)[1:]))
        stack.extend((child, [*path, section.heading]) for child in reversed(section.children))
    return out


def heading_key(heading: str) -> str:
    """'3. Information We Collect:' and 'INFORMATION WE COLLECT' -> 'information we collect'."""
    return _words_of(heading)


def dice(a: frozenset, b: frozenset) -> float:
    """Overlap of two texts, 0 to 1."""
    total = len(a) + len(b)
    return 2 * len(a & b) / total if total else 1.0


def contained(part: frozenset, whole: frozenset) -> float:
    """The share of ``part`` found in ``whole``."""
    return len(part & whole) / len(part) if part else 0.0


@dataclass
class Alignment:
    pairs: list[tuple[Unit, Unit]] = field(default_factory=list)
    splits: list[tuple[Unit, list[Unit]]] = field(default_factory=list)  # one old, several new
    merges: list[tuple[list[Unit], Unit]] = field(default_factory=list)  # several old, one new
    removed: list[Unit] = field(default_factory=list)
    added: list[Unit] = field(default_factory=list)


def align(old: list[Unit], new: list[Unit]) -> Alignment:
    result = Alignment()
    free_old, free_new = list(old), list(new)

    def take(pairs: list[tuple[Unit, Unit]]) -> None:
        result.pairs.extend(pairs)
        free_old[:], free_new[:] = _unpaired(free_old, pairs), _unpaired(free_new, pairs)

    take(_same_heading(free_old, free_new))
    take(_best_pairs(free_old, free_new, _fuzzy_heading_score))
    take(_best_pairs(free_old, free_new, _similar_text_score))
    _splits_and_merges(result, free_old, free_new)
    result.removed, result.added = free_old, free_new
    return result


def _same_heading(old: list[Unit], new: list[Unit]) -> list[tuple[Unit, Unit]]:
    """Sections under the same normalised heading. A heading used more than once (a
    'California' under several parents) is paired by parents first, then by text."""
    pairs = []
    by_key: dict[str, list[Unit]] = {}
    for unit in new:
        by_key.setdefault(unit.key, []).append(unit)
    groups: dict[str, list[Unit]] = {}
    for unit in old:
        groups.setdefault(unit.key, []).append(unit)
    for key, olds in groups.items():
        news = by_key.get(key, [])
        if len(olds) == 1 and len(news) == 1:
            pairs.append((olds[0], news[0]))
        elif news:
            same, olds, news = _same_place_and_text(olds, news)
            pairs.extend(same)
            pairs.extend(_best_pairs(olds, news, lambda a, b: (
                1.0 + dice(a.shingles, b.shingles) if a.path == b.path else dice(a.shingles, b.shingles) + 0.01)))
    return pairs


def _same_place_and_text(old: list[Unit], new: list[Unit]) -> tuple[list[tuple[Unit, Unit]], list[Unit], list[Unit]]:
    """Sections under the same parents with the same word pairs, paired in document order
    (the best score there is: _best_pairs would pair them first, in this order), and the
    sections left. A heading used twenty times, mostly unchanged, is then not scored four
    hundred times."""
    waiting: dict[tuple, list[Unit]] = {}
    for b in new:
        waiting.setdefault((tuple(b.path), b.shingles), []).append(b)
    pairs = []
    for a in old:
        twins = waiting.get((tuple(a.path), a.shingles))
        if twins:
            pairs.append((a, twins.pop(0)))
    return pairs, _unpaired(old, pairs), _unpaired(new, pairs)


def _unpaired(units: list[Unit], pairs: list[tuple[Unit, Unit]]) -> list[Unit]:
    paired = {unit for pair in pairs for unit in pair}
    return [u for u in units if u not in paired]


def _fuzzy_heading_score(a: Unit, b: Unit) -> float:
    if not a.key or not b.key:
        return 0.0
    score = fuzz.ratio(a.key, b.key)
    if score < FUZZY_HEADING:
        return 0.0
    overlap = dice(a.shingles, b.shingles)
    short = min(a.size, b.size) < 20
    return score / 100 + overlap if overlap >= RELATED_TEXT or short else 0.0


def _similar_text_score(a: Unit, b: Unit) -> float:
    if a.size < 5 or b.size < 5:
        return 0.0
    overlap = dice(a.shingles, b.shingles)
    return overlap if overlap >= SIMILAR_TEXT else 0.0


def _best_pairs(old: list[Unit], new: list[Unit], score) -> list[tuple[Unit, Unit]]:
    """Pairs by descending score, each unit used once; ties go to document order."""
    candidates = []
    for a in old:
        for b in new:
            s = score(a, b)
            if s > 0:
                candidates.append((-s, a.index, b.index, a, b))
    candidates.sort(key=lambda c: c[:3])
    used_old, used_new, pairs = set(), set(), []
    for _, i, j, a, b in candidates:
        if i not in used_old and j not in used_new:
            used_old.add(i)
            used_new.add(j)
            pairs.append((a, b))
    return pairs


def _splits_and_merges(result: Alignment, free_old: list[Unit], free_new: list[Unit]) -> None:
    """An unmatched section whose words mostly come from one section on the other side is a
    part of it: that section was split (or several were merged into it)."""
    old_units = [a for a, _ in result.pairs] + free_old
    new_units = [b for _, b in result.pairs] + free_new
    partner_of_old = {a.index: b for a, b in result.pairs}
    partner_of_new = {b.index: a for a, b in result.pairs}
    _gather(result, old_units, partner_of_old, free_old, free_new, split=True)
    _gather(result, new_units, partner_of_new, free_new, free_old, split=False)


def _gather(result: Alignment, wholes: list[Unit], partner_of: dict[int, Unit],
            free_wholes: list[Unit], free_parts: list[Unit], split: bool) -> None:
    """Give each free part a whole on the other side: old wholes for a split, new for a merge."""
    parts_of: dict[int, list[Unit]] = {}
    candidates = [u for u in free_parts if u.size >= MIN_PART_WORDS]
    for unit, shared in zip(candidates, _shared_pairs(candidates, [w.shingles for w in wholes])):
        whole = _home(unit, wholes, shared)
        if whole is not None and not _kept_by_partner(unit, partner_of.get(whole.index)):
            parts_of.setdefault(whole.index, []).append(unit)
    for whole_index, parts in parts_of.items():
        whole = next(u for u in wholes if u.index == whole_index)
        if not split and any(whole in members for _, members in result.splits):
            continue  # already a part of a split: leave these as removed
        partner = partner_of.get(whole_index)
        members = sorted(parts + ([partner] if partner else []), key=lambda u: u.index)
        for unit in parts:
            free_parts.remove(unit)
        if partner is None and len(members) == 1:
            free_wholes.remove(whole)
            result.pairs.append(_old_new(whole, members[0], split))
            continue
        if partner is not None:
            result.pairs.remove(_old_new(whole, partner, split))
        else:
            free_wholes.remove(whole)
        if split:
            result.splits.append((whole, members))
        else:
            result.merges.append((members, whole))


def _kept_by_partner(part: Unit, partner: Unit | None) -> bool:
    """A part whose text its whole's partner still holds was not cut out of the whole: an
    added paragraph that repeats a sentence of an unchanged section is new text, not a split."""
    return partner is not None and contained(part.shingles, partner.shingles) >= CONTAINED


def _old_new(whole: Unit, part: Unit, split: bool) -> tuple[Unit, Unit]:
    """A whole and its part as an (old, new) pair: the whole is the old side of a split."""
    return (whole, part) if split else (part, whole)


def _shared_pairs(parts: list[Unit], texts: list[frozenset]) -> list[list[int]]:
    """For each part, how many word pairs it shares with each whole (``texts``: the wholes'
    word pairs). A few parts are compared with each whole, without a Python loop; many (a
    rewritten policy leaves a hundred sections unmatched on each side) are counted through
    an index of the wholes each word pair occurs in, built once, instead of comparing each
    with each."""
    if len(parts) < INDEX_PARTS:
        return [list(map(len, map(part.shingles.intersection, texts))) for part in parts]
    holders: dict[str, list[int]] = {}
    for i, text in enumerate(texts):
        for pair in text:
            holders.setdefault(pair, []).append(i)
    out = []
    for part in parts:
        counts = Counter(chain.from_iterable(map(holders.get, part.shingles, repeat(()))))
        out.append([counts[i] for i in range(len(texts))])
    return out


def _home(part: Unit, candidates: list[Unit], shared: list[int]) -> Unit | None:
    """The section that holds most of ``part``'s text, if it holds enough of it (``shared``:
    the word pairs each candidate shares with it); ties go to the first in document order."""
    most = max(shared, default=0)
    if most < CONTAINED * len(part.shingles):
        return None
    return min((c for c, n in zip(candidates, shared) if n == most), key=lambda c: c.index)


# --- from an alignment to section changes, in reading order ------------------------------

def _order(alignment: Alignment, old: list[Unit], new: list[Unit]) -> list[SectionChange]:
    """Section changes in the order of the new version; removed sections where they were."""
    in_order = _in_order(alignment.pairs)
    placed: list[tuple[float, SectionChange]] = []
    new_position_of_old: dict[int, float] = {}
    for a, b in alignment.pairs:
        placed.append((b.index, _pair_change(a, b, moved=(a.index, b.index) not in in_order)))
        new_position_of_old[a.index] = b.index
    for whole, parts in alignment.splits:
        placed.append((parts[0].index, _group_change("split", [whole], parts)))
        new_position_of_old[whole.index] = parts[0].index
    for parts, whole in alignment.merges:
        placed.append((whole.index, _group_change("merged", parts, [whole])))
        for part in parts:
            new_position_of_old[part.index] = whole.index
    old_keys, new_keys = {u.key for u in old}, {u.key for u in new}
    for unit in alignment.added:
        if not unit.says_nothing and not unit.repeats_a_heading(old_keys):
            placed.append((unit.index, _one_sided("added", unit)))
    for unit in alignment.removed:
        if unit.says_nothing or unit.repeats_a_heading(new_keys):
            continue
        before = max((new_position_of_old[u.index] for u in old[:unit.index] if u.index in new_position_of_old),
                     default=-1)
        placed.append((before + 0.5 + unit.index / (10 * len(old) + 1), _one_sided("removed", unit)))
    placed.sort(key=lambda p: p[0])
    return [change for _, change in placed]


def _in_order(pairs: list[tuple[Unit, Unit]]) -> set[tuple[int, int]]:
    """The largest set of pairs that kept their relative order (longest increasing
    subsequence of new positions by old position); the other pairs moved."""
    ordered = sorted(((a.index, b.index) for a, b in pairs))
    tails: list[int] = []  # index into ordered of the smallest tail of each length
    back: list[int | None] = [None] * len(ordered)
    i: int | None  # an index into ordered; None past the start of the chain in back
    for i, (_, j) in enumerate(ordered):
        lo, hi = 0, len(tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if ordered[tails[mid]][1] < j:
                lo = mid + 1
            else:
                hi = mid
        back[i] = tails[lo - 1] if lo else None
        if lo == len(tails):
            tails.append(i)
        else:
            tails[lo] = i
    keep, i = set(), tails[-1] if tails else None
    while i is not None:
        keep.add(ordered[i])
        i = back[i]
    return keep


def _pair_change(a: Unit, b: Unit, moved: bool) -> SectionChange:
    ops = word_diff(a.section.text, b.section.text)
    modified = a.section.text != b.section.text
    added, removed = _counts(ops) if modified else (0, 0)  # most sections: unchanged
    renamed = a.words != b.words
    if renamed:
        added += len(WORD.findall(b.heading))
        removed += len(WORD.findall(a.heading))
    status = "renamed" if renamed else "moved" if moved else "modified" if modified else "unchanged"
    return SectionChange(status, a.heading, b.heading, a.path, b.path, modified=modified, moved=moved,
                         renamed=renamed, old_number=a.section.number, new_number=b.section.number,
                         words_added=added, words_removed=removed, ops=ops)


def _group_change(status: str, old: list[Unit], new: list[Unit]) -> SectionChange:
    old_text = "\n".join(u.section.text for u in old)
    new_text = "\n".join(u.section.text for u in new)
    ops = word_diff(old_text, new_text)
    added, removed = _counts(ops)
    if status == "split":
        whole, kept = old[0], _counterpart(old[0], new)
        return SectionChange(status, whole.heading, kept.heading, whole.path, kept.path,
                             modified=bool(added or removed), parts=[u.heading for u in new], words_added=added,
                             words_removed=removed, ops=ops)
    whole, kept = new[0], _counterpart(new[0], old)
    return SectionChange(status, kept.heading, whole.heading, kept.path, whole.path, modified=bool(added or removed),
                         parts=[u.heading for u in old], words_added=added, words_removed=removed, ops=ops)


def _counterpart(whole: Unit, parts: list[Unit]) -> Unit:
    """The part that carries the whole's name on (a section split keeps its heading for one
    of its parts, usually), else the first: each side of a split or merge is named."""
    return next((u for u in parts if u.key == whole.key), parts[0])


def _one_sided(status: str, unit: Unit) -> SectionChange:
    text = unit.section.text
    words = len(WORD.findall(unit.heading)) + len(WORD.findall(text))
    if status == "added":
        return SectionChange(status, None, unit.heading, new_path=unit.path, words_added=words,
                             ops=[("+", text)] if text else [])
    return SectionChange(status, unit.heading, None, old_path=unit.path, words_removed=words,
                         ops=[("-", text)] if text else [])


def _counts(ops: list[Op]) -> tuple[int, int]:
    added = sum(len(WORD.findall(t)) for op, t in ops if op == "+")
    removed = sum(len(WORD.findall(t)) for op, t in ops if op == "-")
    return added, removed


# --- word diff ----------------------------------------------------------------------------

TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(old: str, new: str) -> list[Op]:
    """Insert and delete runs of whole words. Paragraphs (lines) are diffed first; a changed
    paragraph is paired with the most similar new one and only such pairs are diffed word
    by word. A paragraph with no counterpart shows whole, which reads better than a word soup
    and keeps the word diff fast (its cost grows with the product of length and changes)."""
    if old == new:
        return [("=", old)] if old else []
    ops: list[Op] = []
    pending_old: list[str] = []
    pending_new: list[str] = []

    def flush() -> None:
        ops.extend(_paragraph_diff(pending_old, pending_new))
        pending_old.clear()
        pending_new.clear()

    for op, lines in _diff_tokens(old.splitlines(keepends=True), new.splitlines(keepends=True), TokenChars()):
        if op == "=":
            flush()
            ops.append(("=", "".join(lines)))
        elif op == "-":
            pending_old.extend(lines)
        else:
            pending_new.extend(lines)
    flush()
    return _merge(ops)


def _paragraph_diff(old: list[str], new: list[str]) -> list[Op]:
    """Changed paragraphs: related ones paired in order and diffed word by word (also a
    paragraph cut into several, or several joined into one), the rest deleted or inserted
    whole."""
    if len(old) == 1 and len(new) == 1:
        return _token_diff(old[0], new[0])  # one paragraph replaced by one: always comparable
    ops: list[Op] = []
    old_shingles = [_shingles(line) for line in old]
    new_shingles = [_shingles(line) for line in new]
    i = j = 0
    while i < len(old):
        k = next((k for k in range(j, len(new)) if _related(old_shingles[i], new_shingles[k])
                  or (k == j and len(old_shingles[i]) < SHORT and len(new_shingles[k]) < SHORT)), None)
        if k is None:
            ops.append(("-", old[i]))
            i += 1
            continue
        ops.extend(("+", line) for line in new[j:k])
        last_old, last_new = i, k
        while last_new + 1 < len(new) and contained(new_shingles[last_new + 1], old_shingles[i]) >= PART_OF:
            last_new += 1
        while last_old + 1 < len(old) and contained(old_shingles[last_old + 1], new_shingles[k]) >= PART_OF:
            last_old += 1
        ops.extend(_token_diff("".join(old[i:last_old + 1]), "".join(new[k:last_new + 1])))
        i, j = last_old + 1, last_new + 1
    ops.extend(("+", line) for line in new[j:])
    return ops


def _related(a: frozenset, b: frozenset) -> bool:
    return dice(a, b) >= PARAGRAPH_PAIR or contained(a, b) >= PART_OF or contained(b, a) >= PART_OF


def _shingles(text: str) -> frozenset:
    return _pairs(WORD.findall(text.lower()))


def _pairs(words: list[str]) -> frozenset:
    # as "word word" strings: a string keeps its hash, a tuple computes it on every look-up
    return frozenset(map(" ".join, zip(words, words[1:]))) if len(words) > 1 else frozenset(words)


class TokenChars(dict):
    """Token -> a character of its own, from Unicode's private use areas (which hold no
    letter, digit or space, so diff-match-patch's clean-up treats every token alike: the
    diff does not depend on which character a token got). One table per diff."""

    def __missing__(self, token: str) -> str:
        n = len(self)
        code = self[token] = chr(0xE000 + n) if n < 0x1900 else chr(0xF0000 + n - 0x1900)
        return code


def _token_diff(old: str, new: str) -> list[Op]:
    old_tokens, new_tokens = TOKEN.findall(old), TOKEN.findall(new)
    return [(op, "".join(tokens)) for op, tokens in _diff_tokens(old_tokens, new_tokens, TokenChars())]


def _diff_tokens(old: list[str], new: list[str], codes: TokenChars) -> list[tuple[str, list[str]]]:
    """diff-match-patch over sequences of tokens: each distinct token becomes one character.

    fast-diff-match-patch is Google's C++ diff-match-patch: the same diffs as the Python
    package, faster. No time limit: the same inputs always give the same diff, whatever the
    load."""
    a, b = "".join(map(codes.__getitem__, old)), "".join(map(codes.__getitem__, new))
    out, i, j = [], 0, 0
    for op, n in fast_diff_match_patch.diff(a, b, timelimit=0, checklines=False, cleanup="Semantic",
                                            counts_only=True):
        if op == "=":
            out.append(("=", old[i:i + n]))
            i, j = i + n, j + n
        elif op == "-":
            out.append(("-", old[i:i + n]))
            i += n
        else:
            out.append(("+", new[j:j + n]))
            j += n
    return out


def _merge(ops: list[Op]) -> list[Op]:
    """Neighbouring runs of one kind joined into one."""
    out: list[Op] = []
    for op, text in ops:
        if out and out[-1][0] == op:
            out[-1] = (op, out[-1][1] + text)
        elif text:
            out.append((op, text))
    return out
