"""Backfill efficiency and speed against a local archive that speaks the Internet Archive's
dialect (CDX search with resume keys, raw `id_` replay), started here on 127.0.0.1.

The archive holds 10 policies x 100 captures = 1,000 captures with 100 distinct versions:
each policy has 10 texts, shown in 11 runs of captures (one text comes back: a revert). It
is run twice: with the captures of a run byte-identical (recaptures of a static page), and
with every capture carrying other bytes (a request id in the footer, as most real pages do).

Prints, per strategy (`all`, `changes`):
- requests: CDX pages and capture fetches, and fetches per distinct version found
  (target for `all`: <= 1.05 plus the CDX pages); for `changes`, its ratio to `all`;
- versions found (the truth: 100) and changes found;
- time: elapsed, of which waiting on the rate limits (defaults: 30 CDX requests a minute,
  8 captures a second), and captures processed per second with those waits excluded
  (target >= 50/s).

Usage: python benchmarks/backfill.py
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tracker import runs
from tracker.archive import ArchiveClient
from tracker.backfill import Backfill
from tracker.config import ArchiveConfig, Config, FetchConfig, PolicyConfig, StorageConfig
from tracker.store import Store

POLICIES, CAPTURES, TEXTS = 10, 100, 10
RUNS = [0, 1, 2, 3, 4, 5, 4, 6, 7, 8, 9]  # text shown by each run of captures: 4 comes back


def policy_page(policy: int, text: int, noise: str = "") -> bytes:
    sections = "".join(
        f"<h2>{n + 1}. Section {n + 1}</h2><p>Policy {policy} section {n + 1}: we keep your data for "
        f"{30 + 10 * (text if n == text % 6 else 0)} days after you close your account, and we share it "
        f"with service providers who help us run the service{' and our partners' if text > n else ''}.</p>"
        for n in range(6))
    return (f"<!doctype html><html lang='en'><head><title>Privacy Policy {policy}</title></head><body>"
            f"<nav><a href='/'>Home</a></nav><main><h1>Privacy Policy</h1><p>Version {text}. This policy "
            f"explains how we collect, use and protect your personal information.</p>{sections}</main>"
            f"<footer>Contact privacy@example.org {noise}</footer></body></html>").encode()


def archive_contents(noisy: bool) -> dict[str, list[tuple[str, bytes]]]:
    """url -> [(timestamp, body)], oldest first. Noisy: every capture has other bytes (a
    request id in the footer), as most real recaptures do."""
    start = datetime(2015, 1, 1, tzinfo=timezone.utc)
    out = {}
    for p in range(POLICIES):
        rows = []
        for i in range(CAPTURES):
            text = RUNS[i * len(RUNS) // CAPTURES]
            stamp = (start + timedelta(days=30 * i, hours=p)).strftime("%Y%m%d%H%M%S")
            rows.append((stamp, policy_page(p, text, f"request {p}-{i}" if noisy else "")))
        out[f"https://policy{p}.example/privacy"] = rows
    return out


class LocalArchive:
    """CDX search and id_ replay in the Internet Archive's formats, over ``contents``."""

    def __init__(self, contents: dict[str, list[tuple[str, bytes]]]):
        self.contents = contents
        self.cdx_pages = self.replays = 0
        archive = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                if parts.path == "/cdx/search/cdx":
                    archive.cdx_pages += 1
                    self.answer(200, archive.cdx(parse_qs(parts.query)), {"Content-Type": "text/plain"})
                elif parts.path.startswith("/web/"):
                    archive.replays += 1
                    stamp, _, url = self.path[len("/web/"):].partition("id_/")
                    body = dict(archive.contents.get(url, [])).get(stamp)
                    if body is None:
                        self.answer(404, b"not archived", {})
                        return
                    moment = datetime.strptime(stamp, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
                    self.answer(200, body, {"Content-Type": "text/html; charset=utf-8",
                                            "Memento-Datetime": format_datetime(moment, usegmt=True)})
                else:
                    self.answer(404, b"", {})

            def answer(self, status: int, body: bytes, headers: dict) -> None:
                self.send_response(status)
                for k, v in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_port}"

    def cdx(self, query: dict[str, list[str]]) -> bytes:
        url = query["url"][0]
        limit = int(query.get("limit", ["25000"])[0])
        start = int(query.get("resumeKey", ["0"])[0])
        rows = self.contents.get(url, [])
        lines = []
        for stamp, body in rows[start:start + limit]:
            digest = base64.b32encode(hashlib.sha1(body).digest()).decode()
            key = urlsplit(url).netloc + ")" + urlsplit(url).path
            lines.append(f"{key} {stamp} {url} text/html 200 {digest} {len(body)}")
        if start + limit < len(rows):
            lines += ["", str(start + limit)]
        return ("\n".join(lines) + "\n").encode()


def run(strategy: str, archive: LocalArchive, folder: Path) -> dict:
    config = Config(storage=StorageConfig(folder / f"{strategy}.db"), fetch=FetchConfig(contact="benchmark"),
                    archive=ArchiveConfig(cdx_url=f"{archive.base}/cdx/search/cdx", replay_url=f"{archive.base}/web"))
    config.policy = [PolicyConfig(name=f"policy{p}", urls=[f"https://policy{p}.example/privacy"], archives=["ia"])
                     for p in range(POLICIES)]
    store = Store(config.database)
    client = ArchiveClient(config.archive, config.fetch)
    archive.cdx_pages = archive.replays = 0
    start = time.perf_counter()
    reports = list(runs.backfill(store, config, (), Backfill(store, config, client, strategy=strategy)))
    elapsed = time.perf_counter() - start
    waited = sum(h.index.waited + h.captures.waited for h in client.hosts.values())
    stored = store.db.execute("SELECT count(*) FROM captures").fetchone()[0]
    store.close()
    return {"reports": reports, "elapsed": elapsed, "waited": waited, "stored": stored,
            "cdx": archive.cdx_pages, "fetches": archive.replays}


def main() -> None:
    for noisy, label in ((False, "recaptures byte-identical"), (True, "every recapture with other bytes (noise)")):
        archive = LocalArchive(archive_contents(noisy))
        with tempfile.TemporaryDirectory() as tmp:
            results = {s: run(s, archive, Path(tmp)) for s in ("all", "changes")}
        print(f"{label}:")
        for strategy, r in results.items():
            versions = sum(x.versions for x in r["reports"])
            changes = sum(x.changes for x in r["reports"])
            work = r["elapsed"] - r["waited"]
            print(f"  {strategy}: {versions} versions and {changes} changes found (truth: {POLICIES * TEXTS} "
                  f"versions, {POLICIES * (len(RUNS) - 1)} changes)")
            print(f"    requests: {r['cdx']} CDX pages, {r['fetches']} capture fetches = "
                  f"{r['fetches'] / max(versions, 1):.2f} fetches per distinct version, plus the CDX pages")
            print(f"    time: {r['elapsed']:.1f} s, of which {r['waited']:.1f} s waiting on the rate limits; "
                  f"{r['stored']} captures stored, {r['stored'] / work:.0f} captures/s with the waits excluded")
        ratio = results["changes"]["fetches"] / max(results["all"]["fetches"], 1)
        print(f"  changes against all: {results['changes']['fetches']} / {results['all']['fetches']} fetches "
              f"= {ratio:.2f}")
        archive.server.shutdown()


if __name__ == "__main__":
    main()
