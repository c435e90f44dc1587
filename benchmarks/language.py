"""How well and how fast a document's language is identified, on every page of the corpus.

Each page of ../shared/corpus (Markdown versions and raw HTML snapshots) is extracted as the
tracker extracts it, and its language identified (`tracker.language`). The expected language
is the one its publisher wrote it in, labelled by hand below: every history is in one
language except Yahoo's, whose recorder was served the French page and the English one in
turn (the French copies open with a French menu, "Accueil" or "CGU"). Prints the accuracy,
the pages left without a language, the cost per page and the one-off cost of reading the
model.

Usage: python benchmarks/language.py [CORPUS_DIR]
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

from tracker import language
from tracker.document import Memo
from tracker.extract import ExtractSettings, Unreadable, extract

GERMAN = {"finya-privacy-policy", "lovescout24-privacy-policy"}
FRENCH = {"parship-privacy-policy"}
FRENCH_OPENINGS = ("*   _⌂_ **Accueil**", "*   CGU")  # Yahoo's French copies


def expected(doc: str, body: bytes) -> str | None:
    if not body.strip():
        return None  # an empty capture has no language
    if doc in GERMAN:
        return "de"
    if doc in FRENCH or (doc == "yahoo-privacy-policy" and body.decode("utf-8").startswith(FRENCH_OPENINGS)):
        return "fr"
    return "en"


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "corpus"
    started = time.perf_counter()
    language._identifier()
    load_s = time.perf_counter() - started
    costs, wrong, unknown, pages = [], [], [], 0
    for meta_path in sorted(root.glob("ota-*/*/meta.json")):
        meta = json.loads(meta_path.read_text())
        fmt = "html" if "snapshots" in meta_path.parts[-3] else "text"
        for entry in meta["versions"]:
            file = meta_path.parent / entry["file"]
            if not file.exists():
                continue
            body = file.read_bytes()
            try:
                document = extract(body, fmt, None, ExtractSettings())
            except Unreadable:
                continue
            pages += 1
            started = time.perf_counter()
            found = language.detect_language(document.lines, Memo())  # a new memo: nothing remembered
            costs.append(time.perf_counter() - started)
            want = expected(meta_path.parent.name, body)
            if found is None and want is not None:
                unknown.append(f"{meta_path.parent.name}/{entry['file']}")
            elif found != want:
                wrong.append(f"{meta_path.parent.name}/{entry['file']}: {found}, expected {want}")
    right = pages - len(wrong) - len(unknown)
    costs.sort()
    print(f"pages: {pages}")
    print(f"accuracy: {right / pages:.4f} ({right} right, {len(wrong)} wrong, {len(unknown)} without a language)")
    print(f"cost per page: median {statistics.median(costs) * 1000:.2f} ms, "
          f"p95 {costs[int(len(costs) * 0.95)] * 1000:.2f} ms, max {costs[-1] * 1000:.2f} ms")
    print(f"reading the model (once per process): {load_s:.2f} s")
    for line in wrong + unknown:
        print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
