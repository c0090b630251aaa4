"""The alert outbox: written with the match, claimed, delivered, recorded.

Matches and their alerts are inserted in the ingest transaction, so a crash
can never leave a match without its alerts. Delivery claims due alerts with a
short lock (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock
serializes the claim), sends outside any transaction, then records the
outcome only if it still holds the claim.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from monitor.errors import DeliveryError
from monitor.notify.base import AlertMessage, Notifier, StatementSummary
from monitor.rules.engine import RuleMatch
from monitor.store.dialect import insert_ignoring_conflicts
from monitor.store.ids import uuid7
from monitor.store.models import Alert, Match, Statement, utcnow
from monitor.store.session import Database

log = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=2)
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY_DELAY = timedelta(hours=1)


def record_matches(
    session: Session, statement: Statement, matches: Sequence[RuleMatch], now: datetime
) -> int:
    """Store each match once and one pending alert per notifier; returns alerts created."""
    created = 0
    for match in matches:
        match_values = {
            "rule_id": match.rule_id,
            "statement_id": statement.id,
            "severity": match.severity,
            "evidence": match.evidence,
            "created_at": now,
        }
        match_id = session.execute(
            insert_ignoring_conflicts(
                session, Match, match_values, ["rule_id", "statement_id"]
            ).returning(Match.id)
        ).scalar_one_or_none()
        if match_id is None:
            continue  # matched before (an earlier version, or another process)
        for notifier_id in match.notify:
            alert_values = {
                "id": uuid7(),
                "match_id": match_id,
                "rule_id": match.rule_id,
                "statement_id": statement.id,
                "notifier_id": notifier_id,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            inserted = session.execute(
                insert_ignoring_conflicts(
                    session, Alert, alert_values, ["rule_id", "statement_id", "notifier_id"]
                ).returning(Alert.id)
            ).scalar_one_or_none()
            created += inserted is not None
    return created


def claim_due_alerts(db: Database, owner: str, limit: int = 100) -> list[str]:
    now = utcnow()
    with db.write() as session:
        ids = list(
            session.scalars(
                select(Alert.id)
                .where(
                    Alert.status == "pending",
                    Alert.next_attempt_at <= now,
                    or_(Alert.locked_until.is_(None), Alert.locked_until < now),
                )
                .order_by(Alert.next_attempt_at, Alert.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if ids:
            session.execute(
                update(Alert)
                .where(Alert.id.in_(ids))
                .values(locked_by=owner, locked_until=now + CLAIM_LEASE)
            )
    return ids


def load_message(session: Session, alert: Alert) -> AlertMessage:
    match = alert.match
    statement = alert.statement
    return AlertMessage(
        alert_id=alert.id,
        rule_id=alert.rule_id,
        severity=match.severity,
        evidence=dict(match.evidence),
        statement=StatementSummary(
            id=statement.id,
            source=statement.source_id,
            leader=statement.leader_id,
            organization=statement.organization_id,
            url=statement.url,
            author=statement.author,
            published_at=statement.published_at,
            text=statement.text,
            language=statement.language,
        ),
    )


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    delay: timedelta = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def deliver_due(
    db: Database,
    notifiers: Mapping[str, Notifier],
    owner: str,
    *,
    limit: int = 100,
    on_sent: Callable[[AlertMessage, str], None] | None = None,
) -> DeliveryReport:
    """Deliver every due alert once; a failure leaves the alert pending for a later retry."""
    report = DeliveryReport()
    for alert_id in claim_due_alerts(db, owner, limit):
        with db.read() as session:
            alert = session.get_one(Alert, alert_id)
            message = load_message(session, alert)
            notifier_id = alert.notifier_id
        notifier = notifiers.get(notifier_id)
        try:
            if notifier is None:
                raise DeliveryError(f"notifier {notifier_id!r} is no longer configured")
            notifier.deliver(message)
        except DeliveryError as exc:
            report.failed += 1
            _record_failure(db, alert_id, owner, exc)
            continue
        report.sent += 1
        _record_success(db, alert_id, owner)
        if on_sent is not None:
            on_sent(message, notifier_id)
    return report


def _record_success(db: Database, alert_id: str, owner: str) -> None:
    with db.write() as session:
        session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.locked_by == owner)
            .values(
                status="sent",
                attempts=Alert.attempts + 1,
                sent_at=utcnow(),
                last_error=None,
                locked_by=None,
                locked_until=None,
            )
        )


def _record_failure(db: Database, alert_id: str, owner: str, error: DeliveryError) -> None:
    with db.write() as session:
        alert = session.get_one(Alert, alert_id, with_for_update=True)
        if alert.locked_by != owner:
            return  # our claim expired and another deliverer owns it now
        alert.attempts += 1
        alert.last_error = str(error)
        alert.next_attempt_at = utcnow() + retry_delay(alert.attempts, error.retry_after)
        alert.locked_by = None
        alert.locked_until = None
    log.warning("alert %s: delivery failed (attempt %d): %s", alert_id, alert.attempts, error)
