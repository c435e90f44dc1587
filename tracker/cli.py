"""The ``tracker`` command: a thin layer over the Python API.

User errors (``TrackerError``) print one line naming what is at fault and exit 1; ``-v`` adds
the detail (log lines and tracebacks).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
import threading
import traceback
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import click

from tracker import __version__, api, configfile, console, digest, export, runs, schedule, serve
from tracker import report as reports
from tracker.api import Rebuilt, Tracker
from tracker.backfill import STRATEGIES, Backfilled
from tracker.config import DEFAULT_CONFIG, Config, PolicyConfig, load_config
from tracker.document import as_text
from tracker.errors import TrackerError
from tracker.search import SECTIONS
from tracker.store import Store, database_errors, database_problem
from tracker.store.copy import Copied, check_source


@dataclass
class Context:
    config_path: Path
    verbose: bool
    workers: int | None = None  # --workers, for the commands that take it

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_path)

    @cached_property
    def tracker(self) -> Tracker:
        tracker = Tracker(self.config, self.workers)
        click.get_current_context().call_on_close(tracker.close)  # a cluster's processes end with the command
        return tracker

    @property
    def store(self) -> Store:
        return self.tracker.store

    def close(self) -> None:
        """The store's connection ends with the command, also when the command runs in a
        process that goes on (a PostgreSQL server counts the connections left open)."""
        if "tracker" in self.__dict__:
            self.tracker.close()


class TrackerCommand(click.Command):
    def get_short_help_str(self, limit: int = 45) -> str:
        """The whole first sentence in the overview of `tracker --help`, wrapped rather than
        cut off: a description cut at 45 characters does not say what a command does."""
        return super().get_short_help_str(limit=1000)


class TrackerGroup(click.Group):
    """Turns user errors into one line on stderr, at every depth of the command tree."""

    command_class = TrackerCommand

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TrackerError as e:
            _fail(ctx, str(e))
        except database_errors() as e:
            problem = database_problem(ctx.obj.config.database, e) if ctx.obj is not None else None
            if problem is None:
                raise
            _fail(ctx, problem)
        except OSError as e:
            if not e.filename:
                raise
            _fail(ctx, f"{e.filename}: {e.strerror or e}")
        except KeyboardInterrupt as e:
            stopped = isinstance(e, Stopped)
            echo(f"{'stopped' if stopped else 'interrupted'}; everything stored so far is kept", err=True)
            sys.exit(128 + signal.SIGTERM if stopped else 130)


class Stopped(KeyboardInterrupt):
    """SIGTERM (`kill`, `timeout`, a service manager stopping a job): a command ends as Ctrl-C
    ends it, its transaction rolled back, its run recorded as interrupted and its workers
    stopped, with one line; not killed where it stands."""


def _stop_on_sigterm(ctx: click.Context) -> None:
    def stop(signum: int, frame: object) -> None:
        raise Stopped()
    if threading.current_thread() is not threading.main_thread():
        return  # invoked from a thread (as a library): signals are the program's business
    previous = signal.signal(signal.SIGTERM, stop)
    ctx.call_on_close(lambda: signal.signal(signal.SIGTERM, previous))


def _fail(ctx: click.Context, message: str) -> None:
    if ctx.obj is not None and ctx.obj.verbose:
        traceback.print_exc()
    echo(f"error: {console.error_line(message)}", err=True)
    sys.exit(1)


def _not_dask(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.CRITICAL or not record.name.startswith("distributed")


pass_context = click.make_pass_decorator(Context)

workers_option = click.option(
    "--workers", type=click.IntRange(1, 1024), metavar="N",
    help="Work on N policies at once, on a Dask cluster of N worker processes started on this machine "
         "(default: the cluster [compute] scheduler names, if set; else one policy after another here).")


def echo(text: str = "", err: bool = False, nl: bool = True, styled: bool = False) -> None:
    """Print a line that may hold fetched text: its control characters never reach the
    terminal (``styled``: text whose fetched parts ``console`` made printable already)."""
    click.echo(text if styled else console.printable(text), err=err, nl=nl)


@click.group(cls=TrackerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              envvar="TRACKER_CONFIG", default=DEFAULT_CONFIG, show_default=True,
              help="Configuration file (or set TRACKER_CONFIG).")
@click.option("-v", "--verbose", is_flag=True, help="Show detail: log lines and tracebacks.")
@click.version_option(__version__, prog_name="policy-tracker")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, verbose: bool) -> None:
    """Follow how privacy policies and terms of service change, with archived evidence."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:  # urllib3 warns with a traceback about a server's broken answers: ours is one line
        logging.getLogger("urllib3").setLevel(logging.ERROR)
        # Dask's log lines (a cluster starting, a worker dying) say nothing a policy's line does not:
        # not in this process, nor in its worker processes
        for handler in logging.getLogger().handlers:
            handler.addFilter(_not_dask)
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "critical")
    ctx.obj = Context(config_path, verbose)
    ctx.call_on_close(ctx.obj.close)
    _stop_on_sigterm(ctx)  # the daemon sets its own


