"""A check extends the stored history instead of deriving it again: the result must be the
history a derivation from scratch gives, capture after capture, whatever the capture shows."""

from __future__ import annotations

import pytest

from conftest import policy_html
from tracker import history
from tracker.config import PolicyConfig
from tracker.models import NewCapture
from tracker.store import Store

URL = "https://acme.example/privacy"
LONG = "".join(f"<h2>{n}. More about your data</h2><p>We process personal data about your account, "
               f"your devices and your use of the service for purpose {n}, under the GDPR, and we keep "
               f"it only as long as the law requires.</p>" for n in range(5, 12))
SHORT = ("<html lang='en'><body><main><h1>Privacy</h1><p>We collect personal data about you when you use "
         "the service, we use it to run the service, we keep it for thirty days, we never sell your "
         "personal information, and you may ask us to delete your data at any time by writing to "
         "privacy@acme.example. This privacy policy applies to all our users.</p></main></body></html>").encode()
FRENCH = ("<html lang='fr'><body><main><h1>Politique de confidentialité</h1>" + "".join(
    f"<h2>{n}. Vos données</h2><p>Nous collectons les données personnelles que vous nous donnez lorsque "
    f"vous créez un compte, et nous les conservons pendant trente jours après la fermeture de votre "
    f"compte, conformément au RGPD et à la loi informatique et libertés.</p>" for n in range(1, 9))
    + "</main></body></html>").encode()

A = policy_html("30 days", LONG)
B = policy_html("90 days", LONG)
C = policy_html("2 years", LONG + "<h2>12. Children</h2><p>We do not knowingly collect data from children.</p>")

# (what the page shows, HTTP status, hours after the start), in the order the captures arrive
STEPS = [
    ("A", A, 200, 0), ("A again", A, 200, 1), ("an error page", b"<h1>Server error</h1>", 500, 2),
    ("B", B, 200, 3), ("back to A", A, 200, 4), ("B again", B, 200, 5), ("A short text", SHORT, 200, 6),
    ("the short text again", SHORT, 200, 7), ("B after it", B, 200, 8), ("French", FRENCH, 200, 9),
    ("binary garbage", bytes(range(256)) * 8, 200, 10), ("C", C, 200, 11), ("C again", C, 200, 12),
    ("an older capture arriving late", B, 200, 11.5), ("C once more", C, 200, 13),
]


def derived(store: Store, policy: str) -> dict:
    """A stored history as a user sees it (the time a change was first derived aside)."""
    changes = [{k: v for k, v in vars(c).items() if k != "detected_at"} for c in store.history.changes(policy)]
    assignments = {row[0]: (row[1], row[2]) for row in store.db.execute(
        "SELECT capture_id, version, reason FROM capture_versions WHERE policy = ?", (policy,))}
    index = sorted((version, heading, text) for first, last, heading, text in store.db.execute(
        "SELECT s.first_version, s.last_version, t.heading, t.text FROM section_versions s "
        "JOIN section_texts t ON t.id = s.text_id WHERE s.policy = ?", (policy,))
        for version in range(first, last + 1))  # what search finds in each version
    return {"versions": [vars(v) for v in store.history.versions(policy)], "changes": changes,
            "assignments": assignments, "index": index}


def capture(body_index: int, status: int, hours: float) -> NewCapture:
    when = f"2024-01-01T{int(hours):02d}:{int(hours % 1 * 60):02d}:00.000Z"
    return NewCapture(policy="acme", url=URL, captured_at=when, source="live", status=status, sha256=None,
                      fetched_at=when, content_type="text/html", charset="utf-8")


@pytest.fixture
def stores(backend):
    incremental, scratch = Store(backend.new_location()), Store(backend.new_location())
    yield incremental, scratch
    incremental.close()
    scratch.close()


def test_a_history_extended_capture_by_capture_is_the_one_derived_from_scratch(stores, monkeypatch):
    incremental, scratch = stores
    policy = PolicyConfig(name="acme", urls=[URL], archives=[])
    for store in stores:
        store.runs.sync_policies([policy])
    derivations = []
    rebuild = history.rebuild
    monkeypatch.setattr(history, "rebuild", lambda store, policy: derivations.append(1) or rebuild(store, policy))
    extended = []
    for n, (what, body, status, hours) in enumerate(STEPS):
        before = len(derivations)
        one = incremental.captures.add(capture(n, status, hours), body)
        placed = history.place(incremental, policy, one)
        extended.append(len(derivations) == before)
        scratch.captures.add(capture(n, status, hours), body)
        rebuild(scratch, policy)
        assert derived(incremental, "acme") == derived(scratch, "acme"), f"after {what}"
        version, reason = scratch.history.version_of(one.id)
        assert (placed.version, placed.reason) == (version, reason), f"after {what}"
    # the checks that can be extended were: the same text, an error, a new text, a return
    took_the_short_way = [what for (what, *_), short in zip(STEPS, extended) if short]
    assert {"A again", "an error page", "B", "back to A", "B again", "A short text", "binary garbage",
            "C again", "C once more"} <= set(took_the_short_way), took_the_short_way
    # and those that could change earlier captures' place were derived again (after the French
    # page, the latest, came C in English: the French page is then a lone one, set aside)
    assert not {"A", "the short text again", "French", "C", "an older capture arriving late"} & set(took_the_short_way)
    versions = incremental.history.versions("acme")
    assert len(versions) >= 4 and any(c.reverts_to for c in incremental.history.changes("acme"))


def test_a_history_derived_by_another_extractor_is_derived_again(stores, monkeypatch):
    incremental, _ = stores
    policy = PolicyConfig(name="acme", urls=[URL], archives=[])
    incremental.runs.sync_policies([policy])
    first = incremental.captures.add(capture(0, 200, 0), A)
    history.place(incremental, policy, first)
    monkeypatch.setattr(history, "EXTRACTOR_VERSION", history.EXTRACTOR_VERSION + 1)
    derivations = []
    rebuild = history.rebuild
    monkeypatch.setattr(history, "rebuild", lambda store, policy: derivations.append(1) or rebuild(store, policy))
    second = incremental.captures.add(capture(1, 200, 1), A)
    placed = history.place(incremental, policy, second)
    assert derivations and placed.version == 1
    assert incremental.history.derived_with("acme") == history.derivation_id(policy)
