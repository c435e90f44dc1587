"""Section diff quality and speed on the real policy histories in ../shared/corpus.

Prints:
- rebuild speed: versions and changes derived per second from a store of all the histories
  (each source's recording of a policy is one policy), then from the raw HTML pages of the
  snapshot histories; each first, in a process of its own;
- on the Markdown histories (Open Terms Archive), for consecutive versions: precision and
  recall of "which sections changed" against the sections read off the Markdown's own
  headings (ATX and setext), comparing their visible text (floor 0.95 each);
- how the versions Open Terms Archive marks `technical` (its extraction changed, not the
  policy) are classified, and how many substantive changes the noise-only snapshot pairs give
  (target 0);
- time per consecutive pair (median, 95th percentile, worst) with diff-match-patch and with
  fast-diff-match-patch when installed; the same worst pair diffed as one whole document;
- policies that change language (histories in two languages spliced, with flips around the
  switch): the changes within each language found, one `translated` change per switch, the
  lone captures in the other language set aside.

Usage: python benchmarks/diff.py [CORPUS_DIR] [--rebuild-only | --html-rebuild-only | --quality-only]
"""

from __future__ import annotations

import gc
import json
import re
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

from tracker import diff as diffmod
from tracker.diff import diff_documents, heading_key
from tracker.sections import split_number
from tracker.extract import ExtractSettings, assess, extract
from tracker.textparse import ATX, SETEXT, parse_text

ARGS = [a for a in sys.argv[1:] if not a.startswith("--")]
CORPUS = Path(ARGS[0]) if ARGS else Path(__file__).resolve().parents[2] / "shared" / "corpus"


def markdown_sections(md: str) -> dict[str, str]:
    """Heading key -> visible text of the section, by the Markdown's own headings only."""
    sections: dict[str, list[str]] = {"": []}
    key = ""
    lines = md.splitlines()
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        atx = ATX.match(line)
        if atx or (line.strip() and SETEXT.match(nxt) and not SETEXT.match(line)):
            title, dated = undated(visible(atx.group(2) if atx else line).strip())
            if not title:  # a heading that is only the policy's date: a line of the section it is in
                sections[key].append(dated)
                continue
            key = heading_key(split_number(title)[1])
            sections.setdefault(key, []).append("\f" + dated)  # a heading used twice keeps both texts
        elif SETEXT.match(line) and i and lines[i - 1].strip():
            continue
        else:
            sections[key].append(line)
    out = {k: " ".join(visible("\n".join(v)).split()) for k, v in sections.items()}
    if not out[""]:
        del out[""]  # nothing before the first heading (the title, usually)
    return out


DATE_CUE = re.compile(r"\b(?:last\s+(?:updated|modified|revised|changed)|effective(?:\s+date)?|updated|revised)\b", re.I)


def undated(heading: str) -> tuple[str, str]:
    """A heading that carries the policy's date ('Privacy Policy Last modified: 2022-02-09') is
    the heading ('Privacy Policy') and a date line of its section, as the issue defines it: a new
    date is a change of that section, not a section removed and another added."""
    cue = DATE_CUE.search(heading)
    if cue is None or not re.search(r"\b(?:19|20)\d\d\b", heading[cue.start():]):
        return heading, ""
    return heading[:cue.start()].strip(" -–—:|,(["), heading[cue.start():]


def visible(md: str) -> str:
    md = re.sub(r"!?\[([^\]]*)\]\((?:[^()]|\([^()]*\))*\)", r"\1", md)  # links and images: their text
    md = re.sub(r"<[^>]+>", " ", md)
    return re.sub(r"[*_`\\]", "", md)


INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
QUOTES = str.maketrans("\u2018\u2019\u201c\u201d\u201e", "''\"\"\"")


def wording(md: str) -> str:
    """The words a reader reads, whatever the markup, the invisible characters and the kind of
    quotes: two versions that differ in nothing else are one text."""
    text = INVISIBLE.sub("", visible(md)).translate(QUOTES)
    return " ".join(w for w in text.split() if not re.fullmatch(r"[#=\-|:]+", w))


def truth(old_md: str, new_md: str) -> set[str]:
    old, new = markdown_sections(old_md), markdown_sections(new_md)
    return {k for k in old.keys() | new.keys() if old.get(k) != new.get(k)}


