"""`monitor sources list` and `monitor sources test ID`."""

from __future__ import annotations

import json
from datetime import datetime, tzinfo
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from monitor.cli import options
from monitor.cli.alerts import print_notifier_alarms
from monitor.cli.context import database, err, load, out
from monitor.cli.items import when
from monitor.cli.tables import fitted_table
from monitor.config import Config, Source
from monitor.daemon import build_http_client
from monitor.errors import MonitorError, NotFoundError
from monitor.ingest import content_hash, storable_id
from monitor.notify.health import failing_notifiers
from monitor.pipeline import attribution_of, describe_error
from monitor.rules.analysis import Analyzer
from monitor.rules.engine import RuleSet
from monitor.sources.base import FetchState, Post
from monitor.sources.registry import build_adapter
from monitor.store.queries import SourceHealth, known_hashes, source_health

app = typer.Typer(help="Configured sources and their health.", no_args_is_help=True)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def health_json(source: Source, health: SourceHealth | None, config: Config) -> dict[str, Any]:
    state = health.state if health else None
    return {
        "id": source.id,
        "kind": source.kind,
        "enabled": source.enabled,
        "leader": source.leader,
        "interval": config.interval_of(source).total_seconds(),
        "last_success_at": _iso(state.last_success_at) if state else None,
        "last_error": state.last_error if state else None,
        "last_error_at": _iso(state.last_error_at) if state else None,
        "consecutive_failures": state.consecutive_failures if state else 0,
        "statements": health.statements if health else 0,
        "deleted": health.deleted if health else 0,
        "next_poll_at": _iso(state.next_poll_at) if state else None,
    }


@app.command(
    "list",
    help="Sources with their health: last success, last error, statements; "
    "then the notifiers failing too long (on stderr with --json).",
)
def list_command(ctx: typer.Context, as_json: options.Json = False) -> None:
    config = load(ctx)
    alarm_after = config.settings.notifier_alarm_after
    db = database(config, reading=True)
    try:
        with db.read() as session:
            health = source_health(session)
            alarmed = failing_notifiers(session, longer_than=alarm_after)
    finally:
        db.dispose()
    rows = [health_json(source, health.get(source.id), config) for source in config.sources]
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        # stdout stays one source object per line: the warning goes to stderr.
        print_notifier_alarms(err, alarmed, config.settings.tz, alarm_after)
        return
    out.print(_health_table(rows, config.settings.tz))
    if alarmed:
        out.print()
        print_notifier_alarms(out, alarmed, config.settings.tz, alarm_after)


def _when(value: str | None, tz: tzinfo) -> str:
    return when(datetime.fromisoformat(value), tz) if value else "-"


def _health_table(rows: list[dict[str, Any]], tz: tzinfo) -> Table:
    table = Table(pad_edge=False)
    for column in ("id", "kind", "on", "statements", "last success", "fails", "next poll"):
        table.add_column(column, no_wrap=column != "id")
    table.add_column("last error", overflow="fold")
    for row in rows:
        table.add_row(
            Text(row["id"]),
            row["kind"],
            "yes" if row["enabled"] else "no",
            f"{row['statements']}" + (f" ({row['deleted']} deleted)" if row["deleted"] else ""),
            _when(row["last_success_at"], tz),
            str(row["consecutive_failures"]),
            _when(row["next_poll_at"], tz) if row["enabled"] else "-",
            Text(row["last_error"] or ""),
        )
    return table


@app.command("test", help="Fetch one source now and show what it would capture; stores nothing.")
def test_command(
    ctx: typer.Context,
    source_id: Annotated[str, typer.Argument(metavar="ID", help="Source id.")],
    as_json: options.Json = False,
) -> None:
    config = load(ctx)
    source = config.source(source_id)
    if source is None:
        known = ", ".join(s.id for s in config.sources) or "none"
        raise NotFoundError(f"no source {source_id!r} in the config (sources: {known})")
    rules = RuleSet.from_config(config)
    try:
        with build_http_client(config) as http:
            # A fresh state: stored validators would only earn a 304 and show nothing.
            fetched = build_adapter(source).fetch(http, FetchState())
    except MonitorError as exc:
        out.print(Text(f"{source.id}: {describe_error(exc)}"))
        raise typer.Exit(1) from None
    stored = _stored(config, source, fetched.posts)
    analyzer = Analyzer.from_config(config)
    rows = [_post_row(config, source, post, stored, rules, analyzer) for post in fetched.posts]
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    out.print(_posts_table(rows, config.settings.tz, out.width))
    out.print(
        f"{source.id}: HTTP {fetched.http_status}, {fetched.bytes_read} bytes, "
        f"{len(rows)} posts: {sum(r['would_be'] == 'new' for r in rows)} new, "
        f"{sum(r['would_be'] == 'edited' for r in rows)} edited; nothing stored",
        markup=False,
    )


def _stored(config: Config, source: Source, posts: list[Post]) -> dict[str, str]:
    """What the database already holds of these posts (empty without a database)."""
    try:
        db = database(config, reading=True)
    except MonitorError:
        return {}
    try:
        with db.read() as session:
            return known_hashes(session, source.id, [storable_id(p.external_id) for p in posts])
    finally:
        db.dispose()


def _post_row(
    config: Config,
    source: Source,
    post: Post,
    stored: dict[str, str],
    rules: RuleSet,
    analyzer: Analyzer,
) -> dict[str, Any]:
    previous = stored.get(storable_id(post.external_id))
    would_be = "new" if previous is None else "unchanged"
    if previous is not None and previous != content_hash(post):
        would_be = "edited"
    attribution = attribution_of(config, source)
    analysis = analyzer.analyze(post.text, attribution.language or post.language)
    facts = analysis.facts(
        source_id=source.id,
        leader_id=attribution.leader_id,
        organization_id=attribution.organization_id,
        published_at=post.published_at,
        reply_to=post.reply_to,
        quote_of=post.quote_of,
    )
    return {
        "external_id": post.external_id,
        "url": post.url,
        "author": post.author,
        "published_at": _iso(post.published_at),
        "text": post.text,
        "reply_to": post.reply_to,
        "forwarded_from": post.forwarded_from,
        "quote_of": post.quote_of,
        "would_be": would_be,
        "language": analysis.language,
        "mentions": list(analysis.mentioned),
        "rules": [match.rule_id for match in rules.evaluate(facts, analysis.doc)],
    }


def _posts_table(rows: list[dict[str, Any]], tz: tzinfo, width: int) -> Table:
    columns = [("id", 30), ("published", 16), ("would be", 9), ("rules", 30)]
    cells = [
        [
            row["external_id"],
            _when(row["published_at"], tz),
            row["would_be"],
            ",".join(row["rules"]) or "-",
        ]
        for row in rows
    ]
    return fitted_table(columns, cells, [row["text"] for row in rows], width)
