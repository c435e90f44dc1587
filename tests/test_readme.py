"""The README and docs/ as a newcomer meets them: every link leads to a page and a heading,
the settings shown load, the command table lists the commands there are, and every command
shown runs as written from a fresh clone."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tracker.cli import cli
from tracker.config import load_config

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]


def anchor(heading: str) -> str:
    """The id GitHub gives a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings(page: Path) -> set[str]:
    return {anchor(h) for h in re.findall(r"^#+ (.*)$", page.read_text(encoding="utf-8"), re.M)}


def blocks(page: Path, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", page.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_link_leads_to_a_file_and_its_heading(page):
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
        if target.startswith(("http://", "https://")):
            continue
        file, _, heading = target.partition("#")
        linked = (page.parent / file) if file else page
        assert linked.exists(), f"{page.name}: {target}"
        if heading:
            assert heading in headings(linked), f"{page.name}: {target}"


def test_the_readme_leaves_nothing_in_docs_unlinked():
    linked = set(re.findall(r"\]\(docs/([^)#\s]+)", README.read_text(encoding="utf-8")))
    assert {p.name for p in PAGES[1:]} <= linked


def test_the_settings_shown_load(tmp_path):
    (snippet,) = blocks(README, "toml")
    (tmp_path / "config.toml").write_text(snippet, encoding="utf-8")
    (policy,) = load_config(tmp_path / "config.toml").policies
    assert policy.name == "github-privacy" and policy.archives == ["ia"]


def test_the_command_table_lists_every_command():
    table = re.findall(r"^\| `tracker (\w+)", README.read_text(encoding="utf-8"), re.M)
    assert sorted(table) == sorted(cli.commands)


def test_ci_runs_the_readme_test_command():
    commands = [block.strip() for block in blocks(README, "sh")]
    assert commands[:2] == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/tracker backfill && .venv/bin/tracker report",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"
        " && .venv/bin/python -m mypy tracker",
    ]
    assert commands[1] in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()


def test_a_bare_tracker_command_comes_after_the_venv_is_activated():
    """A fresh clone has no `tracker` on its PATH: the README says how to get one first."""
    text = README.read_text(encoding="utf-8")
    activated = text.index("source .venv/bin/activate")
    for block in re.finditer(r"```sh\n(.*?)```", text, re.S):
        if re.search(r"^\s*tracker ", block.group(1), re.M):
            assert block.start() > activated, block.group(1)
    assert re.findall(r"`tracker [^`]*`", text[:activated]) == []  # before it: `.venv/bin/tracker`
