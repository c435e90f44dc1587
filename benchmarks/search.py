"""Search at scale: the index's size against the text it indexes, and query times, on a store
of 100 policies x 50 versions made from the real histories in ../shared/corpus.

The 39 Markdown histories of the corpus (Open Terms Archive) are cycled to make 100
policies. Each policy takes its history's versions in order, then versions made by one more
edit each (a sentence added to one paragraph, a different one each time, as policies mostly
change), until its derived history has 50 versions. A history used again for another policy has a marker word added to
each paragraph, so that no two policies share a text: sharing would flatter the index, which
keeps each distinct section text once. Every version is stored as a capture and every history
is derived as `tracker rebuild` derives it (documents, changes, the index).

Prints the stored text (each version's text, counted once per version: what the index
covers), the index's bytes (its tables: section texts, which version holds which, the two
FTS5 indexes; from SQLite's dbstat), their ratio (target <= 0.5), and the time of 20
queries a researcher would ask, each the median of 3 runs after one unmeasured run:
median and worst (target: every query <= 100 ms).

Usage: python benchmarks/search.py [CORPUS_DIR] [--keep FILE]
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterator
from itertools import count, islice
import sys
import tempfile
import time
from pathlib import Path

from tracker import Tracker
from tracker.config import Config, PolicyConfig, StorageConfig
from tracker.history import rebuild
from tracker.models import NewCapture

KEEP = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
ARGS = [a for a in sys.argv[1:] if not a.startswith("--") and a != KEEP]
CORPUS = Path(ARGS[0]) if ARGS else Path(__file__).resolve().parents[2] / "shared" / "corpus"
POLICIES, VERSIONS = 100, 50
QUERY_TARGET, SIZE_TARGET = 0.100, 0.5
# longest first: a table's name is the prefix of its own indexes' and FTS5 shadow tables'
INDEX_TABLES = ("section_texts_words", "section_texts_fts", "section_versions", "section_texts")

QUERIES = [
    '"sell your personal information"', "arbitration", 'NEAR(train models, 10)', "cookie*",
    '"données personnelles"', '"data protection officer"', "GDPR", "CCPA OR CPRA", "children NOT COPPA",
    '"legitimate interest"', "biometric", "retain*", '"do not track"', "NEAR(transfer \"United States\", 10)",
    '"delete your account"', '"privacy shield"', '"advertising partners"', '"machine learning"',
    "heading:cookies", "data",
]


def histories() -> list[tuple[str, list[str]]]:
    """(name, the Markdown of each version, oldest first) of each corpus history."""
    out = []
    for meta_path in sorted(CORPUS.glob("ota-*/*/meta.json")):
        if "snapshots" in meta_path.parts[-3]:
            continue
        meta = json.loads(meta_path.read_text())
        texts = [(meta_path.parent / v["file"]).read_text(encoding="utf-8") for v in meta["versions"]
                 if v["file"].endswith(".md")]
        out.append((meta_path.parent.name, texts))
    return out


def versions_of(texts: list[str], copy: int) -> Iterator[str]:
    """The history's texts, then ever more edits of the last: as many as the caller takes."""
    if copy:
        texts = ["\n".join(line + f" copy{copy}" if _paragraph(line) else line for line in text.splitlines())
                 for text in texts]
    yield from texts
    lines = texts[-1].splitlines()
    paragraphs = [i for i, line in enumerate(lines) if _paragraph(line)]
    for n in count(len(texts)):
        at = paragraphs[(n * 7) % len(paragraphs)]
        lines[at] += f" This was revised in revision {n}, to say more about how your data is used."
        yield "\n".join(lines)


def _paragraph(line: str) -> bool:
    return len(line) > 80 and not line.startswith(("#", "|", "-", "*", "="))


def fill(t: Tracker) -> tuple[int, float]:
    """Store and derive every policy: (bytes of stored text, seconds)."""
    start = time.perf_counter()
    sources = histories()
    for i, policy in enumerate(t.config.policies):
        name, texts = sources[i % len(sources)]
        edits, n = versions_of(texts, i // len(sources)), 0
        while (have := len(t.versions(policy.name))) < VERSIONS:
            # a text may read as the one before (markup apart) or come back: store more until
            # the history has VERSIONS versions
            for text in islice(edits, VERSIONS - have):
                body = text.encode("utf-8")
                day = f"{2000 + n // 12:04d}-{n % 12 + 1:02d}-01T00:00:00.000Z"
                t.store.captures.add(NewCapture(
                    policy=policy.name, url=policy.urls[0], captured_at=day, source="warc", status=200,
                    sha256=None, fetched_at=day, content_type="text/markdown", charset="utf-8", format="text",
                    size=len(body)), body)
                n += 1
            rebuild(t.store, policy)
        print(f"\r{i + 1}/{len(t.config.policies)} policies stored and derived", end="", file=sys.stderr)
    print(file=sys.stderr)
    text = 0
    for policy in t.config.policies:
        for version in t.versions(policy.name):
            document = t.document(policy.name, version.number)
            text += len(document.text.encode("utf-8")) if document else 0
    return text, time.perf_counter() - start


def index_bytes(t: Tracker) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for name, size in t.store.db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
        table = next((table for table in INDEX_TABLES if name.startswith(table)
                      or name.startswith(f"sqlite_autoindex_{table}")), None)
        if table:
            sizes[table] = sizes.get(table, 0) + size
    return sizes


def main() -> int:
    folder = Path(tempfile.mkdtemp())
    policies = [PolicyConfig(name=f"p{i:03d}", urls=[f"https://example{i}.test/privacy"], archives=[], live=False)
                for i in range(POLICIES)]
    path = Path(KEEP) if KEEP else folder / "search.db"
    with Tracker(Config(storage=StorageConfig(path=path), policy=policies)) as t:
        text, seconds = fill(t)
        versions = t.store.db.execute("SELECT count(*) FROM versions").fetchone()[0]
        t.store.sections.optimize()
        t.store.db.execute("VACUUM")
        sizes = index_bytes(t)
        index = sum(sizes.values())
        print(f"{POLICIES} policies, {versions} versions, stored and derived in {seconds:.0f} s")
        print(f"store file: {path.stat().st_size / 1e6:.1f} MB")
        print(f"stored text (every version's): {text / 1e6:.1f} MB")
        print(f"index: {index / 1e6:.1f} MB = {index / text:.3f} of the stored text (target <= {SIZE_TARGET})")
        for table, size in sizes.items():
            print(f"  {table:<20} {size / 1e6:6.1f} MB")
        times = []
        for query in QUERIES:
            t.search(query)  # unmeasured: the first run reads the pages from disk
            runs = []
            for _ in range(3):
                start = time.perf_counter()
                hits = t.search(query)
                runs.append(time.perf_counter() - start)
            times.append(statistics.median(runs))
            print(f"  {1000 * times[-1]:7.1f} ms  {len(hits):3d} policies  "
                  f"{sum(len(h.sections) for h in hits):5d} sections  {query}")
        print(f"query time over {len(QUERIES)} queries: median {1000 * statistics.median(times):.1f} ms, "
              f"worst {1000 * max(times):.1f} ms (target: every query <= {1000 * QUERY_TARGET:.0f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