def predicted(result, old_md: str, new_md: str) -> set[str]:
    """The Markdown sections our section changes fall in (a pure move is not a text change)."""
    old_keys, new_keys = markdown_sections(old_md).keys(), markdown_sections(new_md).keys()
    out = set()
    for fact in result.facts:  # a new title is reported as a key fact: the title's heading changed
        if fact.name == "title":
            out.update(key for title, keys in ((fact.old, old_keys), (fact.new, new_keys))
                       for key in map(heading_key, title) if key in keys)
    for s in result.sections:
        if s.status == "unchanged" or (s.status == "moved" and not s.modified):
            continue
        sides = [(s.old_heading, s.old_path, old_keys), (s.new_heading, s.new_path, new_keys)]
        parts = [(p, s.new_path if s.status == "split" else s.old_path,
                  new_keys if s.status == "split" else old_keys) for p in s.parts]
        for heading, path, keys in sides + parts:
            if heading is None:
                continue
            for candidate in [heading, *reversed(path)]:
                if heading_key(candidate) in keys:
                    out.add(heading_key(candidate))
                    break
            else:  # text before the first section heading: under the title, or under nothing
                out.add("" if "" in keys else next(iter(keys), ""))
    return out


def histories() -> list[tuple[str, list[dict], Path]]:
    out = []
    for meta_path in sorted(CORPUS.glob("ota-*/*/meta.json")):
        if "snapshots" in meta_path.parts[-3]:
            continue
        meta = json.loads(meta_path.read_text())
        out.append((meta_path.parent.name, meta["versions"], meta_path.parent))
    return out


class PythonDMP:
    """The pure-Python diff-match-patch behind the one fast-diff-match-patch call tracker.diff makes."""

    def __init__(self):
        from diff_match_patch import diff_match_patch
        self.dmp = diff_match_patch()
        self.dmp.Diff_Timeout = 0

    def diff(self, a: str, b: str, timelimit: int, checklines: bool, cleanup: str, counts_only: bool):
        diffs = self.dmp.diff_main(a, b, checklines)
        self.dmp.diff_cleanupSemantic(diffs)
        return [({0: "=", 1: "+", -1: "-"}[op], len(text)) for op, text in diffs]


def quality_and_speed() -> list[tuple]:
    hits = predicted_total = truth_total = 0
    changed_pairs: list[str] = []
    translations = 0
    found: list[str] = []
    times: list[tuple[float, str]] = []
    technical: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    pairs = []
    for name, versions, folder in histories():
        texts = [(v, (folder / v["file"]).read_text()) for v in versions if (folder / v["file"]).exists()]
        docs = [(v, md, parse_text(md)) for v, md in texts]
        for (_, old_md, old), (v, new_md, new) in zip(docs, docs[1:]):
            if old_md == new_md:
                continue
            start = time.perf_counter()
            result = diff_documents(old, new)
            times.append((time.perf_counter() - start, f"{name} {v['file']}"))
            pairs.append((old, new, f"{name} {v['file']}"))
            kinds[result.kind] += 1
            if v.get("kind") == "technical":
                technical[result.kind] += 1
            if wording(old_md) != wording(new_md):  # a change a reader must be told of
                changed_pairs.append(f"{name} {v['file']}")
                if result.kind != "unchanged":
                    found.append(changed_pairs[-1])
            if result.kind == "translated":
                translations += 1
                continue  # sections are not compared across languages: the change says so, whole
            want, got = truth(old_md, new_md), predicted(result, old_md, new_md)
            hits += len(want & got)
            predicted_total += len(got)
            truth_total += len(want)
    print(f"Markdown histories: {len(times)} consecutive pairs that differ")
    print(f"  change pairs found: {len(found) / len(changed_pairs):.3f} ({len(found)} of the {len(changed_pairs)} "
          f"pairs whose wording changed)")
    for missed in sorted(set(changed_pairs) - set(found))[:10]:
        print(f"    missed: {missed}")
    print(f"  pairs in two languages (translated: no sections compared): {translations}")
    print(f"  sections changed: precision {hits / predicted_total:.3f}  recall {hits / truth_total:.3f}"
          f"  ({hits} of {truth_total} true, {predicted_total} reported)")
    print(f"  kinds: {dict(kinds.most_common())}")
    print(f"  versions OTA marks technical: {dict(technical.most_common())}")
    report_times("first pass, per-section readings warm along each history", [t for t, _ in times], max(times))
    return pairs


def report_times(label: str, times: list[float], worst: tuple[float, str]) -> None:
    times = sorted(times)
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"  time per pair ({label}): median {1000 * statistics.median(times):.1f} ms, "
          f"p95 {1000 * p95:.1f} ms, worst {1000 * worst[0]:.0f} ms ({worst[1]})")


