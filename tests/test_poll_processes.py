"""`run --once` with several poll processes: each source polled once, by one process."""

from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from monitor import daemon
from monitor.daemon import poll_in_processes, poll_process_count
from monitor.demo.server import FeedServer, WebhookReceiver
from monitor.pipeline import Runtime, claim_sources
from monitor.store.migrate import upgrade
from monitor.store.models import SourceState
from monitor.store.session import Database, open_database
from tests.helpers import (
    GAZETTEER,
    alerted_guid,
    config_for,
    monitor_command,
    rss_feed,
    rss_item,
    runtime_for,
)


def _sources(feed_server: FeedServer, count: int, items: int = 3) -> str:
    sources = []
    for n in range(count):
        feed = rss_feed(
            *(
                rss_item(f"s{n}-{i}", "بيان", f"إعلان الحرب على أمريكا {n}-{i}", i)
                for i in range(items)
            )
        )
        feed_server.serve(f"/feed{n}.rss", feed)
        sources.append(
            f"  - id: site-{n}\n    kind: rss\n    url: {feed_server.url(f'/feed{n}.rss')}\n"
            "    leader: akram-kaabi\n"
        )
    return "".join(sources)


def _leases(db: Database) -> list[str | None]:
    with db.read() as session:
        return list(session.scalars(select(SourceState.lease_owner)))


def test_three_processes_poll_each_source_once_and_alert_once(
    tmp_path: Path, database_url: str, feed_server: FeedServer, webhook_receiver: WebhookReceiver
) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(
        GAZETTEER
        + "settings:\n  poll_processes: 3\n  max_concurrent_polls: 2\n"
        + "sources:\n"
        + _sources(feed_server, 9)
        + "rules:\n  - id: war\n    match: '\"إعلان الحرب\" AND أمريكا'\n    notify: [hook]\n"
        + f"notifiers:\n  - id: hook\n    kind: webhook\n    url: {webhook_receiver.url('/h')}\n",
        encoding="utf-8",
    )
    env = {**os.environ, "MONITOR_DATABASE_URL": database_url}
    result = monitor_command(config, ["run", "--once"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "9 sources polled, 27 new statements" in result.stdout
    rows = [line.split("│") for line in result.stdout.splitlines()]
    statuses = Counter((cells[1].strip(), cells[2].strip()) for cells in rows if len(cells) > 3)
    assert {source for source, status in statuses if status == "ok"} == {
        f"site-{n}" for n in range(9)
    }
    assert set(statuses.values()) == {1}
    assert feed_server.requests == Counter({f"/feed{n}.rss": 1 for n in range(9)})
    alerted = Counter(alerted_guid(request) for request in webhook_receiver.received)
    assert alerted == Counter({f"s{n}-{i}": 1 for n in range(9) for i in range(3)})
    listed = monitor_command(config, ["items", "list", "--json", "--limit", "0"], env)
    items = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len({(item["source"], item["external_id"]) for item in items}) == len(items) == 27
    db = open_database(database_url)
    try:
        assert _leases(db) == [None] * 9
    finally:
        db.dispose()


def _claim_then_die(runtime: Runtime, owner: str, share: list[str], sender: object) -> None:
    """A child that takes its sources' leases and dies before polling them."""
    runtime.db.after_fork()
    claim_sources(runtime.db, owner, share, due_only=False)
    os._exit(3)


def test_a_poll_process_that_dies_fails_its_sources_and_frees_their_leases(
    db: Database, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_for(_sources(feed_server, 4), "  - id: any\n    match: أمريكا\n")
    runtime = runtime_for(config, db)
    monkeypatch.setattr(daemon, "_poll_share", _claim_then_die)
    try:
        reports, skipped = poll_in_processes(runtime, 2)
    finally:
        runtime.http.close()
    by_source = {report.source_id: report for report in reports}
    assert skipped == []
    assert {by_source[f"site-{n}"].status for n in (0, 2)} == {"ok"}  # this process's share
    for n in (1, 3):  # the child's
        assert by_source[f"site-{n}"].status == "error"
        assert "died (exit code 3)" in (by_source[f"site-{n}"].error or "")
    assert _leases(db) == [None] * 4
    assert sorted(feed_server.requests) == ["/feed0.rss", "/feed2.rss"]


@pytest.mark.parametrize(
    ("setting", "sources", "expected"),
    [
        ("auto", 3, 1),  # a few sources: one process's workers are enough
        ("auto", 5000, min(len(os.sched_getaffinity(0)), 4)),
        (4, 100, 4),
        (4, 40, 2),  # 16 workers a process: two of them have work for every worker
        (4, 20, 1),
        (1, 5000, 1),
    ],
)
def test_the_number_of_poll_processes(setting: object, sources: int, expected: int) -> None:
    listed = "".join(
        f"  - id: s{n}\n    kind: rss\n    url: http://127.0.0.1:9/{n}\n" for n in range(sources)
    )
    config = config_for(listed, "  - id: any\n    match: x\n")
    config = config.model_copy(
        update={"settings": config.settings.model_copy(update={"poll_processes": setting})}
    )
    assert poll_process_count(config) == expected


def _try_lock(path: str, result: Any) -> None:
    with Path(path).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            result.put(True)
        except BlockingIOError:
            result.put(False)


def test_sqlite_writers_of_other_processes_wait_for_the_lock_file(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'm.db'}")
    context = multiprocessing.get_context("fork")
    lock_path = str(tmp_path / "m.db.lock")

    def other_process_gets_the_lock() -> bool:
        result = context.SimpleQueue()
        child = context.Process(target=_try_lock, args=(lock_path, result))
        child.start()
        child.join(10)
        return bool(result.get())

    try:
        with db.write(), db.write():  # nested in one thread: one lock, held to the end
            assert not other_process_gets_the_lock()
        assert other_process_gets_the_lock()
    finally:
        db.dispose()


def test_threads_stand_aside_while_another_holds_the_write_lock(db: Database) -> None:
    """SQLite: a thread about to do CPU work waits for this process's writer to
    commit; the writer itself never waits for itself. PostgreSQL: nobody waits."""
    in_transaction, release = threading.Event(), threading.Event()
    waited: list[str] = []

    def writer() -> None:
        with db.write():
            db.stand_aside_for_writer()  # its own transaction: returns at once
            in_transaction.set()
            release.wait(10)
            waited.append("committed")

    def analyst() -> None:
        in_transaction.wait(10)
        db.stand_aside_for_writer()
        waited.append("analysed")

    threads = [threading.Thread(target=writer), threading.Thread(target=analyst)]
    for thread in threads:
        thread.start()
    in_transaction.wait(10)
    time.sleep(0.2)  # time enough for the analyst to get past, if it were let through
    release.set()
    for thread in threads:
        thread.join(10)
    expected = ["committed", "analysed"] if db.dialect == "sqlite" else ["analysed", "committed"]
    assert waited == expected


def test_standing_aside_is_bounded(tmp_path: Path) -> None:
    """A writer that keeps the lock (or writers one after another) holds the others
    up for two seconds at most each time."""
    db = open_database(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(db)
    in_transaction, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.write():
            in_transaction.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert in_transaction.wait(10)
        started = time.monotonic()
        db.stand_aside_for_writer()
        waited = time.monotonic() - started
    finally:
        release.set()
        thread.join(10)
        db.dispose()
    assert 1.5 < waited < 5
