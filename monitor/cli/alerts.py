"""`monitor alerts list` and `monitor alerts retry`: the outbox, seen and repaired."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, tzinfo
from typing import Annotated

import typer
from rich.console import Console, RenderableType
from rich.text import Text

from monitor.cli import options
from monitor.cli.context import database, err, load, out
from monitor.cli.tables import fitted_table
from monitor.config.durations import format_duration
from monitor.errors import MonitorError
from monitor.notify.attempts import make_due
from monitor.notify.health import NotifierFailure, failing_notifiers
from monitor.store.alerts import (
    ALERT_STATUSES,
    AlertFilters,
    alert_json,
    dead_alert_ids,
    list_alerts,
    resolve_alert,
)
from monitor.store.models import Alert, utcnow

app = typer.Typer(help="Alert deliveries: pending, sent, failed, dead.", no_args_is_help=True)


def _status(value: str | None) -> str | None:
    if value is not None and value not in ALERT_STATUSES:
        raise typer.BadParameter(f"{value!r} is not a status (valid: {', '.join(ALERT_STATUSES)})")
    return value


Status = Annotated[
    str | None,
    typer.Option(callback=_status, help=f"Delivery status: {', '.join(ALERT_STATUSES)}."),
]
NotifierOpt = Annotated[str | None, typer.Option("--notifier", help="Only this notifier (id).")]
RuleOpt = Annotated[str | None, typer.Option("--rule", help="Only this rule (id).")]


# Enough of an id to tell alerts apart (uuid7: milliseconds, then random bits);
# `alerts retry` takes any unique prefix.
SHORT_ID = 18


def _when(moment: datetime | None, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "-"


@app.command("list", help="Alert deliveries, newest first; failing notifiers on top.")
def list_command(
    ctx: typer.Context,
    status: Status = None,
    rule: RuleOpt = None,
    notifier: NotifierOpt = None,
    leader: options.Leader = None,
    organization: options.Organization = None,
    source: options.SourceOpt = None,
    lang: options.Lang = None,
    since: options.Since = None,
    until: options.Until = None,
    limit: options.Limit = 50,
    as_json: options.Json = False,
    notifiers: Annotated[
        bool,
        typer.Option(
            "--notifiers",
            help="List the failing notifiers instead of alerts (with --json: one object each).",
        ),
    ] = False,
) -> None:
    # --leader, --organization, --source and --lang: of the alert's statement;
    # --since and --until: when the alert was created.
    config = load(ctx)
    tz = config.settings.tz
    alarm_after = config.settings.notifier_alarm_after
    filters = AlertFilters(
        status=status,
        rule=rule,
        notifier=notifier,
        since=options.parse_when(since, tz) if since else None,
        until=options.parse_when(until, tz) if until else None,
        leader=leader,
        organization=organization,
        source=source,
        language=lang,
        limit=limit,
    )
    db = database(config, reading=True)
    try:
        with db.read() as session:
            failures = [
                failure
                for failure in failing_notifiers(session)
                if notifier is None or failure.notifier == notifier
            ]
            alerts = [] if notifiers else list_alerts(session, filters)
            rows = [alert_json(alert) for alert in alerts]
    finally:
        db.dispose()
    if notifiers:
        _print_notifiers(failures, tz, as_json, alarm_after.total_seconds())
        return
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    alarmed = [f for f in failures if utcnow() - f.since >= alarm_after]
    print_notifier_alarms(out, alarmed, tz, alarm_after)
    out.print(_table(alerts, tz, config.settings.timezone))


def print_notifier_alarms(
    console: Console, failures: list[NotifierFailure], tz: tzinfo, alarm_after: timedelta
) -> None:
    """The notifiers failing longer than ``settings.notifier_alarm_after`` (as the
    daemon logs them): a heading, then one line each; nothing when there are none.
    Shown above `alerts list` and under `sources list` (on stderr with --json)."""
    if not failures:
        return
    console.print(
        Text(
            f"failing notifiers (failing for longer than {format_duration(alarm_after)}; "
            "details: monitor alerts list --notifiers):",
            style="bold red",
        )
    )
    for failure in failures:
        console.print(_failure_line(failure, tz))


def _failure_line(failure: NotifierFailure, tz: tzinfo) -> Text:
    return Text(failure.describe(_when(failure.since, tz)), style="bold red")


def _print_notifiers(
    failures: list[NotifierFailure], tz: tzinfo, as_json: bool, alarm_seconds: float
) -> None:
    if as_json:
        for failure in failures:
            row = failure.to_json()
            row["alarm"] = (utcnow() - failure.since).total_seconds() >= alarm_seconds
            print(json.dumps(row, ensure_ascii=False))
        return
    if not failures:
        out.print("no notifier is failing")
    for failure in failures:
        out.print(_failure_line(failure, tz))


def _table(alerts: list[Alert], tz: tzinfo, tz_name: str) -> RenderableType:
    if not alerts:
        return Text("no alerts match")
    columns = [
        ("id", SHORT_ID),
        ("rule", 24),
        ("item", 8),
        ("notifier", 20),
        ("status", 7),
        ("tries", 5),
        ("sent / next try", 16),
    ]
    rows = [
        [
            alert.id[:SHORT_ID],
            alert.rule_id,
            str(alert.statement_id),
            alert.notifier_id,
            alert.status,
            str(alert.attempts),
            _when(alert.sent_at, tz)
            if alert.status == "sent"
            else (_when(alert.next_attempt_at, tz) if alert.status != "dead" else "-"),
        ]
        for alert in alerts
    ]
    texts = [alert.last_error or "" for alert in alerts]
    return fitted_table(
        columns,
        rows,
        texts,
        out.width,
        caption=f"times in {tz_name}; ids shortened (retry takes a prefix); text: last error",
    )


@app.command("retry", help="Make a dead or failed alert pending and due now (attempts kept).")
def retry_command(
    ctx: typer.Context,
    alert_id: Annotated[
        str | None,
        typer.Argument(metavar="ID", help="An alert id, or a unique prefix of one."),
    ] = None,
    all_dead: Annotated[
        bool, typer.Option("--all-dead", help="Every dead or failed alert.")
    ] = False,
    notifier: Annotated[
        str | None, typer.Option("--notifier", help="With --all-dead: only this notifier's.")
    ] = None,
) -> None:
    if (alert_id is None) == (not all_dead):
        raise typer.BadParameter("give an alert ID or --all-dead (not both)")
    if notifier and not all_dead:
        raise typer.BadParameter("--notifier goes with --all-dead")
    config = load(ctx)
    db = database(config, reading=True)
    try:
        if all_dead:
            with db.read() as session:
                ids = dead_alert_ids(session, notifier)
            done = make_due(db, ids)
            out.print(f"{done} dead or failed alert{'s' if done != 1 else ''} made due again")
            return
        assert alert_id is not None
        try:
            with db.read() as session:
                alert = resolve_alert(session, alert_id)
                found, status = alert.id, alert.status
            if status not in ("dead", "failed"):
                raise MonitorError(
                    f"alert {found} is {status}: only dead or failed alerts are retried"
                )
        except MonitorError as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(1) from None
        make_due(db, [found])
        out.print(f"alert {found} is pending, due now (it goes out at the next delivery)")
    finally:
        db.dispose()
