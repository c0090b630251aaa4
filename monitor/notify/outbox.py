"""The alert outbox: written with the match, claimed, delivered, recorded.

Matches and their alerts are inserted in the ingest transaction, so a crash
can never leave a match without its alerts. Delivery claims a few due alerts
with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's write lock
serializes the claim), renews the lease right before each send (so a slow
notifier cannot outlive it and let another process send the same alert),
sends outside any transaction, then records the outcome.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from monitor.errors import DeliveryError
from monitor.notify.base import AlertMessage, Notifier, StatementSummary
from monitor.rules.engine import RuleMatch
from monitor.store.dialect import insert_ignoring_conflicts
from monitor.store.ids import uuid7
from monitor.store.models import Alert, Match, Statement, StatementVersion, utcnow
from monitor.store.session import Database

log = logging.getLogger(__name__)

# A lease outlives one send by far (notifier timeouts are seconds): it is
# renewed before each send, so only a process that stopped mid-send loses it.
CLAIM_LEASE = timedelta(minutes=2)
CLAIM_BATCH = 10
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY_DELAY = timedelta(hours=1)


def record_matches(
    session: Session,
    statement: Statement,
    version: int,
    matches: Sequence[RuleMatch],
    now: datetime,
    *,
    alert: bool = True,
) -> int:
    """Store each match once and (if ``alert``) one pending alert per notifier."""
    created = 0
    for match in matches:
        match_values = {
            "rule_id": match.rule_id,
            "statement_id": statement.id,
            "severity": match.severity,
            "version": version,
            "evidence": match.evidence,
            "created_at": now,
        }
        match_id = session.execute(
            insert_ignoring_conflicts(
                session, Match, match_values, ["rule_id", "statement_id"]
            ).returning(Match.id)
        ).scalar_one_or_none()
        if match_id is None or not alert:
            continue  # matched before (an earlier version, or another process), or backlog
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


def claim_due_alerts(db: Database, owner: str, limit: int = CLAIM_BATCH) -> list[str]:
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


def _still_ours(db: Database, alert_id: str, owner: str) -> bool:
    """Renew the claim right before sending; False if another process took it over."""
    with db.write() as session:
        renewed = session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.locked_by == owner, Alert.status == "pending")
            .values(locked_until=utcnow() + CLAIM_LEASE)
        )
        return renewed.rowcount == 1  # type: ignore[attr-defined, no-any-return]


def load_message(session: Session, alert: Alert) -> AlertMessage:
    """The alert as sent: the statement's text as it was when the rule matched."""
    match = alert.match
    statement = alert.statement
    matched = session.execute(
        select(StatementVersion.text).where(
            StatementVersion.statement_id == statement.id,
            StatementVersion.version == match.version,
        )
    ).scalar_one_or_none()
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
            text=matched if matched is not None else statement.text,
            language=statement.language,
        ),
    )


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0  # will be retried
    dead: int = 0  # will not be retried
    claimed: int = 0

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.failed += other.failed
        self.dead += other.dead
        self.claimed += other.claimed


def retry_delay(attempts: int, retry_after: float | None = None) -> timedelta:
    # The exponent is capped before multiplying: 2**43 * 30 s overflows timedelta.
    delay: timedelta = min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 20), MAX_RETRY_DELAY)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after, MAX_RETRY_DELAY.total_seconds())))
    return delay


def deliver_due(
    db: Database,
    notifiers: Mapping[str, Notifier],
    owner: str,
    *,
    stop: threading.Event | None = None,
    failing: set[str] | None = None,
) -> DeliveryReport:
    """Deliver the due alerts (one claimed batch); failures stay pending for a retry.

    ``failing`` collects the notifiers that failed: the rest of their alerts
    are left for a later round instead of each waiting out a timeout.
    """
    report = DeliveryReport()
    failing = set() if failing is None else failing
    claimed = claim_due_alerts(db, owner)
    report.claimed = len(claimed)
    for alert_id in claimed:
        if stop is not None and stop.is_set():
            break
        with db.read() as session:
            alert = session.get_one(Alert, alert_id)
            message = load_message(session, alert)
            notifier_id = alert.notifier_id
        notifier = notifiers.get(notifier_id)
        if notifier_id in failing or not _still_ours(db, alert_id, owner):
            continue  # left claimed: the lease runs out and the alert is due again
        try:
            if notifier is None:
                raise DeliveryError(f"notifier {notifier_id!r} is no longer configured")
            notifier.deliver(message)
        except Exception as exc:  # a notifier bug must not stop delivery of the others
            error = exc if isinstance(exc, DeliveryError) else _unexpected(notifier_id, exc)
            failing.add(notifier_id)
            if _record_failure(db, alert_id, error):
                report.failed += 1
            else:
                report.dead += 1
            continue
        report.sent += 1
        _record_success(db, alert_id)
    return report


def deliver_all_due(
    db: Database,
    notifiers: Mapping[str, Notifier],
    owner: str,
    *,
    stop: threading.Event | None = None,
) -> DeliveryReport:
    """Claim and deliver batch after batch until nothing is due (or ``stop`` is set)."""
    total = DeliveryReport()
    failing: set[str] = set()
    while stop is None or not stop.is_set():
        report = deliver_due(db, notifiers, owner, stop=stop, failing=failing)
        total.add(report)
        if not report.claimed:
            break  # alerts skipped in a round stay claimed, so this ends
    return total


def _unexpected(notifier_id: str, exc: Exception) -> DeliveryError:
    log.exception("notifier %s failed unexpectedly", notifier_id, exc_info=exc)
    return DeliveryError(f"{type(exc).__name__}: {exc}")


def _record_success(db: Database, alert_id: str) -> None:
    # Recorded even if the claim ran out meanwhile: it was sent, and the
    # other process checks the status before it sends.
    with db.write() as session:
        session.execute(
            update(Alert)
            .where(Alert.id == alert_id, Alert.status == "pending")
            .values(
                status="sent",
                attempts=Alert.attempts + 1,
                sent_at=utcnow(),
                last_error=None,
                locked_by=None,
                locked_until=None,
            )
        )


def _record_failure(db: Database, alert_id: str, error: DeliveryError) -> bool:
    """Count the attempt; True if it will be retried, False if the alert is now dead."""
    with db.write() as session:
        alert = session.get_one(Alert, alert_id, with_for_update=True)
        alert.attempts += 1
        alert.last_error = error.args[0] if error.args else str(error)
        alert.locked_by = None
        alert.locked_until = None
        if error.retryable:
            alert.next_attempt_at = utcnow() + retry_delay(alert.attempts, error.retry_after)
        else:
            alert.status = "dead"
        attempts = alert.attempts
    log.warning(
        "alert %s: delivery failed (attempt %d%s): %s",
        alert_id,
        attempts,
        "" if error.retryable else ", not retried",
        error,
    )
    return error.retryable
