"""Digests: a notifier with ``digest: CRON`` sends one message per period.

Its alerts wait as ``pending`` with ``next_attempt_at`` set to the first fire
time of the cron expression after they were created (their period). When a
period is due, its alerts are claimed together, sent as one message (its
Message-ID derived from the period) and all recorded sent together; a failed
digest is retried on the retry schedule like any alert. An empty period sends
nothing, since there is nothing to claim.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from monitor.errors import DeliveryError
from monitor.notify.attempts import (
    RETRYING_STATUSES,
    DeliveryPolicy,
    record_failures,
    record_successes,
)
from monitor.notify.base import AlertMessage, Notifier, digest_id
from monitor.notify.schedule import next_fire
from monitor.store.models import Alert, utcnow
from monitor.store.session import Database

log = logging.getLogger(__name__)

DIGEST_BATCH = 1000  # alerts in one message at most; the rest go in the next one


class DigestNotifier(Protocol):
    digest: str | None

    def deliver(self, message: AlertMessage) -> None: ...

    def deliver_digest(self, messages: Sequence[AlertMessage], period: datetime) -> None: ...


def digest_notifiers(notifiers: Mapping[str, Notifier]) -> dict[str, DigestNotifier]:
    return {
        notifier_id: notifier  # type: ignore[misc]
        for notifier_id, notifier in notifiers.items()
        if getattr(notifier, "digest", None) and hasattr(notifier, "deliver_digest")
    }


def _schedule_new(db: Database, notifier_id: str, cron: str, now: datetime) -> None:
    """Give each alert not tried yet its period: the next fire time after its creation."""
    with db.write() as session:
        rows = session.execute(
            select(Alert.id, Alert.created_at).where(
                Alert.notifier_id == notifier_id,
                Alert.status == "pending",
                Alert.attempts == 0,
                Alert.next_attempt_at <= now,
                Alert.next_attempt_at == Alert.created_at,  # not given its period yet
            )
        ).all()
        by_fire: dict[datetime, list[str]] = {}
        for alert_id, created_at in rows:
            by_fire.setdefault(next_fire(cron, created_at), []).append(alert_id)
        for fire, ids in by_fire.items():
            session.execute(update(Alert).where(Alert.id.in_(ids)).values(next_attempt_at=fire))


def claim_notifier_alerts(
    session: Session,
    notifier_id: str,
    owner: str,
    now: datetime,
    lease: timedelta,
    *conditions: ColumnElement[bool],
) -> list[str]:
    """Claim a batch of one notifier's due alerts (oldest first) in ``session``."""
    ids = list(
        session.scalars(
            select(Alert.id)
            .where(
                Alert.notifier_id == notifier_id,
                Alert.status.in_(RETRYING_STATUSES),
                Alert.next_attempt_at <= now,
                or_(Alert.locked_until.is_(None), Alert.locked_until < now),
                *conditions,
            )
            .order_by(Alert.created_at, Alert.id)
            .limit(DIGEST_BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        session.execute(
            update(Alert).where(Alert.id.in_(ids)).values(locked_by=owner, locked_until=now + lease)
        )
    return ids


def _claim(
    db: Database, notifier_id: str, owner: str, now: datetime, policy: DeliveryPolicy
) -> list[str]:
    with db.write() as session:
        # Only alerts given their period (see _schedule_new).
        period_set = Alert.next_attempt_at != Alert.created_at
        return claim_notifier_alerts(session, notifier_id, owner, now, policy.lease, period_set)


def send_batch(
    db: Database,
    notifier: DigestNotifier,
    ids: Sequence[str],
    policy: DeliveryPolicy,
    period: datetime | None = None,
    *,
    single: bool = False,
) -> tuple[int, int, int]:
    """Send claimed alerts as one message and record each; (sent, failed, dead).

    ``period``: the digest period the message stands for; None (a throttle's
    batch) takes the newest alert's creation time, so a retry of the same batch
    keeps its message id. ``single``: one alert, sent as an alert of its own.
    """
    from monitor.notify.outbox import load_message  # the outbox imports this module

    with db.read() as session:
        alerts = [session.get_one(Alert, alert_id) for alert_id in ids]
        messages = [load_message(session, alert) for alert in alerts]
        if period is None:
            period = max(alert.created_at for alert in alerts)
    started_at = utcnow()
    try:
        if single:
            notifier.deliver(messages[0])
        else:
            notifier.deliver_digest(messages, period)
    except Exception as exc:
        error = exc if isinstance(exc, DeliveryError) else DeliveryError(f"{exc!r}")
        retried, given_up = record_failures(db, ids, error, started_at, policy)
        return 0, retried, given_up
    record_successes(db, ids, started_at, None if single else digest_id(messages, period))
    return len(ids), 0, 0


def deliver_digests(
    db: Database,
    notifiers: Mapping[str, Notifier],
    owner: str,
    policy: DeliveryPolicy,
) -> tuple[int, int, int]:
    """Send each digest notifier's due period; (sent, failed, dead) alert counts."""
    sent = failed = dead = 0
    for notifier_id, notifier in digest_notifiers(notifiers).items():
        assert notifier.digest is not None
        now = utcnow()
        _schedule_new(db, notifier_id, notifier.digest, now)
        ids = _claim(db, notifier_id, owner, now, policy)
        if not ids:
            continue
        with db.read() as session:
            first = min(session.get_one(Alert, alert_id).created_at for alert_id in ids)
        counts = send_batch(db, notifier, ids, policy, next_fire(notifier.digest, first))
        sent, failed, dead = sent + counts[0], failed + counts[1], dead + counts[2]
        if counts[0]:
            log.info("notifier %s: digest of %d alerts sent", notifier_id, counts[0])
    return sent, failed, dead