@cli.command()
@click.argument("names", nargs=-1)
@pass_context
def check(ctx: Context, names: tuple[str, ...]) -> None:
    """Fetch the current page of each policy (or of NAMES) and store it.

    Prints one line per policy: unchanged, new version, or the error. Exits 1 when any
    policy could not be checked; the others are checked all the same.
    """
    width = max((len(p.name) for p in ctx.config.select(names)), default=0)

    def show(outcome: runs.Outcome) -> None:
        echo(f"{outcome.policy:<{width}}  {_outcome_line(outcome)}", err=outcome.failed)

    if any(outcome.failed for outcome in ctx.tracker.check(*names, each=show)):
        sys.exit(1)


def _outcome_line(outcome: runs.Outcome) -> str:
    return f"error: {console.error_line(outcome.message)}" if outcome.failed else outcome.message


@cli.command("add")
@click.argument("url")
@click.option("--name", help="Its name on the command line (default: from the URL, such as example-privacy).")
@click.option("--title", help="What the reports call it (default: its name).")
@pass_context
def add_command(ctx: Context, url: str, name: str | None, title: str | None) -> None:
    """Add the policy at URL to the config file and check it for the first time.

    The policy is appended as a [[policy]] table; the file's comments and layout are kept,
    and a config file that does not exist yet is created. Then `tracker backfill NAME`
    pulls its archived history.
    """
    policy = configfile.add_policy(ctx.config_path, url, name, title)
    echo(f"added {policy.name} to {ctx.config_path}: {policy.current_url}")
    (outcome,) = ctx.tracker.check(policy.name)
    echo(f"{policy.name}  {_outcome_line(outcome)}", err=outcome.failed)
    if outcome.failed:
        sys.exit(1)
    echo(f"its archived history: tracker backfill {policy.name}")


