"""How the cost of one `tracker check` grows with a policy's age.

A policy is given a stored history of N captures (N = 100 and 2,000; one capture in ten shows
a new text, one new text in ten returns to an earlier one), then checked against a page
served on 127.0.0.1, in this process (start-up excluded):
- unchanged: the page shows the current text again;
- changed: the page shows a text never seen (one more version and one more change).

Prints, per N: the median time of each kind of check over several runs, the peak memory
(tracemalloc) of a check, and the ratio of the largest N to the smallest (target <= 1.5).

Usage: python benchmarks/check.py
"""

from __future__ import annotations

import http.server
import statistics
import tempfile
import threading
import time
import tracemalloc
from datetime import datetime, timedelta, timezone
from pathlib import Path

from backfill import policy_page  # benchmarks/backfill.py, beside this script
from tracker import history, runs
from tracker.config import Config, FetchConfig, PolicyConfig, StorageConfig
from tracker.models import NewCapture, iso
from tracker.store import Store

SIZES = (100, 2000)
REPEATS = 15


def page(text: int) -> bytes:
    return policy_page(0, text)  # the backfill benchmark's synthetic policy, in its text-th wording


class Server:
    def __init__(self) -> None:
        self.body = b""
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(server.body)))
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/privacy"


def seeded(folder: Path, url: str, captures: int) -> tuple[Config, int]:
    """A config and a store whose policy has ``captures`` captures; returns the current text."""
    policy = PolicyConfig(name="acme", urls=[url], archives=[])
    config = Config(storage=StorageConfig(path=folder / "tracker.db"), fetch=FetchConfig(timeout_s=10),
                    policy=[policy])
    config.storage.path = folder / "tracker.db"
    store = Store(config.database)
    store.runs.sync_policies(config.policies)
    start = datetime(2020, 1, 1, tzinfo=timezone.utc)
    text = 0
    for i in range(captures):
        if i and i % 10 == 0:
            text = text - 3 if i % 100 == 0 else i // 10  # a new text, or back to an earlier one
        when = iso(start + timedelta(hours=i))
        store.captures.add(NewCapture(policy="acme", url=url, captured_at=when, source="live", status=200,
                                      sha256=None, fetched_at=when, content_type="text/html", charset="utf-8"),
                           page(text))
    history.rebuild(store, policy)
    store.close()
    return config, text


def timed_check(config: Config) -> tuple[float, str]:
    store = Store(config.database)
    started = time.perf_counter()
    (outcome,) = runs.check(store, config)
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed, outcome.message


def main() -> None:
    server = Server()
    results = {}
    for size in SIZES:
        with tempfile.TemporaryDirectory() as folder:
            config, current = seeded(Path(folder), server.url, size)
            store = Store(config.database)
            versions = len(store.history.versions("acme"))
            store.close()
            unchanged, changed = [], []
            for n in range(REPEATS):
                server.body = page(current)
                elapsed, message = timed_check(config)
                assert message.startswith("unchanged"), message
                unchanged.append(elapsed)
                server.body = page(100_000 + n)
                elapsed, message = timed_check(config)
                assert message.startswith("new version"), message
                changed.append(elapsed)
                current = 100_000 + n
            server.body = page(current)
            tracemalloc.start()
            timed_check(config)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            results[size] = (statistics.median(unchanged), statistics.median(changed))
            print(f"{size:>5} captures ({versions} versions): check unchanged {results[size][0] * 1000:7.1f} ms, "
                  f"changed {results[size][1] * 1000:7.1f} ms (median of {REPEATS}); "
                  f"peak traced memory {peak / 1e6:.1f} MB")
    small, large = results[SIZES[0]], results[SIZES[-1]]
    print(f"ratio {SIZES[-1]} / {SIZES[0]} captures: unchanged {large[0] / small[0]:.2f}, "
          f"changed {large[1] / small[1]:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
