"""``tracker serve``: the store in Datasette, to browse, filter and search without writing SQL.

Datasette opens the file read-only (``mode=ro``, not ``immutable``: the daemon may be writing
to it at the same time, and a reader must see what it writes) and opens no connection that
could write. Every table and column is described in the metadata below, so that a reader
learns the schema where they read the data; the sections are searchable from the UI through
``section_list``, which shows where each matching text occurs. Datasette is an optional
extra (``pip install 'policy-tracker[datasette]'``): it is imported only to serve.
"""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlencode

from tracker.config import masked_url
from tracker.errors import TrackerError

TITLE = "policy-tracker"
DATABASE = "tracker"  # the store's name in Datasette's URLs, whatever its file is called
SEARCH_VIEW = "section_list"
INSTALL = "pip install 'policy-tracker[datasette]'"

Table = tuple[str, dict[str, str]]  # what a table holds, and each of its columns

_POLICY = "the policy's name (policies.name)"
_TITLE = "the policy's title (policies.title)"
_TIME = "(UTC, YYYY-MM-DDTHH:MM:SS.mmmZ)"

TABLES: dict[str, Table] = {
    "policies": ("Every policy ever configured; a policy dropped from config.toml keeps its row and its data.", {
        "name": "its name, a slug, as used on the command line and by every other table",
        "title": "what the reports call it (the name when config.toml gives no title)",
        "urls": "every URL it has had, oldest first (JSON list)",
        "added_at": f"when it was first recorded {_TIME}",
        "derived_with": "the extractor, selectors and diff that derived its stored history: a check "
                        "extends only a history derived the same way",
    }),
    "captures": ("Every live fetch and archived capture, untouched and dated; never deleted. "
                 "The same capture stored twice is one row.", {
        "id": "its identity, which versions, changes and the reports cite",
        "policy": _POLICY,
        "url": "the URL asked for",
        "captured_at": f"when the page looked like this: the fetch, or the archive's capture time {_TIME}",
        "source": "live, ia (the Internet Archive), memento (another Memento archive) or warc (a WARC file)",
        "archive_url": "the archived copy it was read from ('' for a live fetch)",
        "final_url": "the URL that answered, after redirects",
        "status": "the HTTP status",
        "headers": "the response headers, names in lower case (JSON object)",
        "content_type": "the Content-Type header",
        "charset": "the character set the body was read with",
        "format": "html, pdf, text or other",
        "sha256": "its body (bodies.sha256); null when none is stored (an error page an archive only lists)",
        "size": "the body's size in bytes",
        "redirects": "the redirects followed, each {status, url, location} (JSON list)",
        "flags": "notes on how it was fetched: not-modified, redirected, not-html, same-digest, "
                 "from-index, archived-redirect (JSON list)",
        "fetched_at": f"when this tool read it {_TIME}",
        "digest": "the archive's content digest: a body seen under one digest is not fetched again",
        "saved_url": "a live capture saved to the Internet Archive as evidence: the memento made",
        "save_error": "why it could not be saved",
    }),
    "bodies": ("Each distinct body once, zstd-compressed, most as a delta against an earlier body of "
               "the same policy; restored byte for byte by `tracker capture ID --raw`.", {
        "sha256": "of the uncompressed body",
        "size": "the uncompressed size in bytes",
        "compression": "zstd",
        "data": "the compressed bytes",
        "base": "the body whose bytes are the dictionary this one is compressed with (null: none)",
        "depth": "how many bodies reading this one decodes first",
    }),
    "documents": ("Derived: the document read from each body by each extractor (a cache).", {
        "sha256": "the body (bodies.sha256)",
        "extractor": "the extractor's version and the policy's selectors",
        "text_sha256": "the hash of the text read: bodies with the same text are one version",
        "word_count": "words in the text",
        "language": "ISO 639-1 code, null when there is too little prose to tell",
        "reason": "why this body is not a policy text (null when it is)",
        "document": "its JSON (document_json.sha256)",
    }),
    "document_json": ("Each document's JSON once per content, zstd-compressed with its body as dictionary.", {
        "sha256": "of the JSON",
        "body": "the body it was read from, its compression dictionary (bodies.sha256)",
        "data": "the compressed JSON",
    }),
    "versions": ("Derived: one row per distinct text of a policy, with the span of captures that showed it.", {
        "id": "a row id; a rebuild renumbers it (policy and number identify a version)",
        "policy": _POLICY,
        "number": "1 for the oldest text, and so on",
        "key": "what makes the text distinct: the hash of its text",
        "sha256": "the body of its first capture (bodies.sha256)",
        "first_capture": "the first capture that showed it (captures.id)",
        "last_capture": "the last capture that showed it (captures.id)",
        "first_seen": f"captured_at of its first capture {_TIME}",
        "last_seen": f"captured_at of its last capture {_TIME}",
        "captures": "how many captures showed it",
        "declared_date": "the date the text itself gives ('Last updated: ...'), YYYY-MM-DD",
        "word_count": "words in the text",
        "language": "ISO 639-1 code, null when there is too little prose to tell",
        "sections": "how many sections the search index holds for it (null: not indexed yet)",
    }),
    "capture_versions": ("Derived: which version each capture shows, or why it shows none.", {
        "capture_id": "the capture (captures.id)",
        "policy": _POLICY,
        "version": "the version's number, null when the capture is not a version",
        "reason": "why it is not ('HTTP 404', 'no body', not a policy text, ...)",
    }),
    "changes": ("Derived: each move from one version to the next. It happened somewhere in its window: "
                "between the last capture of the old text and the first capture of the new.", {
        "id": "a row id; a rebuild renumbers it (policy and to_capture identify a change)",
        "policy": _POLICY,
        "from_version": "the old version's number",
        "to_version": "the new version's number",
        "window_start": f"captured_at of from_capture {_TIME}",
        "window_end": f"captured_at of to_capture {_TIME}",
        "kind": "cosmetic, date-only, substantive, rewrite or translated",
        "reverts_to": "the number of an earlier version whose text came back, if it did",
        "from_capture": "the last capture of the old text (captures.id)",
        "to_capture": "the first capture of the new text (captures.id): the change's identity, kept by rebuilds",
        "magnitude": "the share of the words of both versions added or removed, 0 to 1",
        "technical": "1 when an extraction upgrade made it, not the policy: never notified",
        "detected_at": f"when this tool first derived it {_TIME}",
        "details": "its section diff and key facts (details_json.sha256)",
    }),
    "details_json": ("Each change's section diff and fact changes, as JSON, zstd-compressed against the "
                     "new text's body.", {
        "sha256": "of the JSON",
        "body": "the body that is its compression dictionary (bodies.sha256)",
        "data": "the compressed JSON",
    }),
    "section_texts": ("The search index's texts: each distinct section (heading and text) once, however "
                      "many versions and policies hold it; a section of over 20,000 characters in parts.", {
        "id": "its identity (section_versions.text_id, the rowid of section_texts_fts and section_texts_words)",
        "sha256": "of heading and text",
        "heading": "the heading with its number ('2.1 Cookies'); '' for the text before the first heading",
        "text": "the section's own text, its sub-sections aside",
    }),
    "section_versions": ("Which versions hold which section text: a run of consecutive version numbers "
                         "per row (section_list has a row per version).", {
        "policy": _POLICY,
        "text_id": "the text (section_texts.id)",
        "first_version": "the first version of the run",
        "last_version": "the last version of the run, included",
        "position": "the text's place in the run's first version, from 0: reading order",
        "heading": "the text's heading (as in section_texts), kept here for quick searches",
    }),
    "section_texts_fts": ("The full-text index of section_texts (FTS5, Porter stemmer over unicode61, "
                          "diacritics folded: 'donnees' finds 'données').", {
        "heading": "the section's heading, indexed",
        "text": "the section's text, indexed",
    }),
    "section_texts_words": ("The same texts indexed word by word, unstemmed: what a prefix query (priva*) "
                            "searches.", {
        "heading": "the section's heading, indexed",
        "text": "the section's text, indexed",
    }),
    "runs": ("Every command run (check, backfill) and how it ended.", {
        "id": "its identity",
        "command": "check or backfill",
        "started_at": f"when it started {_TIME}",
        "ended_at": f"when it ended {_TIME}; null while running or if it was killed",
        "outcome": "ok, failed (some policy failed) or error (the run itself died)",
        "counts": "how many policies had each outcome (JSON object)",
        "error": "why the run died",
    }),
    "run_results": ("Each policy's outcome in each run.", {
        "id": "its identity, in the order they happened",
        "run_id": "the run (runs.id)",
        "policy": _POLICY,
        "at": f"when {_TIME}",
        "outcome": "new-version, changed-back, unchanged, backfilled or error",
        "capture_id": "the capture a check stored (captures.id)",
        "version": "the version it shows",
        "message": "the line the command printed, or the error",
    }),
    "schedule": ("Each scheduled job of the daemon: when it last ran and runs next.", {
        "job": "check:<policy>, archive-refresh or digest",
        "first_seen": f"when the scheduler first saw it {_TIME}",
        "last_run": f"when it last ran {_TIME}",
        "last_outcome": "how that run ended",
        "next_run": f"when it is due {_TIME}",
    }),
    "digests": ("Every e-mail digest: its period, message, and delivery.", {
        "id": "its identity",
        "created_at": f"when it was made {_TIME}",
        "period_start": f"the changes it carries were detected from {_TIME}",
        "period_end": f"until {_TIME}",
        "subject": "the e-mail's subject",
        "recipients": "the addresses it goes to (JSON list)",
        "message": "the e-mail as it is sent, and sent again after a failure",
        "message_id": "its Message-ID header",
        "status": "pending or sent",
        "attempts": "how many times sending was tried",
        "last_attempt_at": f"the last try {_TIME}",
        "last_error": "why the last try failed",
        "sent_at": f"when it was sent {_TIME}",
    }),
    "digest_changes": ("The changes each digest carried: every change is sent at most once.", {
        "digest_id": "the digest (digests.id)",
        "policy": _POLICY,
        "to_capture": "the change's identity (changes.to_capture)",
    }),
    "archive_hosts": ("Each archive host asked: the pause its last 429 asked for, shared by every process.", {
        "host": "the archive's host (and port)",
        "paused_until": "nothing is asked of it before this moment (seconds since 1970, UTC)",
        "refusals": "its 429 answers in a row",
    }),
    "archive_slots": ("When each archive host may next be asked each kind of request, for every process.", {
        "host": "the archive's host (and port)",
        "kind": "index, capture or save",
        "next_at": "the next request of this kind may start then (seconds since 1970, UTC)",
    }),
    # the views of migration 12
    "change_list": ("Every change with its policy's title, its window and how long it is.", {
        "id": "changes.id",
        "policy": _POLICY,
        "title": _TITLE,
        "from_version": "the old version's number",
        "to_version": "the new version's number",
        "kind": "cosmetic, date-only, substantive, rewrite or translated",
        "magnitude": "the share of the words of both versions added or removed, 0 to 1",
        "technical": "1 when an extraction upgrade made it, not the policy",
        "reverts_to": "the number of an earlier version whose text came back, if it did",
        "window_start": f"the last capture of the old text {_TIME}",
        "window_end": f"the first capture of the new text {_TIME}",
        "window_days": "how many days the window spans: the change happened somewhere in it",
        "declared_date": "the date the new text gives itself, YYYY-MM-DD",
        "detected_at": f"when this tool first derived it {_TIME}",
        "from_capture": "the last capture of the old text (captures.id)",
        "to_capture": "the first capture of the new text (captures.id)",
    }),
    "version_list": ("Every version with its policy's title, its dates and its length.", {
        "id": "versions.id",
        "policy": _POLICY,
        "title": _TITLE,
        "version": "its number, 1 for the oldest",
        "first_seen": f"its first capture {_TIME}",
        "last_seen": f"its last capture {_TIME}",
        "declared_date": "the date the text gives itself, YYYY-MM-DD",
        "word_count": "words in the text",
        "language": "ISO 639-1 code",
        "captures": "how many captures showed it",
        "first_capture": "captures.id of its first capture",
        "last_capture": "captures.id of its last capture",
    }),
    SEARCH_VIEW: ("Every section of every version, searchable: a search shows where each "
                  "matching text occurs (policy, version, dates, heading).", {
        "text_id": "the section's text (section_texts.id)",
        "policy": _POLICY,
        "title": _TITLE,
        "version": "the version's number",
        "first_seen": f"the version's first capture {_TIME}",
        "last_seen": f"the version's last capture {_TIME}",
        "declared_date": "the date the version gives itself, YYYY-MM-DD",
        "position": "the section's place in the version, from 0",
        "heading": "the section's heading with its number; '' for the text before the first heading",
        "text": "the section's own text",
    }),
}

