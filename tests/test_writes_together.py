"""Database.write_together: the writes of several threads of one process in shared
transactions (SQLite), each undone alone when it fails; on its own on PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.store.models import FetchRun, SourceState
from monitor.store.session import Database, open_database

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def add_source(source_id: str) -> Callable[[Session], str]:
    def work(session: Session) -> str:
        session.execute(insert(SourceState).values(id=source_id, kind="rss", next_poll_at=NOW))
        if source_id.startswith("bad"):
            raise ValueError(f"{source_id} refused")
        return source_id

    return work


def stored(db: Database) -> set[str]:
    with db.read() as session:
        return set(session.scalars(select(SourceState.id)))


def test_many_threads_write_together_and_a_failure_is_undone_alone(db: Database) -> None:
    names = [f"bad-{n}" if n % 5 == 0 else f"good-{n}" for n in range(40)]
    results: dict[str, object] = {}
    start = threading.Barrier(len(names))
    commits: list[int] = []

    def thread(name: str) -> None:
        start.wait(10)
        try:
            results[name] = db.write_together(add_source(name))
        except ValueError as exc:
            results[name] = str(exc)

    def count(*_: object) -> None:
        commits.append(1)

    event.listen(db.engine, "commit", count)
    threads = [threading.Thread(target=thread, args=(name,)) for name in names]
    for each in threads:
        each.start()
    for each in threads:
        each.join(30)
    event.remove(db.engine, "commit", count)
    for name in names:  # each thread got its own answer, a failure its own error
        assert results[name] == (f"{name} refused" if name.startswith("bad") else name)
    assert stored(db) == {name for name in names if name.startswith("good")}
    if db.dialect == "sqlite":  # shared: fewer transactions than writes
        assert len(commits) < len(names)


def hand_in_together(
    db: Database, jobs: dict[str, Callable[[Session], object]]
) -> dict[str, Exception]:
    """Each job from a thread of its own, all handed in while this thread holds the
    write lock (so they go in one transaction once it lets go); each one's error."""
    errors: dict[str, Exception] = {}

    def hand_in(name: str, work: Callable[[Session], object]) -> None:
        try:
            db.write_together(work)
        except Exception as exc:
            errors[name] = exc

    threads = [threading.Thread(target=hand_in, args=job) for job in jobs.items()]
    with db.write():
        for number, thread in enumerate(threads, start=1):
            thread.start()
            deadline = time.monotonic() + 10  # until it waits in the queue
            while len(db._together._waiting) < number and time.monotonic() < deadline:
                time.sleep(0.005)
    for thread in threads:
        thread.join(30)
    return errors


def test_a_failed_commit_fails_every_write_it_carried(db: Database) -> None:
    """SQLite: two writes handed in while the lock is held go in one transaction;
    one leaves a foreign key dangling (checked at the commit), so neither is kept,
    both threads hear of it, and the next write goes through."""
    if db.dialect != "sqlite":
        pytest.skip("PostgreSQL writes each in its own transaction")

    def dangling(session: Session) -> None:
        session.execute(text("PRAGMA defer_foreign_keys = ON"))
        session.execute(
            insert(FetchRun).values(
                source_id="nowhere", started_at=NOW, finished_at=NOW, status="ok"
            )
        )

    errors = hand_in_together(db, {"dangling": dangling, "good": add_source("good")})
    assert set(errors) == {"dangling", "good"}
    assert isinstance(errors["good"], IntegrityError)
    assert stored(db) == set()
    assert db.write_together(add_source("after")) == "after"
    assert stored(db) == {"after"}


def test_a_full_disk_undoes_the_whole_shared_transaction_and_says_so(
    database_url: str,
) -> None:
    """SQLite rolls back the whole transaction on some errors (a full disk): no write
    of the batch may then pass for done; each thread hears the cause."""
    if not database_url.startswith("sqlite"):
        pytest.skip("PostgreSQL writes each in its own transaction")
    db = open_database(database_url)
    with db.read() as session:
        pages = session.execute(text("PRAGMA page_count")).scalar_one()

    @event.listens_for(db.engine, "connect")
    def small_disk(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages + 40}")

    db.engine.dispose()

    def big(session: Session) -> str:
        session.execute(
            insert(SourceState).values(
                id="big", kind="rss", next_poll_at=NOW, last_error="x" * 2_000_000
            )
        )
        return "big"

    jobs = {"small": add_source("small"), "big": big, "after": add_source("after")}
    errors = hand_in_together(db, jobs)
    db.dispose()
    assert set(errors) == {"small", "big", "after"}
    assert all("database or disk is full" in str(error) for error in errors.values())
    assert stored(db) == set()
