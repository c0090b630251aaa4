"""The outbox's guarantees: once per alert, failures recorded, never lost."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import ClassVar

from sqlalchemy import select, update

from monitor.demo.server import FeedServer
from monitor.errors import DeliveryError
from monitor.notify.base import AlertMessage
from monitor.notify.outbox import _still_ours, claim_due_alerts, deliver_all_due, deliver_due
from monitor.pipeline import poll_source
from monitor.store.models import Alert
from monitor.store.session import Database
from tests.helpers import config_for, rss_feed, rss_item, runtime_for


class Recorder:
    """A notifier that records what it is given and can be told to fail."""

    kind: ClassVar[str] = "recorder"

    def __init__(self, fail: Callable[[AlertMessage], Exception | None] | None = None) -> None:
        self.delivered: list[AlertMessage] = []
        self.calls = 0
        self._fail = fail

    def deliver(self, message: AlertMessage) -> None:
        self.calls += 1
        error = self._fail(message) if self._fail else None
        if error is not None:
            raise error
        self.delivered.append(message)

    def close(self) -> None:
        pass


def poll(db: Database, feeds: FeedServer, *items: str, notify: str = "[a, b]") -> None:
    feeds.serve("/kaabi.rss", rss_feed(*items), conditional=False)
    config = config_for(
        f"""
  - id: kaabi-site
    kind: rss
    url: {feeds.url("/kaabi.rss")}
    leader: akram-kaabi
""",
        f"""
  - id: america
    match: أمريكا
    notify: {notify}
""",
        """
notifiers:
  - {id: a, kind: console}
  - {id: b, kind: console}
""",
    )
    poll_source(runtime_for(config, db), config.sources[0])


def statuses(db: Database) -> dict[tuple[int, str], tuple[str, int, str | None]]:
    with db.read() as session:
        alerts = session.scalars(select(Alert))
        return {
            (a.statement_id, a.notifier_id): (a.status, a.attempts, a.last_error) for a in alerts
        }


def test_a_notifier_bug_is_recorded_and_the_others_still_deliver(
    db: Database, feed_server: FeedServer
) -> None:
    poll(db, feed_server, rss_item("k1", "بيان", "عن أمريكا"))
    broken = Recorder(fail=lambda m: ValueError("Header values may not contain linefeed"))
    working = Recorder()

    report = deliver_all_due(db, {"a": broken, "b": working}, "owner-1")

    assert (report.sent, report.failed, report.dead) == (1, 1, 0)
    assert len(working.delivered) == 1
    [(statement_id, _)] = [key for key in statuses(db) if key[1] == "a"]
    assert statuses(db)[(statement_id, "a")] == (
        "pending",
        1,
        "ValueError: Header values may not contain linefeed",
    )
    assert statuses(db)[(statement_id, "b")] == ("sent", 1, None)


def test_a_permanent_refusal_makes_the_alert_dead(db: Database, feed_server: FeedServer) -> None:
    poll(db, feed_server, rss_item("k1", "بيان", "عن أمريكا"), notify="[a]")
    refusing = Recorder(fail=lambda m: DeliveryError("HTTP 404", retryable=False))
    report = deliver_all_due(db, {"a": refusing}, "owner-1")
    assert (report.sent, report.failed, report.dead) == (0, 0, 1)
    assert list(statuses(db).values()) == [("failed", 1, "HTTP 404")]
    assert deliver_all_due(db, {"a": refusing}, "owner-1").claimed == 0


def test_a_failing_notifier_is_spared_the_rest_of_the_round(
    db: Database, feed_server: FeedServer
) -> None:
    items = [rss_item(f"k{i}", "بيان", f"عن أمريكا {i}", minutes=i) for i in range(25)]
    poll(db, feed_server, *items)
    down = Recorder(fail=lambda m: DeliveryError("connection refused"))
    up = Recorder()

    report = deliver_all_due(db, {"a": down, "b": up}, "owner-1")

    assert down.calls == 1  # not 25 timeouts in a row
    assert (report.sent, report.failed) == (25, 1)
    assert len(up.delivered) == 25


def test_the_alert_carries_the_text_that_matched(db: Database, feed_server: FeedServer) -> None:
    poll(db, feed_server, rss_item("k1", "بيان", "إعلان الحرب على أمريكا"), notify="[a]")
    # The publisher softens the post before the alert goes out.
    poll(db, feed_server, rss_item("k1", "بيان", "ندعو إلى التهدئة"), notify="[a]")
    recorder = Recorder()
    deliver_all_due(db, {"a": recorder}, "owner-1")
    [message] = recorder.delivered
    assert message.statement.text == "بيان\n\nإعلان الحرب على أمريكا"
    [(start, end)] = message.evidence["spans"]
    assert message.statement.text[start:end] == "أمريكا"


def test_an_expired_claim_is_not_used_to_send_again(db: Database, feed_server: FeedServer) -> None:
    poll(db, feed_server, rss_item("k1", "بيان", "عن أمريكا"), notify="[a]")
    [alert_id] = claim_due_alerts(db, "slow-replica")
    with db.write() as session:  # the slow replica's lease runs out
        session.execute(update(Alert).values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))
    other = Recorder()
    assert deliver_due(db, {"a": other}, "other-replica").sent == 1
    # The slow replica comes back: its claim is gone, so it must not send.
    assert not _still_ours(db, alert_id, "slow-replica")
    assert len(other.delivered) == 1
    assert list(statuses(db).values()) == [("sent", 1, None)]
