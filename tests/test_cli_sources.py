"""`monitor sources list|test` (with the notifiers failing too long) and `monitor parse`,
plus pruning of stored bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from monitor.demo.server import FeedServer, WebhookReceiver
from monitor.store.housekeeping import prune_fetch_runs, prune_raw_responses
from monitor.store.models import (
    Alert,
    AlertAttempt,
    FetchRun,
    RawResponse,
    StatementVersion,
    utcnow,
)
from monitor.store.session import Database, open_database
from tests.conftest import real_fixture
from tests.helpers import GAZETTEER, rss_feed, rss_item
from tests.test_cli import invoke, write_config

WAR = rss_item("kaabi-1", "بيان", "إعلان الحرب على أمريكا", minutes=0)
CONDOLENCE = rss_item("kaabi-2", "تعزية", "نعزي عوائل الشهداء الأبرار", minutes=30)


def test_sources_list_shows_health(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    feed_server.serve("/kaabi.rss", rss_feed(WAR, CONDOLENCE))
    config = write_config(tmp_path, feed_server)
    env = {"MONITOR_DATABASE_URL": database_url}
    assert invoke(["--config", str(config), "run", "--once"], env)[0] == 0

    code, out, _ = invoke(["--config", str(config), "sources", "list", "--json"], env)
    assert code == 0
    [row] = [json.loads(line) for line in out.splitlines()]
    assert {
        "id", "kind", "enabled", "last_success_at", "last_error", "consecutive_failures",
        "statements", "next_poll_at",
    } <= set(row)  # fmt: skip
    assert (row["id"], row["kind"], row["enabled"], row["statements"]) == (
        "kaabi-site", "rss", True, 2,
    )  # fmt: skip
    assert row["last_error"] is None and row["consecutive_failures"] == 0
    assert row["last_success_at"] is not None and row["next_poll_at"] is not None

    feed_server.serve("/kaabi.rss", b"gone", "text/plain", status=410)
    assert invoke(["--config", str(config), "run", "--once"], env)[0] == 1
    code, out, _ = invoke(["--config", str(config), "sources", "list"], {**env, "COLUMNS": "200"})
    assert code == 0
    assert f"HTTP 410 from {feed_server.url('/kaabi.rss')}" in out
    assert "kaabi-site" in out


def test_sources_test_fetches_and_stores_nothing(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    feed_server.serve("/kaabi.rss", rss_feed(WAR))
    config = write_config(tmp_path, feed_server)
    env = {"MONITOR_DATABASE_URL": database_url}
    assert invoke(["--config", str(config), "run", "--once"], env)[0] == 0
    edited = rss_item("kaabi-1", "بيان", "إعلان الحرب على أمريكا وقواعدها", minutes=0)
    feed_server.serve("/kaabi.rss", rss_feed(edited, CONDOLENCE))

    code, out, _ = invoke(["--config", str(config), "sources", "test", "kaabi-site", "--json"], env)
    assert code == 0
    rows = {row["external_id"]: row for row in map(json.loads, out.splitlines())}
    assert rows["kaabi-1"]["would_be"] == "edited"
    assert rows["kaabi-1"]["rules"] == ["war-on-us"]
    assert rows["kaabi-2"]["would_be"] == "new"
    assert rows["kaabi-2"]["rules"] == ["mourning"]

    code, out, _ = invoke(["--config", str(config), "sources", "test", "kaabi-site"], env)
    assert "kaabi-site: HTTP 200" in out and "2 posts: 1 new, 1 edited; nothing stored" in out
    items = invoke(["--config", str(config), "items", "list", "--json"], env)[1].splitlines()
    assert len(items) == 1  # still only what run --once stored
    assert json.loads(items[0])["edited"] is False


def test_sources_test_unknown_source(tmp_path: Path, feed_server: FeedServer) -> None:
    config = write_config(tmp_path, feed_server)
    with pytest.raises(Exception, match="no source 'nope' in the config"):
        invoke(["--config", str(config), "sources", "test", "nope"])


def test_parse_a_saved_feed(tmp_path: Path) -> None:
    fixture = real_fixture("rss/guardian_us.rss")
    code, out, _ = invoke(["parse", "rss", str(fixture), "--json"])
    assert code == 0
    posts = [json.loads(line) for line in out.splitlines()]
    assert len(posts) == 55
    assert posts[0]["title"] == (
        "Trump State of the Union address promised unity but emphasized discord"
    )
    assert posts[0]["published_at"] == "2018-01-31T07:26:05+00:00"
    code, out, _ = invoke(["parse", "rss", str(fixture)], {"COLUMNS": "160"})
    assert "55 posts in" in out


def test_parse_rejects_an_unknown_kind(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_text("<html></html>", encoding="utf-8")
    code, _, err = invoke(["parse", "myspace", str(page)])
    assert code == 2
    assert "'myspace' is not a source kind" in err


def test_old_bodies_are_pruned_and_versions_keep_their_text(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    feed_server.serve("/kaabi.rss", rss_feed(WAR))
    config = write_config(tmp_path, feed_server)
    assert (
        invoke(["--config", str(config), "run", "--once"], {"MONITOR_DATABASE_URL": database_url})[
            0
        ]
        == 0
    )
    db: Database = open_database(database_url)
    try:
        assert prune_raw_responses(db, timedelta(days=1)) == 0
        with db.write() as session:
            session.execute(update(RawResponse).values(fetched_at=utcnow() - timedelta(days=2)))
        assert prune_raw_responses(db, timedelta(days=1)) == 1
        with db.read() as session:
            assert session.scalar(select(func.count()).select_from(RawResponse)) == 0
            version = session.scalars(select(StatementVersion)).one()
            assert version.raw_response_id is None
            assert version.text.endswith("إعلان الحرب على أمريكا")
        # Poll records go the same way, after fetch_run_retention.
        assert prune_fetch_runs(db, timedelta(days=1)) == 0
        with db.write() as session:
            session.execute(update(FetchRun).values(started_at=utcnow() - timedelta(days=2)))
        assert prune_fetch_runs(db, timedelta(days=1)) == 1
        with db.read() as session:
            assert session.scalar(select(func.count()).select_from(FetchRun)) == 0
    finally:
        db.dispose()


def recent_item(guid: str, text: str, minutes_ago: int) -> str:
    """An RSS item published ``minutes_ago`` before now (fresh enough to be alerted)."""
    published = format_datetime(datetime.now(UTC) - timedelta(minutes=minutes_ago))
    return (
        f'<item><guid isPermaLink="false">{guid}</guid><title>بيان</title>'
        f"<link>https://example.org/statements/{guid}</link>"
        f"<pubDate>{published}</pubDate><description>{text}</description></item>"
    )


def notifier_config(
    tmp_path: Path, feeds: FeedServer, receiver: WebhookReceiver, alarm_after: str = "30m"
) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        GAZETTEER
        + f"""
