"""Options shared by the listing commands: filters, --since/--until, --limit, --json."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, tzinfo
from typing import Annotated

import typer

from monitor.config.durations import parse_duration
from monitor.store.queries import STATUSES, ItemFilters


def parse_when(value: str, tz: tzinfo, now: datetime | None = None) -> datetime:
    """`24h`/`7d` (that long ago), an ISO date (midnight in the display timezone)
    or an ISO date-time (display timezone unless it carries an offset); UTC out."""
    now = now or datetime.now(UTC)
    text = value.strip()
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tz).astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither a duration (24h, 7d) nor an ISO date (2026-11-01) or "
            "date-time (2026-11-01T08:00)"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def _when(value: str | None) -> str | None:
    # Checked here so a bad value is a usage error; converted later in the display timezone.
    if value is not None:
        parse_when(value, UTC)
    return value


def _status(value: str | None) -> str | None:
    if value is not None and value not in STATUSES:
        raise typer.BadParameter(f"{value!r} is not a status (valid: {', '.join(STATUSES)})")
    return value


def _limit(value: int) -> int:
    if value < 0:
        raise typer.BadParameter("must be 0 (all) or a positive number")
    return value


Leader = Annotated[str | None, typer.Option(help="Only this leader (id).")]
Organization = Annotated[str | None, typer.Option(help="Only this organization (id).")]
SourceOpt = Annotated[str | None, typer.Option("--source", help="Only this source (id).")]
RuleOpt = Annotated[str | None, typer.Option("--rule", help="Only statements this rule matched.")]
Since = Annotated[
    str | None,
    typer.Option(callback=_when, help="From this time: 24h, 7d, or an ISO date/date-time."),
]
Until = Annotated[
    str | None, typer.Option(callback=_when, help="Before this time (same forms as --since).")
]
Status = Annotated[
    str | None,
    typer.Option(callback=_status, help=f"Review status: {', '.join(STATUSES)}."),
]
Lang = Annotated[str | None, typer.Option("--lang", help="Only this language (e.g. ar, en).")]
Limit = Annotated[int, typer.Option(callback=_limit, help="At most N rows; 0 for all.")]
Json = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]
Unreviewed = Annotated[
    bool, typer.Option("--unreviewed", help="Only statements not reviewed yet (status new).")
]
Matched = Annotated[bool, typer.Option("--matched", help="Only statements some rule matched.")]
Edited = Annotated[bool, typer.Option("--edited", help="Only statements edited since capture.")]
Deleted = Annotated[bool, typer.Option("--deleted", help="Only statements deleted at the source.")]
Page = Annotated[int, typer.Option(min=1, help="Page N of --limit rows each (1: the newest).")]
Utc = Annotated[bool, typer.Option("--utc", help="Times in UTC, not settings.timezone.")]


def item_filters(
    tz: tzinfo,
    *,
    leader: str | None,
    organization: str | None,
    source: str | None,
    rule: str | None,
    since: str | None,
    until: str | None,
    status: str | None,
    lang: str | None,
    limit: int,
    unreviewed: bool = False,
    matched: bool = False,
    edited: bool = False,
    deleted: bool = False,
    page: int = 1,
) -> ItemFilters:
    if unreviewed and status not in (None, "new"):
        raise typer.BadParameter("--unreviewed is --status new; give one or the other")
    if page > 1 and not limit:
        raise typer.BadParameter("--page needs a --limit above 0", param_hint="--page")
    return ItemFilters(
        leader=leader,
        organization=organization,
        source=source,
        rule=rule,
        since=parse_when(since, tz) if since else None,
        until=parse_when(until, tz) if until else None,
        status="new" if unreviewed else status,
        language=lang,
        limit=limit,
        matched=matched,
        edited=edited,
        deleted=deleted,
        offset=(page - 1) * limit,
    )


_FILTER_PARAMS = (
    "leader", "organization", "source", "rule", "since", "until", "status", "lang", "limit",
    "unreviewed", "matched", "edited", "deleted", "page",
)  # fmt: skip


def filters_of(ctx: typer.Context, tz: tzinfo) -> ItemFilters:
    """The filters of a listing command, from the options it declares (the same
    names in `items list`, `search` and `export`)."""
    given = {name: ctx.params[name] for name in _FILTER_PARAMS if name in ctx.params}
    return item_filters(tz, **given)