def _date_prefix(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Checked here so that a wrong date is a usage error naming the option."""
    if value is not None:
        try:
            api.date_prefix(value, "")
        except TrackerError:
            raise click.BadParameter(f"{value!r} is not a date: use YYYY, YYYY-MM or YYYY-MM-DD") from None
    return value


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--from", "start", callback=_date_prefix, metavar="DATE", help="Only captures from DATE (YYYY[-MM[-DD]]).")
@click.option("--to", "end", callback=_date_prefix, metavar="DATE", help="Only captures up to DATE, included.")
@click.option("--strategy", type=click.Choice(STRATEGIES), default="all", show_default=True,
              help="Which listed captures to fetch (see above).")
@click.option("--every", default="1m", show_default=True, metavar="INTERVAL",
              help="For --strategy interval: 7d, 2w, 1m, 6m, 1y.")
@workers_option
@pass_context
def backfill(ctx: Context, names: tuple[str, ...], start: str | None, end: str | None, strategy: str,
             every: str, workers: int | None) -> None:
    """Pull the archived history of each policy (or of NAMES) and derive its versions.

    Each policy's `archives` are read (default: the Internet Archive), for every one of its
    `urls`, and the captures merge into one timeline. Interrupted, it goes on where it
    stopped on the next run; run twice, it changes nothing.

    \b
    Strategies:
      all       every distinct capture (captures with a body already stored are not fetched)
      interval  one capture per --every interval, the one nearest its middle
      changes   the two ends, then bisection of every span whose ends differ: far fewer
                fetches. It assumes that when a span's ends show the same text, nothing
                changed inside it: a text that changes and changes back between two
                fetched captures can be missed.
    """
    if start and end and api.date_prefix(start, "--from").ljust(8, "0") > api.date_prefix(end, "--to").ljust(8, "9"):
        raise click.BadParameter("--from is after --to: nothing can be in that period", param_hint="--from")
    width = max((len(p.name) for p in ctx.config.select(names)), default=0)
    ctx.workers = workers

    def show(report: Backfilled) -> None:
        if sys.stderr.isatty():
            echo("\r\033[K", err=True, nl=False, styled=True)  # the progress line gives way to the summary
        summary = console.error_line(report.summary()) if report.failed else report.summary()
        echo(f"{report.policy:<{width}}  {summary}", err=report.failed)

    reports = ctx.tracker.backfill(*names, start=start, end=end, strategy=strategy, every=every, each=show,
                                   progress_for=_progress_bar)
    if any(report.failed for report in reports):
        sys.exit(1)


def _progress_bar(policy: PolicyConfig):
    """A progress line per policy on a terminal; nothing in a pipe or a log."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int, fetched: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        echo(f"\r{policy.name}: [{'#' * filled}{'.' * (width - filled)}] {done}/{total} captures, "
                   f"{fetched} fetched", err=True, nl=False, styled=True)
    return show


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_context
def status(ctx: Context, names: tuple[str, ...], as_json: bool) -> None:
    """Per policy: last check, captures, versions, last change and last error."""
    store = ctx.store
    rows = [store.runs.status(p.name) for p in ctx.config.select(names)]
    if as_json:
        digests = [{k: d[k] for k in ("subject", "status", "created_at", "sent_at", "attempts", "last_error")}
                   for d in store.digests.all()]
        echo(console.json_text({"database": store.name, "schedule": store.runs.schedule(), "digests": digests,
                               "policies": rows}))
        return
    echo(f"database: {store.name}")
    for job in store.runs.schedule():
        echo(f"job {job['job']}: last run {console.when(job['last_run'])}"
                   f"{'  ' + job['last_outcome'] if job['last_outcome'] else ''}; next run {console.when(job['next_run'])}")
    digests = store.digests.all()
    sent = [d for d in digests if d["status"] == "sent"]
    if sent:
        echo(f"digest: last sent {console.when(sent[-1]['sent_at'])}  {sent[-1]['subject']}")
    for pending in (d for d in digests if d["status"] == "pending"):
        echo(f"digest: pending since {console.when(pending['created_at'])} ({pending['attempts']} attempt(s)): "
                   f"{pending['last_error'] or 'not sent yet'}")
    for row in rows:
        check = row["last_check"]
        change = row["last_change"]
        error = row["last_error"]
        echo(f"\n{row['policy']}")
        echo(f"  last check     {_last_check(check, ctx.tracker.policy(row['policy']))}")
        backfill = row["last_backfill"]
        if backfill:
            echo(f"  last backfill  {console.when(backfill['at'])}  {backfill['message']}")
        echo(f"  captures       {row['captures']}")
        echo(f"  versions       {row['versions']}")
        echo(f"  last change    {_change_line(change) if change else 'none'}")
        if error:
            echo(f"  last error     {console.when(error['at'])}  {error['message']}")
        if row["failures_in_a_row"] >= ctx.config.schedule.failures:
            echo(f"  FAILING        {row['failures_in_a_row']} checks in a row")


