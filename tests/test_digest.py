"""Digests: alerts of a `digest: CRON` email notifier wait for their period, then go as one mail."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from monitor.demo.server import FeedServer
from monitor.notify.attempts import DeliveryPolicy
from monitor.notify.outbox import deliver_all_due
from monitor.notify.registry import build_notifiers
from monitor.notify.schedule import crontab_days, next_fire
from monitor.pipeline import poll_source
from monitor.store.models import Alert, AlertAttempt
from monitor.store.session import Database
from tests.helpers import config_for, free_port, rss_feed, rss_item, runtime_for
from tests.test_email import _Inbox

SUNDAY = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def test_days_of_week_count_from_sunday_as_in_crontab() -> None:
    assert crontab_days("1-5") == "mon,tue,wed,thu,fri"
    assert crontab_days("0") == crontab_days("7") == crontab_days("sun") == "sun"
    assert crontab_days("5-7") == "sun,fri,sat"
    assert crontab_days("*/2") == "sun,tue,thu,sat"
    assert crontab_days("*") == "*"
    assert next_fire("0 8 * * 1-5", SUNDAY) == datetime(2026, 11, 23, 8, 0, tzinfo=UTC)  # Monday
    assert next_fire("0 8 * * 0", SUNDAY) == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert next_fire("0 8 * * 7", SUNDAY) == datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    assert next_fire("0 8 * * 6", SUNDAY) == datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    # A fire time equal to the moment belongs to the period before: the next one is later.
    assert next_fire("0 * * * *", SUNDAY) == SUNDAY + timedelta(hours=1)


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def test_a_digest_collects_a_period_and_an_empty_period_sends_nothing(
    db: Database, feed_server: FeedServer, smtp: tuple[_Inbox, int]
) -> None:
    inbox, port = smtp
    feed_server.serve(
        "/kaabi.rss",
        rss_feed(
            rss_item(
                "k1",
                "بيان",
                "إعلان الحرب على أمريكا &amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;",
            ),
            rss_item("k2", "بيان", "لن نسكت عن أمريكا", minutes=5),
        ),
        conditional=False,
    )
    feed_server.serve(
        "/hamidawi.rss", rss_feed(rss_item("h1", "بيان", "أمريكا عدوة")), conditional=False
    )
    config = config_for(
        f"""
  - id: kaabi-site
    kind: rss
    url: {feed_server.url("/kaabi.rss")}
    leader: akram-kaabi
  - id: hamidawi-site
    kind: rss
    url: {feed_server.url("/hamidawi.rss")}
    leader: abu-hussein-al-hamidawi
""",
        """
  - id: america
    match: أمريكا
    notify: [mail]
  - id: war
    match: '"إعلان الحرب"'
    notify: [mail]
""",
        f"""
settings:
  alert_max_age: 3650d
notifiers:
  - id: mail
    kind: email
    to: [analysts@example.org]
    smtp_host: 127.0.0.1
    smtp_port: {port}
    security: none
    from_address: monitor@example.org
    digest: "0 8 * * *"
""",
    )
    runtime = runtime_for(config, db)
    for source in config.sources:
        poll_source(runtime, source)
    notifiers = build_notifiers(config)
    policy = DeliveryPolicy()

    report = deliver_all_due(db, notifiers, "owner-1", policy=policy)
    assert report.sent == 0 and inbox.messages == []  # waiting for 08:00
    with db.read() as session:
        alerts = list(session.scalars(select(Alert)))
    assert len(alerts) == 4
    for alert in alerts:
        assert alert.status == "pending"
        assert alert.next_attempt_at == next_fire("0 8 * * *", alert.created_at)

    with db.write() as session:  # 08:00 comes
        session.execute(update(Alert).values(next_attempt_at=datetime.now(UTC)))
    report = deliver_all_due(db, notifiers, "owner-1", policy=policy)
    assert report.sent == 4
    [mail] = inbox.messages
    period = next_fire("0 8 * * *", min(alert.created_at for alert in alerts))
    assert mail["Message-ID"].strip().startswith(f"<digest-{period:%Y%m%dT%H%M}Z-")
    assert mail["Subject"] == "[DIGEST] 4 alerts: abu-hussein-al-hamidawi, akram-kaabi"
    plain = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    # Grouped by leader, then rule.
    assert plain.index("== abu-hussein-al-hamidawi ==") < plain.index("== akram-kaabi ==")
    kaabi = plain.split("== akram-kaabi ==")[1]
    assert kaabi.index("-- rule america (2) --") < kaabi.index("-- rule war (1) --")
    assert "<script>alert(1)</script>" in plain
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'dir="auto"' in html and "لن نسكت عن أمريكا" in html
    with db.read() as session:
        assert {a.status for a in session.scalars(select(Alert))} == {"sent"}
        assert len(session.scalars(select(AlertAttempt)).all()) == 4

    # The next period has nothing: nothing is sent.
    assert deliver_all_due(db, notifiers, "owner-1", policy=policy).claimed == 0
    assert len(inbox.messages) == 1


def test_a_failed_digest_is_retried_whole_with_the_same_message_id(
    db: Database, feed_server: FeedServer
) -> None:
    feed_server.serve("/kaabi.rss", rss_feed(rss_item("k1", "بيان", "أمريكا")), conditional=False)
    port = free_port()  # nothing listens yet: the SMTP server is down
    config = config_for(
        f"""
  - id: kaabi-site
    kind: rss
    url: {feed_server.url("/kaabi.rss")}
    leader: akram-kaabi
""",
        """
  - id: america
    match: أمريكا
    notify: [mail]
""",
        f"""
settings:
  alert_max_age: 3650d
notifiers:
  - id: mail
    kind: email
    to: [analysts@example.org]
    smtp_host: 127.0.0.1
    smtp_port: {port}
    security: none
    from_address: monitor@example.org
    digest: "*/5 * * * *"
""",
    )
    runtime = runtime_for(config, db)
    poll_source(runtime, config.sources[0])
    notifiers = build_notifiers(config)
    deliver_all_due(db, notifiers, "owner-1")
    with db.write() as session:
        session.execute(update(Alert).values(next_attempt_at=datetime.now(UTC)))
    report = deliver_all_due(db, notifiers, "owner-1")
    assert (report.sent, report.failed) == (0, 1)
    with db.read() as session:
        alert = session.scalars(select(Alert)).one()
        assert (alert.status, alert.attempts) == ("pending", 1)
        assert "Connection refused" in (alert.last_error or "")

    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with db.write() as session:  # the retry is due; the server is back
            session.execute(update(Alert).values(next_attempt_at=datetime.now(UTC)))
        assert deliver_all_due(db, notifiers, "owner-1").sent == 1
    finally:
        controller.stop()
    [mail] = inbox.messages
    period = next_fire("*/5 * * * *", alert.created_at)
    assert mail["Message-ID"].strip() == f"<digest-{period:%Y%m%dT%H%M}Z-{alert.id}@monitor.alerts>"
