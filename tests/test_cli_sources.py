"""`monitor sources list|test` and `monitor parse`, plus pruning of stored bodies."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from monitor.demo.server import FeedServer
from monitor.store.housekeeping import prune_raw_responses
from monitor.store.models import RawResponse, StatementVersion, utcnow
from monitor.store.session import Database, open_database
from tests.conftest import real_fixture
from tests.helpers import rss_feed, rss_item
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
    finally:
        db.dispose()
