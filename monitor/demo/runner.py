"""`monitor demo`: the real pipeline, offline, on feeds recorded for the project.

A local HTTP server serves the feeds in monitor/demo/feeds; a local webhook
receiver checks signatures; the store is SQLite in a temporary folder. Three
rounds: the first captures everything, the second brings a new and an edited
statement, the third is answered with 304 Not Modified.
"""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.rule import Rule as Heading
from rich.table import Table
from sqlalchemy import select

from monitor.cli.items import items_table, render_item
from monitor.cli.run import print_summary
from monitor.config import Config, load_config
from monitor.daemon import build_runtime, run_once
from monitor.demo.server import FeedServer, WebhookReceiver
from monitor.errors import MonitorError
from monitor.notify.console import ConsoleNotifier
from monitor.notify.registry import build_notifiers, close_notifiers
from monitor.notify.webhook import sign
from monitor.store.migrate import upgrade
from monitor.store.models import Alert
from monitor.store.queries import ItemFilters, alerts_of, list_items, source_kinds
from monitor.store.session import Database, open_database

DEMO_DIR = Path(__file__).parent
FEEDS = DEMO_DIR / "feeds"
CONFIG = DEMO_DIR / "demo.yaml"

# Served path -> (file of round 1, file of rounds 2 and 3, content type)
ROUTES = {
    "/nujaba-statements.rss": (
        "nujaba-statements.v1.rss",
        "nujaba-statements.v2.rss",
        "application/rss+xml; charset=utf-8",
    ),
    "/kh-english.atom": (
        "kh-english.v1.atom",
        "kh-english.v2.atom",
        "application/atom+xml; charset=utf-8",
    ),
    "/aah-x-bridge.rss": (
        "aah-x-bridge.rss",
        "aah-x-bridge.rss",
        "application/rss+xml; charset=utf-8",
    ),
}


@dataclass(frozen=True)
class DemoResult:
    statements: int
    edited: int
    alerts_sent: int
    webhooks_verified: int
    webhooks_received: int


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _serve_round(feeds: FeedServer, round_number: int) -> None:
    for path, (first, later, content_type) in ROUTES.items():
        name = first if round_number == 1 else later
        feeds.serve(path, (FEEDS / name).read_bytes(), content_type)


def _verified(receiver: WebhookReceiver, secret: str) -> int:
    valid = 0
    for request in receiver.received:
        headers = {name.lower(): value for name, value in request.headers.items()}
        expected = sign(
            secret, headers["webhook-id"], int(headers["webhook-timestamp"]), request.body
        )
        valid += headers.get("webhook-signature") == expected
    return valid


def run_demo(console: Console, keep: Path | None = None) -> DemoResult:
    """Run the demo; with ``keep``, its database stays in that folder afterwards."""
    if keep is None:
        with tempfile.TemporaryDirectory(prefix="monitor-demo-") as scratch:
            return _run_demo(console, Path(scratch), keep=False)
    if (keep / "demo.db").exists():
        raise MonitorError(
            f"{keep / 'demo.db'} exists from an earlier demo: give an empty folder to --keep"
        )
    keep.mkdir(parents=True, exist_ok=True)
    return _run_demo(console, keep, keep=True)


def _run_demo(console: Console, workdir: Path, *, keep: bool) -> DemoResult:
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    with FeedServer() as feeds, WebhookReceiver() as receiver:
        env = {
            "DEMO_BASE_URL": feeds.base_url,
            "DEMO_WEBHOOK_URL": receiver.url("/monitor"),
            "DEMO_WEBHOOK_SECRET": secret,
        }
        with _environment(env):
            config = load_config(CONFIG)
        db = open_database(f"sqlite:///{workdir / 'demo.db'}")
        try:
            sent = _rounds(console, config, db, feeds)
            statements, edited = _report(console, config, db)
        finally:
            db.dispose()
        verified = _verified(receiver, secret)
        console.print(Heading("Webhook receiver"))
        console.print(
            f"{len(receiver.received)} signed webhooks received at {receiver.url('/monitor')}, "
            f"{verified} with a valid Standard Webhooks signature",
            markup=False,
        )
    if keep:
        console.print(
            f"\nThe demo database is kept: MONITOR_DATABASE_URL=sqlite:///{workdir / 'demo.db'} "
            f"monitor --config {CONFIG} items list",
            markup=False,
        )
    return DemoResult(
        statements=statements,
        edited=edited,
        alerts_sent=sent,
        webhooks_verified=verified,
        webhooks_received=len(receiver.received),
    )


def _rounds(console: Console, config: Config, db: Database, feeds: FeedServer) -> int:
    """Poll three times as the feeds change; returns how many alerts were delivered."""
    upgrade(db)
    runtime = build_runtime(config, db)
    notifiers = {**build_notifiers(config), "console": ConsoleNotifier(console.file)}
    sent = 0
    captions = {
        1: "Round 1: first poll of three recorded feeds",
        2: "Round 2: two feeds changed (new statements and one quiet edit)",
        3: "Round 3: nothing changed (the server answers 304 Not Modified)",
    }
    try:
        for round_number, caption in captions.items():
            _serve_round(feeds, round_number)
            console.print(Heading(caption))
            summary = run_once(runtime, notifiers)
            print_summary(summary)
            sent += summary.delivery.sent
    finally:
        close_notifiers(notifiers)
        runtime.http.close()
    return sent


def _report(console: Console, config: Config, db: Database) -> tuple[int, int]:
    """Print what was captured and alerted; returns (statements, edited statements)."""
    tz = config.settings.tz
    with db.read() as session:
        statements = list_items(session, ItemFilters(limit=0))
        console.print(Heading("Captured statements (monitor items list)"))
        console.print(items_table(statements, tz, config.settings.timezone, console.width))
        alerts = list(session.scalars(select(Alert).order_by(Alert.created_at, Alert.id)))
        console.print(Heading("Alerts (the outbox)"))
        console.print(_alerts_table(alerts))
        edited = [s for s in statements if s.edited]
        kinds = source_kinds(session)
        for statement in edited:
            console.print(Heading(f"An edited statement (monitor items show {statement.id})"))
            console.print(
                render_item(
                    statement, kinds.get(statement.source_id), alerts_of(session, statement.id), tz
                )
            )
        return len(statements), len(edited)


def _alerts_table(alerts: list[Alert]) -> Table:
    table = Table(pad_edge=False)
    for column in ("alert", "rule", "statement", "notifier", "status", "attempts"):
        table.add_column(column)
    for alert in alerts:
        table.add_row(
            alert.id,
            alert.rule_id,
            str(alert.statement_id),
            alert.notifier_id,
            alert.status,
            str(alert.attempts),
        )
    return table
