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
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from monitor.errors import DeliveryError
from monitor.notify.attempts import (
    RETRYING_STATUSES,
    DeliveryPolicy,
    record_failure,
    record_success,
    retry_delay,
)
from monitor.notify.base import AlertMessage, Notifier, StatementSummary
from monitor.notify.digest import deliver_digests, digest_notifiers
from monitor.notify.throttle import deliver_throttled, throttled_notifiers
from monitor.rules.engine import RuleMatch
from monitor.store.dialect import insert_ignoring_conflicts
from monitor.store.ids import uuid7
from monitor.store.models import Alert, Match, StatementVersion, utcnow
from monitor.store.session import Database

log = logging.getLogger(__name__)

# The lease (settings.alert_claim_lease, default 2 minutes) outlives one send by
# far (notifier timeouts are seconds): it is renewed before each send, so only a
# process that stopped mid-send loses it.
CLAIM_BATCH = 10


def record_matches(
    session: Session,
    statement_id: int,
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
            "statement_id": statement_id,
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
                "statement_id": statement_id,
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


def claim_due_alerts(
    db: Database,
    owner: str,
    limit: int = CLAIM_BATCH,
    policy: DeliveryPolicy | None = None,
    exclude: Collection[str] = (),
) -> list[str]:
    """Claim due alerts one by one; ``exclude``: notifiers that batch (digests)."""
    lease = (policy or DeliveryPolicy()).lease
    now = utcnow()
    with db.write() as session:
        ids = list(
            session.scalars(
                select(Alert.id)
                .where(
                    Alert.status.in_(RETRYING_STATUSES),
                    Alert.next_attempt_at <= now,
                    or_(Alert.locked_until.is_(None), Alert.locked_until < now),
                    Alert.notifier_id.not_in(list(exclude)),
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
                .values(locked_by=owner, locked_until=now + lease)
            )
    return ids


def _still_ours(
    db: Database, alert_id: str, owner: str, policy: DeliveryPolicy | None = None
) -> bool:
    """Renew the claim right before sending; False if another process took it over."""
    lease = (policy or DeliveryPolicy()).lease
    with db.write() as session:
        renewed = session.execute(
            update(Alert)
            .where(
                Alert.id == alert_id,
                Alert.locked_by == owner,
                Alert.status.in_(RETRYING_STATUSES),
            )
            .values(locked_until=utcnow() + lease)
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


def deliver_due(
    db: Database,
    notifiers: Mapping[str, Notifier],
    owner: str,
    *,
    stop: threading.Event | None = None,
    failing: set[str] | None = None,
    policy: DeliveryPolicy | None = None,
) -> DeliveryReport:
    """Deliver the due alerts (one claimed batch); failures stay pending for a retry.

    ``failing`` collects the notifiers that failed: the rest of their alerts
    are left for a later round instead of each waiting out a timeout.
    """
    report = DeliveryReport()
    policy = policy or DeliveryPolicy()
    failing = set() if failing is None else failing
    batching = {*digest_notifiers(notifiers), *throttled_notifiers(notifiers)}
    claimed = claim_due_alerts(db, owner, policy=policy, exclude=batching)
    report.claimed = len(claimed)
    for alert_id in claimed:
        if stop is not None and stop.is_set():
            break
        with db.read() as session:
            alert = session.get_one(Alert, alert_id)
            message = load_message(session, alert)
            notifier_id = alert.notifier_id
        notifier = notifiers.get(notifier_id)
        if notifier_id in failing or not _still_ours(db, alert_id, owner, policy):
            continue  # left claimed: the lease runs out and the alert is due again
        started_at = utcnow()
        try:
            if notifier is None:
                raise DeliveryError(f"notifier {notifier_id!r} is no longer configured")
            notifier.deliver(message)
        except Exception as exc:  # a notifier bug must not stop delivery of the others
            error = exc if isinstance(exc, DeliveryError) else _unexpected(notifier_id, exc)
            failing.add(notifier_id)
            if record_failure(db, alert_id, error, started_at, policy):
                report.failed += 1
            else:
                report.dead += 1
            continue
        report.sent += 1
        record_success(db, alert_id, started_at)
    return report


def deliver_all_due(
    db: Database,
    notifiers: Mapping[str, Notifier],
    owner: str,
    *,
    stop: threading.Event | None = None,
    policy: DeliveryPolicy | None = None,
) -> DeliveryReport:
    """Claim and deliver batch after batch until nothing is due (or ``stop`` is set)."""
    total = DeliveryReport()
    policy = policy or DeliveryPolicy()
    for deliver_batches in (deliver_digests, deliver_throttled):
        sent, failed, dead = deliver_batches(db, notifiers, owner, policy)
        total.add(DeliveryReport(sent=sent, failed=failed, dead=dead))
    failing: set[str] = set()
    while stop is None or not stop.is_set():
        report = deliver_due(db, notifiers, owner, stop=stop, failing=failing, policy=policy)
        total.add(report)
        if not report.claimed:
            break  # alerts skipped in a round stay claimed, so this ends
    return total


def _unexpected(notifier_id: str, exc: Exception) -> DeliveryError:
    log.exception("notifier %s failed unexpectedly", notifier_id, exc_info=exc)
    return DeliveryError(f"{type(exc).__name__}: {exc}")


__all__ = ["DeliveryPolicy", "retry_delay"]