@cli.command()
@click.argument("name")
@click.argument("version", required=False)
@pass_context
def show(ctx: Context, name: str, version: str | None) -> None:
    """Print a version of policy NAME as sectioned text (default: the latest version).

    VERSION is a version number, or a date (YYYY-MM-DD): the version shown on that day.
    """
    policy, versions = ctx.tracker.policy(name), ctx.tracker.versions(name)
    chosen = ctx.tracker.version(name, version)
    document = ctx.tracker.document(name, chosen.number)
    seen = f"seen {console.when(chosen.first_seen)} to {console.when(chosen.last_seen)} in {chosen.captures} capture(s)"
    echo(f"{policy.display_title}: version {chosen.number} of {len(versions)}, {seen}")
    if document is None:
        capture = ctx.store.captures.get(chosen.first_capture)
        echo(f"({capture.format} document, {capture.size:,} bytes: its text is not read yet)")
        return
    if document.declared_date:
        echo(f"declared date: {document.declared_date}")
    if chosen.language:
        echo(f"language: {chosen.language}")
    if document.provenance:
        echo(f"provenance: {document.provenance}")
    echo(f"\n# {document.title}\n" if document.title else "")
    echo(as_text(document), nl=False)


@cli.command("capture")
@click.argument("capture_id", metavar="ID", type=click.IntRange(1, 2**63 - 1))  # SQLite's integers
@click.option("--raw", is_flag=True,
              help="Write the stored body to standard output, byte for byte (redirected: never to a terminal).")
@click.option("--text", "as_text_", is_flag=True, help="Print the text read from it.")
@pass_context
def capture_command(ctx: Context, capture_id: int, raw: bool, as_text_: bool) -> None:
    """Print stored capture ID: what it is, where it came from, the version it shows.

    The reports show the ID of each capture they cite (and `tracker export` of every one).
    """
    if raw and as_text_:
        raise click.UsageError("--raw and --text: choose one")
    if raw:
        if sys.stdout.isatty():  # fetched bytes can hold escape sequences a terminal obeys
            raise TrackerError(f"--raw writes the stored bytes: redirect it to a file, "
                               f"e.g. > {console.raw_file_name(ctx.tracker.capture(capture_id))}")
        body = ctx.tracker.capture_body(capture_id)
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
    elif as_text_:
        document = ctx.tracker.capture_document(capture_id)
        echo(f"# {document.title}\n" if document.title else "", nl=bool(document.title))
        echo(as_text(document), nl=False)
    else:
        capture = ctx.tracker.capture(capture_id)
        echo("\n".join(console.capture_lines(capture, *ctx.tracker.capture_version(capture))))


@cli.command()
@click.argument("name")
@click.argument("from_version", metavar="[FROM]", required=False)
@click.argument("to_version", metavar="[TO]", required=False)
@click.option("--stat", is_flag=True, help="Only each section touched, with the words added and removed.")
@click.option("--json", "as_json", is_flag=True, help="Print the change as JSON.")
@pass_context
def diff(ctx: Context, name: str, from_version: str | None, to_version: str | None, stat: bool,
         as_json: bool) -> None:
    """Show what changed in policy NAME, section by section.

    Without FROM and TO: the latest change. With FROM only: from FROM to the latest version.
    FROM and TO are version numbers, or dates (YYYY-MM-DD): the version shown on that day.
    """
    change = ctx.tracker.diff(name, from_version, to_version)
    policy = ctx.tracker.policy(name)
    by_number = {v.number: v for v in ctx.tracker.versions(name)}
    if as_json:
        as_data = export.stat_json if stat else export.diff_json
        echo(console.json_text(as_data(policy, by_number[change.from_version], by_number[change.to_version], change)))
        return
    color = sys.stdout.isatty()
    render = console.render_stat if stat else console.render_change
    echo(render(change, policy.display_title, by_number, color=color), styled=color)


