"""Histories and changes as a person reads them in a terminal.

On a terminal, insertions are green and underlined, deletions red and struck through (two
cues, for readers who do not tell the colours apart). In a pipe or a file they are marked
``{+inserted+}`` and ``[-deleted-]``, as wdiff does, so the output stays readable as text.
"""

from __future__ import annotations

import json
import re

import click

from tracker.diff import Op, SectionChange, heading_name
from tracker.facts import Evidence
from tracker.history import Comparison, Move
from tracker.models import Capture, Version, parse_iso
from tracker.search import ChangeRef, PolicyHit, Snippet, Span

CONTEXT_WORDS = 12  # words of unchanged text kept on each side of a change
# Control characters, but for tab and line feed: fetched text holding them could move the
# cursor, retitle the window or write to the clipboard of whoever reads it in a terminal.
# The bidirectional overrides and isolates go too: they reorder what a reader sees.
CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
LONGEST_ERROR = 400


def printable(text: str) -> str:
    """Text from fetched content, safe to print to a terminal."""
    return CONTROLS.sub("", text)


def error_line(text: str) -> str:
    """An error as one printable line of a length a terminal shows whole (a message may
    carry fetched text, such as a 60,000-character redirect target)."""
    line = one_line(text)
    return line if len(line) <= LONGEST_ERROR else f"{line[:LONGEST_ERROR - 40]} … {line[-35:]}"


def one_line(text: str) -> str:
    """Fetched text, printable, its white space one space."""
    return " ".join(printable(text).split())


LONGEST_QUOTE = 300  # characters of a sentence quoted as a fact's evidence


def quoted(text: str) -> str:
    """A sentence quoted on one line, cut to a length a reader takes in."""
    line = one_line(text)
    return line if len(line) <= LONGEST_QUOTE else line[:LONGEST_QUOTE - 1] + "…"


def json_text(data: object) -> str:
    """JSON to print: fetched text keeps its characters, with the C1 controls escaped (the
    encoder escapes the others)."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    return CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def when(timestamp: str | None) -> str:
    """A stored UTC timestamp as people read it."""
    return "-" if not timestamp else timestamp[:16].replace("T", " ") + " UTC"


def version_line(version: Version) -> str:
    declared = f"  declared {version.declared_date}" if version.declared_date else ""
    words = f"  {version.word_count:,} words" if version.word_count is not None else ""
    language = f"  in {version.language}" if version.language else ""
    return (f"version {version.number:<3} seen {when(version.first_seen)} to {when(version.last_seen)}"
            f"  {version.captures} capture(s){declared}{words}{language}")


def change_line(change: Comparison, versions: dict[int, Version]) -> str:
    """One line: versions, kind, magnitude, window, sections touched, facts."""
    kind = change.label + (f" {change.magnitude:.2f}" if change.magnitude is not None else "")
    marks = []
    if change.reverts_to:
        marks.append(f"reverts to the version first seen {versions[change.reverts_to].first_seen[:10]}")
    if change.technical:
        marks.append("technical: from an extraction upgrade, not notified")
    counts = section_counts(change.touched)
    facts = "; ".join(f.summary for f in change.facts)
    assert change.window is not None, "a change of the history has its window"
    parts = [f"  change {change.from_version} -> {change.to_version}  {kind}",
             f"between {when(change.window.start)} and {when(change.window.end)}"]
    return "  ".join(parts + marks + ([counts] if counts else []) + ([facts] if facts else []))


def history_lines(title: str, versions: list[Version], changes: list[Comparison], moves: list[Move]) -> list[str]:
    """A policy's history as `tracker history` prints it: a summary, then its versions,
    changes and moves, one line each, in time order (a move before a change it came with)."""
    by_number = {v.number: v for v in versions}
    lines = [f"{title}: {len(versions)} version(s), {len(changes)} change(s)"
             + (f", {len(moves)} move(s)" if moves else ""), version_line(versions[0])]
    waiting = list(moves)
    for change in changes:
        while waiting and change.window and waiting[0].at <= change.window.end:
            lines.append(move_line(waiting.pop(0)))
        lines.append(change_line(change, by_number))
        if not change.reverts_to:
            lines.append(version_line(by_number[change.to_version]))
    return lines + [move_line(move) for move in waiting]


def move_line(move: Move) -> str:
    """'  moved A -> B  2025-06-03 09:30 UTC  HTTP 301 redirect (warc capture)': the URLs may
    come from a page's redirect, so they are made printable."""
    evidence = move.evidence
    how = f"HTTP {move.redirect.status} redirect" if move.redirect else "first capture at the new URL"
    return (f"  moved {one_line(move.from_url)} -> {one_line(move.to_url)}  {when(move.at)}"
            f"  {how} ({evidence.source} capture)")


