"""`tracker add URL`: a policy appended to the user's config file, which keeps every byte it
had, then checked once against a real server."""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from pathlib import Path

import pytest

from conftest import Page, policy_html, run_cli
from tracker import configfile
from tracker.config import load_config
from tracker.configfile import add_policy, default_name

ROOT = Path(__file__).parent.parent

COMMENTED = """\
# Our policies.   Hand-aligned comments stay as they are.
[storage]
path = "snapshots/tracker.db"   # beside this file

[[policy]]
name = "acme"        # the first one we followed
title = "Acme privacy policy"
urls = ["https://acme.example/privacy"]
live = false

# The digest goes to the team.
[email]
to = ["team@example.org"]   # nobody else
# end of file, no newline after this comment"""


def served(site, path: str = "/privacy") -> str:
    site.pages[path] = Page(policy_html())
    return site.url(path)


def test_a_policy_is_appended_below_everything_the_file_had_and_checked(tmp_path, site):
    config = tmp_path / "config.toml"
    config.write_text(COMMENTED, encoding="utf-8")
    url = served(site)

    result = run_cli(config, "add", url, "--name", "shop", "--title", "Shop privacy")

    assert result.exit_code == 0, result.stderr
    text = config.read_text(encoding="utf-8")
    assert text.startswith(COMMENTED)  # comments, layout and the other policies, byte for byte
    assert text[len(COMMENTED):] == f'\n\n[[policy]]\nname = "shop"\ntitle = "Shop privacy"\nurls = ["{url}"]\n'
    acme, shop = load_config(config).policies
    assert (acme.name, shop.name, shop.display_title, shop.urls) == ("acme", "shop", "Shop privacy", [url])
    assert result.out.splitlines()[:2] == [f"added shop to {config}: {url}", "shop new version 1"]
    assert [path for path, _ in site.requests] == ["/privacy"]  # its first check
    history = run_cli(config, "history", "shop")
    assert history.exit_code == 0 and "1 version(s)" in history.stdout


def test_the_shipped_config_keeps_its_demo_and_comments(tmp_path, site):
    config = tmp_path / "config.toml"
    shutil.copy(ROOT / "config.toml", config)
    before = config.read_bytes()

    result = run_cli(config, "add", served(site, "/legal/privacy.html"))

    assert result.exit_code == 0, result.stderr
    assert config.read_bytes().startswith(before)
    assert [p.name for p in load_config(config).policies] == ["krop", "127-0-0-1-privacy"]
    assert "127-0-0-1-privacy new version 1" in result.out
    assert "tracker backfill 127-0-0-1-privacy" in result.out


def test_a_config_that_is_a_symbolic_link_stays_one(tmp_path, site):
    kept = tmp_path / "dotfiles" / "tracker.toml"  # where the user keeps it, under version control
    kept.parent.mkdir()
    kept.write_text(COMMENTED, encoding="utf-8")
    kept.chmod(0o640)
    config = tmp_path / "config.toml"
    config.symlink_to(kept)

    result = run_cli(config, "add", served(site), "--name", "shop")

    assert result.exit_code == 0, result.stderr
    assert config.is_symlink() and config.resolve() == kept  # the link, not a copy in its place
    assert kept.read_text(encoding="utf-8").startswith(COMMENTED) and 'name = "shop"' in kept.read_text()
    assert kept.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "dotfiles", "snapshots"]
    assert sorted(p.name for p in kept.parent.iterdir()) == ["tracker.toml"]  # nothing left beside it


def test_a_missing_config_is_created_and_loads(tmp_path, site):
    config = tmp_path / "config.toml"
    url = served(site)

    result = run_cli(config, "add", url, "--name", "acme")

    assert result.exit_code == 0, result.stderr
    loaded = load_config(config)
    assert [(p.name, p.urls) for p in loaded.policies] == [("acme", [url])]
    assert loaded.database == tmp_path / "snapshots" / "tracker.db" and loaded.database.exists()
    assert "# policy-tracker configuration" in config.read_text(encoding="utf-8")
    assert "acme new version 1" in result.out
    umask = os.umask(0o022)
    os.umask(umask)
    assert config.stat().st_mode & 0o777 == 0o666 & ~umask  # as a file written the ordinary way


@pytest.mark.parametrize("args, error", [
    (["https://other.example/p", "--name", "acme"], "config.toml: a policy named 'acme' exists already"),
    (["https://www.acme.example/privacy/"], "config.toml: https://www.acme.example/privacy/ is tracked already, by policy 'acme'"),
    (["ftp://acme.example/privacy", "--name", "ftp"], "url: 'ftp://acme.example/privacy' is not an http(s) URL"),
    (["https://acme.example/terms", "--name", "Acme Terms"], "name: 'Acme Terms' is not a slug"),
    (["http://[::1"], "url: 'http://[::1' is not a valid URL"),
    (["https://acme.example/terms", "--title", "T\x1b[31mRED\x07"], "title: 'T\\x1b[31mRED\\x07' holds U+001B"),
    (["https://acme.example/terms", "--title", "evil\u202etxt"], "title: 'evil\\u202etxt' holds U+202E"),
    (["https://acme.example/terms", "--title", "bad\udcffbyte"], "holds U+DCFF, a byte that is not UTF-8"),
    (["https://acme.example/terms\udcff"], "url: 'https://acme.example/terms\\udcff' holds U+DCFF"),
    (["https://user:hunter2@acme.example/terms"], "url: 'https://…@acme.example/terms' holds a user name or password"),
])
def test_a_refused_policy_is_one_line_and_leaves_the_file_as_it_was(tmp_path, site, args, error):
    config = tmp_path / "config.toml"
    config.write_text(COMMENTED, encoding="utf-8")

    result = run_cli(config, "add", *args)

    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and error in result.stderr and "hunter2" not in result.stderr
    assert config.read_text(encoding="utf-8") == COMMENTED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]  # no temporary file, no database
    assert site.requests == []


