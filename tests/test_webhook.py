"""Webhook delivery to a real loopback receiver, verified with the standardwebhooks package."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from monitor.demo.server import FeedServer, WebhookReceiver
from monitor.notify.base import AlertMessage, StatementSummary
from monitor.notify.outbox import deliver_due
from monitor.notify.registry import build_notifiers
from monitor.notify.webhook import WebhookNotifier, slack_payload
from monitor.pipeline import poll_source
from monitor.store.models import Alert
from monitor.store.session import Database
from tests.helpers import DAY, config_for, free_port, rss_feed, rss_item, runtime_for

SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
WAR = rss_item("kaabi-1", "بيان", "أصبح واجباً على الجميع إعلان الحرب على أمريكا")


def setup(db: Database, feeds: FeedServer, receiver: WebhookReceiver) -> tuple:  # type: ignore[type-arg]
    feeds.serve("/kaabi.rss", rss_feed(WAR))
    config = config_for(
        f"""
  - id: kaabi-site
    kind: rss
    url: {feeds.url("/kaabi.rss")}
    leader: akram-kaabi
""",
        """
  - id: war-on-us
    match: '("declare war" OR "إعلان الحرب") AND (America OR أمريكا)'
    severity: high
    notify: [ops-webhook]
""",
        f"""
notifiers:
  - id: ops-webhook
    kind: webhook
    url: {receiver.url("/hook")}
    secret: {SECRET}
    headers: {{X-Team: analysts}}
""",
    )
    runtime = runtime_for(config, db)
    poll_source(runtime, config.sources[0])
    return config, runtime


def alerts(db: Database) -> list[Alert]:
    with db.read() as session:
        return list(session.query(Alert).order_by(Alert.created_at))


def test_webhook_body_and_signature(
    db: Database, feed_server: FeedServer, webhook_receiver: WebhookReceiver
) -> None:
    config, runtime = setup(db, feed_server, webhook_receiver)
    report = deliver_due(db, build_notifiers(config), runtime.owner)

    assert (report.sent, report.failed) == (1, 0)
    [request] = webhook_receiver.received
    payload = Webhook(SECRET).verify(request.body, request.headers)
    [alert] = alerts(db)
    assert request.headers["webhook-id"] == alert.id
    assert request.headers["X-Team"] == "analysts"
    assert request.headers["Content-Type"] == "application/json"
    assert payload["type"] == "statement.matched"
    assert payload["alert_id"] == alert.id
    assert payload["rule"] == {"id": "war-on-us", "severity": "high"}
    statement = payload["statement"]
    assert statement["id"] == alert.statement_id
    assert statement["source"] == "kaabi-site"
    assert statement["leader"] == "akram-kaabi"
    assert statement["url"] == "https://example.org/statements/kaabi-1"
    assert statement["published_at"] == f"{DAY}T09:00:00+00:00"
    assert statement["text"] == "بيان\n\nأصبح واجباً على الجميع إعلان الحرب على أمريكا"
    assert statement["language"] == "ar"
    assert payload["evidence"]["terms"] == ["إعلان الحرب", "أمريكا"]
    assert [statement["text"][s:e] for s, e in payload["evidence"]["spans"]] == [
        "إعلان الحرب",
        "أمريكا",
    ]
    assert (alert.status, alert.attempts, alert.last_error) == ("sent", 1, None)
    assert alert.sent_at is not None

    # Tampering is detected by the reference verifier.
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(request.body.replace(b"9", b"8"), request.headers)


def test_receiver_500_leaves_alert_pending_then_delivers_once(
    db: Database, feed_server: FeedServer, webhook_receiver: WebhookReceiver
) -> None:
    config, runtime = setup(db, feed_server, webhook_receiver)
    notifiers = build_notifiers(config)
    webhook_receiver.status = 500

    report = deliver_due(db, notifiers, runtime.owner)

    assert (report.sent, report.failed) == (0, 1)
    [alert] = alerts(db)
    assert (alert.status, alert.attempts) == ("pending", 1)
    assert alert.last_error == f"POST {webhook_receiver.url('/hook')} answered HTTP 500"
    assert alert.next_attempt_at > datetime.now(UTC) + timedelta(seconds=20)
    assert alert.locked_by is None
    # Not due yet: nothing is sent again before the backoff runs out.
    assert deliver_due(db, notifiers, runtime.owner).failed == 0
    assert len(webhook_receiver.received) == 1

    webhook_receiver.status = 200
    with db.write() as session:
        session.execute(update(Alert).values(next_attempt_at=datetime.now(UTC)))
    assert deliver_due(db, notifiers, runtime.owner).sent == 1
    assert deliver_due(db, notifiers, runtime.owner).sent == 0

    first, second = webhook_receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == alert.id
    assert first.body == second.body
    [alert] = alerts(db)
    assert (alert.status, alert.attempts, alert.last_error) == ("sent", 2, None)


class _ClosedPort:
    """A loopback address where nothing listens: connections are refused."""

    def __init__(self) -> None:
        self.port = free_port()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def test_unreachable_receiver_keeps_alert_pending(db: Database, feed_server: FeedServer) -> None:
    closed = _ClosedPort()
    config, runtime = setup(db, feed_server, closed)  # type: ignore[arg-type]

    report = deliver_due(db, build_notifiers(config), runtime.owner)

    assert (report.sent, report.failed) == (0, 1)
    [alert] = alerts(db)
    assert (alert.status, alert.attempts) == ("pending", 1)
    assert alert.last_error is not None
    assert alert.last_error.startswith(f"POST {closed.url('/hook')} failed:")


def _message(text: str) -> AlertMessage:
    return AlertMessage(
        alert_id="01a2-test",
        rule_id="war-on-us",
        severity="high",
        evidence={"terms": ["<b>"]},
        statement=StatementSummary(
            id=7,
            source="kaabi-site",
            leader="akram-kaabi",
            organization=None,
            url="https://example.org/s/7",
            author=None,
            published_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
            text=text,
            language="en",
        ),
    )


def test_signature_matches_reference_implementation() -> None:
    notifier = WebhookNotifier("http://127.0.0.1:9/", secret=SECRET, timeout_seconds=1)
    headers, body = notifier.build_request(_message("hello"), now=1_790_000_000)
    reference = Webhook(SECRET).sign(
        "01a2-test", datetime.fromtimestamp(1_790_000_000, UTC), body.decode()
    )
    assert headers["webhook-signature"] == reference
    notifier.close()


def test_unsigned_webhook_has_no_signature_header() -> None:
    notifier = WebhookNotifier("http://127.0.0.1:9/", secret=None, timeout_seconds=1)
    headers, _ = notifier.build_request(_message("hello"))
    assert "webhook-signature" not in headers
    assert headers["webhook-id"] == "01a2-test"
    notifier.close()


def test_slack_payload_escapes_source_text() -> None:
    payload = slack_payload(_message("<script>alert(1)</script> & more"))
    body = json.dumps(payload)
    assert "<script>" not in body
    assert (
        payload["blocks"][1]["text"]["text"] == "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"
    )
    assert payload["text"] == "[HIGH] akram-kaabi: rule war-on-us"