def evidence_line(side: str, evidence: Evidence, named: bool) -> str:
    """'      before: "… under 13 years of age." (Children)': the sentence a value was read from;
    the value is named when a fact has several."""
    value = f" {quoted(evidence.value)}" if named else ""
    section = f" ({quoted(evidence.section)})" if evidence.section else ""
    return f"      {side}{value}: \"{quoted(evidence.sentence)}\"{section}"


def section_counts(sections: list[SectionChange]) -> str:
    """'3 modified, 1 added, 2 removed'."""
    order = ["modified", "added", "removed", "renamed", "moved", "split", "merged"]
    counts = {status: sum(s.status == status for s in sections) for status in order}
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n)


def _change_header(change: Comparison, title: str, versions: dict[int, Version]) -> list[str]:
    """The versions, kind and window of a change: how `diff` and `diff --stat` begin."""
    old, new = versions[change.from_version], versions[change.to_version]
    lines = [f"{title}: version {old.number} -> {new.number}: {change.label}"
             + (f", magnitude {change.magnitude:.2f}" if change.magnitude is not None else "")]
    if change.window:
        lines.append(f"changed between {when(change.window.start)} (last capture of version {old.number})"
                     f" and {when(change.window.end)} (first capture of version {new.number})")
    else:
        lines.append(f"version {old.number} first seen {when(old.first_seen)}; "
                     f"version {new.number} first seen {when(new.first_seen)}")
    return lines


def render_change(change: Comparison, title: str, versions: dict[int, Version], color: bool) -> str:
    lines = _change_header(change, title, versions)
    if change.reverts_to:
        lines.append(f"reverts to the version first seen {versions[change.reverts_to].first_seen[:10]}")
    if change.technical:
        lines.append("technical: produced by an extraction upgrade, not by the policy (never notified)")
    if change.facts:
        lines.append("\nkey facts")
        for f in change.facts:
            lines.append(f"  {printable(f.summary)}")
            lines.extend(evidence_line(side, e, named=len(f.old_evidence) + len(f.new_evidence) > 2)
                         for side, said in (("before", f.old_evidence), ("after", f.new_evidence)) for e in said)
        lines.extend(f"  {printable(f.label)}: {printable(', '.join(f.new))} (unchanged)" for f in change.facts_unchanged)
    counts = section_counts(change.touched)
    unchanged = len(change.untouched)
    lines.append(f"\nsections: {counts or 'no section changed'}"
                 + (f"; {unchanged} unchanged" if unchanged else ""))
    for section in change.touched:
        lines.append("")
        lines.append(_section_title(section, color))
        body = _ops_text(section.ops, color)
        if body:
            lines.append(body)
    return "\n".join(lines)


