"""`monitor run` and `monitor run --once`."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
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
from monitor.scheduler import Daemon
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
    if once:
        runtime = build_runtime(config, db)
        notifiers = build_notifiers(config)
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


def print_summary(summary: CycleSummary) -> None:
    table = Table(title="Poll", title_justify="left")
    for column in ("source", "status", "http", "new", "edited", "deleted", "alerts", "error"):
        table.add_column(column, overflow="fold")
    for poll in sorted(summary.polls, key=lambda p: p.source_id):
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
    for source_id in summary.skipped:
        table.add_row(
            Text(source_id), "skipped", "-", "-", "-", "-", "-", "leased by another process"
        )
    out.print(table)
    totals = (
        f"{len(summary.polls)} sources polled, "
        f"{sum(p.new for p in summary.polls)} new statements, "
        f"{sum(p.edited for p in summary.polls)} edited, "
        f"{sum(p.deleted for p in summary.polls)} deleted, "
        f"{sum(p.alerts for p in summary.polls)} alerts created; "
        f"alerts delivered: {summary.delivery.sent} sent, {summary.delivery.failed} failed"
        + (f", {summary.delivery.dead} dead" if summary.delivery.dead else "")
    )
    out.print(totals, markup=False)
