"""The ``tracker`` command: a thin layer over the Python API.

User errors (``UserError``) print one line naming what is at fault and exit 1; ``-v`` adds
the detail (log lines and tracebacks).
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import click

from tracker import __version__, history, jobs
from tracker.config import DEFAULT_CONFIG, Config, load_config
from tracker.document import as_text
from tracker.errors import UserError
from tracker.store import Store


@dataclass
class Context:
    config_path: Path
    verbose: bool

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_path)

    @cached_property
    def store(self) -> Store:
        return Store(self.config.db_path)


class TrackerGroup(click.Group):
    """Turns user errors into one line on stderr, at every depth of the command tree."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UserError as e:
            if ctx.obj is not None and ctx.obj.verbose:
                traceback.print_exc()
            click.echo(f"error: {e}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted; everything stored so far is kept", err=True)
            sys.exit(130)


pass_context = click.make_pass_decorator(Context)


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
    ctx.obj = Context(config_path, verbose)


@cli.command()
@click.argument("names", nargs=-1)
@pass_context
def check(ctx: Context, names: tuple[str, ...]) -> None:
    """Fetch the current page of each policy (or of NAMES) and store it.

    Prints one line per policy: unchanged, new version, or the error. Exits 1 when any
    policy could not be checked; the others are checked all the same.
    """
    failed = False
    width = max((len(p.name) for p in ctx.config.select(names)), default=0)
    for outcome in jobs.check(ctx.store, ctx.config, names):
        failed |= outcome.failed
        line = f"{outcome.policy:<{width}}  {'error: ' if outcome.failed else ''}{outcome.message}"
        click.echo(line, err=outcome.failed)
    if failed:
        sys.exit(1)


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_context
def status(ctx: Context, names: tuple[str, ...], as_json: bool) -> None:
    """Per policy: last check, captures, versions, last change and last error."""
    store = ctx.store
    rows = [store.policy_status(p.name) for p in ctx.config.select(names)]
    if as_json:
        click.echo(json.dumps({"database": str(store.path), "policies": rows}, indent=2))
        return
    click.echo(f"database: {store.path}")
    for row in rows:
        check = row["last_check"]
        change = row["last_change"]
        error = row["last_error"]
        click.echo(f"\n{row['policy']}")
        click.echo(f"  last check   {_when(check['at']) + '  ' + check['message'] if check else 'never'}")
        click.echo(f"  captures     {row['captures']}")
        click.echo(f"  versions     {row['versions']}")
        click.echo(f"  last change  {_change_line(change) if change else 'none'}")
        if error:
            click.echo(f"  last error   {_when(error['at'])}  {error['message']}")


@cli.command()
@click.argument("name")
@click.argument("version", required=False, type=int)
@pass_context
def show(ctx: Context, name: str, version: int | None) -> None:
    """Print a version of policy NAME as sectioned text (default: the latest version)."""
    (policy,) = ctx.config.select([name])
    versions = ctx.store.versions(policy.name)
    if not versions:
        raise UserError(f"{name}: no version stored yet (run 'tracker check {name}')")
    if version is None:
        chosen = max(versions, key=lambda v: v.last_seen)
    elif 1 <= version <= len(versions):
        chosen = versions[version - 1]
    else:
        raise UserError(f"{name}: no version {version} (versions 1 to {len(versions)})")
    document = history.version_document(ctx.store, policy, chosen)
    seen = f"seen {_when(chosen.first_seen)} to {_when(chosen.last_seen)} in {chosen.captures} capture(s)"
    click.echo(f"{policy.display_title}: version {chosen.number} of {len(versions)}, {seen}")
    if document is None:
        capture = ctx.store.capture(chosen.first_capture)
        click.echo(f"({capture.format} document, {capture.size:,} bytes: its text is not read yet)")
        return
    if document.declared_date:
        click.echo(f"declared date: {document.declared_date}")
    if document.provenance:
        click.echo(f"provenance: {document.provenance}")
    click.echo(f"\n# {document.title}\n" if document.title else "")
    click.echo(as_text(document), nl=False)


def _when(timestamp: str) -> str:
    """A stored UTC timestamp as people read it."""
    return timestamp[:16].replace("T", " ") + " UTC"


def _change_line(change: dict) -> str:
    return (f"to version {change['to_version']}, between {_when(change['window_start'])} "
            f"and {_when(change['window_end'])}")


def main() -> None:
    cli(prog_name="tracker")
