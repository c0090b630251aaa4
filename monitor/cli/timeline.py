"""`monitor timeline --leader ID`: statements per day with stance over time, turns marked.

The numbers come from monitor.store.timeline; this module only shows them (a
table, a JSON object per day, or a PNG chart through monitor.cli.timeline_chart,
which needs the optional `chart` extra and is imported only for --png).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from monitor.cli import options
from monitor.cli.context import database, err, load, out
from monitor.cli.render import when
from monitor.cli.tables import first_line
from monitor.config import Config
from monitor.store.timeline import (
    DE_ESCALATION,
    DOMINANT_THRESHOLD,
    ESCALATION,
    Day,
    Timeline,
    leader_has_statements,
    leader_timeline,
)

EXIT_CHART = 1
CHART_MISSING = (
    "error: --png needs matplotlib: install the chart extra: pip install '.[chart]' "
    "(or pip install 'monitor[chart]')"
)
BAR_CELLS = 8
EIGHTHS = " ▏▎▍▌▋▊▉"
MARKS = {ESCALATION: "▲", DE_ESCALATION: "▼"}
STYLES = {ESCALATION: "red", DE_ESCALATION: "green"}

LeaderId = Annotated[str, typer.Option("--leader", help="The leader (id).", show_default=False)]
Png = Annotated[
    Path | None,
    typer.Option("--png", dir_okay=False, help="Also draw the chart into this PNG file."),
]


def timeline(
    ctx: typer.Context,
    leader: LeaderId,
    since: options.Since = "30d",
    until: options.Until = None,
    png: Png = None,
    utc: options.Utc = False,
    as_json: options.Json = False,
) -> None:
    if png is not None and not _chart_available():
        err.print(CHART_MISSING, markup=False)
        raise typer.Exit(EXIT_CHART)
    config = load(ctx)
    tz, tz_name = (UTC, "UTC") if utc else (config.settings.tz, config.settings.timezone)
    start = options.parse_when(since or "30d", tz)
    end = options.parse_when(until, tz) if until else datetime.now(UTC)
    if start >= end:
        raise typer.BadParameter(
            f"--since ({since}) must be before --until ({until or 'now'})", param_hint="--since"
        )
    db = database(config, reading=True)
    try:
        with db.read() as session:
            if config.leader(leader) is None and not leader_has_statements(session, leader):
                raise typer.BadParameter(
                    f"{leader!r} is not a leader of the config and has no stored statements",
                    param_hint="--leader",
                )
            result = leader_timeline(session, leader, start, end, tz)
    finally:
        db.dispose()
    if not result.statements:
        # On stderr with --json, so that stdout stays JSON lines (none).
        (err if as_json else out).print(
            f"no statements of {leader} from {result.first} to {result.last} ({tz_name})",
            markup=False,
        )
        return
    if as_json:
        for day in result.days:
            print(json.dumps(day.to_json(), ensure_ascii=False))
    else:
        out.print(render_timeline(result, _leader_name(config, leader), tz, tz_name))
    if png is not None:
        _write_chart(result, _leader_name(config, leader), tz_name, png, quiet=as_json)


def _leader_name(config: Config, leader_id: str) -> str:
    known = config.leader(leader_id)
    return known.name if known else leader_id


def _chart_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _write_chart(result: Timeline, name: str, tz_name: str, path: Path, *, quiet: bool) -> None:
    from monitor.cli.timeline_chart import save_png, timeline_figure

    figure = timeline_figure(result, name, tz_name)
    try:
        save_png(figure, path)
    except OSError as exc:
        err.print(f"error: cannot write the chart to {path}: {exc.strerror or exc}", markup=False)
        raise typer.Exit(EXIT_CHART) from None
    (err if quiet else out).print(f"chart: {path}", markup=False)


def bar(score: float) -> str:
    """A score in [0, 1] as a bar of BAR_CELLS cells, in eighths of a cell."""
    eighths = round(max(0.0, min(1.0, score)) * BAR_CELLS * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (EIGHTHS[rest] if rest else "")).ljust(BAR_CELLS)


def _score_cell(score: float | None, label: str) -> Text:
    if score is None:
        return Text("")
    return Text.assemble(f"{score:.2f} ", (bar(score), STYLES[label]))


def _count_cell(day: Day) -> str:
    return f"{day.count} ({day.deleted} deleted)" if day.deleted else str(day.count)


def _turn_cell(day: Day) -> Text:
    if not day.turn:
        return Text("")
    return Text(f"{MARKS[day.turn]} {day.turn} turn", style=f"bold {STYLES[day.turn]}")


def _quiet(run: int) -> str:
    return f"… {run} quiet day" + ("s" if run > 1 else "")


def render_timeline(result: Timeline, name: str, tz: tzinfo, tz_name: str) -> RenderableType:
    table = Table(
        title=f"{name} ({result.leader_id}): {result.first} to {result.last}",
        title_justify="left",
        caption=f"days in {tz_name}; dominant: the higher mean score if it is at least "
        f"{DOMINANT_THRESHOLD:.2f}, else neutral",
        caption_justify="left",
        pad_edge=False,
    )
    table.add_column("date", no_wrap=True)
    table.add_column("statements", justify="right", no_wrap=True)
    table.add_column("escalation", no_wrap=True)
    table.add_column("de-escalation", no_wrap=True)
    table.add_column("dominant", no_wrap=True)
    table.add_column("turn", no_wrap=True)
    run = 0
    for day in result.days:
        if day.quiet:
            run += 1
            continue
        if run:
            table.add_row(Text(_quiet(run), style="dim"))
            run = 0
        table.add_row(
            f"{day.day.isoformat()} {day.day:%a}",
            _count_cell(day),
            _score_cell(day.escalation, ESCALATION),
            _score_cell(day.de_escalation, DE_ESCALATION),
            day.dominant or "",
            _turn_cell(day),
        )
    if run:
        table.add_row(Text(_quiet(run), style="dim"))
    parts: list[RenderableType] = [table]
    turns = result.turns
    if turns:
        parts.append(Text("\nturns (the statement with the day's highest score of the new stance)"))
    parts.extend(_turn_line(day, tz) for day in turns)
    return Group(*parts)


def _turn_line(day: Day, tz: tzinfo) -> Text:
    assert day.turn and day.turn_statement  # only turn days are listed
    point = day.turn_statement
    score = point.score(day.turn)
    return Text.assemble(
        (f"  {MARKS[day.turn]} {day.day.isoformat()} {day.turn} turn", STYLES[day.turn]),
        f" (from {day.turned_from}): #{point.id} {when(point.published_at, tz)} "
        f"score {score:.2f}{' deleted' if point.deleted else ''}: ",
        first_line(point.text),
    )
