"""Entry point of the `monitor` command (also `python -m monitor`)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError

from monitor import __version__
from monitor.cli import (
    alerts,
    check,
    db,
    demo,
    export,
    items,
    parse,
    review_app,
    rules,
    run,
    search,
    sources,
    stats,
    timeline,
)
from monitor.cli.context import AppState, err
from monitor.errors import MonitorError

app = typer.Typer(
    name="monitor",
    help="Statement monitor: polls public sources, stores every statement with its edits, "
    "matches rules, sends alerts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"monitor {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="Config file (default: $MONITOR_CONFIG, else ./sources.yaml).",
            dir_okay=False,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    ctx.obj = AppState(config_path=config)
    level = (
        logging.DEBUG
        if verbose
        else getattr(logging, os.environ.get("MONITOR_LOG_LEVEL", "INFO").upper(), logging.INFO)
    )
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request at INFO: too chatty for a daemon polling hundreds of sources.
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING))
    # Alembic narrates every connection; `db upgrade` prints its own one-line result.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    # APScheduler narrates every job run (several a second); its warnings still show.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))


app.command("check", help="Validate the config; exit 0, or 2 with the errors.")(check.check)
app.add_typer(db.app, name="db")
app.command("run", help="The daemon: poll every source on its schedule, match, alert.")(run.run)
app.add_typer(items.app, name="items")
app.command("search", help="Search stored statements with the query language of rules.")(
    search.search
)
app.command("export", help="Export statements as CSV (Excel-ready), JSON lines or Markdown.")(
    export.export
)
app.command("stats", help="Counts per source and per leader, last statement, failures.")(
    stats.stats
)
app.add_typer(sources.app, name="sources")
app.add_typer(rules.app, name="rules")
app.add_typer(alerts.app, name="alerts")
app.command("parse", help="Parse a saved page or API response offline and print its posts.")(
    parse.parse
)
app.command("demo", help="Offline end-to-end demonstration on recorded feeds.")(demo.demo)
app.command("review", help="Review unreviewed matched statements one by one.")(review_app.review)
app.command("timeline", help="A leader's statements per day, stance, turns.")(timeline.timeline)


def main() -> None:
    try:
        app()
    except MonitorError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    except DBAPIError as exc:
        # Translated at the edge: the analyst needs the server's words, not a traceback.
        reason = " ".join(str(exc.orig).split()) if exc.orig else type(exc).__name__
        err.print(f"error: database: {reason}", markup=False)
        sys.exit(1)
