"""Alert delivery speed: alerts per second to a local webhook receiver and SMTP server.

    python bench/deliver.py [N]        # N alerts per notifier, default 500

N statements with one match each and one pending alert per notifier are
seeded in a temporary SQLite database; then the real outbox (claim, lease
renewal before each send, send, record the attempt) delivers them to
monitor.demo.server.WebhookReceiver (signed webhooks, one HTTP request each)
and to an aiosmtpd server on loopback (one SMTP connection per mail). Every
alert is checked as received exactly once (by the webhook-id header and the
mail's Message-ID); the script says so on each line, or exits 1.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from email import message_from_bytes
from pathlib import Path
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller
from sqlalchemy import insert

from monitor.demo.server import WebhookReceiver
from monitor.notify.base import Notifier
from monitor.notify.email import EmailNotifier
from monitor.notify.outbox import deliver_all_due
from monitor.notify.webhook import WebhookNotifier
from monitor.store.ids import uuid7
from monitor.store.migrate import upgrade
from monitor.store.models import Alert, Match, SourceState, Statement, utcnow
from monitor.store.session import Database, open_database

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
TEXT = "بيان: أصبح واجباً على الجميع إعلان الحرب على أمريكا <script>x</script>"


class Inbox:
    def __init__(self) -> None:
        self.message_ids: list[str] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content = getattr(envelope, "content", b"")
        message_id = message_from_bytes(content)["Message-ID"] or ""
        # <ALERT_ID@monitor.alerts>
        self.message_ids.append(message_id.strip("<>").split("@")[0])
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def seed(db: Database, count: int, notifiers: list[str]) -> list[str]:
    """Returns the ids of the pending alerts."""
    now = utcnow()
    alert_ids = {(notifier, n): uuid7() for notifier in notifiers for n in range(1, count + 1)}
    with db.write() as session:
        session.execute(insert(SourceState).values(id="bench", kind="rss"))
        session.execute(
            insert(Statement),
            [
                {
                    "id": n,
                    "source_id": "bench",
                    "external_id": f"s{n}",
                    "leader_id": "akram-kaabi",
                    "published_at": now - timedelta(minutes=n),
                    "text": f"{TEXT} {n}",
                    "content_hash": f"{n:064d}",
                }
                for n in range(1, count + 1)
            ],
        )
        session.execute(
            insert(Match),
            [
                {
                    "id": n,
                    "rule_id": "war-on-us",
                    "statement_id": n,
                    "severity": "high",
                    "evidence": {"terms": ["إعلان الحرب", "أمريكا"]},
                    "created_at": now,
                }
                for n in range(1, count + 1)
            ],
        )
        session.execute(
            insert(Alert),
            [
                {
                    "id": alert_ids[notifier, n],
                    "match_id": n,
                    "rule_id": "war-on-us",
                    "statement_id": n,
                    "notifier_id": notifier,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
                for notifier in notifiers
                for n in range(1, count + 1)
            ],
        )
    return list(alert_ids.values())


def measure(name: str, notifier: Notifier, count: int, received: Callable[[], list[str]]) -> None:
    """Deliver ``count`` alerts; ``received``: the alert ids the receiver got."""
    with tempfile.TemporaryDirectory() as folder:
        db = open_database(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            upgrade(db)
            seeded = seed(db, count, [name])
            start = time.perf_counter()
            report = deliver_all_due(db, {name: notifier}, "bench")
            seconds = time.perf_counter() - start
        finally:
            db.dispose()
    times = Counter(received())
    twice = sorted(alert_id for alert_id, n in times.items() if n > 1)
    missing = sorted(set(seeded) - set(times))
    unknown = sorted(set(times) - set(seeded))
    if report.sent != count or twice or missing or unknown:
        sys.exit(
            f"{name}: {report.sent} of {count} sent; received twice: {twice or 'none'}, "
            f"never: {missing or 'none'}, unknown: {unknown or 'none'}"
        )
    print(
        f"{name:8} {count:6d} alerts in {seconds:6.2f} s: {count / seconds:8.1f} alerts/s, "
        "each received exactly once"
    )


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    if count < 1:
        sys.exit("N must be at least 1")
    print(f"alert delivery, {count} alerts per notifier, SQLite outbox, loopback receivers")
    with WebhookReceiver() as receiver:
        webhook = WebhookNotifier(receiver.url("/hook"), secret=SECRET, timeout_seconds=10)
        try:
            measure(
                "webhook",
                webhook,
                count,
                lambda: [request.headers["webhook-id"] for request in receiver.received],
            )
        finally:
            webhook.close()
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        mail = EmailNotifier(
            to=["analysts@example.org"],
            sender="monitor@example.org",
            host="127.0.0.1",
            port=controller.port,
            security="none",
            username=None,
            password=None,
            timeout_seconds=10,
            display_tz=ZoneInfo("Asia/Baghdad"),
        )
        measure("email", mail, count, lambda: inbox.message_ids)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
