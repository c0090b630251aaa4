"""Delivery attempts: the retry schedule, and recording each attempt's outcome.

Every attempt is a row of ``alert_attempts`` (started, finished, outcome,
error), so the error of each try is kept, not only the last. A retryable
failure leaves the alert ``failed`` and due again after the next wait of the
schedule (±jitter, at least what a Retry-After asked); after the last wait, or
on a final error (a 4xx other than 408/429, an SMTP 5xx), it is ``dead``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update

from monitor.errors import DeliveryError
from monitor.store.models import Alert, AlertAttempt, utcnow
from monitor.store.session import Database

log = logging.getLogger(__name__)

DEFAULT_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=6),
)
# Statuses: pending (not yet sent; after a failed try, waiting for its retry),
# sent, failed (refused for good: an HTTP 4xx other than 408/429, an SMTP 5xx),
# dead (the retry schedule ran out). `monitor alerts retry` revives the last two.
RETRYING_STATUSES = ("pending",)


@dataclass(frozen=True)
class DeliveryPolicy:
    """How often to retry, with how much jitter, and how long a claim lasts."""

    retry_schedule: tuple[timedelta, ...] = DEFAULT_SCHEDULE
    jitter: float = 0.2
    lease: timedelta = timedelta(minutes=2)

    @classmethod
    def from_settings(cls, settings: object) -> DeliveryPolicy:
        schedule = getattr(settings, "alert_retry_schedule", None) or DEFAULT_SCHEDULE
        lease = getattr(settings, "alert_claim_lease", None) or cls.lease
        return cls(retry_schedule=tuple(schedule), lease=lease)


def retry_delay(
    attempts: int,
    schedule: Sequence[timedelta] = DEFAULT_SCHEDULE,
    retry_after: float | None = None,
    jitter: float = 0.0,
) -> timedelta | None:
    """The wait after ``attempts`` failed tries, or None when the schedule is spent."""
    if attempts > len(schedule):
        return None
    delay = schedule[max(attempts, 1) - 1]
    if jitter:
        delay = delay * random.uniform(1 - jitter, 1 + jitter)
    if retry_after is not None:
        # A server's Retry-After is honoured, up to the longest wait of the schedule.
        ceiling = max(schedule)
        delay = max(delay, min(timedelta(seconds=min(retry_after, 1e9)), ceiling))
    return delay


def _attempt(
    alert: Alert,
    started_at: datetime,
    outcome: str,
    error: str | None,
    message_id: str | None = None,
) -> AlertAttempt:
    return AlertAttempt(
        alert_id=alert.id,
        notifier_id=alert.notifier_id,
        attempt=alert.attempts,
        started_at=started_at,
        finished_at=utcnow(),
        outcome=outcome,
        error=error,
        message_id=message_id or alert.id,
    )


def record_success(
    db: Database, alert_id: str, started_at: datetime, message_id: str | None = None
) -> None:
    """``message_id``: the digest the alert went out in; None: a message of its own."""
    record_successes(db, [alert_id], started_at, message_id)


def record_successes(
    db: Database, alert_ids: Sequence[str], started_at: datetime, message_id: str | None = None
) -> None:
    """The alerts of one message, sent: recorded together, in one transaction."""
    # Recorded even if the claim ran out meanwhile: it was sent, and the
    # other process checks the status before it sends.
    with db.write() as session:
        for alert_id in alert_ids:
            alert = session.get_one(Alert, alert_id, with_for_update=True)
            if alert.status in RETRYING_STATUSES:
                alert.status = "sent"
                alert.sent_at = utcnow()
                alert.last_error = None
                alert.locked_by = None
                alert.locked_until = None
            alert.attempts += 1
            session.add(_attempt(alert, started_at, "sent", None, message_id))


def record_failure(
    db: Database,
    alert_id: str,
    error: DeliveryError,
    started_at: datetime,
    policy: DeliveryPolicy,
) -> bool:
    """Count the attempt; True if it will be retried, False if it is now failed or dead."""
    retried, _ = record_failures(db, [alert_id], error, started_at, policy)
    return retried == 1


def record_failures(
    db: Database,
    alert_ids: Sequence[str],
    error: DeliveryError,
    started_at: datetime,
    policy: DeliveryPolicy,
) -> tuple[int, int]:
    """The alerts of one message, failed: (retried, given up). They share one wait,
    so a digest or a folded message is retried whole, as the same message."""
    text = error.args[0] if error.args else str(error)
    with db.write() as session:
        alerts = [session.get_one(Alert, alert_id, with_for_update=True) for alert_id in alert_ids]
        # Sent or dead meanwhile (another process): left as they are.
        alerts = [alert for alert in alerts if alert.status in RETRYING_STATUSES]
        if not alerts:
            return 0, 0
        for alert in alerts:
            alert.attempts += 1
            alert.last_error = text
            alert.locked_by = None
            alert.locked_until = None
        attempts = max(alert.attempts for alert in alerts)
        delay = (
            retry_delay(attempts, policy.retry_schedule, error.retry_after, policy.jitter)
            if error.retryable
            else None
        )
        due = utcnow() + delay if delay is not None else None
        for alert in alerts:
            if due is not None:
                alert.next_attempt_at = due  # stays pending: never lost
            else:
                alert.status = "dead" if error.retryable else "failed"
            session.add(_attempt(alert, started_at, "failed", text))
    retried = delay is not None
    log.warning(
        "%s: delivery failed (attempt %d%s): %s",
        f"alert {alerts[0].id}" if len(alerts) == 1 else f"{len(alerts)} alerts of one message",
        attempts,
        "" if retried else ", not retried",
        error,
    )
    return (len(alerts), 0) if retried else (0, len(alerts))


def make_due(db: Database, alert_ids: Sequence[str]) -> int:
    """Make dead or failed alerts pending and due now; their attempts are kept."""
    if not alert_ids:
        return 0
    with db.write() as session:
        result = session.execute(
            update(Alert)
            .where(Alert.id.in_(list(alert_ids)), Alert.status.in_(("dead", "failed")))
            .values(status="pending", next_attempt_at=utcnow(), locked_by=None, locked_until=None)
        )
        return result.rowcount  # type: ignore[attr-defined, no-any-return]
