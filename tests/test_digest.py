"""The e-mail digest against a real SMTP server (aiosmtpd on 127.0.0.1): content, exactly-once
delivery, failures kept and sent later, STARTTLS with a self-signed certificate, AUTH."""

from __future__ import annotations

import email
import email.policy
import ssl
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from conftest import Archived, Backend, free_port, policy_html, run_cli, store_of, write_config, write_warc
from tracker.console import when
from tracker.digest import period_label

ROOT = Path(__file__).resolve().parents[1]
DEMO_WARC = ROOT / "examples" / "krop-demo.warc.gz"
KROP = ["https://www.krop.com/privacy", "https://krrop.com/trust"]
BASE = "https://reports.example.org/policies"


class Mailbox:
    """What the SMTP server received; ``answer`` makes it refuse DATA with that reply."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.answer: str | None = None

    async def handle_DATA(self, server, session, envelope):
        if self.answer:
            return self.answer
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


def mail_config(port: int, **extra) -> str:
    settings = {"smtp_host": '"127.0.0.1"', "smtp_port": port, "security": '"none"', "from": '"tracker@example.org"',
                "to": '["team@example.org", "legal@example.org"]', "timeout_s": 5, **extra}
    lines = ["[email]"] + [f"{k} = {v}" for k, v in settings.items()]
    return "\n".join(lines) + f'\n\n[report]\nbase_url = "{BASE}"\n'


def demo(tmp_path: Path, port: int, title: str = "Krop / KRROP", backend: Backend | None = None, **extra) -> Path:
    config = write_config(tmp_path, [{"name": "krop", "title": title, "urls": KROP,
                                      "archives": [f"warc:{DEMO_WARC}"], "live": False}], mail_config(port, **extra))
    config = backend.place(config) if backend else config
    assert run_cli(config, "backfill").exit_code == 0
    return config


def parts(message) -> tuple[str, str]:
    return message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content()


def test_the_digest_has_both_parts_links_and_facts_and_is_sent_once(tmp_path, smtp, backend):
    config = demo(tmp_path, smtp.port, backend=backend)
    result = run_cli(config, "digest")
    assert result.exit_code == 0, result.stderr
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["Subject"].startswith("Changes found ") and message["Subject"].endswith(" in 1 policy")
    assert message.get_content_type() == "multipart/alternative"
    assert smtp.envelopes[0] == ("tracker@example.org", ["team@example.org", "legal@example.org"])
    assert message["Message-ID"] and message["Date"] and "List-Unsubscribe" not in message
    text, html = parts(message)
    store = store_of(config)
    change = store.history.changes("krop")[0]
    store.close()
    link = f"{BASE}/krop/change-2025-06-03-{change.to_capture}.html"
    for part in (text, html):
        assert link in part and f"{BASE}/krop/index.html" in part and "rewrite" in part
    assert "support@krop.com removed" in text and "COPPA removed" in text
    assert "<td style=\"border-bottom:1px solid #e5e5e5;\">support@krop.com<br>" in html  # before, in the facts table
    # with the sentence that stated it
    assert "you may contact us at support@krop.com" in html and 'before: "If there are any questions' in text
    assert "between 2019-07-01 12:00 UTC and 2025-06-03 09:30 UTC" in text
    assert "<ins" in html  # the excerpts of insertions are marked up
    assert "<img" not in html and "http://" not in html.replace(BASE, "")  # nothing loaded from elsewhere

    again = run_cli(config, "digest")
    assert again.exit_code == 0 and "nothing new" in again.out and len(smtp.messages) == 1
    assert run_cli(config, "rebuild").exit_code == 0  # a rebuild never sends a change again
    assert "nothing new" in run_cli(config, "digest").out and len(smtp.messages) == 1


def test_a_change_from_2019_to_2025_found_this_week_reads_as_found_this_week_with_its_window(tmp_path, smtp, backend):
    config = demo(tmp_path, smtp.port, backend=backend)  # the demo's rewrite, backfilled (found) just now
    assert run_cli(config, "digest").exit_code == 0
    message = smtp.messages[0]
    store = store_of(config)
    (change,) = store.history.changes("krop")
    (sent,) = store.digests.all()
    store.close()
    assert sent["period_start"] < change.detected_at <= sent["period_end"]  # found in the digest's period
    period = period_label(sent["period_start"], sent["period_end"])
    assert message["Subject"] == f"Changes found {period} in 1 policy"
    assert "2019" not in message["Subject"] and "2025" not in message["Subject"]
    text, html = parts(message)
    window = f"Changed between 2019-07-01 12:00 UTC and 2025-06-03 09:30 UTC; found {when(change.detected_at)}"
    found = f"Found between {when(sent['period_start'])} and {when(sent['period_end'])}."
    for part in (text, html):
        assert window in part and found in part
        assert part.index(found) < part.index(window)  # the period first, then each change with its window


def test_a_failed_delivery_is_kept_and_sent_on_the_next_run(tmp_path, smtp, backend):
    down = free_port()
    config = demo(tmp_path, down, backend=backend)
    failed = run_cli(config, "digest")
    assert failed.exit_code == 1 and f"127.0.0.1:{down}" in failed.stderr and "next run" in failed.stderr
    assert "Traceback" not in failed.stderr and len(failed.stderr.strip().splitlines()) == 1
    status = run_cli(config, "status")
    assert "digest" in status.out and f"127.0.0.1:{down}" in status.out

    config.write_text(config.read_text().replace(f"smtp_port = {down}", f"smtp_port = {smtp.port}"))
    smtp.answer = "451 4.3.0 Try again later"
    temporary = run_cli(config, "digest")
    assert temporary.exit_code == 1 and "451" in temporary.stderr and not smtp.messages
    smtp.answer = "554 5.7.1 Rejected"
    permanent = run_cli(config, "digest")
    assert permanent.exit_code == 1 and "554" in permanent.stderr and not smtp.messages

    smtp.answer = None
    sent = run_cli(config, "digest")
    assert sent.exit_code == 0 and len(smtp.messages) == 1  # the kept digest, once
    store = store_of(config)
    (row,) = store.digests.all()
    assert row["status"] == "sent" and row["attempts"] == 4 and smtp.messages[0]["Message-ID"] == row["message_id"]
    store.close()
    assert "nothing new" in run_cli(config, "digest").out and len(smtp.messages) == 1


def test_starttls_with_a_self_signed_certificate_and_login(tmp_path, monkeypatch):
    import trustme

    authority = trustme.CA()
    server_cert = authority.issue_cert("127.0.0.1")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((mechanism, auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.login == b"tracker" and auth_data.password == b"s3cret-pw")

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), tls_context=context,
                            require_starttls=True, authenticator=authenticator, auth_required=True)
    controller.start()
    try:
        monkeypatch.setenv("TRACKER_SMTP_PASSWORD", "s3cret-pw")
        config = demo(tmp_path, controller.port, security='"starttls"', username='"tracker"',
                      password_env='"TRACKER_SMTP_PASSWORD"', tls_ca_file=f'"{ca_file}"')
        result = run_cli(config, "digest")
        assert result.exit_code == 0, result.stderr
        assert len(mailbox.messages) == 1 and logins and logins[-1][1:] == (b"tracker", b"s3cret-pw")
        database = (tmp_path / "snapshots" / "tracker.db").read_bytes()
        assert b"s3cret-pw" not in database and b"s3cret-pw" not in config.read_bytes()

        other = tmp_path / "other"
        other.mkdir()
        untrusted = demo(other, controller.port, security='"starttls"', username='"tracker"',
                         password_env='"TRACKER_SMTP_PASSWORD"')  # no tls_ca_file: the system's CAs
        refused = run_cli(untrusted, "digest")
        assert refused.exit_code == 1 and "CERTIFICATE_VERIFY_FAILED" in refused.stderr
    finally:
        controller.stop()


def test_cosmetic_changes_are_one_line_unless_asked_for_and_titles_inject_no_header(tmp_path, smtp):
    url = "https://acme.example/privacy"
    body = policy_html()
    write_warc(tmp_path / "a.warc.gz", [Archived(url, "2026-01-01T00:00:00Z", body),
                                        Archived(url, "2026-02-01T00:00:00Z", body.replace(b"Retention", b"RETENTION"))])
    policy = {"name": "acme", "title": "Acme\r\nBcc: victim@example.org", "urls": [url],
              "archives": ["warc:a.warc.gz"], "live": False}
    unsubscribe = mail_config(smtp.port, list_unsubscribe='"mailto:unsubscribe@example.org"')
    refused = run_cli(write_config(tmp_path, [policy], unsubscribe), "backfill")
    assert refused.exit_code == 1 and "policy[1].title: 'Acme\\r\\nBcc: victim@example.org' holds U+000D" in refused.stderr
    config = write_config(tmp_path, [{**policy, "title": "Acme Bcc: victim@example.org"}], unsubscribe)
    assert run_cli(config, "backfill").exit_code == 0
    preview = run_cli(config, "digest", "--dry-run")
    assert "1 cosmetic or date-only change(s) (2026-01-01 to 2026-02-01)" in preview.out and "Version 1 -> 2" not in preview.out
    assert run_cli(config, "digest").exit_code == 0
    message = smtp.messages[0]
    assert "Bcc" not in message and smtp.envelopes[0][1] == ["team@example.org", "legal@example.org"]
    assert message["List-Unsubscribe"] == "<mailto:unsubscribe@example.org>"
    assert "Acme Bcc: victim@example.org" in parts(message)[0]  # the title, on one line, in the body only

    shown = tmp_path / "shown"
    shown.mkdir()
    config2 = write_config(shown, [{"name": "acme", "urls": [url], "archives": [f"warc:{tmp_path / 'a.warc.gz'}"],
                                    "live": False}], mail_config(smtp.port, include_cosmetic="true"))
    assert run_cli(config2, "backfill").exit_code == 0
    assert "Version 1 -> 2: cosmetic" in run_cli(config2, "digest", "--dry-run").out


def test_dry_run_writes_an_eml_and_to_sends_a_copy_without_marking(tmp_path, smtp):
    config = demo(tmp_path, smtp.port)
    eml = tmp_path / "digest.eml"
    assert run_cli(config, "digest", "--dry-run", "--out", str(eml)).exit_code == 0
    saved = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert saved["Subject"].endswith(" in 1 policy") and not smtp.messages
    copy = run_cli(config, "digest", "--to", "me@example.org")
    assert copy.exit_code == 0 and smtp.envelopes[-1][1] == ["me@example.org"]
    sent = run_cli(config, "digest")
    assert sent.exit_code == 0 and smtp.envelopes[-1][1] == ["team@example.org", "legal@example.org"]


def test_the_html_part_shows_the_changes_in_a_browser(tmp_path, smtp, browser):
    config = demo(tmp_path, smtp.port)
    assert run_cli(config, "digest").exit_code == 0
    page_file = tmp_path / "digest.html"
    page_file.write_text(parts(smtp.messages[0])[1], encoding="utf-8")
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme=scheme)
        page = context.new_page()
        page.goto(page_file.as_uri())
        text = page.evaluate("() => document.body.innerText")
        assert "Version 1 → 2" in text and "contact e-mail" in text and "support@krop.com" in text
        page.screenshot(path=str(tmp_path / f"digest-{scheme}.png"), full_page=True)
        context.close()


def test_each_policy_that_could_not_be_checked_is_a_line_of_its_own(tmp_path, site):
    config = write_config(tmp_path, [{"name": "gone", "title": "Gone policy", "urls": [site.url("/gone")]},
                                     {"name": "lost", "title": "Lost policy", "urls": [site.url("/lost")]}],
                          mail_config(free_port()))
    for _ in range(2):
        assert run_cli(config, "check").exit_code == 1

    text = run_cli(config, "digest", "--dry-run").out

    failures = text.split("== Could not be checked ==\n", 1)[1].split("\n\n--\n", 1)[0].splitlines()
    assert [line.split(":", 1)[0] for line in failures] == ["* Gone policy", "* Lost policy"]
    assert all(line.endswith("(failing: the last 2 checks in a row)") for line in failures)
