"""`monitor search QUERY`: the query language over stored statements."""

from __future__ import annotations

import json
from datetime import UTC
from typing import Annotated

import typer

from monitor.cli import options
from monitor.cli.context import database, err, load, out
from monitor.cli.render import items_table
from monitor.errors import QuerySyntaxError
from monitor.rules.matcher import CompiledQuery, compile_query
from monitor.store.queries import item_json, source_kinds
from monitor.store.search import search as run_search

EXIT_USAGE = 2


def search(
    ctx: typer.Context,
    query: Annotated[
        str,
        typer.Argument(
            metavar="QUERY",
            help='A query as in rules\' match: words, "phrases", AND, OR, NOT, NEAR/n, '
            "prefix*, leader:, source:, lang:.",
        ),
    ],
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
    utc: options.Utc = False,
    as_json: options.Json = False,
) -> None:
    compiled = _compile(query)
    config = load(ctx)
    tz = config.settings.tz
    filters = options.filters_of(ctx, tz)
    db = database(config, reading=True)
    try:
        with db.read() as session:
            hits = run_search(session, compiled, filters)
            kinds = source_kinds(session)
            rows = [
                {
                    **item_json(hit.statement, kinds.get(hit.statement.source_id)),
                    "evidence": {
                        "terms": list(hit.evidence.terms),
                        "spans": [list(span) for span in hit.evidence.spans],
                    },
                }
                for hit in hits
            ]
    finally:
        db.dispose()
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    statements = [hit.statement for hit in hits]
    shown_tz, tz_name = (UTC, "UTC") if utc else (tz, config.settings.timezone)
    out.print(items_table(statements, shown_tz, tz_name, out.width))


def _compile(query: str) -> CompiledQuery:
    """The compiled query, or its syntax error with a caret under the column and exit 2."""
    try:
        return compile_query(query)
    except QuerySyntaxError as exc:
        err.print(f"error: query: {exc}", markup=False)
        err.print(f"  {query}", markup=False)
        err.print("  " + " " * (exc.column - 1) + "^", markup=False)
        raise typer.Exit(EXIT_USAGE) from None
