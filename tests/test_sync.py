"""sync_sources: the sources' rows brought in line with the config, set-based."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, select, update

from monitor.config import Config
from monitor.pipeline import fetch_fingerprint, sync_sources
from monitor.store.models import SourceState
from monitor.store.session import Database, open_database
from tests.helpers import config_for

RULES = """
  - id: any
    match: 'war'
    severity: low
"""


def sources_config(count: int, *, interval: str | None = None, host: str = "a.example") -> Config:
    extra = f"    interval: {interval}\n" if interval else ""
    sources = "".join(
        f"  - id: s-{n:04d}\n    kind: rss\n    url: https://{host}/{n}.rss\n{extra}"
        for n in range(count)
    )
    return config_for(sources, RULES)


def rows(db: Database) -> dict[str, SourceState]:
    with db.read() as session:
        return {state.id: state for state in session.scalars(select(SourceState))}


def statements_of(db: Database, config: Config) -> int:
    executed: list[str] = []

    def count(*args: Any) -> None:
        executed.append(args[2])

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        sync_sources(db, config)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(
        [sql for sql in executed if not sql.lstrip().upper().startswith(("BEGIN", "PRAGMA"))]
    )


def test_every_source_gets_a_row_in_a_few_statements(db: Database) -> None:
    config = sources_config(1200)
    assert statements_of(db, config) <= 4  # read, three inserts of 500 rows at most
    states = rows(db)
    assert len(states) == 1200
    assert all(
        state.config_hash == fetch_fingerprint(source) and state.kind == "rss"
        for source, state in ((s, states[s.id]) for s in config.sources)
    )
    # Nothing to do the second time: one read.
    assert statements_of(db, config) == 1
    assert rows(db).keys() == states.keys()


def test_a_changed_address_starts_afresh_and_only_that_row_changes(db: Database) -> None:
    config = sources_config(3)
    sync_sources(db, config)
    later = datetime.now(UTC) + timedelta(minutes=3)
    with db.write() as session:
        session.execute(
            update(SourceState).values(
                etag='"e"',
                last_modified="Mon",
                cursor={"page": 2},
                consecutive_failures=4,
                next_poll_at=later,
            )
        )
    moved = config_for(
        "".join(
            f"  - id: s-{n:04d}\n    kind: rss\n    url: https://{'b' if n == 1 else 'a'}"
            f".example/{n}.rss\n"
            for n in range(3)
        ),
        RULES,
    )
    before = datetime.now(UTC)
    sync_sources(db, moved)
    states = rows(db)
    fresh = states["s-0001"]
    assert fresh.config_hash == fetch_fingerprint(moved.sources[1])
    assert (fresh.etag, fresh.last_modified, fresh.cursor, fresh.consecutive_failures) == (
        None,
        None,
        None,
        0,
    )
    assert before - timedelta(seconds=1) <= fresh.next_poll_at <= datetime.now(UTC)
    for kept in ("s-0000", "s-0002"):
        state = states[kept]
        assert (state.etag, state.cursor, state.consecutive_failures) == ('"e"', {"page": 2}, 4)
        assert abs(state.next_poll_at - later) < timedelta(seconds=1)


def test_a_shorter_interval_pulls_the_next_poll_in_and_a_longer_one_does_not(
    db: Database,
) -> None:
    daily = sources_config(2, interval="1d")
    sync_sources(db, daily)
    far = datetime.now(UTC) + timedelta(hours=20)
    with db.write() as session:
        session.execute(update(SourceState).values(next_poll_at=far))
    sync_sources(db, sources_config(2, interval="2d"))
    assert all(abs(s.next_poll_at - far) < timedelta(seconds=1) for s in rows(db).values())
    sync_sources(db, sources_config(2, interval="1h"))
    soon = datetime.now(UTC) + timedelta(hours=1)
    assert all(s.next_poll_at <= soon for s in rows(db).values())


def test_removed_sources_keep_their_rows(db: Database) -> None:
    sync_sources(db, sources_config(5))
    sync_sources(db, sources_config(2))
    assert len(rows(db)) == 5


def test_replicas_syncing_at_once_agree(database_url: str) -> None:
    """Several processes' worth of engines sync the same (new) config at once."""
    config = sources_config(700)
    databases = [open_database(database_url) for _ in range(4)]
    errors: list[BaseException] = []
    start = threading.Barrier(len(databases))

    def replica(db: Database) -> None:
        try:
            start.wait()
            sync_sources(db, config)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=replica, args=(db,)) for db in databases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        states = rows(databases[0])
        assert len(states) == 700
        assert {s.config_hash for s in states.values()} == {
            fetch_fingerprint(s) for s in config.sources
        }
    finally:
        for db in databases:
            db.dispose()


def test_sqlite_worker_threads_keep_their_connections(tmp_path: Any) -> None:
    """The pool holds a connection for each of the poll workers (16 by default), so
    they are not closed on return and reopened (connect, WAL and pragmas) by the next."""
    db = open_database(f"sqlite:///{tmp_path / 'pool.db'}")
    opened: list[object] = []
    event.listen(db.engine, "connect", lambda *args: opened.append(args[0]))
    with db.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (n INTEGER)")
    start = threading.Barrier(16)
    together = threading.Barrier(16, timeout=30)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            for n in range(20):
                with db.write() as session:
                    session.connection().exec_driver_sql("INSERT INTO t VALUES (?)", (n,))
                with db.read() as session:
                    session.connection().exec_driver_sql("SELECT count(*) FROM t").scalar()
                    together.wait()  # all 16 hold a connection at once
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == []
        assert len(opened) <= 17
        with db.read() as session:
            assert session.connection().exec_driver_sql("SELECT count(*) FROM t").scalar() == 320
            journal = session.connection().exec_driver_sql("PRAGMA journal_mode").scalar()
            assert journal == "wal"
            assert session.connection().exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        db.dispose()
