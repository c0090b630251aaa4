"""Throttles: at most ``max`` messages per ``per`` window for one notifier.

Alerts beyond the allowance are never dropped: they stay pending and due, and
go out folded together into one digest-style message as soon as the window
has room again. Within the allowance, each alert is its own message, except
that the last free slot carries everything still due (so a burst costs at
most the slots that are left).

Messages are counted from the sent attempts of the window (distinct message
ids: a folded message counts once) plus the alerts in flight (claimed and not
yet recorded, by any process). The count and the claim happen in one
transaction under a per-notifier lock, so replicas cannot together overshoot.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from monitor.config import Throttle
from monitor.notify.attempts import RETRYING_STATUSES, DeliveryPolicy
from monitor.notify.base import Notifier
from monitor.notify.digest import DigestNotifier, claim_notifier_alerts, send_batch
from monitor.store.dialect import lock_key
from monitor.store.models import Alert, AlertAttempt, utcnow
from monitor.store.session import Database

log = logging.getLogger(__name__)


class ThrottledNotifier(DigestNotifier):
    throttle: Throttle | None


def throttled_notifiers(notifiers: Mapping[str, Notifier]) -> dict[str, ThrottledNotifier]:
    return {
        notifier_id: notifier  # type: ignore[misc]
        for notifier_id, notifier in notifiers.items()
        if getattr(notifier, "throttle", None) is not None and hasattr(notifier, "deliver_digest")
    }


def messages_in_window(session: Session, notifier_id: str, since: datetime) -> int:
    return session.execute(
        select(func.count(func.distinct(AlertAttempt.message_id))).where(
            AlertAttempt.notifier_id == notifier_id,
            AlertAttempt.outcome == "sent",
            AlertAttempt.started_at >= since,
        )
    ).scalar_one()


def _claim_within_allowance(
    db: Database,
    notifier_id: str,
    throttle: Throttle,
    owner: str,
    policy: DeliveryPolicy,
) -> tuple[list[str], int]:
    """Claim every due alert of the notifier if the window has room: (ids, free slots)."""
    now = utcnow()
    with db.write() as session:
        lock_key(session, f"throttle:{notifier_id}")
        sent = messages_in_window(session, notifier_id, now - throttle.per)
        in_flight = session.execute(
            select(func.count())
            .select_from(Alert)
            .where(
                Alert.notifier_id == notifier_id,
                Alert.status.in_(RETRYING_STATUSES),
                Alert.locked_until > now,
            )
        ).scalar_one()
        free = throttle.max - sent - in_flight
        if free <= 0:
            return [], 0
        ids = claim_notifier_alerts(session, notifier_id, owner, now, policy.lease)
    return ids, free


def renew(db: Database, ids: list[str], owner: str, policy: DeliveryPolicy) -> list[str]:
    """Renew the claim right before a send (as the outbox does for single alerts), so a
    slow notifier cannot outlive it; the ids still ours, the others left alone."""
    with db.write() as session:
        renewed = session.scalars(
            update(Alert)
            .where(
                Alert.id.in_(ids),
                Alert.locked_by == owner,
                Alert.status.in_(RETRYING_STATUSES),
            )
            .values(locked_until=utcnow() + policy.lease)
            .returning(Alert.id)
        )
        still_ours = set(renewed)
    return [alert_id for alert_id in ids if alert_id in still_ours]


def release(db: Database, ids: list[str], owner: str) -> None:
    """Unclaim alerts not sent (still pending), so they are due again at once."""
    with db.write() as session:
        session.execute(
            update(Alert)
            .where(Alert.id.in_(ids), Alert.locked_by == owner)
            .values(locked_by=None, locked_until=None)
        )


def deliver_throttled(
    db: Database,
    notifiers: Mapping[str, Notifier],
    owner: str,
    policy: DeliveryPolicy,
) -> tuple[int, int, int]:
    """Deliver what each throttled notifier may send now; (sent, failed, dead) alerts."""
    sent = failed = dead = 0
    for notifier_id, notifier in throttled_notifiers(notifiers).items():
        assert notifier.throttle is not None
        ids, free = _claim_within_allowance(db, notifier_id, notifier.throttle, owner, policy)
        if not ids:
            continue
        # One message each while slots last; the last slot takes all the rest.
        singles = ids if len(ids) <= free else ids[: free - 1]
        folded = ids[len(singles) :]
        for alert_id in singles:
            if not renew(db, [alert_id], owner, policy):
                continue  # the claim ran out and another process has it now
            counts = send_batch(db, notifier, [alert_id], policy, single=True)
            sent, failed, dead = sent + counts[0], failed + counts[1], dead + counts[2]
            if counts[1] or counts[2]:
                # The notifier is failing: the rest waits for the next round.
                release(db, ids, owner)
                break
        else:
            folded = renew(db, folded, owner, policy)
            if folded:
                counts = send_batch(db, notifier, folded, policy)
                sent, failed, dead = sent + counts[0], failed + counts[1], dead + counts[2]
                if counts[0]:
                    log.info(
                        "notifier %s: throttled (%d per %s): %d alerts folded into one message",
                        notifier_id,
                        notifier.throttle.max,
                        notifier.throttle.per,
                        len(folded),
                    )
    return sent, failed, dead