def engines(pairs: list) -> None:
    try:
        python = PythonDMP()
    except ImportError:
        print("  (diff-match-patch not installed: pip install -e '.[bench]')")
        return
    fast = diffmod.fast_diff_match_patch
    results = {}
    for label, engine in (("pure-Python diff-match-patch", python), ("fast-diff-match-patch, used", fast)):
        diffmod.fast_diff_match_patch = engine
        times, results[label] = [], []
        for old, new, name in pairs:
            start = time.perf_counter()
            results[label].append(diff_documents(old, new).to_dict())
            times.append((time.perf_counter() - start, name))
        report_times(label + ", second pass", [t for t, _ in times], max(times))
    diffmod.fast_diff_match_patch = fast
    same = sum(a == b for a, b in zip(*results.values()))
    print(f"  identical diffs from both engines: {same}/{len(pairs)}")
    old, new, _ = max(pairs, key=lambda p: diff_documents(*p[:2]).words_added + diff_documents(*p[:2]).words_removed
                      if p[0].word_count + p[1].word_count > 8000 else 0)
    start = time.perf_counter()
    diffmod._token_diff(old.text, new.text)
    print(f"  the most changed long pair ({old.word_count:,} -> {new.word_count:,} words) diffed word by word "
          f"as one whole text, without section alignment, fast-diff-match-patch: "
          f"{time.perf_counter() - start:.1f} s (pure-Python diff-match-patch: not run, minutes)")


def noise() -> None:
    """Noise-only snapshot pairs, as a history sees them: pages that are not the policy are
    rejected before any diff."""
    substantive = pairs = differ = rejected = 0
    for meta_path in sorted(CORPUS.glob("ota-*-snapshots/*/meta.json")):
        meta = json.loads(meta_path.read_text())
        previous = None
        for v in meta["versions"]:
            path = meta_path.parent / v["file"]
            if not path.exists():
                continue
            doc = extract(path.read_bytes(), "html", None, ExtractSettings())
            if assess(doc):
                rejected += v.get("role") == "noise"
                continue
            if v.get("role") == "noise" and previous is not None:
                pairs += 1
                if doc.text_hash != previous.text_hash:
                    differ += 1
                    substantive += diff_documents(previous, doc).kind in ("substantive", "rewrite")
            previous = doc
    print(f"noise-only snapshots: {pairs + rejected}; {rejected} rejected as not the policy; of the {pairs} "
          f"others, texts differ in {differ}; substantive changes reported: {substantive}")


def rebuild_speed() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        markdown = [(f"{folder.parent.name}-{name}",  # two sources may record the same policy
                     [(v["date"], folder / v["file"]) for v in versions]) for name, versions, folder in histories()]
        store, policies, _ = _filled_store(Path(tmp) / "markdown.db", markdown, "text")
        for label in ("first (extracts every text, diffs every change)",
                      "again (nothing new: documents and diffs reused)",
                      "with every diff redone (documents cached)"):
            if label.startswith("with"):
                store.db.execute("UPDATE changes SET details = NULL")
            runs = _rebuild_all(store, policies)
            print(f"rebuild {label}:")
            for scope, chosen in (("all histories", runs),
                                  ("policies of typical length (under 5,000 words)", [r for r in runs if r[3] < 5000])):
                versions, changes, elapsed = (sum(r[i] for r in chosen) for i in range(3))
                words = sum(r[0] * r[3] for r in chosen) / max(versions, 1)
                print(f"  {scope}: {versions} versions ({words:,.0f} words on average) and {changes} changes "
                      f"in {elapsed:.1f} s: {versions / elapsed:.0f} versions/s")
        store.close()


def html_rebuild_speed() -> None:
    """The raw pages Open Terms Archive fetched: HTML, as captures are, with the pages whose
    markup alone changed (each is read to find its text unchanged)."""
    with tempfile.TemporaryDirectory() as tmp:
        pages = []
        for meta_path in sorted(CORPUS.glob("ota-*-snapshots/*/meta.json")):
            meta = json.loads(meta_path.read_text())
            pages.append((f"{meta_path.parent.parent.name}-{meta_path.parent.name}",
                          [(v["date"], meta_path.parent / v["file"]) for v in meta["versions"]]))
        store, policies, captures = _filled_store(Path(tmp) / "html.db", pages, "html")
        runs = _rebuild_all(store, policies)
        versions, changes, elapsed = (sum(r[i] for r in runs) for i in range(3))
        words = sum(r[0] * r[3] for r in runs) / max(versions, 1)
        print(f"rebuild first, raw HTML pages: {len(policies)} histories, {captures} captures, {versions} versions "
              f"({words:,.0f} words on average) and {changes} changes in {elapsed:.1f} s: "
              f"{versions / elapsed:.0f} versions/s, {captures / elapsed:.0f} captures/s")
        store.close()


def _filled_store(path: Path, histories: list[tuple[str, list[tuple[str, Path]]]], fmt: str):
    """A store holding each history's files as captures: (store, policies, captures stored)."""
    from tracker.config import PolicyConfig
    from tracker.models import NewCapture
    from tracker.store import Store

    store, policies, stored = Store(path), [], 0
    for name, files in histories:
        policy = PolicyConfig(name=name, urls=[f"https://example.org/{name}"])
        policies.append(policy)
        store.runs.sync_policies([policy])
        for date, file in files:
            if file.exists():
                stamp = date.replace("Z", ".000Z")
                store.captures.add(NewCapture(policy=name, url=policy.urls[0], captured_at=stamp, source="warc",
                                              status=200, sha256=None, fetched_at=stamp, format=fmt,
                                              content_type="text/html" if fmt == "html" else "text/markdown"),
                                   file.read_bytes())
                stored += 1
    return store, policies, stored


