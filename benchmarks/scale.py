"""Does the work scale with workers? A rebuild of every corpus history, in one process and on
a Dask LocalCluster of 2 worker processes, on SQLite.

Every file of ../shared/corpus is stored as a capture of its policy, as
benchmarks/store_size.py does, and nothing is derived. The store is copied, and each copy is
rebuilt through the Python API (`Tracker.rebuild`, as `tracker rebuild` and `tracker rebuild
--workers 2` do): once from scratch (every capture read and diffed, the heavy case) and once
again (the documents are cached in the store). Prints the wall time of each, the time the
cluster took to start (apart: a command pays it once), the speed-up, and whether the export
JSON of every policy is identical (`detected_at` aside, the moment a change was first derived).

The runs alternate, one process then the cluster, for ``--rounds`` rounds (3), each on a fresh
copy of the store; the best time of each is compared (the machine may be busy with other work:
the load average is printed). Every export is compared with the first one-process run's.

Usage: python benchmarks/scale.py [CORPUS_DIR] [--workers N] [--rounds N]
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tracker import Tracker
from tracker.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_size import fill  # noqa: E402

WORKERS = int(sys.argv[sys.argv.index("--workers") + 1]) if "--workers" in sys.argv else 2
ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
ARGS = [a for i, a in enumerate(sys.argv[1:], start=1) if not a.startswith("--") and not sys.argv[i - 1].startswith("--")]
CORPUS = Path(ARGS[0]) if ARGS else Path(__file__).resolve().parents[2] / "shared" / "corpus"


def stored(folder: Path) -> list[str]:
    """A store of every corpus capture, nothing derived, and its config.toml: the policy names."""
    store = Store(folder / "tracker.db")
    policies, _, _ = fill(store, CORPUS)
    store.close()
    (folder / "config.toml").write_text('[storage]\npath = "tracker.db"\n\n' + "".join(
        f'[[policy]]\nname = "{p.name}"\nurls = {json.dumps(p.urls)}\nlive = false\narchives = []\n\n'
        for p in policies))
    return [p.name for p in policies]


def rebuilt(folder: Path, workers: int | None) -> dict:
    """Wall times of a first rebuild and of a second, and the exports."""
    with Tracker(folder / "config.toml", workers) as tracker:
        start = time.perf_counter()
        cluster = tracker.cluster
        started = time.perf_counter() - start if cluster else 0.0
        times = []
        for _ in range(2):
            start = time.perf_counter()
            results = tracker.rebuild(collector_paused=True)
            times.append(time.perf_counter() - start)
            assert not any(r.error for r in results), [r.error for r in results if r.error]
        exports = {}
        for name in [p.name for p in tracker.config.policies]:
            data = tracker.export(name)
            for change in data["changes"]:
                change.pop("detected_at", None)
            exports[name] = json.dumps(data, sort_keys=True, ensure_ascii=False)
    versions = sum(len(json.loads(e)["versions"]) for e in exports.values())
    return {"start": started, "first": times[0], "again": times[1], "exports": exports, "versions": versions}


def main() -> None:
    serial, parallel = [], []
    with tempfile.TemporaryDirectory() as tmp:
        filled = Path(tmp) / "filled"
        filled.mkdir()
        names = stored(filled)
        for n in range(ROUNDS):  # interleaved: the machine's other load falls on both alike
            for runs, workers in ((serial, None), (parallel, WORKERS)):
                folder = Path(tmp) / f"{n}-{workers}"
                shutil.copytree(filled, folder)
                runs.append(rebuilt(folder, workers))
                shutil.rmtree(folder)
    same = sum(serial[0]["exports"][n] == p["exports"][n] for n in names for p in parallel + serial[1:])
    print(f"corpus: {len(names)} histories, {serial[0]['versions']} versions; SQLite; best of {ROUNDS} rounds "
          f"(load average {os.getloadavg()[0]:.2f})")
    print(f"{'':28}{'1 process':>12}{f'{WORKERS} workers':>12}{'speed-up':>10}")
    for key, label in (("first", "rebuild from scratch"), ("again", "rebuild again (cached)")):
        one, many = min(r[key] for r in serial), min(r[key] for r in parallel)
        print(f"{label:28}{one:>11.1f}s{many:>11.1f}s{one / many:>9.2f}x   "
              f"(all: {', '.join(f'{r[key]:.1f}' for r in serial)} / {', '.join(f'{r[key]:.1f}' for r in parallel)})")
    one, many = min(r["first"] for r in serial), min(r["first"] + r["start"] for r in parallel)
    print(f"{'  with the cluster start':28}{'':>12}{many:>11.1f}s{one / many:>9.2f}x   "
          "(start: " + ", ".join(f"{r['start']:.1f}" for r in parallel) + ")")
    print(f"exports identical: {same}/{len(names) * (2 * ROUNDS - 1)}")


if __name__ == "__main__":  # the workers are new processes that import this file: they must not run it
    main()