_FAILING_SINCE = """
WITH checks AS (
  SELECT r.id, r.policy, r.at, r.outcome, r.message
  FROM run_results r JOIN runs ON runs.id = r.run_id
  WHERE runs.command = 'check'
),
last_good AS (
  SELECT policy, max(id) AS id FROM checks WHERE outcome != 'error' GROUP BY policy
),
failing AS (
  SELECT c.policy, min(c.at) AS failing_since, max(c.id) AS last_id, count(*) AS failed_checks
  FROM checks c LEFT JOIN last_good g ON g.policy = c.policy
  WHERE c.id > coalesce(g.id, 0)
  GROUP BY c.policy
)
SELECT f.policy, p.title, c.message, f.failing_since, f.failed_checks, c.at AS last_checked
FROM failing f
JOIN checks c ON c.id = f.last_id
JOIN policies p ON p.name = f.policy
ORDER BY f.failing_since
"""

QUERIES: dict[str, dict[str, Any]] = {
    "changes_this_week": {
        "title": "Changes this week",
        "description": "Changes whose new text was first captured in the last 7 days, newest first "
                       "(technical changes aside).",
        "sql": "SELECT * FROM change_list\n"
               "WHERE window_end >= strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-7 days') AND NOT technical\n"
               "ORDER BY window_end DESC",
    },
    "substantive_changes_by_policy": {
        "title": "Substantive changes by policy",
        "description": "The changes of wording (substantive and rewrites) of each policy, oldest first.",
        "sql": "SELECT policy, title, from_version, to_version, kind, magnitude, window_start, window_end,\n"
               "       declared_date, to_capture\n"
               "FROM change_list\n"
               "WHERE kind IN ('substantive', 'rewrite') AND NOT technical\n"
               "ORDER BY policy, window_end",
    },
    "where_does_this_phrase_appear": {
        "title": "Where does this phrase appear",
        "description": "Every version of every policy with a section holding the phrase (its words in "
                       "this order, whatever their case and accents; 'sell' finds 'selling' too), "
                       "the match in [brackets].",
        "sql": "SELECT s.policy, p.title, v.number AS version, v.first_seen, v.last_seen, v.declared_date, t.heading,\n"
               "       snippet(section_texts_fts, -1, '[', ']', '…', 24) AS snippet\n"
               "FROM section_texts_fts\n"
               "JOIN section_texts t ON t.id = section_texts_fts.rowid\n"
               "JOIN section_versions s ON s.text_id = t.id\n"
               "JOIN versions v ON v.policy = s.policy AND v.number BETWEEN s.first_version AND s.last_version\n"
               "JOIN policies p ON p.name = s.policy\n"
               "WHERE section_texts_fts MATCH '\"' || replace(:phrase, '\"', '\"\"') || '\"'\n"
               "ORDER BY s.policy, v.number, s.position",
    },
    "policies_failing_checks": {
        "title": "Policies failing checks",
        "description": "Policies whose last check failed: the error, and since when checks fail.",
        "sql": _FAILING_SINCE.strip(),
    },
}


