"""A real `monitor run` daemon through faults: PostgreSQL connections killed or the
server restarted mid-run, and SIGTERM while polls are in flight.

Black-box: the process, a local feed server, a webhook receiver and the rows.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from monitor.demo.server import FeedServer, WebhookReceiver
from monitor.store.models import FetchRun, SourceState, utcnow
from monitor.store.session import open_database
from tests.conftest import POSTGRES_ADMIN_URL
from tests.helpers import (
    GAZETTEER,
    MonitorProcess,
    assert_alerted_once,
    assert_stored_once,
    monitor_command,
    rss_feed,
    rss_item,
    stored,
    stored_quietly,
    wait_until,
)

MATCHING = '"إعلان الحرب" AND أمريكا'


def statement_text(source: str, i: int) -> str:
    """Unique per (source, item); every other one matches the rule."""
    if i % 2 == 0:
        return f"إعلان الحرب على أمريكا في البيان {source}-{i}"
    return f"بيان عن الوضع الداخلي رقم {source}-{i}"


class Feeds:
    """Growing RSS feeds on one server; remembers every item it published."""

    def __init__(self, server: FeedServer, names: list[str]) -> None:
        self.server = server
        self.items: dict[str, list[int]] = {name: [] for name in names}
        self.delays: dict[str, float] = dict.fromkeys(names, 0.0)

    def path(self, name: str) -> str:
        return f"/{name}.rss"

    def url(self, name: str) -> str:
        return self.server.url(self.path(name))

    def publish(self, count: int, names: list[str] | None = None) -> None:
        for name in names or list(self.items):
            start = len(self.items[name])
            self.items[name].extend(range(start, start + count))
            self.serve(name)

    def serve(self, name: str, delay: float | None = None) -> None:
        if delay is not None:
            self.delays[name] = delay
        items = (
            rss_item(f"{name}-{i}", f"بيان {i}", statement_text(name, i), minutes=i)
            for i in self.items[name]
        )
        self.server.serve(self.path(name), rss_feed(*items), delay=self.delays[name])

    def expected(self, names: list[str] | None = None) -> set[tuple[str, str]]:
        return {
            (name, f"{name}-{i}") for name in names or list(self.items) for i in self.items[name]
        }

    def expected_alerts(self) -> set[str]:
        """The guids of the items that match the rule."""
        return {f"{name}-{i}" for name, items in self.items.items() for i in items if i % 2 == 0}


def write_config(path: Path, feeds: Feeds, hook: WebhookReceiver, settings: str) -> Path:
    sources = "".join(
        f"  - id: {name}\n    kind: rss\n    url: {feeds.url(name)}\n    leader: akram-kaabi\n"
        for name in feeds.items
    )
    path.write_text(
        GAZETTEER
        + f"""
settings:
{settings}
  interval_jitter: 0
  max_concurrent_polls: 16
  per_host_connections: 16
  http_retries: 0
  alert_max_age: 3650d
  log_format: text
sources:
{sources}
rules:
  - id: war-on-us
    match: '{MATCHING}'
    notify: [hook]
notifiers:
  - id: hook
    kind: webhook
    url: {hook.url("/hook")}
""",
        encoding="utf-8",
    )
    return path


# --- PostgreSQL restarted during a run -------------------------------------------------

OUTAGE_SETTINGS = """\
  default_interval: 2s
  poll_lease: 5s
  poll_timeout: 3s
  http_timeout: 2s
  shutdown_grace: 5s
  alert_claim_lease: 5s
  alert_retry_schedule: [1s, 1s, 2s, 2s, 5s, 5s]
