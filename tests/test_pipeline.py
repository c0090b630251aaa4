"""The whole poll path over a real loopback HTTP server, on both databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from monitor.daemon import run_once
from monitor.demo.server import FeedServer
from monitor.ingest import Attribution, ingest
from monitor.notify.console import ConsoleNotifier
from monitor.pipeline import poll_source
from monitor.sources.base import Post
from monitor.store.models import Alert, FetchRun, Match, SourceState, Statement, StatementVersion
from monitor.store.session import Database
from tests.conftest import real_fixture
from tests.helpers import config_for, rss_feed, rss_item, runtime_for

WAR = rss_item(
    "kaabi-1",
    "بيان الأمين العام",
    "أصبح واجباً على الجميع إعلان الحرب على أمريكا وقواعد احتلالها",
    minutes=0,
)
CONDOLENCE = rss_item("kaabi-2", "تعزية", "نعزي عوائل الشهداء الأبرار", minutes=30)
RULES = """
  - id: war-on-us
    match: '("declare war" OR "إعلان الحرب") AND (America OR أمريكا)'
    severity: high
  - id: mourning
    match: 'شهداء OR martyrs'
    severity: low
"""


def kaabi_source(url: str) -> str:
    return f"""
  - id: kaabi-site
    kind: rss
    url: {url}
    leader: akram-kaabi