def render_stat(change: Comparison, title: str, versions: dict[int, Version], color: bool) -> str:
    """Each section the change touched with the words it gained and lost, and the totals: a
    rewrite read in one screen, before its text (what `diff --stat` prints)."""
    rows = [(s.status, s.words_added, s.words_removed, stat_name(s)) for s in change.touched]
    added, removed = sum(r[1] for r in rows), sum(r[2] for r in rows)
    width = max(len(f"{added:,}") + 1, len(f"{removed:,}") + 1, len("removed"))
    status_width = max([len(r[0]) for r in rows] + [len("status")])

    def line(status: str, plus: str, minus: str, name: str) -> str:
        if color and plus[0] == "+":
            plus, minus = (click.style(text, fg=fg) for text, fg in ((f"{plus:>{width}}", "green"),
                                                                     (f"{minus:>{width}}", "red")))
        return f"{status:<{status_width}}  {plus:>{width}}  {minus:>{width}}  {name}"

    lines = _change_header(change, title, versions) + [""]
    lines.append(line("status", "added", "removed", "section"))
    lines.extend(line(status, f"+{a:,}", f"-{r:,}", name) for status, a, r, name in rows)
    counts = section_counts(change.touched) or "no section changed"
    unchanged = f"; {len(change.untouched)} unchanged" if change.untouched else ""
    lines.append(line("total", f"+{added:,}", f"-{removed:,}", f"{counts}{unchanged}"))
    return "\n".join(lines)


def stat_name(section: SectionChange) -> str:
    """A section on one line of `diff --stat`: a renamed one by both its names."""
    name = one_line(section.display_heading)
    if section.status == "renamed":
        name = f"{one_line(heading_name(section.old_heading))} -> {one_line(heading_name(section.new_heading))}"
    return name + (" (moved)" if section.moved and section.status != "moved" else "")


def _section_title(section: SectionChange, color: bool) -> str:
    status = section.status
    name = lambda h: f'"{h}"' if h else heading_name(h)  # noqa: E731
    if status == "renamed":
        text = f"renamed: {name(section.old_heading)} -> {name(section.new_heading)}"
    elif status == "split":
        text = f"split: {name(section.old_heading)} -> " + ", ".join(name(p) for p in section.parts)
    elif status == "merged":
        text = "merged: " + ", ".join(name(p) for p in section.parts) + f" -> {name(section.new_heading)}"
    else:
        text = f"{status}: {name(section.heading)}"
    extras = [word for flag, word in ((section.moved and status != "moved", "moved"),
                                      (section.modified and status not in ("modified", "added", "removed"),
                                       "text changed")) if flag]
    text = f"## {text}" + (f" ({', '.join(extras)})" if extras else "")
    return click.style(printable(text), bold=True) if color else text


def _ops_text(ops: list[Op], color: bool) -> str:
    out = []
    for i, (op, text) in enumerate(ops):
        if op == "=":
            out.append(printable(_shorten(text, keep_start=i > 0, keep_end=i < len(ops) - 1)))
        elif color:
            out.append(click.style(printable(text), fg="green" if op == "+" else "red",
                                   underline=op == "+", strikethrough=op == "-"))
        else:
            out.append(f"{{+{text}+}}" if op == "+" else f"[-{text}-]")
    return "".join(out).strip("\n")


def _shorten(text: str, keep_start: bool, keep_end: bool) -> str:
    """Unchanged text reduced to the words next to the changes around it."""
    words = re.split(r"(\s+)", text)  # words and the spaces between them
    keep = 2 * CONTEXT_WORDS
    if len(words) <= 2 * keep + 1:
        return text
    head = "".join(words[:keep]).rstrip() if keep_start else ""
    tail = "".join(words[-keep:]).lstrip() if keep_end else ""
    # the spaces at either end are the ones next to a change: they stay, or words run together
    return " ".join(part for part in (head, "…", tail) if part)


RAW_SUFFIXES = {"html": "html", "text": "txt", "pdf": "pdf"}  # by capture format; anything else: .bin


def raw_file_name(capture: Capture) -> str:
    """A file name for a capture's exact bytes, with the extension a program opens it by."""
    return f"capture-{capture.id}.{RAW_SUFFIXES.get(capture.format, 'bin')}"