def metadata() -> dict[str, Any]:
    """Datasette's metadata for the store: every table and column described, the sections
    searchable, the canned queries."""
    tables: dict[str, Any] = {name: {"description": about, "columns": columns}
                              for name, (about, columns) in TABLES.items()}
    tables["policies"]["label_column"] = "title"
    tables[SEARCH_VIEW].update(fts_table="section_texts_fts", fts_pk="text_id")
    return {
        "title": TITLE,
        "description": "What policy-tracker stored: captures of privacy policies and terms, "
                       "the versions and changes derived from them, and a full-text index of "
                       f"their sections (search them in {SEARCH_VIEW}). Read-only.",
        "databases": {DATABASE: {
            "description": "Start with the views (change_list, version_list, and section_list, where the "
                           "sections are searched) and the queries; every table and column is described "
                           "on its page.",
            "tables": tables, "queries": QUERIES}},
    }


def search_link(datasette_url: str, policy: str) -> str:
    """The sections of one policy, searchable, in a Datasette instance serving the store."""
    return f"{datasette_url.rstrip('/')}/{DATABASE}/{SEARCH_VIEW}?{urlencode({'policy': policy})}"


def database_file(location: Path | str) -> Path:
    """The SQLite file to serve: Datasette reads no other kind of database."""
    if not isinstance(location, Path):
        raise TrackerError(f"{masked_url(location)}: tracker serve needs a SQLite store (Datasette reads "
                           "SQLite files only); this store is in PostgreSQL")
    return location


