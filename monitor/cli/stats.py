"""`monitor stats`: counts per source and per leader, last statement, failures."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from monitor.cli import options
from monitor.cli.context import database, load, out
from monitor.store.review import Counts, statistics


def _at(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _counts_json(counts: Counts) -> dict[str, Any]:
    return {
        "statements": counts.statements,
        "matched": counts.matched,
        "edited": counts.edited,
        "deleted": counts.deleted,
        "last_statement_at": _at(counts.last_at),
    }


def stats(ctx: typer.Context, as_json: options.Json = False) -> None:
    config = load(ctx)
    db = database(config, reading=True)
    try:
        with db.read() as session:
            result = statistics(session)
    finally:
        db.dispose()
    if as_json:
        for counts, state in result.sources:
            row = {"kind": "source", "id": counts.key, **_counts_json(counts)}
            row["consecutive_failures"] = state.consecutive_failures if state else 0
            row["last_error"] = state.last_error if state else None
            row["last_success_at"] = _at(state.last_success_at) if state else None
            print(json.dumps(row, ensure_ascii=False))
        for counts in result.leaders:
            row = {"kind": "leader", "id": counts.key, **_counts_json(counts)}
            print(json.dumps(row, ensure_ascii=False))
        return
    sources = _table("per source (times in UTC)", "source")
    sources.add_column("failures", justify="right", no_wrap=True, min_width=8)
    sources.add_column("last error", no_wrap=True, overflow="ellipsis")
    for counts, state in result.sources:
        sources.add_row(
            Text(counts.key),
            *_cells(counts),
            str(state.consecutive_failures if state else 0),
            Text(state.last_error or "-" if state else "-"),
        )
    leaders = _table("per leader", "leader")
    for counts in result.leaders:
        leaders.add_row(Text(counts.key), *_cells(counts))
    out.print(Group(sources, Text(""), leaders), soft_wrap=False)


def _table(title: str, key: str) -> Table:
    table = Table(title=title, title_justify="left", pad_edge=False)
    table.add_column(key, no_wrap=True, overflow="ellipsis")
    for header in ("statements", "matched", "edited", "deleted"):
        table.add_column(header, justify="right", no_wrap=True, min_width=len(header))
    table.add_column("last statement", no_wrap=True, min_width=16)
    return table


def _cells(counts: Counts) -> list[str]:
    last = counts.last_at.strftime("%Y-%m-%d %H:%M") if counts.last_at else "-"
    return [
        str(counts.statements),
        str(counts.matched),
        str(counts.edited),
        str(counts.deleted),
        last,
    ]
