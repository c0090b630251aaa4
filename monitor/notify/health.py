"""Quiet failure is a bug: notifiers whose deliveries have been failing too long.

A notifier is failing when its newest attempt failed; it has been failing
since the first failed attempt after its last successful one. The daemon logs
each notifier failing for longer than ``settings.notifier_alarm_after`` as an
ERROR on every tick, and `monitor alerts list` shows it above the alerts.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from monitor.notify.attempts import RETRYING_STATUSES
from monitor.store.models import Alert, AlertAttempt, utcnow
from monitor.store.session import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NotifierFailure:
    notifier: str
    since: datetime  # the first failed attempt after the last success
    last_attempt_at: datetime
    failed_attempts: int
    waiting: int  # alerts still to be delivered (pending or failed)
    dead: int  # alerts given up since it started failing
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "notifier",
            "notifier": self.notifier,
            "failing_since": self.since.isoformat(),
            "last_attempt_at": self.last_attempt_at.isoformat(),
            "failed_attempts": self.failed_attempts,
            "waiting": self.waiting,
            "dead": self.dead,
            "last_error": self.last_error,
        }

    def describe(self, when: str) -> str:
        return (
            f"notifier {self.notifier} failing since {when} ({self.waiting} alerts waiting, "
            f"{self.dead} dead): last error {self.last_error or '-'}"
        )


def failing_notifiers(
    session: Session, *, longer_than: timedelta = timedelta(0), now: datetime | None = None
) -> list[NotifierFailure]:
    """Notifiers whose newest attempt failed, failing for at least ``longer_than``."""
    now = now or utcnow()
    last_success = dict(
        session.execute(
            select(AlertAttempt.notifier_id, func.max(AlertAttempt.finished_at))
            .where(AlertAttempt.outcome == "sent")
            .group_by(AlertAttempt.notifier_id)
        ).all()
    )
    failed = session.scalars(
        select(AlertAttempt.notifier_id).where(AlertAttempt.outcome == "failed").distinct()
    ).all()
    failures = []
    for notifier in sorted(failed):
        attempts = select(AlertAttempt).where(
            AlertAttempt.notifier_id == notifier, AlertAttempt.outcome == "failed"
        )
        if notifier in last_success:
            attempts = attempts.where(AlertAttempt.finished_at > last_success[notifier])
        rows = session.scalars(attempts.order_by(AlertAttempt.finished_at)).all()
        if not rows or now - rows[0].finished_at < longer_than:
            continue
        counts = dict(
            session.execute(
                select(Alert.status, func.count())
                .where(Alert.notifier_id == notifier)
                .group_by(Alert.status)
            ).all()
        )
        dead = session.scalar(
            select(func.count(func.distinct(Alert.id)))
            .join(AlertAttempt, AlertAttempt.alert_id == Alert.id)
            .where(
                Alert.notifier_id == notifier,
                Alert.status == "dead",
                AlertAttempt.finished_at >= rows[0].finished_at,
            )
        )
        failures.append(
            NotifierFailure(
                notifier=notifier,
                since=rows[0].finished_at,
                last_attempt_at=rows[-1].finished_at,
                failed_attempts=len(rows),
                waiting=sum(counts.get(status, 0) for status in RETRYING_STATUSES),
                dead=dead or 0,
                last_error=rows[-1].error,
            )
        )
    return failures


def alarm_failing_notifiers(
    db: Database, after: timedelta, configured: Collection[str] | None = None
) -> list[NotifierFailure]:
    """Log an ERROR for each (configured) notifier failing longer than ``after``."""
    with db.read() as session:
        failures = [
            failure
            for failure in failing_notifiers(session, longer_than=after)
            if configured is None or failure.notifier in configured
        ]
    for failure in failures:
        log.error("%s", failure.describe(failure.since.isoformat(timespec="seconds")))
    return failures
