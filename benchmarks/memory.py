"""Does a run's memory grow with the number of policies? Peak RSS of `tracker backfill`.

One gzipped WARC file holds 200 synthetic policies, each a realistic page (site chrome around
a sectioned policy of 2,000 to 4,000 words) captured 10 to 20 times, showing 3 to 6 distinct
texts (a retention period, a new paragraph, a renamed heading, a reworded sentence), every
capture with other bytes (a request id in the footer, as real recaptures have). A config
names them as `warc:` archives; `tracker backfill` runs in a process of its own over the
first 10, then over all 200, each into an empty database.

Prints the peak RSS of each run and the ratio 200/10 (target <= 1.5: a run's memory should
depend on its largest policy, not on how many policies it holds).

Usage: python benchmarks/memory.py [SMALL LARGE]
"""

from __future__ import annotations

import io
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

SIZES = [int(a) for a in sys.argv[1:3]] if len(sys.argv) > 2 else [10, 200]

WORDS = ("account address advertising analytics browser cookies contact contract data device "
         "e-mail identifier information interest legal location marketing partners payment "
         "personal preferences processing profile provider purposes request rights security "
         "service settings transfer usage").split()
VERBS = "collect use keep share store process disclose protect delete transfer review update".split()
HEADINGS = ["Information We Collect", "How We Use Information", "Sharing With Third Parties",
            "Cookies and Similar Technologies", "Retention", "Your Rights", "International Transfers",
            "Security", "Children", "Advertising", "Analytics", "Payments", "Location Data",
            "Communications", "Legal Bases", "California Residents", "European Residents",
            "Changes to This Policy", "Data Protection Officer", "Contact Us"]


def sentence(rng: random.Random) -> str:
    words = rng.sample(WORDS, rng.randint(6, 12))
    return (f"We {rng.choice(VERBS)} your {words[0]} {' '.join(words[1:])} "
            f"when you use the service, for {rng.randint(2, 90)} days at most.")


def policy_text(policy: int) -> list[tuple[str, list[str]]]:
    """The first text of a policy: (heading, paragraphs) per section."""
    rng = random.Random(policy)
    headings = rng.sample(HEADINGS, rng.randint(12, 20))
    return [(h, [" ".join(sentence(rng) for _ in range(rng.randint(3, 6))) for _ in range(rng.randint(2, 5))])
            for h in headings]


def next_text(sections: list[tuple[str, list[str]]], rng: random.Random) -> list[tuple[str, list[str]]]:
    """A later text: a few sections edited the way policies are."""
    out = [(h, list(ps)) for h, ps in sections]
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(out))
        heading, paragraphs = out[i]
        edit = rng.randrange(4)
        if edit == 0:
            paragraphs.append(" ".join(sentence(rng) for _ in range(3)))
        elif edit == 1:
            paragraphs[rng.randrange(len(paragraphs))] = " ".join(sentence(rng) for _ in range(4))
        elif edit == 2:
            out[i] = (f"{heading} and Choices", paragraphs)
        else:
            paragraphs[0] = paragraphs[0].replace("days", "months", 1)
    return out


def page(policy: int, sections: list[tuple[str, list[str]]], updated: str, request: str) -> bytes:
    body = "".join(f"<h2>{n}. {h}</h2>" + "".join(f"<p>{p}</p>" for p in ps)
                   for n, (h, ps) in enumerate(sections, start=1))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Privacy Policy | Site {policy}"
            f"</title></head><body><header><nav><a href='/'>Home</a> <a href='/blog'>Blog</a></nav></header>"
            f"<main><article><h1>Privacy Policy</h1><p>Last updated: {updated}</p>{body}"
            f"<p>Write to privacy@site{policy}.example with any question.</p></article></main>"
            f"<footer><p>&copy; Site {policy} Inc. Request {request}</p></footer></body></html>").encode()


def captures(policy: int) -> list[tuple[str, bytes]]:
    """(WARC-Date, body) of each capture of one policy, oldest first."""
    rng = random.Random(10_000 + policy)
    texts = [policy_text(policy)]
    for _ in range(rng.randint(2, 5)):
        texts.append(next_text(texts[-1], rng))
    count = rng.randint(10, 20)
    moment = datetime(2018, 1, 1, tzinfo=timezone.utc) + timedelta(days=policy)
    out = []
    for n in range(count):
        text = min(n * len(texts) // count, len(texts) - 1)
        moment += timedelta(days=rng.randint(20, 60))
        updated = (datetime(2018, 1, 1) + timedelta(days=100 * text)).strftime("%B %-d, %Y")
        out.append((moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    page(policy, texts[text], updated, f"{rng.getrandbits(64):016x}")))
    return out


def write_warc(path: Path, policies: int) -> None:
    """One gzipped WARC of response records (as tests/conftest.py writes them)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        for p in range(policies):
            for date, body in captures(p):
                headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                                      ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
                writer.write_record(writer.create_warc_record(
                    url(p), "response", payload=io.BytesIO(body), http_headers=headers,
                    warc_headers_dict={"WARC-Date": date}))


def url(policy: int) -> str:
    return f"https://site{policy}.example/privacy"


def write_config(folder: Path, warc: Path, policies: int) -> Path:
    lines = [f'[storage]\npath = "{folder / "tracker.db"}"\n']
    for p in range(policies):
        lines += ["[[policy]]", f'name = "site{p}"', f'urls = ["{url(p)}"]', f'archives = ["warc:{warc}"]', ""]
    path = folder / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def peak_rss_mb(config: Path) -> tuple[float, float]:
    """Peak RSS (MB) and seconds of one `tracker backfill` in a process of its own."""
    code = ("import resource, runpy, sys; sys.argv = ['tracker', '--config', sys.argv[1], 'backfill']\n"
            "try:\n    runpy.run_module('tracker', run_name='__main__')\n"
            "finally:\n    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, str(config)], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"tracker backfill failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return int(done.stderr.strip().splitlines()[-1]) / 1024, elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        warc = Path(tmp) / "policies.warc.gz"
        write_warc(warc, max(SIZES))
        peaks = []
        for size in SIZES:
            folder = Path(tmp) / f"run{size}"
            folder.mkdir()
            peak, elapsed = peak_rss_mb(write_config(folder, warc, size))
            peaks.append(peak)
            print(f"backfill of {size} policies: peak RSS {peak:.0f} MB ({elapsed:.0f} s)")
        print(f"ratio {SIZES[-1]}/{SIZES[0]}: {peaks[-1] / peaks[0]:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
