"""Report rendering speed: 100 policies x 50 versions, a full render and a re-render after one
new change.

The store is built here from synthetic policy pages (12 sections, about 900 words; each
version changes one or two sections and sometimes a retention period), as live captures,
and its history derived as `tracker check` would. Building takes a while; only rendering
is timed.

Prints: pages written and seconds for the full render (target <= 10 s), for a re-render with
nothing new, and for a re-render after one new change to one policy (target <= 1 s).

Usage: python benchmarks/report.py
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from tracker import history
from tracker.config import Config, PolicyConfig, StorageConfig
from tracker.models import NewCapture
from tracker.report import render_site
from tracker.store import Store

POLICIES, VERSIONS = 100, 50
TOPICS = ["Information we collect", "How we use information", "Cookies", "Sharing", "Retention", "Security",
          "Children", "International transfers", "Your rights", "California residents", "Changes", "Contact us"]


def page(policy: int, version: int, rng: random.Random) -> bytes:
    sections = []
    for n, topic in enumerate(TOPICS):
        touched = (version + n) % 9 == 0 or (version % 7 == 0 and n == 4)
        sentences = [f"Policy {policy} explains in section {n + 1} how we handle your personal information "
                     f"for {topic.lower()}, and what choices you have about it." for _ in range(5)]
        if touched:
            sentences.append(f"Since revision {version} we keep such data for {30 + version} days.")
        if n == 4:
            sentences.append(f"We retain account data for {30 * (1 + version // 10)} days after deletion.")
        sections.append(f"<h2>{n + 1}. {topic}</h2><p>{' '.join(sentences)}</p>")
    return (f"<!doctype html><html lang='en'><head><title>Privacy Policy {policy}</title></head><body><main>"
            f"<h1>Privacy Policy</h1><p>Last updated: 2020-01-{1 + version % 28:02d}</p>{''.join(sections)}"
            f"</main></body></html>").encode()


def build(folder: Path) -> tuple[Store, Config]:
    rng = random.Random(1)
    config = Config(storage=StorageConfig(folder / "bench.db"))
    config.policy = [PolicyConfig(name=f"policy-{p:03d}", urls=[f"https://policy{p}.example/privacy"], archives=[])
                     for p in range(POLICIES)]
    store = Store(config.database)
    store.runs.sync_policies(config.policies)
    for p, policy in enumerate(config.policies):
        for v in range(VERSIONS):
            add(store, policy, p, v, rng)
        history.rebuild(store, policy)
    return store, config


def add(store: Store, policy: PolicyConfig, p: int, v: int, rng: random.Random) -> None:
    stamp = f"{2015 + v // 12}-{v % 12 + 1:02d}-15T10:00:00.000Z"
    store.captures.add(NewCapture(policy=policy.name, url=policy.urls[0], captured_at=stamp, source="live",
                                  status=200, sha256=None, fetched_at=stamp, content_type="text/html", format="html"),
                       page(p, v, rng))


def timed(label: str, store: Store, config: Config, out: Path) -> None:
    start = time.perf_counter()
    result = render_site(store, config, out)
    elapsed = time.perf_counter() - start
    print(f"{label}: {len(result.written):,} pages written, {result.unchanged:,} unchanged, in {elapsed:.2f} s")


def main() -> None:
    # In the working folder, as reports/ would be (this machine's /tmp creates files ten times slower).
    with tempfile.TemporaryDirectory(dir=Path.cwd(), prefix=".bench-report-") as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        store, config = build(folder)
        print(f"store of {POLICIES} policies x {VERSIONS} versions built in {time.perf_counter() - start:.0f} s")
        out = folder / "reports"
        timed("full render", store, config, out)
        timed("re-render, nothing new", store, config, out)
        policy = config.policies[0]
        add(store, policy, 0, VERSIONS, random.Random(2))
        history.rebuild(store, policy)
        timed("re-render after one new change", store, config, out)
        store.close()


if __name__ == "__main__":
    main()
