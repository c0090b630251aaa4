"""Earlier statements for the rules that compare (stance shifts, replies, reactions)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from monitor.rules.conditions import PastStatement
from monitor.rules.engine import StatementFacts
from monitor.store.models import SourceState, Statement

# A leader says a few things a day; a window of weeks stays small, but bound it.
MAX_LOOKBACK = 200


class StoreHistory:
    def __init__(self, session: Session) -> None:
        self._session = session

    def leader_statements(
        self, leader_id: str, since: datetime, before: datetime, exclude: int | None
    ) -> Sequence[PastStatement]:
        query = (
            select(Statement)
            .where(
                Statement.leader_id == leader_id,
                Statement.published_at >= since,
                Statement.published_at < before,
            )
            .order_by(Statement.published_at.desc(), Statement.id.desc())
            .limit(MAX_LOOKBACK)
        )
        if exclude is not None:
            query = query.where(Statement.id != exclude)
        return [_past(row) for row in self._session.scalars(query)]

    def referenced(self, facts: StatementFacts) -> Sequence[PastStatement]:
        """Resolve ``reply_to``/``quote_of``: a link, or an id among the sources where
        ids are shared: a Telegram message number means this channel; a tweet id, a
        Bluesky URI or a Mastodon status id, any source of the same kind."""
        found: list[PastStatement] = []
        for relation, ref in (("reply", facts.reply_to), ("quote", facts.quote_of)):
            if not ref:
                continue
            query = (
                select(Statement)
                .where(
                    or_(
                        Statement.url == ref,
                        (Statement.external_id == ref) & self._id_scope(facts.source_id),
                    ),
                    Statement.id != (facts.statement_id or -1),
                )
                .limit(1)
            )
            for row in self._session.scalars(query):
                found.append(_past(row, relation))
        return found

    def _id_scope(self, source_id: str | None) -> ColumnElement[bool]:
        kind = self._session.scalar(select(SourceState.kind).where(SourceState.id == source_id))
        if kind is None or kind == "telegram":
            return Statement.source_id == source_id
        same_kind = select(SourceState.id).where(SourceState.kind == kind)
        return Statement.source_id.in_(same_kind)


def _past(row: Statement, relation: str | None = None) -> PastStatement:
    return PastStatement(
        id=row.id,
        leader_id=row.leader_id,
        published_at=row.published_at,
        stance=row.stance or {},
        relation=relation,
    )