def capture_lines(capture: Capture, version: int | None, reason: str | None) -> list[str]:
    """A stored capture, one field a line: what it is, where it came from, what it shows."""
    size = f", {capture.size:,} bytes" if capture.size else ""
    lines = [f"capture {capture.id} of {capture.policy}",
             f"  url        {quoted(capture.url)}",
             f"  source     {capture.source}" + (f"  {quoted(capture.archive_url)}" if capture.archive_url else ""),
             f"  captured   {when(capture.captured_at)}  (read {when(capture.fetched_at)})",
             f"  status     HTTP {capture.status}  {quoted(capture.content_type or capture.format)}{size}",
             f"  sha256     {capture.sha256 or 'none: no body stored'}"]
    if capture.flags:
        lines.append(f"  flags      {', '.join(capture.flags)}")
    lines += [f"  redirect   {hop.get('status')} {quoted(str(hop.get('url')))} -> {quoted(str(hop.get('location')))}"
              for hop in capture.redirects]
    if capture.saved_url:
        lines.append(f"  saved      {quoted(capture.saved_url)}")
    if version is not None:
        lines.append(f"  version    {version}")
    elif reason:
        lines.append(f"  rejected   {quoted(reason)}")
    else:
        lines.append("  version    none yet (not placed in a history)")
    return lines


TIMELINE_WIDTH = 48  # characters of `search --history`'s bar


def search_lines(hits: list[PolicyHit], color: bool, timeline: bool) -> list[str]:
    """What `tracker search` prints: per policy, newest first, when it held the wording and
    (without ``timeline``) each section that holds it, with a snippet; with ``timeline``, a
    bar of the policy's history instead of the sections."""
    lines: list[str] = []
    for hit in hits:
        lines.append(f"{hit.policy}  {one_line(hit.title)}")
        if timeline:
            lines.append(f"  {hit.first_seen[:10]} {_bar(hit)} {hit.last_seen[:10]}")
        lines.extend(f"  {span_text(span)}" for span in hit.spans)
        if not timeline:
            for section in hit.sections:
                versions = ", ".join(str(n) for n in section.versions)
                lines.append(f"  § {one_line(section.heading)}  (version{'s' * (len(section.versions) > 1)} {versions})")
                lines.append(f"      {_marked(section.snippet, color)}")
            if hit.more_sections:
                lines.append(f"  … and {hit.more_sections} more section{'s' * (hit.more_sections > 1)} "
                             f"(--all shows them)")
        lines.append("")
    return lines[:-1]


def span_text(span: Span) -> str:
    """'2016-03-30 to 2019-07-01, versions 1 to 3: added by change 1 -> 2 between … and …;
    removed by change 3 -> 4 between … and …'."""
    versions = (f"version {span.first_version}" if span.first_version == span.last_version
                else f"versions {span.first_version} to {span.last_version}")
    added = "from the first capture" if span.added_by is None else f"added by {_change_ref(span.added_by)}"
    removed = "still there" if span.removed_by is None else f"removed by {_change_ref(span.removed_by)}"
    return f"{span.first_seen[:10]} to {span.last_seen[:10]}, {versions}: {added}; {removed}"


def _change_ref(change: ChangeRef) -> str:
    return (f"change {change.from_version} -> {change.to_version} ({change.kind}) "
            f"between {change.window_start[:10]} and {change.window_end[:10]}")


def _marked(snippet: Snippet, color: bool) -> str:
    """A snippet on one line, its matches coloured on a terminal, in [brackets] elsewhere."""
    return "".join(printable(text) if not match else
                   click.style(one_line(text), fg="yellow", bold=True) if color else f"[{one_line(text)}]"
                   for text, match in snippet.pieces())


def _bar(hit: PolicyHit) -> str:
    """The policy's history (in the period searched) as a bar: '█' while it held the wording,
    '·' while it did not. A history of one moment held it all along."""
    start, end = _days(hit.first_seen), _days(hit.last_seen)
    if end <= start:
        return "█" * TIMELINE_WIDTH
    cells = ["·"] * TIMELINE_WIDTH
    for span in hit.spans:  # a span may begin before the period, or end after it
        first, last = (min(max(int((_days(day) - start) / (end - start) * TIMELINE_WIDTH), 0), TIMELINE_WIDTH - 1)
                       for day in (span.first_seen, span.last_seen))
        cells[first:last + 1] = ["█"] * (last - first + 1)
    return "".join(cells)


def _days(timestamp: str) -> float:
    return parse_iso(timestamp).timestamp() / 86400
