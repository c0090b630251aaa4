"""`monitor items list` and `monitor items show ID`."""

from __future__ import annotations

import difflib
import json
from datetime import datetime, tzinfo
from typing import Annotated, Any

import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from monitor.cli import options
from monitor.cli.context import database, load, out
from monitor.cli.tables import fitted_table
from monitor.store.models import Statement
from monitor.store.queries import alerts_of, get_item, item_json, list_items, source_kinds

app = typer.Typer(help="Captured statements.", no_args_is_help=True)


def when(moment: datetime, tz: tzinfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def flags(statement: Statement) -> str:
    return "".join(
        flag
        for flag, present in (
            ("E", statement.edited),
            ("D", statement.deleted_at is not None),
            ("R", statement.reply_to is not None),
            ("F", statement.forwarded_from is not None),
        )
        if present
    )


@app.command("list", help="Captured statements, newest first.")
def list_command(
    ctx: typer.Context,
    leader: options.Leader = None,
    organization: options.Organization = None,
    source: options.SourceOpt = None,
    rule: options.RuleOpt = None,
    since: options.Since = None,
    until: options.Until = None,
    status: options.Status = None,
    lang: options.Lang = None,
    limit: options.Limit = 50,
    as_json: options.Json = False,
) -> None:
    config = load(ctx)
    tz = config.settings.tz
    filters = options.item_filters(
        tz,
        leader=leader,
        organization=organization,
        source=source,
        rule=rule,
        since=since,
        until=until,
        status=status,
        lang=lang,
        limit=limit,
    )
    db = database(config, reading=True)
    try:
        with db.read() as session:
            statements = list_items(session, filters)
            kinds = source_kinds(session)
            rows = [item_json(s, kinds.get(s.source_id)) for s in statements]
    finally:
        db.dispose()
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    out.print(items_table(statements, tz, config.settings.timezone, out.width))


def items_table(
    statements: list[Statement], tz: tzinfo, tz_name: str, width: int = 120
) -> RenderableType:
    if not statements:
        return Text("no statements match")
    columns = [
        ("id", 10),
        ("published", 16),
        ("leader", 24),
        ("source", 24),
        ("lang", 4),
        ("rules", 30),
        ("flags", 5),
    ]
    rows = [
        [
            str(s.id),
            when(s.published_at, tz),
            s.leader_id or "-",
            s.source_id,
            s.language or "-",
            ",".join(sorted(m.rule_id for m in s.matches)) or "-",
            flags(s),
        ]
        for s in statements
    ]
    texts = [s.text for s in statements]
    return fitted_table(columns, rows, texts, width, caption=f"times in {tz_name}")


@app.command("show", help="One statement: text, versions, matches with evidence, alerts.")
def show_command(
    ctx: typer.Context,
    item_id: Annotated[int, typer.Argument(metavar="ID", help="Statement id.")],
    as_json: options.Json = False,
) -> None:
    config = load(ctx)
    db = database(config, reading=True)
    try:
        with db.read() as session:
            statement = get_item(session, item_id)
            kind = source_kinds(session).get(statement.source_id)
            alerts = alerts_of(session, item_id)
            if as_json:
                print(json.dumps(_show_json(statement, kind, alerts), ensure_ascii=False))
                return
            out.print(render_item(statement, kind, alerts, config.settings.tz))
    finally:
        db.dispose()


def _show_json(statement: Statement, kind: str | None, alerts: list[Any]) -> dict[str, Any]:
    data = item_json(statement, kind)
    data["versions"] = [
        {"version": v.version, "seen_at": v.seen_at.isoformat(), "title": v.title, "text": v.text}
        for v in statement.versions
    ]
    data["matches"] = [
        {"rule": m.rule_id, "severity": m.severity, "evidence": m.evidence}
        for m in statement.matches
    ]
    data["alerts"] = [
        {
            "id": a.id,
            "rule": a.rule_id,
            "notifier": a.notifier_id,
            "status": a.status,
            "attempts": a.attempts,
            "last_error": a.last_error,
        }
        for a in alerts
    ]
    return data


def render_item(
    statement: Statement, kind: str | None, alerts: list[Any], tz: tzinfo
) -> RenderableType:
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column()
    utc = statement.published_at.strftime("%Y-%m-%d %H:%M UTC")
    fields = [
        ("statement", str(statement.id)),
        ("leader", statement.leader_id or "-"),
        ("organization", statement.organization_id or "-"),
        ("source", f"{statement.source_id} ({kind or '?'})"),
        ("author", statement.author or "-"),
        ("link", statement.url or "-"),
        ("published", f"{utc} / {when(statement.published_at, tz)} local"),
        ("fetched", statement.fetched_at.strftime("%Y-%m-%d %H:%M UTC")),
        ("language", statement.language or "-"),
        ("status", statement.status + (f" (note: {statement.note})" if statement.note else "")),
    ]
    if statement.deleted_at:
        fields.append(("deleted", statement.deleted_at.strftime("%Y-%m-%d %H:%M UTC")))
    for name, value in fields:
        header.add_row(name, Text(value))
    parts: list[RenderableType] = [header, Text(""), _highlighted(statement)]
    parts.extend(_versions(statement))
    parts.extend(_matches(statement))
    if alerts:
        parts.append(Text("\nalerts", style="bold"))
        for alert in alerts:
            error = f" ({alert.last_error})" if alert.last_error else ""
            parts.append(
                Text(
                    f"  {alert.id} rule={alert.rule_id} notifier={alert.notifier_id} "
                    f"{alert.status} attempts={alert.attempts}{error}"
                )
            )
    return Group(*parts)


def _highlighted(statement: Statement) -> Text:
    text = Text(statement.text)
    for match in statement.matches:
        for start, end in match.evidence.get("spans", []):
            text.stylize("bold reverse", start, end)
    return text


def _versions(statement: Statement) -> list[RenderableType]:
    if len(statement.versions) < 2:
        return []
    parts: list[RenderableType] = [Text(f"\nversions ({len(statement.versions)})", style="bold")]
    for previous, current in zip(statement.versions, statement.versions[1:], strict=False):
        seen = current.seen_at.strftime("%Y-%m-%d %H:%M UTC")
        parts.append(Text(f"  v{previous.version} -> v{current.version}, seen {seen}"))
        diff = difflib.unified_diff(
            previous.text.splitlines(), current.text.splitlines(), lineterm="", n=1
        )
        for line in list(diff)[2:]:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
            parts.append(Text("    " + line, style=style))
    return parts


def _matches(statement: Statement) -> list[RenderableType]:
    if not statement.matches:
        return []
    parts: list[RenderableType] = [Text("\nmatches", style="bold")]
    for match in statement.matches:
        terms = ", ".join(match.evidence.get("terms", [])) or "-"
        parts.append(Text(f"  {match.rule_id} [{match.severity}] terms: {terms}"))
    return parts
