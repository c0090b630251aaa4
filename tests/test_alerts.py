"""Retries, dead letters, every attempt kept, `monitor alerts list/retry`, failing notifiers."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.demo.server import FeedServer
from monitor.errors import DeliveryError
from monitor.notify.attempts import DeliveryPolicy, retry_delay
from monitor.notify.health import alarm_failing_notifiers, failing_notifiers
from monitor.notify.outbox import deliver_all_due
from monitor.store.models import Alert, AlertAttempt
from monitor.store.session import Database
from tests.helpers import BASE_TIME, GAZETTEER, rss_item
from tests.test_outbox import Recorder, poll

NOW_DUE = DeliveryPolicy(retry_schedule=(timedelta(hours=1), timedelta(hours=1)), jitter=0.0)
ALERT_KEYS = {
    "id", "rule", "statement_id", "notifier", "status", "attempts", "last_error",
    "created_at", "sent_at", "next_attempt_at",
}  # fmt: skip


def invoke(config: Path, database_url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app,
        ["--config", str(config), *args],
        env={"MONITOR_DATABASE_URL": database_url, "COLUMNS": "200"},
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        GAZETTEER
        + """
rules:
  - id: america
    match: أمريكا
    notify: [a, b]
notifiers:
  - {id: a, kind: console}
  - {id: b, kind: console}
