"""Key facts against a labelled set of real changes: precision and recall, per kind and overall.

`benchmarks/facts_labels.json` holds 62 changes between consecutive versions of real policies
in ../shared/corpus (and the Krop -> KRROP seed pair), each labelled by a careful reading with
the facts that changed (kind, subject, old value, new value, the sentences they were read
from) and the facts a tool might be tempted to report but must not. Each pair is diffed as
the tracker diffs it; every fact change it reports is split into atoms (a value added, a
value removed, a value changed), as are the labels, and an atom is right when a label of the
same kind names that value on that side: values are compared by their words (numbers
written as words read as digits, dates as dates), and one names the other when its words
stand in the other's ('rep_tinder@prighter.com' in a representative's whole address block,
'Safe Harbor' in 'EU Safe Harbor', '30 days' in 'thirty days after project completion').

An international transfer is known by its destination (the label's subject): the tracker
reads where data goes; the mechanism is a law or framework named. The tracker's
"data collected" list and its "title" have no labels and are left out.

Usage: python benchmarks/facts.py [CORPUS_DIR] [--show]   (--show: each wrong and missed atom)
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

from tracker.dates import find_date
from tracker.diff import diff_documents
from tracker.document import Memo
from tracker.facts import STANCES, facts
from tracker.textparse import parse_text

HERE = Path(__file__).resolve().parent
ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
CORPUS = Path(ARGS[0]) if ARGS else HERE.parents[1] / "shared" / "corpus"
SHOW = "--show" in sys.argv
SEEDS = CORPUS.parent / "seeds"
KIND_OF = {"declared date": "effective date", "contact e-mail": "contact", "postal address": "contact",
           "contact page": "contact",
           "retention": "retention", "minimum age": "minimum age", "law": "law", "third party": "third party",
           "sells data": "sale", "shares data": "sharing", "targeted advertising": "targeted advertising",
           "trains AI on user data": "ai training", "user right": "user right",
           "transfers to": "international transfer"}
STANCE = {"no": "does not", "may": "does"}

Atom = tuple[str, str, str, str]  # (kind, side: "old" or "new", value, the value with its subject)


NUMBER_WORDS = {w: str(n) for n, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())} | {"thirty": "30", "sixty": "60", "ninety": "90"}


def value_key(value: str) -> str:
    """Values compared by their words ('30 days' and '30 Days.'), dates as dates."""
    date = find_date(value)
    if date:
        return date
    return " ".join(NUMBER_WORDS.get(w, w) for w in re.findall(r"\w+", value.lower()))


def names(got: Atom, label: Atom) -> bool:
    """Whether a reported atom names a labelled one: same kind and side, one value in the
    other, or the label's value in the reported value read with its subject (the label
    'judicial remedy' in 'judicial remedy: European Economic Area')."""
    return got[:2] == label[:2] and (f" {got[2]} " in f" {label[2]} " or f" {label[2]} " in f" {got[2]} "
                                     or f" {label[2]} " in f" {got[3]} ")


def matched(got: set[Atom], want: set[Atom]) -> tuple[set[Atom], set[Atom]]:
    """The reported atoms that name a label, and the labels some reported atom names."""
    return {g for g in got if any(names(g, w) for w in want)}, {w for w in want if any(names(g, w) for g in got)}


def reported(change) -> tuple[set[Atom], set[Atom]]:
    """The atoms a change reports, and those it shows only as context: the values of a
    subject that changed and stayed ('user right (appeal): Oregon, Texas -> Iowa, Oregon,
    Texas' shows Oregon and Texas on both sides). Context counts toward recall when a label
    names a whole changed list, never toward precision."""
    atoms: set[Atom] = set()
    context: set[Atom] = set()
    for fact in change.facts:
        kind = KIND_OF.get(fact.name)
        if kind is None:
            continue
        if fact.name in STANCES:
            old = {STANCE.get(v, v) for v in fact.old} or {"not stated"}
            new = {STANCE.get(v, v) for v in fact.new} or {"not stated"}
            atoms |= {atom(kind, "old", v, fact.subject) for v in old - new}
            atoms |= {atom(kind, "new", v, fact.subject) for v in new - old}
            continue
        atoms |= {atom(kind, "old", v, fact.subject) for v in fact.removed}
        atoms |= {atom(kind, "new", v, fact.subject) for v in fact.added}
        if fact.subject and fact.old and fact.new:  # each side of one subject's change is shown whole
            kept = set(fact.old) & set(fact.new)
            context |= {atom(kind, side, v, fact.subject) for v in kept for side in ("old", "new")}
    return atoms, context


def atom(kind: str, side: str, value: str, subject: str = "") -> Atom:
    return kind, side, value_key(value), value_key(f"{subject} {value}")


def labelled(facts: list[dict]) -> set[Atom]:
    atoms: set[Atom] = set()
    stances = {KIND_OF[name] for name in STANCES}
    for fact in facts:
        for side in ("old", "new"):
            if fact[side] is None and fact["kind"] in stances:  # a stance not there is not stated
                atoms.add(atom(fact["kind"], side, "not stated"))
            elif fact[side] is not None:  # a transfer is known by where the data goes
                value = fact["subject"] if fact["kind"] == "international transfer" and fact["subject"] else fact[side]
                atoms.add(atom(fact["kind"], side, value))
    return atoms


def document(change: dict, side: str):
    if change["doc"].startswith("seeds/"):
        return parse_text((SEEDS / change[side]).read_text(encoding="utf-8"))
    return parse_text((CORPUS / change["doc"] / change[side]).read_text(encoding="utf-8"))


def main() -> int:
    labels = json.loads((HERE / "facts_labels.json").read_text(encoding="utf-8"))
    right, wrong, found_labels, missed = Counter(), Counter(), Counter(), Counter()
    forbidden = 0
    for change in labels["changes"]:
        result = diff_documents(document(change, "old"), document(change, "new"))
        (got, context), want = reported(result), labelled(change["facts"])
        good, found = matched(got, want)
        found |= matched(context, want - found)[1]
        for kind, *_ in good:
            right[kind] += 1
        for kind, *_ in got - good:
            wrong[kind] += 1
        for kind, *_ in found:
            found_labels[kind] += 1
        for kind, *_ in want - found:
            missed[kind] += 1
        if SHOW:
            for atom in sorted(got - good):
                print(f"wrong   {change['doc']} {change['new']}: {atom}")
            for atom in sorted(want - found):
                print(f"missed  {change['doc']} {change['new']}: {atom}")
        not_facts = {(n["kind"], value_key(str(n.get("value") or ""))) for n in change.get("not_facts", [])}
        forbidden += sum((kind, value) in not_facts for kind, _, value, _ in got - good)
    kinds = sorted(set(right) | set(wrong) | set(missed))
    print(f"{len(labels['changes'])} labelled changes; atoms: a value added, removed or changed, per side")
    print(f"{'kind':<24} {'precision':>9} {'recall':>7}   right wrong  found missed")
    rows = [(kind, right[kind], wrong[kind], found_labels[kind], missed[kind]) for kind in kinds]
    rows.append(("overall", sum(right.values()), sum(wrong.values()), sum(found_labels.values()), sum(missed.values())))
    for kind, good, bad, hit, miss in rows:
        p = good / (good + bad) if good + bad else float("nan")
        r = hit / (hit + miss) if hit + miss else float("nan")
        print(f"{kind:<24} {p:>9.3f} {r:>7.3f}   {good:>5} {bad:>5} {hit:>6} {miss:>6}")
    print(f"wrong atoms that a label names as a fact not to report: {forbidden}")
    documents = [document(change, side) for change in labels["changes"] for side in ("old", "new")]
    start = time.process_time()
    for doc in documents:
        facts(doc, Memo())  # cold: nothing read before
    print(f"reading the facts of a document, cold: {1000 * (time.process_time() - start) / len(documents):.1f} ms "
          f"of CPU ({len(documents)} documents)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
