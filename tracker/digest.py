"""The change digest by e-mail: every change sent once, a failed send kept and sent again.

A digest carries the changes detected since the last digest (or in a period asked for) that
no digest has carried yet. It is recorded with the identities of its changes (policy and
first capture of the new text, which survive rebuilds) before it is sent, in one
transaction; a failed send leaves it pending, and the next run sends the very same message
(same Message-ID) before anything new. Technical changes (extraction upgrades) are never sent.
"""

from __future__ import annotations

import json
import os
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

import jinja2

from tracker import report
from tracker.config import Config, EmailConfig
from tracker.diff import SectionChange
from tracker.errors import TrackerError
from tracker.history import Comparison
from tracker.models import Change, iso, parse_iso
from tracker.store import Store

QUIET = ("cosmetic", "date-only")
QUIET_DIGEST_DAYS = 6  # with nothing to say, a digest still goes out once a week: "nothing changed"
EXCERPT_WORDS = 40


class DeliveryError(TrackerError):
    """The mail server could not be reached or refused the digest; it stays pending."""


@dataclass
class Excerpt:
    op: str  # "+" or "-"
    section: str
    text: str


@dataclass
class ShownChange:
    """A change the digest shows in full, with a link to its report page."""

    change: Comparison
    link: str | None
    excerpts: list[Excerpt]


@dataclass
class PolicyChanges:
    name: str
    title: str
    link: str | None
    changes: list[ShownChange] = field(default_factory=list)
    quiet: list[Comparison] = field(default_factory=list)  # cosmetic and date-only, summed up


@dataclass
class Digest:
    period_start: str
    period_end: str
    policies: list[PolicyChanges]
    failures: list[dict]
    claims: list[tuple[str, int]]  # (policy, to_capture) of every change carried

    @property
    def changed(self) -> int:
        return sum(1 for p in self.policies if p.changes or p.quiet)

    def subject(self) -> str:
        """Says when the changes were found, not when they happened: a change found in
        archived captures this week may have happened years ago (each shows its window)."""
        period = period_label(self.period_start, self.period_end)
        if not self.changed:
            return f"No policy change found {period}"
        return f"Changes found {period} in {self.changed} {'policy' if self.changed == 1 else 'policies'}"


def period_label(start: str, end: str) -> str:
    """'16-23 Nov 2026', '28 Oct - 4 Nov 2026', '28 Dec 2025 - 4 Jan 2026'."""
    a, b = (datetime.strptime(t[:10], "%Y-%m-%d") for t in (start, end))
    if (a.year, a.month) == (b.year, b.month):
        return f"{a.day}-{b.day} {b:%b %Y}" if a.day != b.day else f"{b.day} {b:%b %Y}"
    if a.year == b.year:
        return f"{a.day} {a:%b} - {b.day} {b:%b %Y}"
    return f"{a.day} {a:%b %Y} - {b.day} {b:%b %Y}"


def collect(store: Store, config: Config, since: str | None, until: str | None) -> Digest:
    """What the next digest carries."""
    until = until or iso(datetime.now(timezone.utc))
    if since is None:
        previous = store.digests.all()
        since = previous[-1]["period_end"] if previous else \
            iso(parse_iso(until) - timedelta(days=7))
    titles = {p.name: p.display_title for p in config.policies}
    by_policy: dict[str, PolicyChanges] = {}
    claims: list[tuple[str, int]] = []
    for policy, change in store.digests.unsent_changes(since, until):
        if change.to_capture is not None:  # a stored change always has its captures
            claims.append((policy, change.to_capture))
        entry = by_policy.setdefault(policy, PolicyChanges(
            policy, _one_line(titles.get(policy, policy)), _link(config, report.history_page(policy))))
        if change.kind in QUIET and not config.email.include_cosmetic:
            entry.quiet.append(Comparison.of(change))
        else:
            entry.changes.append(_shown(config, policy, change))
    failures = [
        {"policy": r["policy"], "title": _one_line(titles.get(r["policy"], r["policy"])), "count": r["count"],
         "last": r["last"], "message": r["message"], "in_a_row": store.runs.failures_in_a_row(r["policy"])}
        for r in store.digests.failures(since, until)]
    return Digest(since, until, sorted(by_policy.values(), key=lambda p: p.title.lower()), failures, claims)


def _shown(config: Config, policy: str, change: Change) -> ShownChange:
    compared = Comparison.of(change)
    return ShownChange(compared, _link(config, report.change_page(policy, change.window_end, change.to_capture)),
                 excerpts(compared.touched))


def _link(config: Config, path: str) -> str | None:
    base = config.report.base_url
    return f"{base.rstrip('/')}/{path}" if base else None


def _one_line(text: str) -> str:
    """Titles come from pages and config: no line breaks, so no header can be injected."""
    return " ".join(text.split())


def excerpts(sections: list[SectionChange], count: int = 3) -> list[Excerpt]:
    """The largest insertions and deletions, each cut to about EXCERPT_WORDS words."""
    runs = []
    for s in sections:
        for op, text in s.ops:
            if op in "+-" and text.strip():
                runs.append((len(text.split()), op, s.display_heading, text))
    runs.sort(key=lambda r: -r[0])
    out = []
    for words, op, heading, text in runs[:count]:
        cut = " ".join(text.split()[:EXCERPT_WORDS])
        out.append(Excerpt(op, heading, cut + (" …" if words > EXCERPT_WORDS else "")))
    return out


# --- the message -----------------------------------------------------------------------------

