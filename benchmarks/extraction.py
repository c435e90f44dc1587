"""Extraction quality and speed on the real policy histories in ../shared/corpus.

Prints, per snapshot document:
- noise: of the `role: noise` snapshots, how many give the same text hash as the snapshot
  before them (target 100%);
- against the Markdown Open Terms Archive extracted from the same snapshot (`ota_versions`):
  median word recall, word precision and heading recall, ours beside trafilatura's (when
  trafilatura is installed);
- time per page: median and largest.

Usage: python benchmarks/extraction.py [CORPUS_DIR]
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from tracker.extract import ExtractSettings, assess, extract
from tracker.textparse import parse_text

CORPUS = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "corpus"
WORD = re.compile(r"\w+", re.U)
MD_HEADING = re.compile(r"^(?:#{1,6} \S|[=-]{3,}\s*$)", re.M)


def words(text: str) -> Counter:
    return Counter(w.lower() for w in WORD.findall(text))


def overlap(ours: Counter, truth: Counter) -> tuple[float, float]:
    common = sum((ours & truth).values())
    return common / max(sum(truth.values()), 1), common / max(sum(ours.values()), 1)


def heading_recall(ours: list[str], truth: list[str]) -> float:
    if not truth:
        return 1.0
    norm = lambda h: " ".join(WORD.findall(h.lower()))  # noqa: E731
    mine = {norm(h) for h in ours}
    return sum(1 for h in truth if norm(h) in mine or any(norm(h) in m for m in mine)) / len(truth)


def _as_text(doc) -> str:
    return doc.title + "\n" + "\n".join(f"{s.number} {s.heading}\n{s.text}" for s in doc.all_sections())


def trafilatura_text(html: str) -> tuple[str, list[str]] | None:
    try:
        import trafilatura
    except ImportError:
        return None
    out = trafilatura.extract(html, output_format="markdown", include_tables=True) or ""
    return out, [s.heading for s in parse_text(out).all_sections() if s.heading]


def truth_document(md_path: Path):
    """OTA's Markdown as a reader sees it: its tables keep raw ``<br>`` tags, which are not words."""
    return parse_text(re.sub(r"<[^>]+>", " ", md_path.read_text()))


def main() -> None:
    times: list[tuple[float, int, str]] = []
    noise_same = noise_total = noise_rejected = 0
    # One OTA document can be made of several pages (Grok's policy and its EU addendum):
    # gather every page that produced the same Markdown file and compare them together.
    pages: dict[Path, list[tuple[str, list[str], str | None, list[str]]]] = {}
    for meta_path in sorted(CORPUS.glob("*-snapshots/*/meta.json")):
        meta = json.loads(meta_path.read_text())
        folder = meta_path.parent
        previous_hash = None
        for v in meta["versions"]:
            html = (folder / v["file"]).read_bytes()
            start = time.perf_counter()
            doc = extract(html, "html", None, ExtractSettings())
            times.append((time.perf_counter() - start, len(html), f"{folder.name}/{v['file']}"))
            rejected = assess(doc)
            if v["role"] == "noise":
                noise_total += 1
                noise_same += doc.text_hash == previous_hash
                noise_rejected += doc.text_hash != previous_hash and rejected is not None
                if doc.text_hash != previous_hash and not rejected:
                    print(f"  noise changed the text: {folder.name}/{v['file']}", file=sys.stderr)
            if not rejected:
                previous_hash = doc.text_hash
            for ref in v.get("ota_versions") or []:
                md_path = CORPUS / ref["source"] / ref["doc"] / ref["file"]
                if md_path.exists():
                    traf = trafilatura_text(html.decode("utf-8", "replace"))
                    pages.setdefault(md_path, []).append(
                        (_as_text(doc), [s.heading for s in doc.all_sections()] + [doc.title],
                         traf[0] if traf else None, traf[1] if traf else []))

    per_doc: dict[str, dict[str, list[float]]] = {}
    for md_path, found in pages.items():
        truth_doc = truth_document(md_path)
        has_headings = len(MD_HEADING.findall(md_path.read_text())) >= 2
        truth = words(_as_text(truth_doc))
        truth_headings = [s.heading for s in truth_doc.all_sections() if s.heading]
        stats = per_doc.setdefault(md_path.parent.name, {k: [] for k in
                                   ("recall", "precision", "headings", "t_recall", "t_precision", "t_headings")})
        r, p = overlap(words("\n".join(f[0] for f in found)), truth)
        stats["recall"].append(r)
        stats["precision"].append(p)
        if not has_headings:
            truth_headings = []  # OTA kept a PDF-like text with no headings: nothing to compare
        if truth_headings:
            stats["headings"].append(heading_recall([h for f in found for h in f[1]], truth_headings))
        if found[0][2] is not None:
            tr, tp = overlap(words("\n".join(f[2] for f in found)), truth)
            stats["t_recall"].append(tr)
            stats["t_precision"].append(tp)
            if truth_headings:
                stats["t_headings"].append(heading_recall([h for f in found for h in f[3]], truth_headings))
    rows = [(name, {k: statistics.median(v) if v else None for k, v in stats.items()})
            for name, stats in sorted(per_doc.items())]

    print(f"{'document':58} {'recall':>7} {'prec':>7} {'heads':>7} | {'traf rec':>8} {'prec':>7} {'heads':>7}")
    fmt = lambda x: "    -  " if x is None else f"{x:7.3f}"  # noqa: E731
    for name, s in rows:
        print(f"{name[:58]:58} {fmt(s['recall'])} {fmt(s['precision'])} {fmt(s['headings'])} | "
              f" {fmt(s['t_recall'])} {fmt(s['t_precision'])} {fmt(s['t_headings'])}")
    med = lambda key: statistics.median([s[key] for _, s in rows if s[key] is not None] or [0])  # noqa: E731
    worst = lambda key: min([s[key] for _, s in rows if s[key] is not None] or [0])  # noqa: E731
    print(f"{'median over documents':58} {med('recall'):7.3f} {med('precision'):7.3f} {med('headings'):7.3f} | "
          f" {med('t_recall'):7.3f} {med('t_precision'):7.3f} {med('t_headings'):7.3f}")
    print(f"{'worst document':58} {worst('recall'):7.3f} {worst('precision'):7.3f} {worst('headings'):7.3f} | "
          f" {worst('t_recall'):7.3f} {worst('t_precision'):7.3f} {worst('t_headings'):7.3f}")
    print(f"compared with {len(pages)} OTA Markdown versions, made from "
          f"{sum(len(f) for f in pages.values())} pages")
    print(f"noise snapshots that report no change: {noise_same + noise_rejected}/{noise_total} "
          f"({100 * (noise_same + noise_rejected) / max(noise_total, 1):.0f}%): {noise_same} with the same "
          f"text hash, {noise_rejected} rejected as not the policy")
    ms = sorted(t * 1000 for t, _, _ in times)
    largest = max(times, key=lambda t: t[1])
    print(f"time per page: median {statistics.median(ms):.1f} ms over {len(ms)} pages; "
          f"largest page ({largest[1] / 1e6:.1f} MB, {largest[2]}) {largest[0] * 1000:.0f} ms; slowest {ms[-1]:.0f} ms")


if __name__ == "__main__":
    main()