"""
OUTAGE_SOURCES = [f"site-{n}" for n in range(6)]


def outage_scenario(
    tmp_path: Path,
    url: str,
    feed_server: FeedServer,
    hook: WebhookReceiver,
    fault: Callable[[Feeds], None],
) -> None:
    """A daemon captures and alerts; ``fault`` hits the database (and may publish
    items meanwhile); then more items are published. The daemon must still be
    running and polling, and capture and alert everything exactly once."""
    feeds = Feeds(feed_server, OUTAGE_SOURCES)
    feeds.publish(2)
    config = write_config(tmp_path / "sources.yaml", feeds, hook, OUTAGE_SETTINGS)
    env = {**os.environ, "MONITOR_DATABASE_URL": url}
    daemon = MonitorProcess(config, ["run"], env, tmp_path / "daemon")
    db = open_database(url)
    try:

        def alive() -> bool:
            assert daemon.alive(), f"the daemon exited\n{daemon.tail()}"
            return True

        wait_until(lambda: alive() and stored(db) == feeds.expected(), 60, "the first statements")
        wait_until(
            lambda: alive() and len(hook.received) >= len(feeds.expected_alerts()),
            30,
            "the first alerts",
        )

        fault(feeds)
        alive()
        restored = time.monotonic()
        requests_before = {
            name: len(feed_server.request_times[feeds.path(name)]) for name in feeds.items
        }
        feeds.publish(1)  # published after the database came back

        wait_until(
            lambda: alive() and stored_quietly(db) == feeds.expected(),
            40,
            "every statement, those published during and after the outage included",
        )
        wait_until(
            lambda: alive() and len(hook.received) >= len(feeds.expected_alerts()),
            40,
            f"{len(feeds.expected_alerts())} webhooks",
        )
        # Still polling: every source requested again (twice: a poll a little later).
        wait_until(
            lambda: (
                alive()
                and all(
                    len(feed_server.request_times[feeds.path(name)]) >= requests_before[name] + 2
                    for name in feeds.items
                )
            ),
            30,
            "two more polls of every source after the outage",
        )
        time.sleep(1.5)  # a duplicate delivery, if any, has a moment to arrive
        alive()
        daemon.signal(signal.SIGTERM)
        code = daemon.wait(5 + 10)
        assert code == 0, f"exit code {code} after SIGTERM\n{daemon.tail()}"
        print(f"recovered; statements all stored {time.monotonic() - restored:.1f} s later")
    except BaseException:
        print(daemon.tail(80))
        raise
    finally:
        daemon.close()
    try:
        assert_stored_once(db, feeds.expected())
        assert_alerted_once(db, hook, feeds.expected_alerts(), resent=2)
    finally:
        db.dispose()


class BackendKiller:
    """pg_terminate_backend on every connection to one database but its own."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
        self.connection = self.engine.connect()

    def __call__(self) -> int:
        """How many connections it terminated."""
        return len(
            self.connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": self.database},
            ).all()
        )

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


def test_daemon_recovers_when_its_postgres_connections_are_killed(
    tmp_path: Path, pg_url: str, feed_server: FeedServer, webhook_receiver: WebhookReceiver
) -> None:
    database = make_url(pg_url).database
    assert database

    def kill_connections(feeds: Feeds) -> None:
        kill = BackendKiller(database)
        try:
            assert kill() >= 1, "the daemon had no connection to kill"
            # Again and again for a few seconds, with new items coming in: polls and
            # deliveries in flight lose their connections mid-transaction.
            killed = 0
            feeds.publish(1, OUTAGE_SOURCES[:3])
            for step in range(40):
                if step == 20:
                    feeds.publish(1, OUTAGE_SOURCES[3:])
                time.sleep(0.1)
                killed += kill()
            print(f"{killed} connections terminated over 4 s")
        finally:
            kill.close()

    outage_scenario(tmp_path, pg_url, feed_server, webhook_receiver, kill_connections)


def _pg_version() -> str | None:
    try:
        versions = sorted(path.name for path in Path("/etc/postgresql").iterdir())
    except OSError:
        return None
    return versions[0] if len(versions) == 1 else None


def _pg_ctlcluster(action: str) -> subprocess.CompletedProcess[str]:
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", str(_pg_version()), "main", action]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _postgres_accepts_connections() -> bool:
    admin = create_engine(POSTGRES_ADMIN_URL)
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
    finally:
        admin.dispose()


def _ensure_postgres_runs() -> None:
    """Start the server (whatever happened before) and wait until it takes connections."""
    for _ in range(3):
        if _postgres_accepts_connections():
            break
        result = _pg_ctlcluster("start")
        if result.returncode != 0:
            print(f"pg_ctlcluster start: {result.returncode} {result.stdout} {result.stderr}")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _postgres_accepts_connections():
            time.sleep(0.5)
    wait_until(_postgres_accepts_connections, 30, "PostgreSQL to accept connections again")


PG_RESTART_REASON = (
    "restarts the machine's PostgreSQL server (shared with other tests): runs only with "
    "MONITOR_TEST_PG_RESTART=1 (CI sets it) and pg_ctlcluster with one cluster version "
    "in /etc/postgresql"
)


@pytest.mark.skipif(
    os.environ.get("MONITOR_TEST_PG_RESTART") != "1"
    or shutil.which("pg_ctlcluster") is None
    or _pg_version() is None
    or make_url(POSTGRES_ADMIN_URL).host not in {"127.0.0.1", "localhost", None},
    reason=PG_RESTART_REASON,
)
def test_daemon_recovers_when_postgres_is_restarted(
    tmp_path: Path, pg_url: str, feed_server: FeedServer, webhook_receiver: WebhookReceiver
) -> None:
    def restart_server(feeds: Feeds) -> None:
        try:
            result = _pg_ctlcluster("stop")
            assert result.returncode == 0, result.stdout + result.stderr
            assert not _postgres_accepts_connections()
            # Items come in while the database is down; the daemon keeps failing for a while.
            feeds.publish(1, OUTAGE_SOURCES[:3])
            time.sleep(4)
        finally:
            _ensure_postgres_runs()

    outage_scenario(tmp_path, pg_url, feed_server, webhook_receiver, restart_server)


