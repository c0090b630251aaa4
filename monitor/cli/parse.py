"""`monitor parse KIND FILE`: a source kind's parser on a saved page, offline."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from monitor.cli import options
from monitor.cli.context import load, out
from monitor.cli.tables import fitted_table
from monitor.errors import MonitorError, NotFoundError
from monitor.sources.base import ParseContext, Post
from monitor.sources.registry import KINDS, parse_saved


def post_json(post: Post) -> dict[str, Any]:
    data = dataclasses.asdict(post)
    data["published_at"] = post.published_at.isoformat() if post.published_at else None
    data.pop("response")
    return data


def parse(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help=f"Source kind: {', '.join(KINDS)}.")],
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="Saved body.")
    ],
    url: Annotated[
        str | None, typer.Option(help="Where the body came from (resolves relative links).")
    ] = None,
    source_id: Annotated[
        str | None,
        typer.Option("--source", help="Parse with this configured source's settings (html)."),
    ] = None,
    as_json: options.Json = False,
) -> None:
    if kind not in KINDS:
        raise typer.BadParameter(f"{kind!r} is not a source kind (valid: {', '.join(KINDS)})")
    source = None
    if source_id is not None:
        config = load(ctx)
        source = config.source(source_id)
        if source is None:
            raise NotFoundError(f"no source {source_id!r} in the config")
    body = file.read_bytes()
    try:
        posts = parse_saved(kind, body, ParseContext(url=url), source)
    except MonitorError as exc:
        raise MonitorError(f"{file}: {exc}") from exc
    if as_json:
        for post in posts:
            print(json.dumps(post_json(post), ensure_ascii=False))
        return
    columns = [("id", 40), ("published (UTC)", 16), ("author", 20), ("links", 30)]
    rows = [
        [
            post.external_id,
            post.published_at.strftime("%Y-%m-%d %H:%M") if post.published_at else "-",
            post.author or "-",
            ", ".join(
                f"{name} {value}"
                for name, value in (
                    ("reply", post.reply_to),
                    ("fwd", post.forwarded_from),
                    ("quote", post.quote_of),
                )
                if value
            )
            or "-",
        ]
        for post in posts
    ]
    texts = [post.text for post in posts]
    out.print(
        fitted_table(columns, rows, texts, out.width, caption=f"{len(posts)} posts in {file}")
    )