def environment() -> jinja2.Environment:
    """The reports' templates and filters; only the HTML part is escaped, not the text part."""
    env = report.environment()
    env.autoescape = jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False)
    return env


def compose(digest: Digest, config: Config, recipients: list[str], sender: str | None = None) -> EmailMessage:
    """A multipart/alternative message: plain text and HTML of the same digest."""
    email = config.email
    sender = sender or email.sender
    if not sender:
        raise TrackerError("config: email.from is not set: the digest needs a sender address")
    if not recipients:
        raise TrackerError("config: email.to is empty: the digest needs at least one recipient (or --to)")
    env = environment()
    values = {"digest": digest, "period": period_label(digest.period_start, digest.period_end),
              "base_url": config.report.base_url}
    message = EmailMessage(policy=SMTP)
    message["Subject"] = digest.subject()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(datetime.now(timezone.utc))
    message["Message-ID"] = make_msgid("digest", domain=sender.rpartition("@")[2])
    if email.list_unsubscribe:
        message["List-Unsubscribe"] = f"<{_one_line(email.list_unsubscribe)}>"
    message.set_content(env.get_template("digest.txt").render(**values))
    message.add_alternative(env.get_template("digest.html").render(**values), subtype="html")
    return message


# --- sending ---------------------------------------------------------------------------------

def deliver(message: bytes, sender: str, recipients: list[str], email: EmailConfig) -> None:
    """Hand the message to the SMTP server; raises DeliveryError with the server's answer."""
    where = f"{email.smtp_host}:{email.smtp_port}"
    password = None
    if email.username:
        password = os.environ.get(email.password_env) if email.password_env else None
        if password is None:
            raise DeliveryError(f"email.password_env: set the environment variable "
                                f"{email.password_env or '(none named)'} to the password of {email.username}")
    try:
        context = ssl.create_default_context(cafile=email.tls_ca_file or None)
    except (OSError, ssl.SSLError) as e:
        raise DeliveryError(f"email.tls_ca_file: cannot read {email.tls_ca_file} ({e})") from None
    try:
        smtp: smtplib.SMTP
        if email.security == "ssl":
            smtp = smtplib.SMTP_SSL(email.smtp_host, email.smtp_port, timeout=email.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(email.smtp_host, email.smtp_port, timeout=email.timeout_s)
        with smtp:
            if email.security == "starttls":
                smtp.starttls(context=context)
            if password is not None:
                smtp.login(email.username, password)
            refused = smtp.sendmail(sender, recipients, message)
            if refused:
                raise DeliveryError(f"{where}: refused recipients: "
                                    + ", ".join(f"{a} ({c} {m.decode(errors='replace')})" for a, (c, m) in refused.items()))
    except smtplib.SMTPResponseException as e:
        raise DeliveryError(f"{where}: {e.smtp_code} {_text(e.smtp_error)}") from None
    except smtplib.SMTPRecipientsRefused as e:
        raise DeliveryError(f"{where}: all recipients refused ({', '.join(e.recipients)})") from None
    except (smtplib.SMTPException, ssl.SSLError) as e:
        raise DeliveryError(f"{where}: {e}") from None
    except (socket.timeout, TimeoutError):
        raise DeliveryError(f"{where}: timed out after {email.timeout_s:g}s") from None
    except OSError as e:
        raise DeliveryError(f"{where}: {e.strerror or e}") from None


def _text(value) -> str:
    text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Mailing:
    """What a digest run sent, or why it could not."""

    sent: list[str] = field(default_factory=list)  # subjects of the digests sent
    failed: str | None = None
    nothing_new: bool = False


def _days(digest: Digest) -> float:
    return (parse_iso(digest.period_end) - parse_iso(digest.period_start)).total_seconds() / 86400


def preview(store: Store, config: Config, since: str | None, until: str | None,
            recipients: list[str] | None) -> EmailMessage:
    """The next digest as it would be sent, recorded nowhere (a dry run, or a copy to one address)."""
    digest = collect(store, config, since, until)
    return compose(digest, config, recipients or config.email.to or ["undisclosed-recipients:;"],
                   sender=config.email.sender or "policy-tracker@localhost")


def run(store: Store, config: Config, since: str | None = None, until: str | None = None) -> Mailing:
    """Send what is pending, then the new digest; stop at the first failure (kept pending)."""
    outcome = Mailing()
    for pending in store.digests.all("pending"):
        if not _send_recorded(store, config, pending, outcome):
            return outcome
    digest = collect(store, config, since, until)
    if not digest.claims and not digest.failures and _days(digest) < QUIET_DIGEST_DAYS:
        outcome.nothing_new = True  # a quiet note goes out weekly, not on every run
        return outcome
    message = compose(digest, config, config.email.to)
    digest_id = store.digests.add({"period_start": digest.period_start, "period_end": digest.period_end,
                                   "subject": message["Subject"], "recipients": config.email.to,
                                   "message": message.as_bytes(), "message_id": message["Message-ID"]},
                                  digest.claims)
    _send_recorded(store, config, store.digests.get(digest_id), outcome)
    return outcome


def _send_recorded(store: Store, config: Config, row: dict, outcome: Mailing) -> bool:
    try:
        deliver(row["message"], config.email.sender, json.loads(row["recipients"]), config.email)
    except DeliveryError as e:
        store.digests.attempted(row["id"], str(e))
        outcome.failed = f"{e} (the digest \"{row['subject']}\" is kept and sent on the next run)"
        return False
    store.digests.attempted(row["id"], None)
    outcome.sent.append(row["subject"])
    return True