""",
        encoding="utf-8",
    )
    return path


def fresh(minutes: int = 0) -> int:
    """rss_item's ``minutes`` (after BASE_TIME) for a statement published an hour ago
    (plus ``minutes``): one older than settings.alert_max_age is not alerted."""
    return int((datetime.now(UTC) - BASE_TIME).total_seconds() // 60) - 60 + minutes


def attempts_of(db: Database, alert_id: str) -> list[tuple[int, str, str | None]]:
    with db.read() as session:
        rows = session.scalars(
            select(AlertAttempt).where(AlertAttempt.alert_id == alert_id).order_by(AlertAttempt.id)
        )
        return [(row.attempt, row.outcome, row.error) for row in rows]


def make_all_due(db: Database) -> None:
    """Time passes: every waiting alert is due and unclaimed."""
    with db.write() as session:
        session.execute(
            update(Alert)
            .where(Alert.status.in_(("pending", "failed")))
            .values(next_attempt_at=datetime.now(UTC), locked_by=None, locked_until=None)
        )


def only_alert(db: Database, notifier: str = "a") -> Alert:
    with db.read() as session:
        return session.scalars(select(Alert).where(Alert.notifier_id == notifier)).one()


def test_the_retry_schedule_has_jitter_and_honours_retry_after() -> None:
    schedule = DeliveryPolicy().retry_schedule
    assert [int(d.total_seconds()) for d in schedule] == [30, 120, 600, 3600, 21600]
    delays = {retry_delay(2, schedule, jitter=0.2) for _ in range(200)}
    assert all(timedelta(seconds=96) <= d <= timedelta(seconds=144) for d in delays if d)
    assert len(delays) > 100  # spread, not a fixed value
    assert retry_delay(1, schedule, retry_after=900) == timedelta(seconds=900)
    assert retry_delay(len(schedule) + 1, schedule) is None


def test_every_attempt_is_kept_then_dead_then_retried_by_prefix(
    db: Database, database_url: str, feed_server: FeedServer, config: Path
) -> None:
    poll(db, feed_server, rss_item("k1", "بيان", "عن أمريكا", minutes=fresh()))
    errors = iter(["connection refused", "HTTP 503", "timed out"])
    down = Recorder(fail=lambda m: DeliveryError(next(errors)))
    up = Recorder()
    for _ in range(3):  # the first try and the two retries of the schedule
        deliver_all_due(db, {"a": down, "b": up}, "owner-1", policy=NOW_DUE)
        make_all_due(db)
    alert = only_alert(db)
    assert (alert.status, alert.attempts, alert.last_error) == ("dead", 3, "timed out")
    assert attempts_of(db, alert.id) == [
        (1, "failed", "connection refused"),
        (2, "failed", "HTTP 503"),
        (3, "failed", "timed out"),
    ]
    assert deliver_all_due(db, {"a": down}, "owner-1", policy=NOW_DUE).claimed == 0

    code, out, _ = invoke(config, database_url, "alerts", "list", "--json", "--status", "dead")
    assert code == 0
    [row] = [json.loads(line) for line in out.splitlines()]
    assert set(row) >= ALERT_KEYS
    assert (row["id"], row["notifier"], row["rule"], row["attempts"]) == (
        alert.id,
        "a",
        "america",
        3,
    )
    assert row["next_attempt_at"] is None and row["sent_at"] is None

    code, out, _ = invoke(config, database_url, "alerts", "retry", alert.id[:30])
    assert code == 0, out
    assert only_alert(db).status == "pending"
    assert only_alert(db).next_attempt_at <= datetime.now(UTC)
    deliver_all_due(db, {"a": up}, "owner-1", policy=NOW_DUE)
    alert = only_alert(db)
    assert (alert.status, alert.attempts, alert.last_error) == ("sent", 4, None)
    assert attempts_of(db, alert.id)[-1] == (4, "sent", None)
    assert [m.alert_id for m in up.delivered].count(alert.id) == 1


def test_alerts_list_filters_and_retry_errors(
    db: Database,
    database_url: str,
    feed_server: FeedServer,
    config: Path,
) -> None:
    poll(
        db,
        feed_server,
        *(rss_item(f"k{i}", "بيان", f"عن أمريكا {i}", minutes=fresh(i)) for i in range(3)),
    )
    refusing = Recorder(fail=lambda m: DeliveryError("HTTP 404", retryable=False))
    for _ in range(3):  # a failing notifier gets one try per round
        deliver_all_due(db, {"a": refusing, "b": Recorder()}, "owner-1", policy=NOW_DUE)
        make_all_due(db)

    def listed(*args: str) -> list[dict[str, object]]:
        code, out, err = invoke(config, database_url, "alerts", "list", "--json", *args)
        assert code == 0, err
        return [json.loads(line) for line in out.splitlines()]

    assert len(listed()) == 6
    assert {row["status"] for row in listed("--notifier", "b")} == {"sent"}
    assert len(listed("--status", "failed")) == 3  # refused for good: not retried
    assert len(listed("--limit", "2")) == 2
    assert listed("--rule", "nothing") == []
    assert listed("--since", "1h") != [] and listed("--until", "1h") == []
    code, table, _ = invoke(config, database_url, "alerts", "list")
    assert code == 0 and "failed" in table and "HTTP 404" in table

    code, _, err = invoke(config, database_url, "alerts", "retry", "ffffffff")
    assert code == 1 and "no alert with an id starting with 'ffffffff'" in err
    code, _, err = invoke(config, database_url, "alerts", "retry", "0")
    assert code == 1 and "ambiguous" in err
    sent = listed("--notifier", "b")[0]["id"]
    code, _, err = invoke(config, database_url, "alerts", "retry", str(sent))
    assert code == 1 and "is sent: only dead or failed alerts are retried" in err
    code, out, _ = invoke(config, database_url, "alerts", "retry", "--all-dead", "--notifier", "b")
    assert code == 0 and "0 dead or failed alerts made due again" in out
    code, out, _ = invoke(config, database_url, "alerts", "retry", "--all-dead")
    assert code == 0 and "3 dead or failed alerts made due again" in out
    assert {row["status"] for row in listed("--notifier", "a")} == {"pending"}
    assert {row["attempts"] for row in listed("--notifier", "a")} == {1}  # attempts kept


def test_a_notifier_failing_too_long_is_an_error_and_listed(
    db: Database,
    database_url: str,
    feed_server: FeedServer,
    config: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    poll(
        db,
        feed_server,
        *(rss_item(f"k{i}", "بيان", f"عن أمريكا {i}", minutes=fresh(i)) for i in range(3)),
    )
    down = Recorder(
        fail=lambda m: DeliveryError("POST https://hooks.example.org answered HTTP 503")
    )
    deliver_all_due(db, {"a": down, "b": Recorder()}, "owner-1", policy=NOW_DUE)
    # Failing for a minute only: not yet an alarm at 30 minutes.
    caplog.set_level(logging.ERROR, logger="monitor.notify.health")
    assert alarm_failing_notifiers(db, timedelta(minutes=30)) == []
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    with db.write() as session:  # an hour later, still failing
        session.execute(
            update(AlertAttempt).values(finished_at=datetime.now(UTC) - timedelta(hours=1))
        )
    [failure] = alarm_failing_notifiers(db, timedelta(minutes=30), configured={"a", "b"})
    assert (failure.notifier, failure.waiting, failure.failed_attempts) == ("a", 3, 1)
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.levelname == "ERROR"
    assert "notifier a failing since" in record.getMessage()
    assert "(3 alerts waiting, 0 dead): last error POST https://hooks" in record.getMessage()

    code, out, _ = invoke(config, database_url, "alerts", "list")
    assert code == 0 and "notifier a failing since" in out and "3 alerts waiting" in out
    code, out, _ = invoke(config, database_url, "alerts", "list", "--notifiers", "--json")
    [row] = [json.loads(line) for line in out.splitlines()]
    assert (row["type"], row["notifier"], row["waiting"], row["alarm"]) == (
        "notifier",
        "a",
        3,
        True,
    )
    # Alert objects stay alert objects: no notifier line mixed into --json.
    code, out, _ = invoke(config, database_url, "alerts", "list", "--json")
    assert all("type" not in json.loads(line) for line in out.splitlines())

    # It comes back: one success ends the failure.
    make_all_due(db)
    deliver_all_due(db, {"a": Recorder()}, "owner-1", policy=NOW_DUE)
    with db.read() as session:
        assert failing_notifiers(session) == []
