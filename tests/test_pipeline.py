"""The whole poll path over a real loopback HTTP server, on both databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from monitor.config import Source
from monitor.daemon import run_once
from monitor.demo.server import FeedServer
from monitor.ingest import Attribution, ingest
from monitor.notify.console import ConsoleNotifier
from monitor.pipeline import Runtime, poll_source
from monitor.sources.base import Post
from monitor.store.models import Alert, FetchRun, Match, SourceState, Statement, StatementVersion
from monitor.store.session import Database
from tests.conftest import real_fixture
from tests.helpers import BASE_TIME, config_for, rss_feed, rss_item, runtime_for

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
        assert war.published_at == BASE_TIME
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
    # No retries within a poll: this test is about what happens after they fail.
    config = config_for(sources, RULES, "settings: {http_retries: 0}")
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
        # The interval, moved by up to the default interval_jitter (10%).
        assert (
            timedelta(minutes=2) * 0.9 - timedelta(seconds=1) < delay <= timedelta(minutes=2) * 1.1
        )
        run = session.scalars(select(FetchRun).where(FetchRun.source_id == "broken")).one()
        assert (run.status, run.http_status) == ("error", 500)

    summary = run_once(runtime, {"console": ConsoleNotifier()})
    with db.read() as session:
        state = session.get_one(SourceState, "broken")
        assert state.consecutive_failures == 2
        delay = state.next_poll_at - (state.last_attempt_at or state.next_poll_at)
        assert (
            timedelta(minutes=4) * 0.9 - timedelta(seconds=1) < delay <= timedelta(minutes=4) * 1.1
        )


def test_not_a_feed_is_a_parse_error(db: Database, feed_server: FeedServer) -> None:
    feed_server.serve("/kaabi.rss", b"<html><body>Moved</body></html>", "text/html")
    config = config_for(kaabi_source(feed_server.url("/kaabi.rss")), RULES)
    report = poll_source(runtime_for(config, db), config.sources[0])
    assert report.status == "error"
    assert report.error is not None and report.error.startswith("not an RSS or Atom feed")


def _items(*specs: tuple[str, str, int]) -> bytes:
    return rss_feed(*(rss_item(guid, "بيان", text, minutes) for guid, text, minutes in specs))


def _deleted(db: Database) -> dict[str, bool]:
    with db.read() as session:
        rows = session.execute(select(Statement.external_id, Statement.deleted_at))
        return {row.external_id: row.deleted_at is not None for row in rows}


def test_entry_missing_inside_a_chronological_window_is_deleted_then_restored(
    db: Database, feed_server: FeedServer
) -> None:
    newest_first = [("c", "ثالث", 30), ("b", "ثان", 20), ("a", "أول", 10)]
    feed_server.serve("/kaabi.rss", _items(*newest_first))
    config = config_for(kaabi_source(feed_server.url("/kaabi.rss")), RULES)
    runtime = runtime_for(config, db)
    assert poll_source(runtime, config.sources[0]).new == 3

    feed_server.serve("/kaabi.rss", _items(newest_first[0], newest_first[2]))
    report = poll_source(runtime, config.sources[0])
    assert (report.deleted, report.new, report.edited) == (1, 0, 0)
    assert _deleted(db) == {"a": False, "b": True, "c": False}
    with db.read() as session:
        b = session.scalars(select(Statement).where(Statement.external_id == "b")).one()
        assert b.text == "بيان\n\nثان"  # the stored text stays
        run = session.scalars(select(FetchRun).order_by(FetchRun.id.desc())).first()
        assert run is not None and run.deleted_count == 1

    # Older entries falling off the end of the feed are not deletions.
    feed_server.serve("/kaabi.rss", _items(("d", "رابع", 40), newest_first[0]))
    assert poll_source(runtime, config.sources[0]).deleted == 0
    assert _deleted(db) == {"a": False, "b": True, "c": False, "d": False}

    # A post that comes back is no longer deleted.
    feed_server.serve("/kaabi.rss", _items(("d", "رابع", 40), *newest_first))
    poll_source(runtime, config.sources[0])
    assert _deleted(db) == {"a": False, "b": False, "c": False, "d": False}


def test_a_curated_feed_tells_nothing_about_deletions(
    db: Database, feed_server: FeedServer
) -> None:
    curated = [("b", "ثان", 20), ("c", "ثالث", 30), ("a", "أول", 10)]  # not newest first
    feed_server.serve("/kaabi.rss", _items(*curated))
    config = config_for(kaabi_source(feed_server.url("/kaabi.rss")), RULES)
    runtime = runtime_for(config, db)
    poll_source(runtime, config.sources[0])
    # Ordered this time, by chance: one ordered listing is not enough to trust.
    feed_server.serve("/kaabi.rss", _items(curated[1], curated[2]))
    assert poll_source(runtime, config.sources[0]).deleted == 0
    feed_server.serve("/kaabi.rss", _items(curated[2], curated[0]))  # unordered again
    assert poll_source(runtime, config.sources[0]).deleted == 0
    assert not any(_deleted(db).values())


def test_each_version_keeps_the_response_it_came_from(
    db: Database, feed_server: FeedServer
) -> None:
    import zlib

    from monitor.store.models import RawResponse

    body = rss_feed(WAR)
    feed_server.serve("/kaabi.rss", body)
    config = config_for(kaabi_source(feed_server.url("/kaabi.rss")), RULES)
    runtime = runtime_for(config, db)
    poll_source(runtime, config.sources[0])
    with db.read() as session:
        version = session.scalars(select(StatementVersion)).one()
        raw = session.get_one(RawResponse, version.raw_response_id)
        assert zlib.decompress(raw.body) == body
        assert (raw.url, raw.status, raw.size) == (feed_server.url("/kaabi.rss"), 200, len(body))


def test_backlog_is_matched_but_not_alerted(db: Database, feed_server: FeedServer) -> None:
    # BASE_TIME is days before "now": a new source's archive.
    feed_server.serve("/kaabi.rss", rss_feed(WAR))
    config = config_for(
        kaabi_source(feed_server.url("/kaabi.rss")), RULES, "settings: {alert_max_age: 1h}"
    )
    report = poll_source(runtime_for(config, db), config.sources[0])
    assert (report.new, report.alerts) == (1, 0)
    assert count(db, Match) == 1
    assert count(db, Alert) == 0


def test_changing_a_source_address_drops_its_validators(
    db: Database, feed_server: FeedServer
) -> None:
    feed_server.serve("/old.rss", rss_feed(WAR))
    feed_server.serve("/new.rss", rss_feed(WAR, CONDOLENCE))
    old = config_for(kaabi_source(feed_server.url("/old.rss")), RULES)
    poll_source(runtime_for(old, db), old.sources[0])
    with db.read() as session:
        assert session.get_one(SourceState, "kaabi-site").etag is not None

    new = config_for(kaabi_source(feed_server.url("/new.rss")), RULES)
    report = poll_source(runtime_for(new, db), new.sources[0])
    assert "If-None-Match" not in feed_server.last_headers["/new.rss"]
    assert (report.status, report.new) == ("ok", 1)


def test_a_shorter_interval_takes_effect_at_once(db: Database, feed_server: FeedServer) -> None:
    feed_server.serve("/kaabi.rss", rss_feed(WAR))
    daily = config_for(kaabi_source(feed_server.url("/kaabi.rss")) + "    interval: 1d\n", RULES)
    poll_source(runtime_for(daily, db), daily.sources[0])
    minutely = config_for(kaabi_source(feed_server.url("/kaabi.rss")) + "    interval: 1m\n", RULES)
    runtime_for(minutely, db)  # syncs the sources
    with db.read() as session:
        next_poll = session.get_one(SourceState, "kaabi-site").next_poll_at
    assert next_poll <= datetime.now(UTC) + timedelta(minutes=1)


def test_backoff_never_overflows() -> None:
    from monitor.notify.outbox import retry_delay
    from monitor.pipeline import failure_backoff

    assert failure_backoff(timedelta(minutes=5), 1) == timedelta(minutes=5)
    assert failure_backoff(timedelta(minutes=5), 3) == timedelta(minutes=20)
    assert failure_backoff(timedelta(minutes=5), 10_000) == timedelta(hours=6)
    assert failure_backoff(timedelta(days=1), 10_000) == timedelta(days=1)
    assert failure_backoff(timedelta(minutes=5), 1, retry_after=1e18) == timedelta(hours=6)
    assert retry_delay(1) == timedelta(seconds=30)
    assert retry_delay(5) == timedelta(hours=6)
    assert retry_delay(6) is None  # the schedule is spent: the alert is dead
    assert retry_delay(10_000) is None
    assert retry_delay(1, retry_after=1e18) == timedelta(hours=6)


def kaabi_runtime(db: Database, feed_server: FeedServer, *items: str) -> tuple[Runtime, Source]:
    """The Kaabi feed served with these items, and a runtime polling it."""
    feed_server.serve("/kaabi.rss", rss_feed(*items))
    config = config_for(kaabi_source(feed_server.url("/kaabi.rss")), RULES)
    return runtime_for(config, db), config.sources[0]


def hand_lease_to(db: Database, owner: str | None) -> None:
    """As if the lease ran out and another replica took the source (or released it)."""
    with db.write() as session:
        session.get_one(SourceState, "kaabi-site").lease_owner = owner


def test_a_poll_whose_lease_was_taken_meanwhile_writes_nothing(
    db: Database, feed_server: FeedServer
) -> None:
    from monitor.daemon import guarded_poll
    from monitor.pipeline import LeaseLost, claim_sources

    runtime, source = kaabi_runtime(db, feed_server, WAR, CONDOLENCE)
    claimed = claim_sources(db, runtime.owner, ["kaabi-site"], due_only=False)
    assert list(claimed) == ["kaabi-site"]
    hand_lease_to(db, "another-replica")
    with db.read() as session:
        state = session.get_one(SourceState, "kaabi-site")
        before = (state.next_poll_at, state.last_success_at, state.etag)

    with pytest.raises(LeaseLost, match="another-replica"):
        poll_source(runtime, source, claimed=True, fetch_state=claimed["kaabi-site"])
    report = guarded_poll(runtime, source, claimed["kaabi-site"])

    assert report.status == "error" and "lease ran out" in (report.error or "")
    assert (count(db, Statement), count(db, FetchRun), count(db, Alert)) == (0, 0, 0)
    with db.read() as session:
        state = session.get_one(SourceState, "kaabi-site")
        assert (state.next_poll_at, state.last_success_at, state.etag) == before
        assert state.lease_owner == "another-replica"
    # Not claimed (a tool's poll): written unless another process holds the source.
    with pytest.raises(LeaseLost):
        poll_source(runtime, source)
    hand_lease_to(db, None)
    assert poll_source(runtime, source).new == 2
    with db.read() as session:
        assert session.get_one(SourceState, "kaabi-site").lease_owner is None


def test_polls_that_find_nothing_are_written_in_batches_under_their_leases(
    db: Database, feed_server: FeedServer
) -> None:
    from dataclasses import replace

    from monitor.pipeline import QuietPolls, claim_sources

    runtime, source = kaabi_runtime(db, feed_server, WAR, CONDOLENCE)
    assert poll_source(runtime, source).new == 2  # the ETag is stored
    quiet = QuietPolls(db, batch=100)
    batched = replace(runtime, quiet=quiet)

    def state() -> tuple[datetime | None, str | None, int]:
        with db.read() as session:
            row = session.get_one(SourceState, "kaabi-site")
            return row.last_success_at, row.lease_owner, count(db, FetchRun)

    before = state()
    claimed = claim_sources(db, runtime.owner, ["kaabi-site"], due_only=False)
    report = poll_source(batched, source, claimed=True, fetch_state=claimed["kaabi-site"])
    assert (report.status, report.http_status) == ("not_modified", 304)
    assert state()[1:] == (runtime.owner, before[2])  # waiting in the batch, still leased
    quiet.flush()
    after = state()
    assert after[0] and before[0] and after[0] > before[0]
    assert after[1:] == (None, before[2] + 1)

    # A lease lost before the batch is written: that source's poll writes nothing.
    claimed = claim_sources(db, runtime.owner, ["kaabi-site"], due_only=False)
    poll_source(batched, source, claimed=True, fetch_state=claimed["kaabi-site"])
    hand_lease_to(db, "another-replica")
    quiet.flush()
    assert state() == (after[0], "another-replica", before[2] + 1)


def test_a_failed_batch_of_quiet_polls_waits_for_the_next_flush(
    db: Database, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataclasses import replace

    from monitor.errors import StoreError
    from monitor.pipeline import QuietPolls

    runtime, source = kaabi_runtime(db, feed_server, WAR)
    poll_source(runtime, source)
    quiet = QuietPolls(db, batch=1)  # the poll itself flushes its batch of one
    runs = count(db, FetchRun)
    real_write = QuietPolls._write

    def database_down(self: QuietPolls, polls: list[object]) -> None:
        raise StoreError("database is gone")

    monkeypatch.setattr(QuietPolls, "_write", database_down)
    report = poll_source(replace(runtime, quiet=quiet), source)
    assert report.status == "not_modified"  # the poll is not blamed for the database
    assert count(db, FetchRun) == runs
    monkeypatch.setattr(QuietPolls, "_write", real_write)
    quiet.flush()
    assert count(db, FetchRun) == runs + 1