@cli.command("history")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
@pass_context
def history_command(ctx: Context, name: str, as_json: bool) -> None:
    """The versions and changes of policy NAME, one line each, oldest first."""
    policy, versions = ctx.tracker.policy(name), ctx.tracker.versions(name)
    if not versions:
        ctx.tracker.version(name)  # says there is none yet
    changes, moves = ctx.tracker.changes(name), ctx.tracker.moves(name)
    if as_json:
        echo(console.json_text({"policy": policy.name, "versions": [export.version_summary(v) for v in versions],
                               "changes": [export.change_json(c) for c in changes],
                               "moves": [export.move_json(m) for m in moves]}))
        return
    echo("\n".join(console.history_lines(policy.display_title, versions, changes, moves)))


@cli.command("search")
@click.argument("query")
@click.option("--policy", "names", multiple=True, metavar="NAME", help="Only this policy (may be given again).")
@click.option("--since", callback=_date_prefix, metavar="DATE", help="Only what policies showed from DATE (YYYY[-MM[-DD]]).")
@click.option("--until", callback=_date_prefix, metavar="DATE", help="Only what policies showed up to DATE, included.")
@click.option("--history", "timeline", is_flag=True, help="Per policy, only when it held the text, on a timeline.")
@click.option("--all", "every_section", is_flag=True,
              help=f"Every matching section of each policy, not only the {SECTIONS} newest.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of lines.")
@pass_context
def search_command(ctx: Context, query: str, names: tuple[str, ...], since: str | None, until: str | None,
                   timeline: bool, every_section: bool, as_json: bool) -> None:
    """Find when a wording appeared, and disappeared, in every version of the policies.

    QUERY is SQLite FTS5's syntax: words (all in one section), "a phrase", prefix*,
    NEAR(word other, 10), OR, NOT, and heading:word for a word in a section's heading.
    Case and accents are ignored, and English words find their other forms (sell: sells,
    selling). Newest first: each policy with the spans of time it held the text and the
    change that removed it; the sections that hold it, with a passage.
    """
    hits = ctx.tracker.search(query, *names, since=since, until=until,
                              sections=0 if timeline else None if every_section else SECTIONS)
    if as_json:
        echo(console.json_text(export.search_json(query, hits)))
    elif not hits:
        echo(f"no version of {', '.join(names) or 'any policy'} holds {query}")
    else:
        color = sys.stdout.isatty()
        echo("\n".join(console.search_lines(hits, color=color, timeline=timeline)), styled=color)


@cli.command("export")
@click.argument("name")
@click.option("--json", is_flag=True, hidden=True, expose_value=False)  # JSON is the one format; old scripts pass it
@pass_context
def export_command(ctx: Context, name: str) -> None:
    """The whole history of policy NAME as one JSON document: captures, versions, changes."""
    echo(console.json_text(ctx.tracker.export(name)))


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """'2026-11-16' -> the stored timestamp of that day's start (UTC)."""
    if value is None:
        return None
    if not api.is_day(value.strip()):
        raise click.BadParameter(f"{value!r} is not a date: use YYYY-MM-DD")
    return value.strip() + "T00:00:00.000Z"


