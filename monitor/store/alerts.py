"""Queries over the outbox for `monitor alerts list` and `monitor alerts retry`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.errors import NotFoundError
from monitor.store.models import Alert, Statement

ALERT_STATUSES = ("pending", "sent", "failed", "dead")


@dataclass(frozen=True)
class AlertFilters:
    status: str | None = None
    rule: str | None = None
    notifier: str | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    # Of the alert's statement:
    leader: str | None = None
    organization: str | None = None
    source: str | None = None
    language: str | None = None
    limit: int = 50  # 0: all


def list_alerts(session: Session, filters: AlertFilters) -> list[Alert]:
    """Alerts, newest first."""
    query = select(Alert)
    if filters.status:
        query = query.where(Alert.status == filters.status)
    if filters.rule:
        query = query.where(Alert.rule_id == filters.rule)
    if filters.notifier:
        query = query.where(Alert.notifier_id == filters.notifier)
    if filters.since:
        query = query.where(Alert.created_at >= filters.since)
    if filters.until:
        query = query.where(Alert.created_at < filters.until)
    of_statement = [
        (column, value)
        for column, value in (
            (Statement.leader_id, filters.leader),
            (Statement.organization_id, filters.organization),
            (Statement.source_id, filters.source),
            (Statement.language, filters.language),
        )
        if value
    ]
    if of_statement:
        query = query.join(Statement, Statement.id == Alert.statement_id)
        query = query.where(*(column == value for column, value in of_statement))
    query = query.order_by(Alert.created_at.desc(), Alert.id.desc())
    if filters.limit:
        query = query.limit(filters.limit)
    return list(session.scalars(query))


def resolve_alert(session: Session, id_or_prefix: str) -> Alert:
    """The alert with this id, or the only one whose id starts with it."""
    text = id_or_prefix.strip().lower()
    exact = session.get(Alert, text) if text else None
    if exact is not None:
        return exact
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    found = (
        list(
            session.scalars(select(Alert).where(Alert.id.like(f"{escaped}%", escape="\\")).limit(6))
        )
        if text
        else []
    )
    if not found:
        raise NotFoundError(f"no alert with an id starting with {id_or_prefix!r}")
    if len(found) > 1:
        shown = ", ".join(alert.id for alert in found[:5])
        more = " and more" if len(found) > 5 else ""
        raise NotFoundError(
            f"{id_or_prefix!r} is ambiguous: it starts {shown}{more}; give more of the id"
        )
    return found[0]


def dead_alert_ids(session: Session, notifier: str | None = None) -> list[str]:
    """The alerts that gave up: dead (retries ran out) or failed (refused for good)."""
    query = select(Alert.id).where(Alert.status.in_(("dead", "failed")))
    if notifier:
        query = query.where(Alert.notifier_id == notifier)
    return list(session.scalars(query.order_by(Alert.created_at)))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def alert_json(alert: Alert) -> dict[str, Any]:
    """The stable `alerts list --json` shape of PRODUCT.md (plus a few extra keys)."""
    return {
        "id": alert.id,
        "rule": alert.rule_id,
        "statement_id": alert.statement_id,
        "notifier": alert.notifier_id,
        "status": alert.status,
        "attempts": alert.attempts,
        "last_error": alert.last_error,
        "created_at": _iso(alert.created_at),
        "sent_at": _iso(alert.sent_at),
        "next_attempt_at": (
            _iso(alert.next_attempt_at) if alert.status in ("pending", "failed") else None
        ),
    }
