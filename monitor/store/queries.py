"""The read side for the CLI: filtered listings and one statement in full."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, select
from sqlalchemy.orm import Session, selectinload

from monitor.errors import NotFoundError
from monitor.store.models import Alert, Match, SourceState, Statement

STATUSES = ("new", "relevant", "irrelevant", "escalated")


@dataclass(frozen=True)
class ItemFilters:
    leader: str | None = None
    organization: str | None = None
    source: str | None = None
    rule: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    status: str | None = None
    language: str | None = None
    limit: int = 50  # 0: all
    matched: bool = False  # only statements some rule matched
    edited: bool = False
    deleted: bool = False
    offset: int = 0  # rows skipped (--page)


def filtered_statements(filters: ItemFilters) -> Select[Statement]:
    query = select(Statement)
    if filters.leader:
        query = query.where(Statement.leader_id == filters.leader)
    if filters.organization:
        query = query.where(Statement.organization_id == filters.organization)
    if filters.source:
        query = query.where(Statement.source_id == filters.source)
    if filters.rule:
        matched = select(Match.statement_id).where(Match.rule_id == filters.rule)
        query = query.where(Statement.id.in_(matched))
    if filters.since:
        query = query.where(Statement.published_at >= filters.since)
    if filters.until:
        query = query.where(Statement.published_at < filters.until)
    if filters.status:
        query = query.where(Statement.status == filters.status)
    if filters.language:
        query = query.where(Statement.language == filters.language)
    if filters.matched:
        # EXISTS: the newest-first walk stops after --limit hits; IN would build the
        # whole set of matched ids first.
        query = query.where(select(Match.id).where(Match.statement_id == Statement.id).exists())
    if filters.edited:
        query = query.where(Statement.edited.is_(True))
    if filters.deleted:
        query = query.where(Statement.deleted_at.is_not(None))
    return query


def list_items(session: Session, filters: ItemFilters) -> list[Statement]:
    query = (
        filtered_statements(filters)
        .options(selectinload(Statement.matches))
        .order_by(Statement.published_at.desc(), Statement.id.desc())
    )
    if filters.limit:
        query = query.limit(filters.limit)
    if filters.offset:
        query = query.offset(filters.offset)
    return list(session.scalars(query))


def source_kinds(session: Session) -> dict[str, str]:
    return {row.id: row.kind for row in session.execute(select(SourceState.id, SourceState.kind))}


def get_item(session: Session, statement_id: int) -> Statement:
    statement = session.scalars(
        select(Statement)
        .where(Statement.id == statement_id)
        .options(selectinload(Statement.versions), selectinload(Statement.matches))
    ).one_or_none()
    if statement is None:
        raise NotFoundError(f"no statement with id {statement_id}")
    return statement


def alerts_of(session: Session, statement_id: int) -> list[Alert]:
    return list(
        session.scalars(
            select(Alert).where(Alert.statement_id == statement_id).order_by(Alert.created_at)
        )
    )


def item_json(statement: Statement, kind: str | None) -> dict[str, Any]:
    """The stable `--json` shape of PRODUCT.md (plus a few extra keys)."""
    return {
        "id": statement.id,
        "source": statement.source_id,
        "kind": kind,
        "leader": statement.leader_id,
        "organization": statement.organization_id,
        "external_id": statement.external_id,
        "url": statement.url,
        "author": statement.author,
        "title": statement.title,
        "published_at": statement.published_at.isoformat(),
        "fetched_at": statement.fetched_at.isoformat(),
        "updated_at": statement.updated_at.isoformat(),
        "text": statement.text,
        "language": statement.language,
        "edited": statement.edited,
        "deleted": statement.deleted_at is not None,
        "deleted_at": statement.deleted_at.isoformat() if statement.deleted_at else None,
        "reply_to": statement.reply_to,
        "forwarded_from": statement.forwarded_from,
        "quote_of": statement.quote_of,
        "mentions": statement.mentions,
        "stance": statement.stance,
        "status": statement.status,
        "note": statement.note,
        "tags": statement.tags,
        "rules": sorted(match.rule_id for match in statement.matches),
    }


@dataclass(frozen=True)
class SourceHealth:
    state: SourceState
    statements: int
    deleted: int


def source_health(session: Session) -> dict[str, SourceHealth]:
    """Every source's state with its statement counts, by source id."""
    counts = {
        row.source_id: (row.total, row.deleted)
        for row in session.execute(
            select(
                Statement.source_id,
                func.count().label("total"),
                func.count(Statement.deleted_at).label("deleted"),
            ).group_by(Statement.source_id)
        )
    }
    return {
        state.id: SourceHealth(state, *counts.get(state.id, (0, 0)))
        for state in session.scalars(select(SourceState))
    }


def known_hashes(session: Session, source_id: str, external_ids: list[str]) -> dict[str, str]:
    """The stored content hash of each of these posts that is stored already."""
    rows = session.connection().execute(
        _KNOWN_HASHES, {"source_id": source_id, "external_ids": external_ids}
    )
    return {row.external_id: row.content_hash for row in rows}


# Built once: every poll that fetched posts asks, and building it costs more than running it.
_KNOWN_HASHES = select(Statement.external_id, Statement.content_hash).where(
    Statement.source_id == bindparam("source_id"),
    Statement.external_id.in_(bindparam("external_ids", expanding=True)),
)
