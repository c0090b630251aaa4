"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with foreign keys on. Writers open their transaction
with ``BEGIN IMMEDIATE`` so two processes writing at once queue on the
database lock (busy timeout) instead of failing half-way with "database is
locked" when a read transaction tries to upgrade to a write. Within one
process, writers queue on a lock of their own first (see Database.write), the
polls' writes share transactions (Database.write_together), threads doing CPU
work stand aside while one writes (Database.stand_aside_for_writer), and the
pool keeps a connection for every thread (see SQLITE_POOL_SIZE).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
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


class _FileLock:
    """An exclusive lock on a file, taken by one thread of one process at a time.

    SQLite's own lock makes a waiting process retry in sleeps of up to 100 ms,
    long after the holder let go; processes writing one database (``run --once``
    with several poll processes, a CLI command beside the daemon) instead take
    this lock first, retrying in naps of at most 5 ms. The thread holding it
    nests (depth counted): the kernel's lock does not. Without fcntl (Windows)
    there is none, SQLite's lock is enough.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._depth = 0  # guarded by the Database's write lock

    @contextmanager
    def held(self, timeout: float) -> Iterator[None]:
        if self._depth == 0 and not self._acquire(timeout):
            yield  # past the timeout: on without it, SQLite waits or fails as it would
            return
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _acquire(self, timeout: float) -> bool:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                return False  # a read-only folder: SQLite's own lock still serializes
        # flock has no timeout: try without blocking, then wait in short naps.
        deadline = time.monotonic() + timeout
        nap = 0.0002
        while True:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(nap)
                nap = min(nap * 2, 0.005)
            except OSError:
                return False  # no flock here (some network mounts): SQLite's lock is enough


class _WriterTurn:
    """Which thread of this process holds SQLite's write lock, for the others to
    stand aside while it does (see Database.stand_aside_for_writer)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._holder: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        me = threading.get_ident()
        with self._changed:
            nested = self._holder == me  # the holder's own nested write
            self._holder = me
        try:
            yield
        finally:
            if not nested:
                with self._changed:
                    if self._holder == me:  # not taken over (past the lock's timeout)
                        self._holder = None
                        self._changed.notify_all()

    def wait(self, longest: float = 2.0) -> None:
        """Until no other thread of this process holds the lock, or ``longest``
        seconds (writers one after another must not hold up the others' work)."""
        holder = self._holder  # read without the lock: most calls find none
        if holder is None or holder == threading.get_ident():
            return
        deadline = time.monotonic() + longest
        with self._changed:
            while self._holder is not None and self._holder != threading.get_ident():
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._changed.wait(left)


T = TypeVar("T")


@dataclass
class _Job(Generic[T]):
    work: Callable[[Session], T]
    value: T | None = None
    error: BaseException | None = None
    finished: bool = False


class _WritesTogether:
    """Writes handed in by threads of one process, done in shared transactions.

    SQLite has one writer at a time, and each transaction costs a turn on its lock
    (this process's, the lock file's, SQLite's own), a BEGIN and a COMMIT (its WAL
    frames, full-text segments). The thread that finds nobody writing takes every
    write waiting and does them in one transaction, each in a savepoint of its own
    (one that fails is undone alone, its error raised in the thread that handed it
    in), while the others wait; whoever waits when it is done leads the next round.
    """

    def __init__(self, database: Database) -> None:
        self._database = database
        self._changed = threading.Condition()
        self._waiting: list[_Job[Any]] = []
        self._writing = False

    def run(self, work: Callable[[Session], T]) -> T:
        job = _Job(work)
        with self._changed:
            self._waiting.append(job)
        while True:
            with self._changed:
                while self._writing and not job.finished:
                    self._changed.wait()
                if job.finished:
                    break
                self._writing = True
            try:
                self._write()
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()
        if job.error is not None:
            raise job.error
        return cast(T, job.value)

    def _write(self) -> None:
        batch: list[_Job[Any]] = []
        lost: Exception | None = None  # what ended the whole transaction, if a job did
        try:
            with self._database.write() as session:
                # Taken once the lock is ours: what was handed in while waiting for it.
                with self._changed:
                    batch, self._waiting = self._waiting, []
                for job in batch:
                    try:
                        with session.begin_nested():
                            try:
                                job.value = job.work(session)
                            except Exception as exc:
                                job.error = exc
                                raise
                    except Exception as exc:
                        job.error = job.error or exc  # or the savepoint's own failure
                        if not _in_transaction(session):
                            # Some errors (disk full, I/O) make SQLite roll back the whole
                            # transaction, the writes of the jobs before this one too.
                            lost = _first_database_error(exc)
                            raise
        except BaseException as exc:  # the transaction itself failed: every write in it
            if not batch:  # failed before taking any: the leader's own goes with it
                with self._changed:
                    batch, self._waiting = self._waiting, []
            shared = lost or exc
            if not isinstance(shared, Exception):
                shared = RuntimeError(f"interrupted: {exc!r}")
            for job in batch:
                job.value, job.error = None, shared
            if not isinstance(exc, Exception):
                raise
        finally:
            for job in batch:
                job.finished = True


