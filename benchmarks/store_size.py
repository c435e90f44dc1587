"""How big the store is against what it stores, on the real policy histories in ../shared/corpus.

Every file of the corpus (the raw HTML snapshots under ota-*-snapshots/*/ and the Markdown
versions under ota-*/*/) is stored as a capture of its policy, as benchmarks/equivalence.py
does; every history is derived and the file VACUUMed. Prints the raw bytes of the bodies held,
the file size and their ratio, and without the search index (target <= 0.15) and the index
against the text of every version it covers, the bytes of each table and index (from
SQLite's dbstat table when it is compiled in, else the lengths of the columns), the time to
store every capture and to read every body back, and checks each body comes back byte for byte.

Usage: python benchmarks/store_size.py [CORPUS_DIR] [--keep FILE]
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from tracker.config import PolicyConfig
from tracker.history import rebuild
from tracker.models import NewCapture
from tracker.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from equivalence import histories  # noqa: E402

TARGET = 0.15  # the store without its search index, which is derived and sized on its own
SEARCH_INDEX = ("section_", "sqlite_autoindex_section_")
KEEP = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
ARGS = [a for a in sys.argv[1:] if not a.startswith("--") and a != KEEP]
CORPUS = Path(ARGS[0]) if ARGS else Path(__file__).resolve().parents[2] / "shared" / "corpus"


def fill(store: Store, root: Path) -> tuple[list[PolicyConfig], dict[str, bytes], float]:
    """Store every corpus file as a capture: (policies, body sha256 -> body, seconds spent storing)."""
    policies, bodies, elapsed = [], {}, 0.0
    for name, fmt, files in histories(root):
        policy = PolicyConfig(name=name, urls=[f"https://example.org/{name}"])
        policies.append(policy)
        store.runs.sync_policies([policy])
        for date, file in files:
            if not file.exists():
                continue
            body, stamp = file.read_bytes(), date.replace("Z", ".000Z")
            capture = NewCapture(policy=name, url=policy.urls[0], captured_at=stamp, source="warc", status=200,
                                 sha256=None, fetched_at=stamp, format=fmt,
                                 content_type="text/html" if fmt == "html" else "text/markdown")
            start = time.perf_counter()
            saved = store.captures.add(capture, body)
            elapsed += time.perf_counter() - start
            bodies[saved.sha256] = body
    return policies, bodies, elapsed


def table_bytes(db: sqlite3.Connection) -> dict[str, int]:
    """Bytes on disk per table and index; the lengths of the columns where dbstat is missing."""
    try:
        return dict(db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"))
    except sqlite3.OperationalError:
        out = {}
        for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            total = " + ".join(f"coalesce(length(\"{c}\"), 0)" for c in columns)
            out[table] = db.execute(f"SELECT coalesce(sum({total}), 0) FROM \"{table}\"").fetchone()[0]
        return dict(sorted(out.items(), key=lambda item: -item[1]))


def read_back(store: Store, bodies: dict[str, bytes]) -> tuple[float, int]:
    """Seconds to read every body, and how many differ from what was stored."""
    start = time.perf_counter()
    restored = {sha: store.captures.body(sha) for sha in bodies}
    elapsed = time.perf_counter() - start
    wrong = sum(restored[sha] != body or hashlib.sha256(restored[sha]).hexdigest() != sha
                for sha, body in bodies.items())
    return elapsed, wrong


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "corpus.db"
        store = Store(path)
        policies, bodies, store_time = fill(store, CORPUS)
        start = time.perf_counter()
        for policy in policies:
            rebuild(store, policy)
        rebuild_time = time.perf_counter() - start
        store.db.execute("VACUUM")
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        store.close()
        store = Store(path)  # bodies are read back as a new process reads them, none decoded yet
        read_time, wrong = read_back(store, bodies)
        raw = sum(len(b) for b in bodies.values())
        size = path.stat().st_size
        captures = store.db.execute("SELECT count(*) FROM captures").fetchone()[0]
        print(f"{captures} captures of {len(policies)} policies, {len(bodies)} distinct bodies, "
              f"schema {store.db.schema_version}")
        print(f"raw body bytes: {raw:,}")
        print(f"file size:      {size:,}")
        tables = sqlite3.connect(path)
        sizes = table_bytes(tables)
        index = sum(n for name, n in sizes.items() if name.startswith(SEARCH_INDEX))
        text = tables.execute(  # the text of every version, as the search index covers it
            "SELECT sum((s.last_version - s.first_version + 1) * length(CAST(t.heading || t.text AS BLOB))) "
            "FROM section_versions s JOIN section_texts t ON t.id = s.text_id").fetchone()[0]
        print(f"ratio:          {size / raw:.3f}")
        print(f"without the search index: {size - index:,}, ratio {(size - index) / raw:.3f} (target <= {TARGET})")
        print(f"the search index: {index:,}, {index / text:.3f} of the text of every version ({text:,})")
        for name, nbytes in sizes.items():
            print(f"  {name:28} {nbytes:>12,}  {nbytes / raw:.3f}")
        tables.close()
        print(f"store every capture: {store_time:.2f} s ({len(bodies) / store_time:.0f} bodies/s); "
              f"rebuild every history: {rebuild_time:.1f} s")
        print(f"read every body back: {read_time:.2f} s ({len(bodies) / read_time:.0f} bodies/s); "
              f"restored byte for byte: {len(bodies) - wrong}/{len(bodies)}")
        store.close()
        if KEEP:
            shutil.copy(path, KEEP)
    return 1 if wrong or (size - index) / raw > TARGET else 0


if __name__ == "__main__":
    sys.exit(main())