# A policy that changes language: one history spliced after another in another language, with
# captures flipping back and forth around the switch as a site serving pages by location does.
SWITCHES = [("ota-dating/match-privacy-policy", "ota-dating/parship-privacy-policy"),  # en -> fr
            ("ota-dating/tinder-privacy-policy", "ota-dating/finya-privacy-policy"),  # en -> de
            ("ota-dating/lovescout24-privacy-policy", "ota-dating/happn-privacy-policy")]  # de -> en
SPLICED = 8  # versions taken from each history


def language_switches() -> None:
    """Each spliced history, derived: the changes within each language must all be found, the
    switch must be one `translated` change, and each lone capture in the other language
    (a flip) must be set aside."""
    from tracker.history import rebuild

    cases, kept, wanted, translations, flips, flipped = 0, 0, 0, 0, 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for first, second in SWITCHES:
            a = _history_files(CORPUS / first)[:SPLICED]
            b = _history_files(CORPUS / second)[:SPLICED]
            if not a or not b:
                continue
            # a, then: b1, a_last (a flip back), b1, b2, a_last (a flip), b2, b3 ...
            files = a + [b[0], a[-1], b[0], b[1], a[-1]] + b[1:]
            dated = _daily(files)
            name = f"{first.split('/')[1]}-then-{second.split('/')[1]}"[:60]
            store, (policy,), _ = _filled_store(Path(tmp) / f"{cases}.db", [(name, dated)], "text")
            history = rebuild(store, policy)
            alone = [rebuild(*_single(Path(tmp) / f"{cases}-{side}.db", files_of, side)).changes
                     for side, files_of in (("a", a), ("b", b))]
            cases += 1
            expected = {(c.kind, c.magnitude) for side in alone for c in side}
            found = {(c.kind, c.magnitude) for c in history.changes if c.kind != "translated"}
            wanted += len(expected)
            kept += len(expected & found)
            translations += sum(c.kind == "translated" for c in history.changes)
            flips += 2
            flipped += sum(1 for _, reason in history.assignments.values()
                           if reason and reason.startswith("in another language"))
            store.close()
    print(f"language switches: {cases} histories spliced from two in different languages, with 2 flips each")
    print(f"  changes within one language found: {kept} of {wanted}; translated changes: {translations} "
          f"(one per switch: {cases}); lone captures in the other language set aside: {flipped} of {flips}")


def _history_files(folder: Path) -> list[Path]:
    meta = json.loads((folder / "meta.json").read_text())
    return [folder / v["file"] for v in meta["versions"] if (folder / v["file"]).exists()]


def _daily(files: list[Path]) -> list[tuple[str, Path]]:
    """The files as captures a day apart, in order."""
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    return [((start + timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%SZ"), f) for i, f in enumerate(files)]


def _single(path: Path, files: list[Path], side: str):
    dated = _daily(files)
    store, (policy,), _ = _filled_store(path, [(side, dated)], "text")
    return store, policy


def _rebuild_all(store, policies) -> list[tuple[int, int, float, float]]:
    """Per policy: versions, changes, seconds, mean words per version; each policy rebuilt
    as `tracker rebuild` does it."""
    from tracker.api import _paused
    from tracker.history import rebuild

    runs = []
    for policy in policies:
        start = time.perf_counter()
        with _paused(True):
            history = rebuild(store, policy)
        words = [v.word_count or 0 for v in history.versions]
        runs.append((len(history.versions), len(history.changes), time.perf_counter() - start,
                     sum(words) / max(len(words), 1)))
    return runs


if __name__ == "__main__":
    if "--rebuild-only" in sys.argv:
        rebuild_speed()
        sys.exit(0)
    if "--html-rebuild-only" in sys.argv:
        html_rebuild_speed()
        sys.exit(0)
    # Rebuilds are timed as a user runs them: in a process of their own, not one holding the
    # documents and caches of other measures (which made them 10 to 20% slower), and first,
    # before minutes of other work have slowed the machine down.
    import subprocess
    for flag in ("--rebuild-only", "--html-rebuild-only") if "--quality-only" not in sys.argv else ():
        subprocess.run([sys.executable, __file__, str(CORPUS), flag], check=True)
    # Pairs are timed as `tracker rebuild` meets them: with the cycle collector paused (see
    # tracker.cli.collector_paused), not walking every document this process holds.
    gc.disable()
    pairs = quality_and_speed()
    engines(pairs)
    del pairs
    noise()
    language_switches()
