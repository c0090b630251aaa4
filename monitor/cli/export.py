"""`monitor export --format csv|jsonl|md [-o FILE]`: statements for reports."""

from __future__ import annotations

import csv
import io
import json
import sys
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Annotated, Any

import typer

from monitor.cli import options
from monitor.cli.context import database, err, load
from monitor.cli.render import UTC_FORMAT, when
from monitor.store.queries import item_json, list_items, source_kinds

FORMATS = ("csv", "jsonl", "md")
BOM = "\ufeff"


def _format(value: str) -> str:
    if value not in FORMATS:
        raise typer.BadParameter(f"{value!r} is not a format (valid: {', '.join(FORMATS)})")
    return value


def export(
    ctx: typer.Context,
    fmt: Annotated[
        str, typer.Option("--format", "-f", callback=_format, help="csv, jsonl or md.")
    ] = "jsonl",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Write here, not to stdout."),
    ] = None,
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
    limit: Annotated[
        int, typer.Option(min=0, help="At most N statements; 0 (the default) for all.")
    ] = 0,
) -> None:
    config = load(ctx)
    tz = config.settings.tz
    filters = options.filters_of(ctx, tz)
    db = database(config, reading=True)
    try:
        with db.read() as session:
            kinds = source_kinds(session)
            rows = [item_json(s, kinds.get(s.source_id)) for s in list_items(session, filters)]
    finally:
        db.dispose()
    if fmt == "csv":
        body = to_csv(rows)
    elif fmt == "md":
        body = to_markdown(rows, tz, config.settings.timezone)
    else:
        body = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    if output is None:
        sys.stdout.write(body)
        sys.stdout.flush()
        return
    # newline="": the CRLFs of the CSV are written as they are.
    with output.open("w", encoding="utf-8", newline="") as handle:
        handle.write(body)
    err.print(f"{len(rows)} statements written to {output}", markup=False)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return "; ".join(value)
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def to_csv(rows: list[dict[str, Any]]) -> str:
    """Every field of the JSON objects, one column each: UTF-8 with a byte-order mark
    and CRLF line ends, as Excel wants to show Arabic right; lists of words joined
    with "; ", structured values (mentions, stance) as JSON."""
    buffer = io.StringIO()
    columns = list(rows[0]) if rows else _EMPTY_COLUMNS
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return BOM + buffer.getvalue()


_EMPTY_COLUMNS = [
    "id", "source", "kind", "leader", "organization", "external_id", "url", "author",
    "title", "published_at", "fetched_at", "updated_at", "text", "language", "edited",
    "deleted", "deleted_at", "reply_to", "forwarded_from", "quote_of", "mentions", "stance",
    "status", "note", "tags", "rules",
]  # fmt: skip


def to_markdown(rows: list[dict[str, Any]], tz: tzinfo, tz_name: str) -> str:
    """A brief per statement, ready to paste into a report."""
    parts: list[str] = []
    for row in rows:
        published = datetime.fromisoformat(row["published_at"])
        who = row["leader"] or row["author"] or row["source"]
        lines = [
            f"## {who}: {published.strftime(UTC_FORMAT)} ({when(published, tz)} {tz_name})",
            "",
            f"- Source: {row['source']} ({row['kind'] or '?'}), statement {row['id']}",
        ]
        if row["url"]:
            lines.append(f"- Link: <{row['url']}>")
        state = [row["status"]]
        if row["edited"]:
            state.append("edited")
        if row["deleted"]:
            state.append(f"deleted {row['deleted_at']}")
        lines.append(f"- Status: {', '.join(state)}")
        lines.append(f"- Rules: {', '.join(row['rules']) or '-'}")
        lines.append(f"- Tags: {', '.join(row['tags']) or '-'}")
        lines.append("")
        lines.extend(f"> {line}" if line else ">" for line in row["text"].splitlines())
        if row["note"]:
            lines.extend(["", "Notes:", ""])
            lines.extend(f"- {line}" for line in row["note"].splitlines())
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)
