"""Write the README's screenshots of the demo's change page, history page and index
(docs/change-page.png, docs/history-page.png, docs/index-page.png): the Krop demo backfilled
and rendered in a temporary folder, opened in headless Chromium at 1280 px.

    .venv/bin/python docs/screenshots.py
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from tracker import Tracker
from tracker.report import render_site

ROOT = Path(__file__).resolve().parents[1]
# a page's path in the reports (a pattern: a change page is named by its capture) -> its picture
# and how much of the page it shows (None: all of it; the change page's diff runs on for screens)
SHOTS: dict[str, tuple[str, int | None]] = {
    "krop/change-*.html": ("change-page.png", 1100),
    "krop/index.html": ("history-page.png", None),
    "index.html": ("index-page.png", None),
}


def main() -> None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        sys.exit("docs/screenshots.py: Chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        shutil.copy(ROOT / "config.toml", work / "config.toml")
        (work / "examples").mkdir()
        shutil.copy(ROOT / "examples" / "krop-demo.warc.gz", work / "examples")
        with Tracker(work / "config.toml") as tracker:
            tracker.backfill()
            render_site(tracker.store, tracker.config, work / "reports")
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=browser, args=["--no-sandbox", "--disable-gpu"])
            page = chromium.new_page(viewport={"width": 1280, "height": 900})
            for pattern, (name, height) in SHOTS.items():
                (path,) = (work / "reports").glob(pattern)  # the demo has one change
                page.goto(path.as_uri())
                clip = {"x": 0, "y": 0, "width": 1280, "height": height} if height else None
                page.screenshot(path=str(ROOT / "docs" / name), full_page=True, clip=clip)
                print(f"docs/{name}")
            chromium.close()


if __name__ == "__main__":
    main()
