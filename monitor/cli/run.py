"""`monitor run` and `monitor run --once`."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import threading
from collections import Counter
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from monitor.cli.context import database, load, out
from monitor.daemon import CycleSummary, build_runtime, run_once
from monitor.notify.registry import build_notifiers, close_notifiers
from monitor.ops.logs import configure_daemon_logging
from monitor.pipeline import PollReport
from monitor.sources.registry import import_adapters
from monitor.store.migrate import upgrade


def run(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Poll every enabled source once, deliver, exit.")
    ] = False,
    heartbeat: Annotated[
        Path | None,
        typer.Option(
            envvar="MONITOR_HEARTBEAT_FILE",
            help="Touch this file after every healthy tick (for container health checks).",
        ),
    ] = None,
    health_port: Annotated[
        int | None,
        typer.Option(
            envvar="MONITOR_HEALTH_PORT",
            min=1,
            max=65535,
            help="Serve /healthz, /readyz, /metrics on this port (default: settings.health_port).",
        ),
    ] = None,
) -> None:
    early_stop = threading.Event()
    if not once:
        # First thing: as PID 1 in a container, a SIGTERM during start-up must count.
        def _stop(signum: int, _frame: FrameType | None) -> None:
            early_stop.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
    config = load(ctx)
    configure_daemon_logging(config)
    db = database(config)
    upgrade(db)
    # Once, here, before any poll process is forked or poll thread started.
    import_adapters(source.kind for source in config.enabled_sources())
    if once:
        runtime = build_runtime(config, db)
        notifiers = build_notifiers(config)
        # The config and the compiled rules live to the end: out of the collector's
        # scans (see monitor/__main__.py), and left unwritten in forked poll processes.
        gc.freeze()
        try:
            summary = run_once(runtime, notifiers)
        finally:
            close_notifiers(notifiers)
            runtime.http.close()
            db.dispose()
        print_summary(summary)
        if summary.failed:
            raise typer.Exit(1)
        return
    if early_stop.is_set():
        return
    # Only the daemon schedules: `--once` does without APScheduler and the health
    # server (prometheus_client), about 50 ms of imports.
    from monitor.scheduler import Daemon

    daemon = Daemon(config, db, heartbeat=heartbeat, health_port=health_port)
    try:
        asyncio.run(daemon.run())
    finally:
        daemon.runtime.http.close()
        db.dispose()
    if daemon.unfinished_threads():
        # A request stuck past the grace period must not hold the exit: everything
        # this process held was released, and an unfinished poll wrote nothing.
        logging.shutdown()
        os._exit(0)


# Above this many sources, `run --once` lists only the sources worth a look (failed,
# or with alerts, edited or deleted statements) and counts the others: a first run
# of a large config has new statements on every source, and a table of thousands
# of rows buries the few that need a look (and takes seconds to draw).
FULL_TABLE_UP_TO = 50


def _noteworthy(poll: PollReport) -> bool:
    return poll.status == "error" or any((poll.edited, poll.deleted, poll.alerts))


def _summary_table(polls: list[PollReport], skipped: list[str]) -> Table:
    table = Table(title="Poll", title_justify="left")
    for column in ("source", "status", "http", "new", "edited", "deleted", "alerts", "error"):
        table.add_column(column, overflow="fold")
    for poll in sorted(polls, key=lambda p: p.source_id):
        cells = (
            poll.source_id,
            poll.status,
            str(poll.http_status or "-"),
            str(poll.new),
            str(poll.edited),
            str(poll.deleted),
            str(poll.alerts),
            poll.error or "",
        )
        # Text cells: error messages quote servers and must not be read as markup.
        table.add_row(*(Text(cell) for cell in cells))
    for source_id in skipped:
        table.add_row(
            Text(source_id), "skipped", "-", "-", "-", "-", "-", "leased by another process"
        )
    return table


def _quiet_line(quiet: list[PollReport], skipped: int) -> str:
    """How many sources the compact summary leaves out, and why."""
    statuses = Counter(poll.status for poll in quiet if not poll.new)
    parts = [f"{statuses.pop('not_modified', 0)} not modified (304)"]
    parts += [f"{count} {status} without changes" for status, count in sorted(statuses.items())]
    fresh = [poll for poll in quiet if poll.new]
    if fresh:
        new = sum(poll.new for poll in fresh)
        parts.append(f"{len(fresh)} with only new statements ({new}, none alerted)")
    line = f"{len(quiet)} sources not listed: " + ", ".join(parts)
    if skipped:
        line += f"; {skipped} skipped (leased by another process)"
    return line


def print_summary(summary: CycleSummary) -> None:
    """The table of every source polled; above FULL_TABLE_UP_TO sources only those
    worth a look (see _noteworthy), with a line counting the rest. The totals last."""
    polls = summary.polls
    if len(polls) + len(summary.skipped) <= FULL_TABLE_UP_TO:
        out.print(_summary_table(polls, summary.skipped))
    else:
        listed = [poll for poll in polls if _noteworthy(poll)]
        if listed:
            out.print(_summary_table(listed, []))
        quiet = [poll for poll in polls if not _noteworthy(poll)]
        out.print(_quiet_line(quiet, len(summary.skipped)), markup=False)
    totals = (
        f"{len(polls)} sources polled, "
        f"{sum(p.new for p in polls)} new statements, "
        f"{sum(p.edited for p in polls)} edited, "
        f"{sum(p.deleted for p in polls)} deleted, "
        f"{sum(p.alerts for p in polls)} alerts created; "
        f"alerts delivered: {summary.delivery.sent} sent, {summary.delivery.failed} failed"
        + (f", {summary.delivery.dead} dead" if summary.delivery.dead else "")
    )
    out.print(totals, markup=False)