settings:
  timezone: Asia/Baghdad
  notifier_alarm_after: {alarm_after}
sources:
  - id: kaabi-site
    kind: rss
    url: {feeds.url("/kaabi.rss")}
    leader: akram-kaabi
rules:
  - id: america
    match: أمريكا
    notify: [ops-webhook, console]
notifiers:
  - {{id: ops-webhook, kind: webhook, url: "{receiver.url("/hook")}"}}
""",
        encoding="utf-8",
    )
    return path


def age_attempts(db: Database, hours: float) -> datetime:
    """Every delivery attempt so far happened ``hours`` ago; returns that moment."""
    moment = (utcnow() - timedelta(hours=hours)).replace(second=0, microsecond=0)
    with db.write() as session:
        session.execute(update(AlertAttempt).values(started_at=moment, finished_at=moment))
    return moment


def sources_list(config: Path, database_url: str, *args: str) -> tuple[str, str]:
    env = {"MONITOR_DATABASE_URL": database_url, "COLUMNS": "200"}
    code, out, err = invoke(["--config", str(config), "sources", "list", *args], env)
    assert code == 0, err
    return out, err


def json_sources(out: str) -> list[dict[str, object]]:
    """stdout of `sources list --json`: one source object per line, nothing else."""
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["id"] for row in rows] == ["kaabi-site"]
    assert all(set(row) >= {"kind", "enabled", "statements"} for row in rows)
    return rows


def test_a_notifier_failing_too_long_shows_under_sources_list(
    tmp_path: Path, feed_server: FeedServer, db: Database, database_url: str
) -> None:
    feed_server.serve(
        "/kaabi.rss",
        rss_feed(
            recent_item("k1", "إعلان الحرب على أمريكا", 5),
            recent_item("k2", "لا مكان لأمريكا في العراق", 4),
        ),
    )
    with WebhookReceiver(status=503) as receiver:
        config = notifier_config(tmp_path, feed_server, receiver)
        env = {"MONITOR_DATABASE_URL": database_url}
        assert invoke(["--config", str(config), "run", "--once"], env)[0] == 1  # delivery failed
        assert receiver.received  # refused with a 503

        # Failing for a moment only: below settings.notifier_alarm_after (30m), not shown.
        out, err = sources_list(config, database_url)
        assert "kaabi-site" in out and "failing" not in out and err == ""
        out, err = sources_list(config, database_url, "--json")
        json_sources(out)
        assert err == ""

        # An hour later, still failing: a section under the sources table.
        since = age_attempts(db, hours=1)
        shown = since.astimezone(ZoneInfo("Asia/Baghdad")).strftime("%Y-%m-%d %H:%M")
        line = (
            f"notifier ops-webhook failing since {shown} (2 alerts waiting, 0 dead): "
            f"last error POST {receiver.url('/hook')} answered HTTP 503"
        )
        out, err = sources_list(config, database_url)
        assert err == ""
        table, _, section = out.partition("failing notifiers (failing for longer than 30m")
        assert "kaabi-site" in table and "ops-webhook" not in table
        assert line in section
        assert "notifier console" not in section  # it delivered: not failing
        # The same lines as on top of `alerts list`.
        code, alerts_out, _ = invoke(
            ["--config", str(config), "alerts", "list"], {**env, "COLUMNS": "200"}
        )
        assert code == 0 and line in alerts_out
        # --json: stdout stays one source object per line; the warning is on stderr.
        out, err = sources_list(config, database_url, "--json")
        json_sources(out)
        assert "ops-webhook" not in out
        assert "failing notifiers (failing for longer than 30m" in err and line in err

        # It comes back: one success ends the failure, and the section goes.
        receiver.status = 204
        with db.write() as session:
            session.execute(
                update(Alert)
                .where(Alert.status.in_(("pending", "failed")))
                .values(next_attempt_at=utcnow(), locked_by=None, locked_until=None)
            )
        assert invoke(["--config", str(config), "run", "--once"], env)[0] == 0
    out, err = sources_list(config, database_url)
    assert "kaabi-site" in out and "failing" not in out and err == ""
    out, err = sources_list(config, database_url, "--json")
    json_sources(out)
    assert err == ""


def test_the_alarm_threshold_is_settings_notifier_alarm_after(
    tmp_path: Path, feed_server: FeedServer, db: Database, database_url: str
) -> None:
    feed_server.serve("/kaabi.rss", rss_feed(recent_item("k1", "إعلان الحرب على أمريكا", 5)))
    with WebhookReceiver(status=500) as receiver:
        config = notifier_config(tmp_path, feed_server, receiver, alarm_after="2h")
        env = {"MONITOR_DATABASE_URL": database_url}
        assert invoke(["--config", str(config), "run", "--once"], env)[0] == 1
    age_attempts(db, hours=1)  # failing for an hour: shorter than 2h, not shown
    out, _ = sources_list(config, database_url)
    assert "failing notifiers" not in out and "ops-webhook" not in out
    assert sources_list(config, database_url, "--json")[1] == ""
    age_attempts(db, hours=3)
    out, _ = sources_list(config, database_url)
    assert "failing notifiers (failing for longer than 2h" in out
    assert "notifier ops-webhook failing since" in out and "(1 alerts waiting, 0 dead)" in out
    assert "HTTP 500" in out
    assert "notifier ops-webhook failing since" in sources_list(config, database_url, "--json")[1]
