"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with foreign keys on. Writers open their transaction
with ``BEGIN IMMEDIATE`` so two processes writing at once queue on the
database lock (busy timeout) instead of failing half-way with "database is
locked" when a read transaction tries to upgrade to a write. Within one
process, writers queue on a lock of their own first (see Database.write), and
the pool keeps a connection for every thread (see SQLITE_POOL_SIZE).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

DEFAULT_DATABASE_URL = "sqlite:///monitor.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Connections a SQLite file's pool keeps for reuse. The pool opens them only as
# threads ask (so this is a ceiling, not a cost); what matters is that it is at
# least the number of threads using the database at once (the poll workers,
# settings.max_concurrent_polls, 16 by default, plus the scheduler's and the
# deliveries'): a smaller pool closes the connection a thread hands back and
# the next thread opens a new one, paying the connect and its pragmas again.
SQLITE_POOL_SIZE = 128


def resolve_database_url(configured: str | None) -> str:
    """$MONITOR_DATABASE_URL wins over the config's settings.database_url."""
    url = os.environ.get("MONITOR_DATABASE_URL") or configured or DEFAULT_DATABASE_URL
    return normalize_database_url(url)


def normalize_database_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = "IMMEDIATE" if connection.get_execution_options().get("for_write") else "DEFERRED"
        connection.exec_driver_sql(f"BEGIN {mode}")


@dataclass(frozen=True)
class Database:
    """One engine and the two session factories built on it."""

    url: str
    engine: Engine
    reader: sessionmaker[Session]
    writer: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.reader() as session:
            yield session

    # SQLite: this process's writers queue here rather than in SQLite's busy
    # handler, which sleeps in steps of up to 100 ms and so leaves the file's
    # write lock idle after each commit while the waiting threads doze.
    _write_lock: threading.RLock = field(
        default_factory=threading.RLock, init=False, repr=False, compare=False
    )

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error."""
        if self.dialect != "sqlite":
            with self.writer() as session, session.begin():
                yield session
            return
        # Past the busy timeout, go on anyway: SQLite then waits or fails as it would.
        queued = self._write_lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
        try:
            with self.writer() as session, session.begin():
                yield session
        finally:
            if queued:
                self._write_lock.release()

    def dispose(self) -> None:
        self.engine.dispose()


def _is_sqlite_file(parsed: URL) -> bool:
    """A SQLite database on disk (pooled by QueuePool), not an in-memory one."""
    database = parsed.database or ""
    return database not in ("", ":memory:") and "mode=memory" not in str(parsed)


def open_database(url: str, *, sqlite_pool_size: int = SQLITE_POOL_SIZE) -> Database:
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        pool: dict[str, Any] = {}
        if _is_sqlite_file(parsed):
            # Every thread keeps its connection (WAL, pragmas) across checkouts; no
            # overflow limit either: SQLite has no server-side cap, and a thread
            # waiting for a pooled connection would only wait for the file lock later.
            pool = {"pool_size": sqlite_pool_size, "max_overflow": -1}
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            **pool,
        )
        _configure_sqlite(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)
    write_engine = engine.execution_options(for_write=True)
    return Database(
        url=url,
        engine=engine,
        reader=sessionmaker(engine, expire_on_commit=False),
        writer=sessionmaker(write_engine, expire_on_commit=False),
    )