# --- SIGTERM while polls are in flight --------------------------------------------------

GRACE = 4.0
SLOW_DELAY = 20.0  # far beyond the grace: such a poll must be abandoned
MEDIUM_DELAY = 2.5  # within the grace: such a poll should be allowed to finish
SIGTERM_SETTINGS = f"""\
  default_interval: 1h
  poll_lease: 40s
  poll_timeout: 30s
  http_timeout: 25s
  shutdown_grace: {GRACE:.0f}s
  alert_claim_lease: 10s
  alert_retry_schedule: [1s, 1s, 1s]
"""
FAST = ["fast-1", "fast-2", "fast-3", "fast-4"]
MEDIUM = ["medium-1", "medium-2"]
SLOW = ["slow-1", "slow-2"]


def test_sigterm_during_polls_exits_within_grace_and_leaves_nothing_half_written(
    tmp_path: Path, database_url: str, feed_server: FeedServer, webhook_receiver: WebhookReceiver
) -> None:
    feeds = Feeds(feed_server, FAST + MEDIUM + SLOW)
    for name in MEDIUM:
        feeds.delays[name] = MEDIUM_DELAY
    for name in SLOW:
        feeds.delays[name] = SLOW_DELAY
    feeds.publish(3)
    config = write_config(tmp_path / "sources.yaml", feeds, webhook_receiver, SIGTERM_SETTINGS)
    env = {**os.environ, "MONITOR_DATABASE_URL": database_url}
    db = open_database(database_url)
    daemon = MonitorProcess(config, ["run"], env, tmp_path / "daemon")
    try:
        # SIGTERM once the fast polls are stored and the slow ones are in flight.
        def in_flight() -> bool:
            assert daemon.alive(), f"the daemon exited\n{daemon.tail()}"
            requested = all(feed_server.request_times[feeds.path(n)] for n in MEDIUM + SLOW)
            return requested and stored(db) >= feeds.expected(FAST)

        wait_until(in_flight, 60, "the fast sources stored and the slow ones requested", 0.05)
        daemon.signal(signal.SIGTERM)
        terminated = time.monotonic()
        code = daemon.wait(GRACE + 15)
        took = time.monotonic() - terminated
        assert code is not None, f"still running {took:.1f} s after SIGTERM\n{daemon.tail()}"
        assert code == 0, f"exit code {code} after SIGTERM\n{daemon.tail()}"
        assert took <= GRACE + 3, (
            f"took {took:.1f} s to exit after SIGTERM (shutdown_grace {GRACE:.0f} s)\n"
            + daemon.tail()
        )
    finally:
        daemon.close()

    try:
        with db.read() as session:
            leases = session.execute(
                select(SourceState.id, SourceState.lease_owner, SourceState.lease_until).where(
                    SourceState.lease_owner.is_not(None)
                )
            ).all()
            runs = session.execute(
                select(FetchRun.source_id, FetchRun.status, FetchRun.finished_at)
            ).all()
        now = utcnow()
        # No lease left behind by the stopped process: its sources are free at once.
        held = [
            (source_id, owner, until)
            for source_id, owner, until in leases
            if until is None or until > now
        ]
        assert not held, f"leases still held after a clean exit: {held}\n{daemon.tail()}"
        # Every fetch run that was written is complete.
        unfinished = [run for run in runs if run.finished_at is None]
        assert not unfinished, f"fetch runs without finished_at: {unfinished}"
        # A poll recorded as done has all its statements, each with its version.
        done = {run.source_id for run in runs if run.status in {"ok", "not_modified"}}
        assert set(FAST) <= done, f"fast polls not recorded: {runs}"
        present = stored(db)
        for name in done:
            assert feeds.expected([name]) <= present, f"{name}: poll recorded, items missing"
        assert_stored_once(db, present)  # whatever is there: once, with one version
        # A poll that fits in the grace is let finish, not thrown away.
        assert set(MEDIUM) <= done, (
            f"polls within shutdown_grace were not finished: {sorted(runs)}\n{daemon.tail()}"
        )
        assert not any(feeds.expected([name]) & present for name in SLOW)

        # The rest comes with the next run, nothing twice.
        for name in SLOW:
            feeds.serve(name, delay=0.0)
        again = monitor_command(config, ["run", "--once"], env, timeout=90)
        assert again.returncode == 0, again.stdout + again.stderr
        assert_stored_once(db, feeds.expected())
        assert_alerted_once(db, webhook_receiver, feeds.expected_alerts())
    finally:
        db.dispose()