def serve(path: Path, host: str, port: int, started: Callable[[str], None] = lambda url: None) -> None:
    """Serve the store at ``path`` until interrupted; ``started`` is told the address once
    the port is held."""
    try:
        import uvicorn
        from datasette.app import Datasette
        from datasette.database import Database
    except ImportError:
        raise TrackerError(f"Datasette is not installed: {INSTALL}") from None

    class ReadOnly(Database):
        """The store as Datasette reads it: a connection that could write is never opened."""

        def connect(self, write: bool = False) -> Any:
            if write:
                raise PermissionError(f"{path}: served read-only")
            return super().connect()

    listening = _listen(host, port)
    instance = Datasette(metadata=metadata())
    instance.remove_database("_memory")  # made for an instance without files: the store is added below
    instance.add_database(ReadOnly(instance, path=str(path), is_mutable=True), name=DATABASE)
    started(f"http://{f'[{host}]' if ':' in host else host}:{port}/")
    server = uvicorn.Server(uvicorn.Config(instance.app(), log_level="warning", lifespan="on"))
    try:
        server.run(sockets=[listening])
    except KeyboardInterrupt:
        pass
    finally:
        listening.close()


def _listen(host: str, port: int) -> socket.socket:
    """The server's socket, bound here so that a port in use is one line naming it."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise TrackerError(f"--host {host}: not an address to listen on ({e.strerror})") from None
    listening = socket.socket(family, kind, proto)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: a port just freed is free
    try:
        listening.bind(address)
    except OSError as e:
        listening.close()
        if e.errno == errno.EADDRINUSE:
            raise TrackerError(f"port {port} on {host} is in use: stop what holds it, or pass --port") from None
        raise TrackerError(f"cannot listen on {host} port {port} ({e.strerror or e})") from None
    return listening
