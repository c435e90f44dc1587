"""Configuration: every mistake is named with the file, the key path and the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import run_tracker
from tracker.config import load_config
from tracker.errors import ConfigError

GOOD = """
[storage]
path = "data/t.db"

[fetch]
timeout_s = 5
contact = "mailto:me@example.org"

[[policy]]
name = "krop"
title = "Krop"
urls = ["https://www.krop.com/privacy", "https://krrop.com/trust"]

[[policy]]
name = "other"
urls = ["https://example.org/privacy"]
archives = ["ia", "memento:https://archive.example.org/", "warc:crawls/*.warc.gz"]
live = false
"""


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(config_file(tmp_path, text))
    return str(info.value)


def test_a_good_config_loads_with_defaults(tmp_path):
    config = load_config(config_file(tmp_path, GOOD))
    krop, other = config.policies
    assert krop.current_url == "https://krrop.com/trust"
    assert krop.archives == ["ia"] and krop.live is True
    assert other.live is False and other.display_title == "other"
    assert config.database == tmp_path / "data" / "t.db"  # relative to the config file
    assert config.fetch.timeout_s == 5.0 and config.fetch.max_bytes == 10_000_000
    assert config.fetch.full_user_agent.endswith("(+mailto:me@example.org)")


def test_the_shipped_example_config_is_valid():
    config = load_config(Path(__file__).parent.parent / "config.toml")
    assert config.policies


@pytest.mark.parametrize("text, expected", [
    (GOOD.replace('title = "Krop"', 'titel = "Krop"'),
     "policy[1].titel: unknown key (did you mean 'title'?)"),
    (GOOD.replace("[fetch]", "[fetsh]"), "fetsh: unknown key (did you mean 'fetch'?)"),
    (GOOD.replace("timeout_s = 5", 'timeout_s = "5"'), "fetch.timeout_s: must be a number, not a string '5'"),
    (GOOD.replace("timeout_s = 5", "timeout_s = 0"), "fetch.timeout_s: must be greater than 0, not 0.0"),
    (GOOD.replace("live = false", 'live = "no"'), "policy[2].live: must be true or false, not a string 'no'"),
    (GOOD.replace('urls = ["https://example.org/privacy"]', 'urls = "https://example.org/privacy"'),
     "policy[2].urls: must be a list, not a string"),
    (GOOD.replace("https://krrop.com/trust", "krrop.com/trust"),
     "policy[1].urls: 'krrop.com/trust' is not an http(s) URL"),
    (GOOD.replace('urls = ["https://example.org/privacy"]', "urls = []"),
     "policy[2].urls: must list at least one URL"),
    (GOOD.replace('name = "other"', 'name = "krop"'),
     "policy[2].name: duplicate name 'krop' (also policy[1])"),
    (GOOD.replace('name = "other"', 'name = "Other Policy"'),
     "policy[2].name: 'Other Policy' is not a slug"),
    (GOOD.replace('name = "other"\n', ""), "policy[2].name: missing (required)"),
    (GOOD.replace('"ia", "memento', '"wayback", "memento'), "policy[2].archives: 'wayback' is not an archive"),
    (GOOD.replace("max_bytes", "x").replace("timeout_s = 5", "max_bytes = 1.5"),
     "fetch.max_bytes: must be an integer, not a decimal number 1.5"),
    (GOOD.replace('[storage]\npath = "data/t.db"', "storage = 3"), "storage: must be a table, not an integer"),
    (GOOD.replace('name = "other"', 'name = "other"\nlanguage = "French"'),
     "policy[2].language: 'French' is not a language code"),
    (GOOD.replace("timeout_s = 5", 'timeout_s = 5\naccept_language = "fr\\r\\nX-Evil: 1"'),
     "fetch.accept_language: 'fr\\r\\nX-Evil: 1' is not an Accept-Language value"),
    (GOOD.replace('title = "Krop"', 'title = "T\\u001b[31mRED\\u0007"'),
     "policy[1].title: 'T\\x1b[31mRED\\x07' holds U+001B, a control character"),
    (GOOD.replace('title = "Krop"', 'title = "Krop\\u0085"'), "policy[1].title: 'Krop\\x85' holds U+0085"),
    (GOOD.replace('title = "Krop"', 'title = "Krop \\u2066x"'), "policy[1].title: 'Krop \\u2066x' holds U+2066"),
    (GOOD.replace("https://krrop.com/trust", "https://krrop.com/trust\\u001b"),
     "policy[1].urls: 'https://krrop.com/trust\\x1b' holds U+001B"),
    (GOOD.replace("https://krrop.com/trust", "https://me:s3cret@krrop.com/trust"),
     "policy[1].urls: 'https://…@krrop.com/trust' holds a user name or password"),
    (GOOD.replace("memento:https://archive", "memento:https://me@archive"),
     "policy[2].archives: 'https://…@archive.example.org/' holds a user name or password"),
    (GOOD + '[report]\ndatasette_url = "localhost:8001"\n', "report.datasette_url: 'localhost:8001' is not an http(s) URL"),
    (GOOD + '[report]\ndatasette_url = "javascript:alert(1)//"\n',
     "report.datasette_url: 'javascript:alert(1)//' is not an http(s) URL"),
    (GOOD + '[report]\ndatasette_url = 8001\n', "report.datasette_url: must be a string, not an integer 8001"),
])
def test_mistakes_are_named_by_key_path(tmp_path, text, expected):
    message = error_of(tmp_path, text)
    assert message.startswith(str(tmp_path / "config.toml") + ": ")
    assert expected in message and "s3cret" not in message


def test_a_config_saved_with_a_bom_is_read_by_every_command(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    assert [p.name for p in load_config(path).policies] == ["krop", "other"]
    result = run_tracker("--config", str(path), "status", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "krop" in result.stdout and "other" in result.stdout


def test_toml_syntax_error_gives_its_line(tmp_path):
    message = error_of(tmp_path, GOOD.replace('title = "Krop"', 'title = "Krop'))
    assert "TOML syntax error" in message and "line 11" in message


def test_missing_file_says_how_to_point_at_one(tmp_path):
    with pytest.raises(ConfigError, match="no such file .pass --config PATH or set TRACKER_CONFIG"):
        load_config(tmp_path / "nope.toml")


def test_cli_reports_a_config_error_in_one_line_without_traceback(tmp_path):
    path = config_file(tmp_path, GOOD.replace("timeout_s = 5", "timeout_s = [5]"))
    result = run_tracker("--config", str(path), "status", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == f"error: {path}: fetch.timeout_s: must be a number, not a list [5]\n"
    assert "Traceback" not in result.stderr


def test_cli_finds_its_config_through_the_environment(tmp_path):
    path = config_file(tmp_path, GOOD)
    result = run_tracker("status", "--json", cwd=tmp_path.parent, env={"TRACKER_CONFIG": str(path)})
    assert result.returncode == 0, result.stderr
    assert '"policy": "krop"' in result.stdout


def test_help_works_without_a_config(tmp_path):
    for args in (["--help"], ["check", "--help"], ["status", "--help"]):
        result = run_tracker(*args, cwd=tmp_path)
        assert result.returncode == 0 and "Usage: " in result.stdout


def test_the_help_overview_says_what_each_command_does_in_full(tmp_path):
    result = run_tracker("--help", cwd=tmp_path, env={"COLUMNS": "80"})
    overview = " ".join(result.stdout.split("Commands:")[1].split())
    assert result.returncode == 0 and "..." not in overview
    assert "backfill Pull the archived history of each policy (or of NAMES) and derive its versions." in overview
    assert "export The whole history of policy NAME as one JSON document: captures, versions, changes." in overview


def test_unwritable_database_location_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    path = config_file(tmp_path, GOOD.replace('path = "data/t.db"', 'path = "file/t.db"'))
    result = run_tracker("--config", str(path), "status", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"error: {tmp_path / 'file' / 't.db'}: cannot open the database")


def test_a_file_that_is_not_a_database_is_one_line(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "t.db").write_bytes(b"this is not sqlite" * 100)
    path = config_file(tmp_path, GOOD)
    result = run_tracker("--config", str(path), "status", cwd=tmp_path)
    assert result.returncode == 1 and result.stderr.count("\n") == 1
    assert "t.db: not a usable policy-tracker database" in result.stderr
