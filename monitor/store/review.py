"""The analyst's side of the store: review marks, linked statements, statistics."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.errors import NotFoundError
from monitor.store.models import Match, SourceState, Statement, utcnow


def review_items(
    session: Session,
    ids: Sequence[int],
    *,
    status: str | None = None,
    note: str | None = None,
    tags: Sequence[str] = (),
    untags: Sequence[str] = (),
    now: datetime | None = None,
) -> list[Statement]:
    """Marks every one of ``ids``, or none: an unknown id raises NotFoundError before
    anything changes. A note is appended to the statement's earlier notes on a line of
    its own, stamped ``[YYYY-MM-DD HH:MM UTC]``; tags are added once each (in the order
    given), ``untags`` removed."""
    wanted = list(dict.fromkeys(ids))
    found = {
        s.id: s
        for s in session.scalars(
            select(Statement).where(Statement.id.in_(wanted)).with_for_update()
        )
    }
    missing = [str(i) for i in wanted if i not in found]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise NotFoundError(f"no statement with id{plural} {', '.join(missing)}; nothing changed")
    stamp = (now or utcnow()).strftime("[%Y-%m-%d %H:%M UTC]")
    statements = [found[i] for i in wanted]
    for statement in statements:
        if status is not None:
            statement.status = status
        if note:
            line = f"{stamp} {note.strip()}"
            statement.note = f"{statement.note}\n{line}" if statement.note else line
        if tags or untags:
            current = [t for t in (statement.tags or []) if t not in untags]
            current.extend(t for t in dict.fromkeys(tags) if t not in current)
            statement.tags = current  # a new list: JSON columns see assignments only
    session.flush()
    return statements


def linked(session: Session, statement: Statement, reference: str | None) -> Statement | None:
    """The stored statement a reply/quote/forward points to: the same source's post with
    that external id (an indexed look-up), else any other statement with that external
    id or link."""
    if not reference:
        return None
    same = session.scalars(
        select(Statement).where(
            Statement.source_id == statement.source_id,
            Statement.external_id == reference,
            Statement.id != statement.id,
        )
    ).first()
    if same is not None:
        return same
    return session.scalars(
        select(Statement)
        .where(
            (Statement.external_id == reference) | (Statement.url == reference),
            Statement.id != statement.id,
        )
        .order_by(Statement.id)
        .limit(1)
    ).first()


@dataclass(frozen=True)
class Counts:
    key: str
    statements: int
    matched: int
    edited: int
    deleted: int
    last_at: datetime | None


@dataclass(frozen=True)
class Stats:
    sources: list[tuple[Counts, SourceState | None]]
    leaders: list[Counts]


def _counts(session: Session, column: object) -> list[Counts]:
    matched = select(Match.statement_id).distinct().subquery()
    rows = session.execute(
        select(
            column,  # type: ignore[call-overload]
            func.count(Statement.id),
            func.count(matched.c.statement_id),
            func.count(Statement.id).filter(Statement.edited.is_(True)),
            func.count(Statement.deleted_at),
            func.max(Statement.published_at),
        )
        .select_from(Statement)
        .outerjoin(matched, matched.c.statement_id == Statement.id)
        .group_by(column)
    )
    result = [
        Counts(key or "-", total, hits, edited, deleted, last)
        for key, total, hits, edited, deleted, last in rows
    ]
    return sorted(result, key=lambda c: c.key)


def statistics(session: Session) -> Stats:
    """Counts per source (with its health) and per leader."""
    states = {state.id: state for state in session.scalars(select(SourceState))}
    by_source = {c.key: c for c in _counts(session, Statement.source_id)}
    for source_id in states:
        by_source.setdefault(source_id, Counts(source_id, 0, 0, 0, 0, None))
    sources = [(by_source[key], states.get(key)) for key in sorted(by_source)]
    return Stats(sources=sources, leaders=_counts(session, Statement.leader_id))