def _first_database_error(error: Exception) -> Exception:
    """The database error a chain of them began with: after SQLite has undone a
    transaction, undoing a savepoint of it fails too ("no such savepoint"), and that
    one would be raised in place of the cause (a full disk)."""
    while isinstance(error.__context__, DBAPIError) and isinstance(error, DBAPIError):
        error = error.__context__
    return error


def _in_transaction(session: Session) -> bool:
    """Whether SQLite still has the session's transaction open."""
    try:
        driver = session.connection().connection.driver_connection
        return bool(getattr(driver, "in_transaction", True))
    except Exception:
        return False


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
    # write lock idle after each commit while the waiting threads doze; and
    # processes queue on the lock of a file beside the database (see _FileLock).
    _write_lock: threading.RLock = field(
        default_factory=threading.RLock, init=False, repr=False, compare=False
    )
    _file_lock: _FileLock | None = field(default=None, repr=False, compare=False)
    _turn: _WriterTurn = field(default_factory=_WriterTurn, init=False, repr=False, compare=False)
    _together: _WritesTogether = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_together", _WritesTogether(self))

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
            with (
                self._file_turn(queued),
                self._turn.held(),
                self.writer() as session,
                session.begin(),
            ):
                yield session
        finally:
            if queued:
                self._write_lock.release()

    def write_together(self, work: Callable[[Session], T]) -> T:
        """``work(session)`` in a write transaction, and its result. SQLite: in one
        shared with the writes other threads of this process hand in meanwhile,
        in a savepoint of its own (see _WritesTogether). PostgreSQL: in its own
        (writers there do not wait for one another)."""
        if self.dialect != "sqlite":
            with self.write() as session:
                return work(session)
        return self._together.run(work)

    def stand_aside_for_writer(self) -> None:
        """SQLite: wait while another thread of this process holds the write lock.

        Every process waits for that one lock, so the holder's speed is everyone's;
        yet it shares this process's interpreter lock with the poll threads busy
        analysing posts, and each call into SQLite hands that lock to one of them for
        a switch interval (5 ms) before the holder gets it back. Threads doing CPU
        work call this between pieces of it. PostgreSQL: returns at once."""
        self._turn.wait()

    @contextmanager
    def _file_turn(self, queued: bool) -> Iterator[None]:
        if self._file_lock is None or not queued:
            yield
            return
        with self._file_lock.held(SQLITE_BUSY_TIMEOUT_MS / 1000):
            yield

    def after_fork(self) -> None:
        """In a forked child: connections, locks and the lock file of its own (the
        parent's pooled connections must not be shared, nor its file lock)."""
        self.engine.dispose(close=False)
        object.__setattr__(self, "_write_lock", threading.RLock())
        object.__setattr__(self, "_turn", _WriterTurn())
        object.__setattr__(self, "_together", _WritesTogether(self))
        if self._file_lock is not None:
            object.__setattr__(self, "_file_lock", _FileLock(self._file_lock.path))

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
    file_lock = None
    if parsed.get_backend_name() == "sqlite" and _is_sqlite_file(parsed) and fcntl is not None:
        file_lock = _FileLock(f"{parsed.database}.lock")
    return Database(
        url=url,
        engine=engine,
        reader=sessionmaker(engine, expire_on_commit=False),
        writer=sessionmaker(write_engine, expire_on_commit=False),
        _file_lock=file_lock,
    )