def _address(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not re.fullmatch(r"[^@\s<>\",;]+@[^@\s<>\",;]+", value):
        raise click.BadParameter(f"{value!r} is not an e-mail address")
    return value


@cli.command("digest")
@click.option("--since", callback=_day, metavar="DATE", help="Start of the period (default: the end of the last digest).")
@click.option("--until", callback=_day, metavar="DATE", help="End of the period (default: now).")
@click.option("--dry-run", is_flag=True, help="Build the digest and show it; send nothing, record nothing.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              help="With --dry-run: write the e-mail to this .eml file instead of printing its text.")
@click.option("--to", "to_address", metavar="ADDRESS", callback=_address,
              help="Send a copy of the next digest to ADDRESS only: nothing is marked as sent.")
@pass_context
def digest_command(ctx: Context, since: str | None, until: str | None, dry_run: bool, out_file: Path | None,
                   to_address: str | None) -> None:
    """E-mail the digest of the changes no digest has carried yet.

    It first sends any digest that failed before (the same message), then the new one. Every
    change is sent once; technical changes never are. A failure keeps the digest pending for
    the next run, is shown by `tracker status`, and exits 1.
    """
    if since and until and since >= until:
        raise click.BadParameter("--since is not before --until: the period is empty", param_hint="--since")
    store, config = ctx.store, ctx.config
    if dry_run or to_address:
        message = digest.preview(store, config, since, until, [to_address] if to_address else None)
        if to_address and not dry_run:
            digest.deliver(message.as_bytes(), message["From"], [to_address], config.email)
            echo(f"sent a copy to {to_address}: {message['Subject']} (nothing marked as sent)")
        elif out_file:
            out_file.write_bytes(message.as_bytes())
            echo(f"{out_file}: {message['Subject']}")
        else:
            echo(f"Subject: {message['Subject']}\n")
            body = message.get_body(("plain",))
            assert body is not None  # digest.compose always sets the plain-text part
            echo(body.get_content())
        return
    outcome = digest.run(store, config, since, until)
    for subject in outcome.sent:
        echo(f"sent: {subject}")
    if outcome.nothing_new:
        echo("nothing new since the last digest: nothing sent")
    if outcome.failed:
        raise TrackerError(outcome.failed)


def _daemon_logging(config: Config) -> None:
    """One line per event on stderr, and in [schedule] log_file when set."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if config.schedule.log_file:
        path = Path(config.schedule.log_file)
        path = path if path.is_absolute() else config.path.parent / path
        try:
            handlers.append(logging.FileHandler(path, encoding="utf-8"))
        except OSError as e:
            raise TrackerError(f"schedule.log_file: cannot write {path} ({e.strerror or e})") from None
    for handler in handlers:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger = logging.getLogger("tracker")
    logger.handlers[:] = handlers
    logger.setLevel(logging.INFO)
    logger.propagate = False


@cli.command("daemon")
@workers_option
@pass_context
def daemon_command(ctx: Context, workers: int | None) -> None:
    """Run checks, archive refreshes, reports and the digest on schedule until stopped.

    The schedule is `[schedule]` in the config (see docs/scheduling.md). Work that fell due while no
    daemon ran is done once at start. SIGTERM or SIGINT: no new work is taken, running work
    has a few seconds to finish (a write not finished is rolled back), exit 0. One daemon per
    database: a second one exits with a message.
    """
    config = ctx.config
    _daemon_logging(config)
    ctx.store.close()
    schedule.daemon(config, config.path.parent / "reports", workers)


@cli.command("run")
@workers_option
@pass_context
def run_command(ctx: Context, workers: int | None) -> None:
    """Do once whatever the schedule says is due (for cron), then exit.

    Exits 1 when a job failed.
    """
    config = ctx.config
    ctx.store  # the policies are recorded before the jobs' own connections open
    ran = schedule.run_due(config, config.path.parent / "reports", workers)
    for name, done in ran:
        echo(f"{name}: {done.line}", err=done.failed)
    if not ran:
        echo("nothing is due")
    if any(done.failed for _, done in ran):
        sys.exit(1)


@cli.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder (default: reports/ beside the config file).")
@pass_context
def report(ctx: Context, out: Path | None) -> None:
    """Render the HTML reports: an index, a history per policy, a page per change and per
    version, Atom feeds. Only pages whose data changed are written again."""
    out = out or ctx.config.path.parent / "reports"
    result = reports.render_site(ctx.store, ctx.config, out)
    echo(f"{out}: {len(result.written)} page(s) written, {result.unchanged} unchanged"
               + (f", {len(result.removed)} removed" if result.removed else "")
               + f"; open {out / 'index.html'}")
    if not ctx.config.report.base_url and any(path.endswith("feed.xml") for path in result.written):
        echo("note: the feeds link to the pages relative to where they are published; set [report] base_url "
             "to that address for links a feed reader opens from anywhere")


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8001, show_default=True, help="The port to listen on.")
@pass_context
def serve_command(ctx: Context, host: str, port: int) -> None:
    """Browse, filter and search the store in Datasette, read-only, until stopped.

    Every table and column is described; `section_list` searches every version's sections;
    canned queries answer the usual questions. Needs `pip install 'policy-tracker[datasette]'`.
    The daemon may go on writing to the store meanwhile.
    """
    path = serve.database_file(ctx.store.location)  # brought up to date first: the views and the search index are there
    ctx.tracker.index()  # versions derived before the index existed are searchable too
    ctx.tracker.close()
    serve.serve(path, host, port, lambda url: echo(f"serving {path} read-only at {url} (Ctrl-C to stop)"))


@cli.command()
@click.argument("names", nargs=-1)
@workers_option
@pass_context
def rebuild(ctx: Context, names: tuple[str, ...], workers: int | None) -> None:
    """Re-derive versions and changes from the stored captures (all policies, or NAMES).

    Run it after upgrading policy-tracker or changing a policy's selectors. Captures are
    never touched. Changes that only an extraction upgrade produced are marked technical
    and are never notified.
    """
    ctx.workers = workers

    def show(rebuilt: Rebuilt) -> None:
        if rebuilt.error:
            echo(f"{rebuilt.policy}: error: {console.error_line(rebuilt.error)}", err=True)
        else:
            echo(f"{rebuilt.policy}: {rebuilt.versions} version(s), {rebuilt.changes} change(s)"
                 + (f", {rebuilt.technical} technical" if rebuilt.technical else ""))

    if any(rebuilt.error for rebuilt in ctx.tracker.rebuild(*names, each=show, collector_paused=True)):
        sys.exit(1)


@cli.command("migrate")
@click.option("--to", "url", required=True, metavar="URL",
              help="The empty PostgreSQL database: postgresql://user:password@host:port/database.")
@pass_context
def migrate_command(ctx: Context, url: str) -> None:
    """Copy the SQLite store into an empty PostgreSQL database, and verify the copy.

    Every table is copied with its ids, in one transaction (a copy that fails leaves the
    database empty), then each table's rows are counted and hashed in both stores and must
    agree. One line per table; then what to put in config.toml, which is not changed.
    """
    check_source(ctx.config.storage)  # before the store is opened, which would create a missing file

    def show(copied: Copied) -> None:
        echo(f"{copied.table:<20} {copied.rows:>10,} row(s)  sha256 {copied.sha256[:16]}  the same in both")

    migrated = ctx.tracker.migrate(url, each=show)
    echo(f"copied {len(migrated.tables)} tables ({migrated.rows:,} rows) from {migrated.source} to "
         f"{migrated.target}: every table's row count and hash agree")
    echo("to use it, put in config.toml, in place of [storage] path (config.toml is not changed):")
    echo(f'[storage]\nurl = "{migrated.target}"')
    if "***" in migrated.target:
        echo("(with the password in place of ***, or leave it out and set PGPASSWORD or ~/.pgpass)")


def _last_check(check: dict | None, policy: PolicyConfig) -> str:
    if check:
        return f"{console.when(check['at'])}  {check['message']}"
    return "never" if policy.live else "not checked (live = false)"


def _change_line(change: dict) -> str:
    return (f"to version {change['to_version']}, between {console.when(change['window_start'])} "
            f"and {console.when(change['window_end'])}")


def main() -> None:
    cli(prog_name="tracker")
