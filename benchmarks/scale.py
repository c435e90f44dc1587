"""Does the work scale with workers? A rebuild of every corpus history on SQLite in one
process and on a Dask LocalCluster of 2 worker processes, and on PostgreSQL on clusters of 1
and 2 workers.

Every file of ../shared/corpus is stored as a capture of its policy, as
benchmarks/store_size.py does, and nothing is derived. The store is copied, and each copy is
rebuilt through the Python API (`Tracker.rebuild`, as `tracker rebuild` and `tracker rebuild
--workers 2` do): once from scratch (every capture read and diffed, the heavy case) and once
again (the documents are cached in the store). Prints the wall time of each, the time the
cluster took to start (apart: a command pays it once), the speed-up, and whether the export
JSON of every policy is identical (`detected_at` aside, the moment a change was first derived).

PostgreSQL: the server given by ``--postgres URL`` (a maintenance database such as
postgresql://postgres@127.0.0.1:5432/postgres, on which the benchmark may create
databases), else one of its own made with initdb in a temporary folder (Debian's postgresql
package, as the tests make theirs, but with PostgreSQL's default durability: fsync on). The
corpus is stored once in a database, and each run rebuilds a copy of it (CREATE DATABASE ...
TEMPLATE).

The runs alternate, one configuration after the other, for ``--rounds`` rounds (3), each on
a fresh copy of the store; the best time of each is compared (the machine may be busy with
other work: the load average is printed). Every export is compared with the first
one-process SQLite run's.

Usage: python benchmarks/scale.py [CORPUS_DIR] [--workers N] [--rounds N] [--postgres URL] [--sqlite-only]
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tracker import Tracker
from tracker.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_size import fill  # noqa: E402

WORKERS = int(sys.argv[sys.argv.index("--workers") + 1]) if "--workers" in sys.argv else 2
ROUNDS = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
POSTGRES = sys.argv[sys.argv.index("--postgres") + 1] if "--postgres" in sys.argv else None
SQLITE_ONLY = "--sqlite-only" in sys.argv
ARGS = [a for i, a in enumerate(sys.argv[1:], start=1) if not a.startswith("--") and not sys.argv[i - 1].startswith("--")]
CORPUS = Path(ARGS[0]) if ARGS else Path(__file__).resolve().parents[2] / "shared" / "corpus"


def stored(folder: Path, database: str | None = None) -> list[str]:
    """A store of every corpus capture, nothing derived (in ``database``, a PostgreSQL URL, or
    a SQLite file in ``folder``), and its config.toml: the policy names."""
    store = Store(database or folder / "tracker.db")
    policies, _, _ = fill(store, CORPUS)
    store.close()
    storage = f'url = "{database}"' if database else 'path = "tracker.db"'
    (folder / "config.toml").write_text(f'[storage]\n{storage}\n\n' + "".join(
        f'[[policy]]\nname = "{p.name}"\nurls = {json.dumps(p.urls)}\nlive = false\narchives = []\n\n'
        for p in policies))
    return [p.name for p in policies]


@contextmanager
def postgres_server() -> Iterator[str | None]:
    """The URL of a maintenance database on a PostgreSQL server: --postgres, or our own
    (None with --sqlite-only)."""
    if POSTGRES or SQLITE_ONLY:
        yield POSTGRES
        return
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from conftest import Postgres  # the tests' server: initdb and pg_ctl in a temporary folder

    server = Postgres(durable=True)
    try:
        yield server.admin
    finally:
        server.stop()


def copy_database(admin: str, template: str, name: str) -> str:
    """A new database holding what ``template`` holds: the URL of it."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    return admin.rsplit("/", 1)[0] + "/" + name


def drop_database(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")


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


# (label, store, workers): SQLite in one process and on the cluster; PostgreSQL on 1 and N workers
RUNS = [("SQLite, 1 process", "sqlite", None), (f"SQLite, {WORKERS} workers", "sqlite", WORKERS),
        ("PostgreSQL, 1 worker", "postgresql", 1), (f"PostgreSQL, {WORKERS} workers", "postgresql", WORKERS)]
TEMPLATE = "tracker_corpus"  # the database the corpus is stored in once, copied for each run


def main() -> None:
    runs = [run for run in RUNS if run[1] == "sqlite" or not SQLITE_ONLY]
    results: dict[str, list[dict]] = {label: [] for label, _, _ in runs}
    numbers = itertools.count()
    with tempfile.TemporaryDirectory() as tmp, postgres_server() as admin:
        filled = Path(tmp) / "filled"
        filled.mkdir()
        names = stored(filled)
        if admin:
            (Path(tmp) / "pg").mkdir()
            stored(Path(tmp) / "pg", copy_database(admin, "template0", TEMPLATE))
        for _ in range(ROUNDS):  # interleaved: the machine's other load falls on all alike
            for label, kind, workers in runs:
                folder = Path(tmp) / f"run-{next(numbers)}"
                database = f"tracker_run_{next(numbers)}"
                if kind == "sqlite":
                    shutil.copytree(filled, folder)
                else:
                    shutil.copytree(Path(tmp) / "pg", folder)
                    config = folder / "config.toml"
                    url = copy_database(admin, TEMPLATE, database)
                    config.write_text(config.read_text().replace(url.rsplit("/", 1)[0] + f"/{TEMPLATE}", url))
                results[label].append(rebuilt(folder, workers))
                if kind != "sqlite":
                    drop_database(admin, database)
                shutil.rmtree(folder)
        if admin:
            drop_database(admin, TEMPLATE)
    report(results, names)


def report(results: dict[str, list[dict]], names: list[str]) -> None:
    first = next(iter(results.values()))[0]
    compared = [(run, name) for runs in results.values() for run in runs if run is not first for name in names]
    same = sum(first["exports"][name] == run["exports"][name] for run, name in compared)
    print(f"corpus: {len(names)} histories, {first['versions']} versions; best of {ROUNDS} rounds "
          f"(load average {os.getloadavg()[0]:.2f})")
    print(f"{'':28}{'from scratch':>14}{'with start':>12}{'again':>8}   all from scratch")
    for label, runs in results.items():
        best = min(runs, key=lambda r: r["first"])
        print(f"{label:28}{best['first']:>13.1f}s{best['first'] + best['start']:>11.1f}s"
              f"{min(r['again'] for r in runs):>7.1f}s   " + ", ".join(f"{r['first']:.1f}" for r in runs))
    for one, many in (("SQLite, 1 process", f"SQLite, {WORKERS} workers"),
                      ("PostgreSQL, 1 worker", f"PostgreSQL, {WORKERS} workers"),
                      ("SQLite, 1 process", f"PostgreSQL, {WORKERS} workers")):
        if one in results and many in results:
            a, b = (min(r["first"] for r in results[k]) for k in (one, many))
            print(f"speed-up from scratch, {many} against {one}: {a / b:.2f}x")
    print(f"exports identical to the first SQLite run's: {same}/{len(compared)}")


if __name__ == "__main__":  # the workers are new processes that import this file: they must not run it
    main()