"""


def count(db: Database, model: type) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_first_poll_stores_attributed_statements(db: Database, feed_server: FeedServer) -> None:
    feed_server.serve("/kaabi.rss", rss_feed(WAR, CONDOLENCE))
    config = config_for(kaabi_source(feed_server.url("/kaabi.rss")), RULES)
    runtime = runtime_for(config, db)

    report = poll_source(runtime, config.sources[0])

    assert (report.status, report.new, report.edited, report.alerts) == ("ok", 2, 0, 2)
    with db.read() as session:
        rows = session.scalars(select(Statement).order_by(Statement.external_id)).all()
        assert [s.external_id for s in rows] == ["kaabi-1", "kaabi-2"]
        war = rows[0]
        assert war.leader_id == "akram-kaabi"
        assert war.organization_id == "harakat-hezbollah-al-nujaba"
        assert war.language == "ar"
        assert war.published_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
        assert war.url == "https://example.org/statements/kaabi-1"
        assert (
            war.text
            == "بيان الأمين العام\n\nأصبح واجباً على الجميع إعلان الحرب على أمريكا وقواعد احتلالها"
        )
        assert not war.edited
        matches = session.execute(select(Match.rule_id, Match.statement_id)).all()
        assert sorted(m.rule_id for m in matches) == ["mourning", "war-on-us"]
        run = session.scalars(select(FetchRun)).one()
        assert (run.status, run.http_status, run.new_count, run.posts_seen) == ("ok", 200, 2, 2)
        state = session.get_one(SourceState, "kaabi-site")
        assert state.etag is not None and state.last_success_at is not None
        assert state.lease_owner is None


def test_real_feed_is_fetched_and_stored(db: Database, feed_server: FeedServer) -> None:
    feed_server.serve("/guardian.rss", real_fixture("rss/guardian_us.rss").read_bytes())
    config = config_for(kaabi_source(feed_server.url("/guardian.rss")), RULES)
    runtime = runtime_for(config, db)

    report = poll_source(runtime, config.sources[0])

    assert (report.status, report.new) == ("ok", 55)
    url = "https://www.theguardian.com/us-news/2018/jan/31/donald-trump-state-of-the-union-address-unity-discord"
    with db.read() as session:
        first = session.scalars(select(Statement).where(Statement.external_id == url)).one()
    assert first.title == "Trump State of the Union address promised unity but emphasized discord"
    assert first.text.startswith(first.title + "\n\nThe president’s ‘new American moment’ speech")
    assert first.published_at == datetime(2018, 1, 31, 7, 26, 5, tzinfo=UTC)
    assert first.author == "David Smith in Washington"
    assert first.language == "en"


def test_repoll_creates_no_duplicate_statement_or_alert(
    db: Database, feed_server: FeedServer
) -> None:
    feed_server.serve("/kaabi.rss", rss_feed(WAR, CONDOLENCE))
    feed_server.serve("/mirror.rss", rss_feed(WAR, CONDOLENCE), conditional=False)
    config = config_for(kaabi_source(feed_server.url("/kaabi.rss")), RULES)
    runtime = runtime_for(config, db)
    source = config.sources[0]

    first = poll_source(runtime, source)
    again = poll_source(runtime, source)  # the server answers 304 to our ETag
    assert (first.new, first.alerts) == (2, 2)
    assert (again.status, again.http_status, again.new, again.alerts) == ("not_modified", 304, 0, 0)
    assert feed_server.requests["/kaabi.rss"] == 2

    # The same content again with a full 200 (a server without validators).
    mirror = config_for(kaabi_source(feed_server.url("/mirror.rss")), RULES)
    runtime = runtime_for(mirror, db)
    third = poll_source(runtime, mirror.sources[0])
    assert (third.status, third.new, third.edited, third.unchanged) == ("ok", 0, 0, 2)
    assert count(db, Statement) == 2
    assert count(db, StatementVersion) == 2
    assert count(db, Match) == 2
    assert count(db, Alert) == 2  # one per (rule, statement, console)


def test_edit_keeps_the_original_as_a_version(db: Database, feed_server: FeedServer) -> None:
    feed_server.serve("/kaabi.rss", rss_feed(WAR, CONDOLENCE))
    config = config_for(kaabi_source(feed_server.url("/kaabi.rss")), RULES)
    runtime = runtime_for(config, db)
    poll_source(runtime, config.sources[0])

    edited_condolence = rss_item(
        "kaabi-2", "تعزية", "نعزي عوائل الشهداء الأبرار ونعلن الحداد ثلاثة أيام", minutes=30
    )
    feed_server.serve("/kaabi.rss", rss_feed(WAR, edited_condolence))
    report = poll_source(runtime, config.sources[0])

    assert (report.new, report.edited, report.unchanged) == (0, 1, 1)
    assert report.alerts == 0  # the mourning rule matched the first version already
    with db.read() as session:
        statement = session.scalars(
            select(Statement).where(Statement.external_id == "kaabi-2")
        ).one()
        assert statement.edited
        assert statement.text == "تعزية\n\nنعزي عوائل الشهداء الأبرار ونعلن الحداد ثلاثة أيام"
        versions = [(v.version, v.text) for v in statement.versions]
    assert versions == [
        (1, "تعزية\n\nنعزي عوائل الشهداء الأبرار"),
        (2, "تعزية\n\nنعزي عوائل الشهداء الأبرار ونعلن الحداد ثلاثة أيام"),
    ]


def test_edit_that_newly_matches_a_rule_alerts_once(db: Database, feed_server: FeedServer) -> None:
    quiet = rss_item("kaabi-3", "بيان", "نتابع التطورات", minutes=60)
    feed_server.serve("/kaabi.rss", rss_feed(quiet))
    config = config_for(kaabi_source(feed_server.url("/kaabi.rss")), RULES)
    runtime = runtime_for(config, db)
    assert poll_source(runtime, config.sources[0]).alerts == 0

    loud = rss_item("kaabi-3", "بيان", "نتابع التطورات ونرى إعلان الحرب على أمريكا واجباً", 60)
    feed_server.serve("/kaabi.rss", rss_feed(loud))
    assert poll_source(runtime, config.sources[0]).alerts == 1
    feed_server.serve("/kaabi.rss", rss_feed(loud), conditional=False)
    assert poll_source(runtime, config.sources[0]).alerts == 0
    assert count(db, Alert) == 1


def test_rule_filters_by_leader_and_source(db: Database, feed_server: FeedServer) -> None:
    feed_server.serve("/kaabi.rss", rss_feed(WAR))
    rules = """
  - id: only-hamidawi
    match: 'أمريكا'
    leaders: [abu-hussein-al-hamidawi]
  - id: only-kaabi-site
    match: 'أمريكا'
    sources: [kaabi-site]
  - id: only-kaabi
    match: 'أمريكا'
    leaders: [akram-kaabi]
