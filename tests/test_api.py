"""The Python API: what a researcher's script does with policy-tracker, on a real site and store."""

from __future__ import annotations

import sqlite3

import pytest

from conftest import Page, policy_html
from tracker import Tracker
from tracker.config import Config, ConfigError, PolicyConfig, StorageConfig
from tracker.errors import TrackerError


def config_for(tmp_path, site) -> Config:
    return Config(storage=StorageConfig(path=tmp_path / "tracker.db"),
                  policy=[PolicyConfig(name="acme", title="Acme privacy policy", urls=[site.url("/privacy")],
                                       archives=[])])


def test_a_script_checks_a_policy_and_reads_its_history(tmp_path, site):
    site.pages["/privacy"] = Page(policy_html("30 days"))
    with Tracker(config_for(tmp_path, site)) as tracker:
        seen = []
        (first,) = tracker.check(each=seen.append)
        assert first.outcome == "new-version" and first.version == 1 and seen == [first]
        site.pages["/privacy"] = Page(policy_html("18 months"))
        (second,) = tracker.check("acme")
        assert second.outcome == "new-version" and second.version == 2

        versions = tracker.versions("acme")
        assert [v.number for v in versions] == [1, 2]
        assert tracker.version("acme").number == 2  # the latest by default
        today = versions[-1].last_seen[:10]
        assert tracker.version_at("acme", today).number == 2
        assert tracker.version_at("acme", "2001-01-01") is None

        document = tracker.document("acme", 1)
        assert any("30 days" in section.text for section in document.all_sections())

        change = tracker.diff("acme")
        assert (change.from_version, change.to_version) == (1, 2)
        retention = [s for s in change.touched if "Retention" in (s.new_heading or "")]
        assert retention and ("+", "18 months") in retention[0].ops

        exported = tracker.export("acme")
        assert exported["policy"]["title"] == "Acme privacy policy" and len(exported["changes"]) == 1

        (rebuilt,) = tracker.rebuild()
        assert (rebuilt.policy, rebuilt.versions, rebuilt.changes, rebuilt.error) == ("acme", 2, 1, None)

    with sqlite3.connect(tmp_path / "tracker.db") as db:  # every run is recorded as finished, not interrupted
        assert {row[0] for row in db.execute("SELECT outcome FROM runs")} == {"ok"}


def test_settings_built_in_code_are_checked_as_the_file_is():
    with pytest.raises(ConfigError, match="'Bad Name!' is not a slug"):
        PolicyConfig(name="Bad Name!", urls=["https://acme.example/privacy"])
    with pytest.raises(ConfigError, match="not an http"):
        PolicyConfig(name="acme", urls=["acme.example/privacy"])
    policy = PolicyConfig(name="acme", urls=["https://acme.example/privacy"])
    with pytest.raises(ConfigError, match="duplicate name 'acme'"):
        Config(policy=[policy, policy])


def test_questions_about_what_is_not_there_are_user_errors(tmp_path, site):
    with Tracker(config_for(tmp_path, site)) as tracker:
        with pytest.raises(TrackerError, match="no version stored yet"):
            tracker.version("acme")
        with pytest.raises(TrackerError, match="no policy named 'other'"):
            tracker.versions("other")
        with pytest.raises(TrackerError, match="is not a date"):
            tracker.backfill(start="2021-13")


def test_a_closed_tracker_and_wrong_arguments_are_user_errors(tmp_path, site):
    site.pages["/privacy"] = Page(policy_html())
    tracker = Tracker(config_for(tmp_path, site))
    tracker.check()
    for call, message in [(lambda: tracker.version("acme", 2.0), "is not a version"),
                          (lambda: tracker.version("acme", True), "is not a version"),
                          (lambda: tracker.version_at("acme", 20170101), "is not a date"),
                          (lambda: tracker.backfill(strategy="bogus"), "is not one of"),
                          (lambda: tracker.backfill(start=2019), "is not a date"),
                          (lambda: tracker.check(["acme"]), "policy names are strings")]:
        with pytest.raises(TrackerError, match=message):
            call()
    tracker.close()
    with pytest.raises(TrackerError, match="this Tracker is closed"):
        tracker.versions("acme")
    tracker.close()  # a second close is harmless


def test_settings_of_the_wrong_type_built_in_code_are_config_errors():
    with pytest.raises(ConfigError, match="name: must be a string"):
        PolicyConfig(name=5, urls=["https://acme.example/privacy"])
    with pytest.raises(ConfigError, match="urls: must be a list of strings"):
        PolicyConfig(name="acme", urls="https://acme.example/privacy")
    with pytest.raises(ConfigError, match="policy: must be a list of PolicyConfigs"):
        Config(policy=[{"name": "acme", "urls": ["https://acme.example/privacy"]}])
