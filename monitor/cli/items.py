"""`monitor items list`, `monitor items show ID` and `monitor items review ID...`."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Annotated

import typer
from rich.text import Text
from sqlalchemy.orm import Session

from monitor.cli import options
from monitor.cli.context import database, load, out
from monitor.cli.render import items_table, render_item, show_json, when
from monitor.store.models import Statement
from monitor.store.queries import STATUSES, alerts_of, get_item, item_json, list_items, source_kinds
from monitor.store.review import linked, review_items

__all__ = ["app", "items_table", "render_item", "when"]

app = typer.Typer(help="Captured statements.", no_args_is_help=True)


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
    unreviewed: options.Unreviewed = False,
    matched: options.Matched = False,
    edited: options.Edited = False,
    deleted: options.Deleted = False,
    limit: options.Limit = 50,
    page: options.Page = 1,
    utc: options.Utc = False,
    as_json: options.Json = False,
) -> None:
    config = load(ctx)
    tz = config.settings.tz
    filters = options.filters_of(ctx, tz)
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
    shown_tz, tz_name = (UTC, "UTC") if utc else (tz, config.settings.timezone)
    out.print(items_table(statements, shown_tz, tz_name, out.width))


def statement_links(session: Session, statement: Statement) -> dict[str, Statement | None]:
    return {
        "reply to": linked(session, statement, statement.reply_to),
        "quote of": linked(session, statement, statement.quote_of),
        "forwarded from": linked(session, statement, statement.forwarded_from),
    }


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
            links = statement_links(session, statement)
            if as_json:
                data = show_json(statement, kind, alerts, links)
                print(json.dumps(data, ensure_ascii=False))
                return
            out.print(render_item(statement, kind, alerts, config.settings.tz, links))
    finally:
        db.dispose()


def _review_status(value: str | None) -> str | None:
    if value is not None and value not in STATUSES:
        raise typer.BadParameter(f"{value!r} is not a status (valid: {', '.join(STATUSES)})")
    return value


@app.command("review", help="Mark statements: status, a note, tags; several ids at once.")
def review_command(
    ctx: typer.Context,
    item_ids: Annotated[list[int], typer.Argument(metavar="ID...", help="Statement ids.")],
    status: Annotated[
        str | None,
        typer.Option(callback=_review_status, help=f"New status: {', '.join(STATUSES)}."),
    ] = None,
    note: Annotated[
        str | None, typer.Option(help="A note, appended to earlier ones with the UTC time.")
    ] = None,
    tag: Annotated[
        list[str] | None, typer.Option("--tag", help="Add this tag (repeatable).")
    ] = None,
    untag: Annotated[
        list[str] | None, typer.Option("--untag", help="Remove this tag (repeatable).")
    ] = None,
    as_json: options.Json = False,
) -> None:
    if status is None and not note and not tag and not untag:
        raise typer.BadParameter("give at least one of --status, --note, --tag, --untag")
    config = load(ctx)
    db = database(config, reading=True)
    try:
        with db.write() as session:
            statements = review_items(
                session, item_ids, status=status, note=note, tags=tag or [], untags=untag or []
            )
            kinds = source_kinds(session)
            rows = [item_json(s, kinds.get(s.source_id)) for s in statements]
    finally:
        db.dispose()
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    for row in rows:
        tags = ", ".join(row["tags"]) or "-"
        out.print(Text(f"{row['id']}: status {row['status']}, tags {tags}"))