"""
    config = config_for(kaabi_source(feed_server.url("/kaabi.rss")), rules)
    runtime = runtime_for(config, db)
    poll_source(runtime, config.sources[0])
    with db.read() as session:
        assert sorted(session.scalars(select(Match.rule_id))) == ["only-kaabi", "only-kaabi-site"]


def test_concurrent_ingest_of_the_same_posts_stores_each_once(db: Database) -> None:
    config = config_for(kaabi_source("https://example.org/feed.rss"), RULES)
    runtime_for(config, db)  # creates the source row
    posts = [Post(external_id=f"p{i}", text=f"statement {i}") for i in range(20)]
    edited = [Post(external_id=f"p{i}", text=f"statement {i}, edited") for i in range(20)]
    now = datetime.now(UTC)
    attribution = Attribution(source_id="kaabi-site", leader_id="akram-kaabi")

    def race(batch: list[Post]) -> list[tuple[int, int]]:
        barrier = threading.Barrier(2)
        results: list[tuple[int, int]] = []

        def worker() -> None:
            barrier.wait()
            with db.write() as session:
                result = ingest(session, attribution, batch, now)
                results.append((len(result.new), len(result.edited)))

        threads = [threading.Thread(target=worker) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sorted(results)

    assert race(posts) == [(0, 0), (20, 0)]
    assert race(edited) == [(0, 0), (0, 20)]
    assert count(db, Statement) == 20
    assert count(db, StatementVersion) == 40


def test_failed_fetch_is_recorded_and_others_go_on(db: Database, feed_server: FeedServer) -> None:
    feed_server.serve("/broken.rss", b"oops", "text/plain", status=500)
    feed_server.serve("/kaabi.rss", rss_feed(WAR))
    sources = (
        kaabi_source(feed_server.url("/kaabi.rss"))
        + f"""
  - id: broken
    kind: rss
    url: {feed_server.url("/broken.rss")}
    interval: 2m
"""
    )
    config = config_for(sources, RULES)
    runtime = runtime_for(config, db)

    summary = run_once(runtime, {"console": ConsoleNotifier()})

    by_source = {p.source_id: p for p in summary.polls}
    assert by_source["kaabi-site"].status == "ok"
    assert by_source["broken"].status == "error"
    assert by_source["broken"].error == f"HTTP 500 from {feed_server.url('/broken.rss')}"
    with db.read() as session:
        state = session.get_one(SourceState, "broken")
        assert state.consecutive_failures == 1
        assert state.last_error == f"HTTP 500 from {feed_server.url('/broken.rss')}"
        assert state.lease_owner is None
        delay = state.next_poll_at - (state.last_attempt_at or state.next_poll_at)
        assert timedelta(minutes=2) - timedelta(seconds=1) < delay <= timedelta(minutes=2)
        run = session.scalars(select(FetchRun).where(FetchRun.source_id == "broken")).one()
        assert (run.status, run.http_status) == ("error", 500)

    summary = run_once(runtime, {"console": ConsoleNotifier()})
    with db.read() as session:
        state = session.get_one(SourceState, "broken")
        assert state.consecutive_failures == 2
        delay = state.next_poll_at - (state.last_attempt_at or state.next_poll_at)
        assert timedelta(minutes=4) - timedelta(seconds=1) < delay <= timedelta(minutes=4)


def test_not_a_feed_is_a_parse_error(db: Database, feed_server: FeedServer) -> None:
    feed_server.serve("/kaabi.rss", b"<html><body>Moved</body></html>", "text/html")
    config = config_for(kaabi_source(feed_server.url("/kaabi.rss")), RULES)
    report = poll_source(runtime_for(config, db), config.sources[0])
    assert report.status == "error"
    assert report.error is not None and report.error.startswith("not an RSS or Atom feed")
