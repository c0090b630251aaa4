"""Throttles: at most N messages per window per notifier; the rest folded, never dropped."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from monitor.config import Config, load_config_text
from monitor.demo.server import FeedServer, WebhookReceiver
from monitor.errors import ConfigError
from monitor.notify.attempts import DeliveryPolicy
from monitor.notify.base import AlertMessage, StatementSummary
from monitor.notify.outbox import deliver_all_due
from monitor.notify.registry import build_notifiers
from monitor.notify.webhook import SLACK_MAX_BLOCKS, slack_digest_payload
from monitor.pipeline import poll_source
from monitor.store.models import Alert, AlertAttempt
from monitor.store.session import Database
from tests.helpers import config_for, rss_feed, rss_item, runtime_for

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def _config(feed_url: str, hook_url: str, throttle: str) -> Config:
    return config_for(
        f"""
  - id: kaabi-site
    kind: rss
    url: {feed_url}
    leader: akram-kaabi
""",
        """
  - id: america
    match: أمريكا
    notify: [hook]
""",
        f"""
settings:
  alert_max_age: 3650d
notifiers:
  - id: hook
    kind: webhook
    url: {hook_url}
    secret: {SECRET}
    throttle: {throttle}
""",
    )


def _items(start: int, count: int) -> list[str]:
    return [
        rss_item(f"k{n}", "بيان", f"لن نسكت عن أمريكا رقم {n}", minutes=n)
        for n in range(start, start + count)
    ]


def _bodies(receiver: WebhookReceiver) -> list[dict[str, object]]:
    verifier = Webhook(SECRET)
    bodies = []
    for request in receiver.received:
        # Every message, single or folded, is signed as the spec says.
        verifier.verify(request.body, request.headers)
        bodies.append(json.loads(request.body))
    return bodies


def _alert_ids(body: dict[str, object]) -> list[str]:
    if body["type"] == "statement.matched":
        return [str(body["alert_id"])]
    alerts = body["alerts"]
    assert isinstance(alerts, list)
    return [str(alert["alert_id"]) for alert in alerts]


def test_beyond_the_allowance_alerts_are_folded_into_one_message(
    db: Database, feed_server: FeedServer, webhook_receiver: WebhookReceiver
) -> None:
    feed_server.serve("/k.rss", rss_feed(*_items(0, 5)), conditional=False)
    runtime = runtime_for(
        _config(feed_server.url("/k.rss"), webhook_receiver.url("/hook"), "{max: 2, per: 1h}"),
        db,
    )
    notifiers = build_notifiers(runtime.config)
    poll_source(runtime, runtime.config.sources[0])

    report = deliver_all_due(db, notifiers, runtime.owner, policy=DeliveryPolicy(jitter=0))

    assert report.sent == 5
    bodies = _bodies(webhook_receiver)
    # Two slots: the first alert on its own, the four others in the last slot.
    assert [body["type"] for body in bodies] == ["statement.matched", "statements.digest"]
    assert bodies[1]["count"] == 4
    headers = webhook_receiver.received[1].headers
    assert headers["webhook-id"] == bodies[1]["digest_id"]
    with db.read() as session:
        all_ids = set(session.scalars(select(Alert.id)))
        assert set(session.scalars(select(Alert.status))) == {"sent"}
        messages = Counter(session.scalars(select(AlertAttempt.message_id)))
    assert sorted(messages.values()) == [1, 4]
    assert Counter(i for body in bodies for i in _alert_ids(body)) == Counter(all_ids)

    # The window is full: a new alert waits, pending, and nothing is sent.
    feed_server.serve("/k.rss", rss_feed(*_items(0, 6)), conditional=False)
    poll_source(runtime, runtime.config.sources[0])
    assert deliver_all_due(db, notifiers, runtime.owner).sent == 0
    assert len(webhook_receiver.received) == 2
    with db.read() as session:
        assert session.scalar(select(func.count()).where(Alert.status == "pending")) == 1


def test_a_full_window_holds_alerts_until_it_has_room_and_loses_none(
    db: Database, feed_server: FeedServer, webhook_receiver: WebhookReceiver
) -> None:
    feed_server.serve("/k.rss", rss_feed(*_items(0, 3)), conditional=False)
    runtime = runtime_for(
        _config(feed_server.url("/k.rss"), webhook_receiver.url("/hook"), "{max: 1, per: 2s}"),
        db,
    )
    notifiers = build_notifiers(runtime.config)
    source = runtime.config.sources[0]
    poll_source(runtime, source)
    assert deliver_all_due(db, notifiers, runtime.owner).sent == 3  # one slot: all folded
    feed_server.serve("/k.rss", rss_feed(*_items(0, 5)), conditional=False)
    poll_source(runtime, source)
    assert deliver_all_due(db, notifiers, runtime.owner).sent == 0  # window full
    time.sleep(2.2)
    assert deliver_all_due(db, notifiers, runtime.owner).sent == 2  # room again: one message

    bodies = _bodies(webhook_receiver)
    assert [body["count"] for body in bodies] == [3, 2]
    delivered = [i for body in bodies for i in _alert_ids(body)]
    with db.read() as session:
        assert sorted(delivered) == sorted(session.scalars(select(Alert.id)))


def test_a_failed_folded_message_is_retried_whole_with_the_same_id(
    db: Database, feed_server: FeedServer, webhook_receiver: WebhookReceiver
) -> None:
    feed_server.serve("/k.rss", rss_feed(*_items(0, 3)), conditional=False)
    runtime = runtime_for(
        _config(feed_server.url("/k.rss"), webhook_receiver.url("/hook"), "{max: 1, per: 1h}"),
        db,
    )
    notifiers = build_notifiers(runtime.config)
    poll_source(runtime, runtime.config.sources[0])
    webhook_receiver.status = 503
    policy = DeliveryPolicy(jitter=0.5, retry_schedule=(timedelta(seconds=1),))
    report = deliver_all_due(db, notifiers, runtime.owner, policy=policy)
    assert (report.sent, report.failed) == (0, 3)
    with db.read() as session:
        # One wait for the whole message (jitter drawn once), so it is retried whole.
        assert len(set(session.scalars(select(Alert.next_attempt_at)))) == 1
    time.sleep(1.6)
    webhook_receiver.status = 200
    report = deliver_all_due(db, notifiers, runtime.owner, policy=policy)
    assert report.sent == 3
    first, second = webhook_receiver.received
    # A failed message does not use up the window; its retry is the same message.
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert json.loads(second.body)["count"] == 3


def test_digest_and_throttle_together_are_refused() -> None:
    text = """
notifiers:
  - id: hook
    kind: webhook
    url: http://127.0.0.1:9/hook
    digest: "0 8 * * *"
    throttle: {max: 5, per: 1h}
"""
    with pytest.raises(ConfigError, match="digest and throttle together"):
        load_config_text(text, "sources.yaml")


def test_slack_digest_stays_within_slacks_block_limit() -> None:
    messages = [
        AlertMessage(
            alert_id=f"a{n:03d}",
            rule_id=f"rule-{n}",
            severity="high",
            statement=StatementSummary(
                id=n,
                source="s",
                leader=f"leader-{n}",
                organization=None,
                url="https://t.me/x/1",
                author=None,
                published_at=datetime(2026, 11, 22, tzinfo=UTC),
                text="<b>نص</b> & more",
                language="ar",
            ),
        )
        for n in range(80)
    ]
    payload = slack_digest_payload(messages, datetime(2026, 11, 22, tzinfo=UTC))
    assert len(payload["blocks"]) == SLACK_MAX_BLOCKS
    assert "&lt;b&gt;" in json.dumps(payload, ensure_ascii=False)
    assert "more groups" in json.dumps(payload)