def test_a_derived_name_that_is_taken_says_how_to_choose_another(tmp_path, site):
    config = tmp_path / "config.toml"
    config.write_text(COMMENTED.replace('name = "acme" ', 'name = "127-0-0-1-privacy"'), encoding="utf-8")

    result = run_cli(config, "add", served(site))

    assert result.exit_code == 1
    assert "a policy named '127-0-0-1-privacy' exists already (choose another with --name)" in result.stderr


def test_policies_written_as_an_inline_array_are_left_alone(tmp_path):
    config = tmp_path / "config.toml"
    text = 'policy = [{name = "acme", urls = ["https://acme.example/privacy"]}]\n'
    config.write_text(text, encoding="utf-8")

    result = run_cli(config, "add", "https://shop.example/privacy")

    assert result.exit_code == 1 and "inline array" in result.stderr
    assert config.read_text(encoding="utf-8") == text


def test_a_failed_first_check_keeps_the_policy_and_exits_1(tmp_path, site):
    config = tmp_path / "config.toml"

    result = run_cli(config, "add", site.url("/gone"), "--name", "gone")

    assert result.exit_code == 1
    assert [p.name for p in load_config(config).policies] == ["gone"]
    assert "gone error:" in result.err and "404" in result.stderr


@pytest.mark.parametrize("url, name", [
    ("https://www.example.com/privacy", "example-privacy"),
    ("https://example.com/legal/privacy.html", "example-privacy"),
    ("https://www.bbc.co.uk/usingthebbc/privacy/", "bbc-privacy"),
    ("https://docs.github.com/en/site-policy/privacy-policies/github-general-privacy-statement",
     "github-general-privacy-statement"),
    ("https://example.org/", "example"),
    ("https://example.org/Privacy_Policy?lang=en", "example-privacy-policy"),
])
def test_the_default_name_comes_from_the_site_and_the_page(url, name):
    assert default_name(url) == name


def test_a_read_only_config_is_left_alone(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(COMMENTED, encoding="utf-8")
    config.chmod(0o444)

    result = run_cli(config, "add", "https://shop.example/privacy")

    assert result.exit_code == 1 and result.stderr == f"error: {config}: read-only: not changed\n"
    assert config.read_text(encoding="utf-8") == COMMENTED and config.stat().st_mode & 0o777 == 0o444
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


@pytest.mark.parametrize("start", [b"", b"\xef\xbb\xbf"], ids=["crlf", "bom-crlf"])
def test_windows_line_endings_and_a_bom_are_kept(tmp_path, start):
    config = tmp_path / "config.toml"
    before = start + COMMENTED.replace("\n", "\r\n").encode() + b"\r\n"
    config.write_bytes(before)

    assert [p.name for p in load_config(config).policies] == ["acme"]  # every command reads it
    add_policy(config, "https://shop.example/privacy", "shop")

    after = config.read_bytes()
    assert after.startswith(before)
    assert after[len(before):] == b'\r\n[[policy]]\r\nname = "shop"\r\nurls = ["https://shop.example/privacy"]\r\n'
    assert [p.name for p in load_config(config).policies] == ["acme", "shop"]


def test_a_config_in_a_missing_folder_names_the_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    result = run_cli(Path("nodir/sub/config.toml"), "add", "https://shop.example/privacy")

    assert result.exit_code == 1 and result.stderr == "error: nodir/sub: no such folder\n"
    assert list(tmp_path.iterdir()) == []


def test_two_adds_at_once_keep_both_policies(tmp_path, monkeypatch):
    """The first add has read the file when the second starts: the second waits for it."""
    config = tmp_path / "config.toml"
    config.write_text(COMMENTED, encoding="utf-8")
    load = configfile.load_config
    second = threading.Thread(target=add_policy, args=(config, "https://two.example/privacy", "two"))

    def load_then_start_the_second(path):
        loaded = load(path)
        if threading.current_thread() is threading.main_thread() and not second.is_alive() and not second.ident:
            second.start()
            _until(lambda: not second.is_alive() or _waits_for_lock(tmp_path / ".config.toml.lock"))
        return loaded

    monkeypatch.setattr(configfile, "load_config", load_then_start_the_second)
    add_policy(config, "https://one.example/privacy", "one")
    second.join(timeout=30)

    assert [p.name for p in load_config(config).policies] == ["acme", "one", "two"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]  # the lock file goes too


def _waits_for_lock(lock: Path) -> bool:
    """Whether someone is blocked on ``lock`` (the kernel lists waiters with '->')."""
    try:
        inode = lock.stat().st_ino
    except FileNotFoundError:
        return False
    locks = Path("/proc/locks").read_text()
    return any("->" in line and re.search(rf":{inode} ", line) for line in locks.splitlines())


def _until(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)
