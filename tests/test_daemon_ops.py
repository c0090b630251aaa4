"""Operating the daemon: health endpoints, metrics, reloads, JSON logs without
secrets, the hard poll deadline and the per-host limit."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from monitor.config import Source, load_config_text
from monitor.daemon import build_http_client
from monitor.demo.server import FeedServer
from monitor.errors import TransportError
from monitor.ops.health import HealthState
from monitor.ops.logs import RedactSecrets, secrets_of
from monitor.ops.metrics import Metrics
from monitor.pipeline import sync_sources
from monitor.scheduler import Daemon, LeftDue
from monitor.sources.base import FetchState
from monitor.store.models import SourceState
from monitor.store.session import Database
from tests.helpers import GAZETTEER, free_port, rss_feed, rss_item

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
PASSWORD = "hunter2-very-secret"


def _source(source_id: str, url: str) -> str:
    return f"  - id: {source_id}\n    kind: rss\n    url: {url}\n    leader: akram-kaabi\n"


def _config_text(sources: str, extra_settings: str = "") -> str:
    return (
        GAZETTEER
        + "settings:\n  default_interval: 2s\n  poll_lease: 10s\n  poll_timeout: 5s\n"
        + "  interval_jitter: 0\n  log_format: json\n  alert_max_age: 3650d\n"
        + extra_settings
        + "sources:\n"
        + sources
        + "rules:\n  - id: war\n    match: أمريكا\n    notify: [hook]\n"
        + "notifiers:\n  - id: hook\n    kind: webhook\n"
        + "    url: http://127.0.0.1:9/hook\n"
        + f"    secret: {SECRET}\n"
        + "  - id: mail\n    kind: email\n    to: [a@example.org]\n    smtp_host: 127.0.0.1\n"
        + f"    smtp_port: 9\n    password: {PASSWORD}\n    username: u\n"
    )


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _get(port: int, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""  # not listening yet


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


class Running:
    def __init__(self, process: subprocess.Popen[bytes], log: Path, port: int) -> None:
        self.process, self.log, self.port = process, log, port

    def lines(self) -> list[dict[str, object]]:
        out = []
        for line in self.log.read_text(encoding="utf-8").splitlines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Callable[[Path], Running]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(config: Path) -> Running:
        port = free_port()
        log = tmp_path / f"daemon-{len(started)}.log"
        env = {**os.environ, "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'm.db'}"}
        env.pop("MONITOR_LOG_FORMAT", None)
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "monitor", "--config", str(config), "run"),
                    "--health-port",
                    str(port),
                ],
                env=env,
                stdout=sink,
                stderr=sink,
            )
        started.append(process)
        return Running(process, log, port)

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_health_metrics_reload_and_clean_stop(
    tmp_path: Path, feed_server: FeedServer, start_daemon: Callable[[Path], Running]
) -> None:
    for n in range(3):
        items = [rss_item(f"s{n}-{i}", "بيان", f"لن نسكت عن أمريكا {n}-{i}") for i in range(2)]
        feed_server.serve(f"/f{n}.rss", rss_feed(*items))
    # Credentials in a URL end up in error messages: they must never be logged.
    broken = feed_server.url("/missing.rss").replace("http://", f"http://user:{PASSWORD}@")
    sources = "".join(_source(f"s{n}", feed_server.url(f"/f{n}.rss")) for n in range(2))
    config = tmp_path / "sources.yaml"
    config.write_text(_config_text(sources + _source("broken", broken)), encoding="utf-8")
    daemon = start_daemon(config)

    _wait_for(lambda: _get(daemon.port, "/healthz")[0] == 200, 30, "/healthz")
    status, body = _get(daemon.port, "/readyz")
    assert (status, json.loads(body)["database"]) == (200, "ok")
    _wait_for(
        lambda: (
            _metric(_get(daemon.port, "/metrics")[1], 'monitor_statements_total{change="new"}') == 4
        ),
        30,
        "4 new statements in the metrics",
    )
    _wait_for(
        lambda: (
            _metric(_get(daemon.port, "/metrics")[1], 'monitor_polls_total{status="error"}') >= 1
        ),
        30,
        "the broken source's failure counted",
    )
    metrics = _get(daemon.port, "/metrics")[1]
    assert _metric(metrics, "monitor_matches_total") == 4
    assert _metric(metrics, 'monitor_poll_duration_seconds_count{kind="rss"}') >= 3
    _wait_for(
        lambda: _metric(_get(daemon.port, "/metrics")[1], 'monitor_alerts{status="pending"}') >= 4,
        15,
        "the alerts gauge read off the database",
    )
    assert _metric(_get(daemon.port, "/metrics")[1], "monitor_sources_enabled") == 3

    # Saving the file reloads it: a new source is polled without a restart.
    sources += _source("s2", feed_server.url("/f2.rss"))
    config.write_text(_config_text(sources), encoding="utf-8")
    _wait_for(lambda: feed_server.requests["/f2.rss"] >= 1, 20, "the added source polled")
    # A broken edit is refused; the running config stays and polls go on.
    config.write_text(_config_text(sources) + "  - id: [oops\n", encoding="utf-8")
    _wait_for(
        lambda: any("refused" in str(line.get("message")) for line in daemon.lines()),
        20,
        "the refused reload logged",
    )
    before = feed_server.requests["/f2.rss"]
    _wait_for(lambda: feed_server.requests["/f2.rss"] > before, 20, "polls after a bad edit")
    # SIGHUP reloads too (the file is fixed meanwhile).
    config.write_text(_config_text(sources), encoding="utf-8")
    time.sleep(2.5)
    daemon.process.send_signal(signal.SIGHUP)
    _wait_for(
        lambda: sum("config reloaded" in str(line.get("message")) for line in daemon.lines()) >= 3,
        20,
        "reload on file change, then on SIGHUP",
    )
    assert (
        _metric(_get(daemon.port, "/metrics")[1], 'monitor_config_reloads_total{outcome="ok"}') >= 2
    )

    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=40) == 0

    text = daemon.log.read_text(encoding="utf-8")
    assert PASSWORD not in text and SECRET not in text
    assert "[redacted]" in text
    lines = daemon.lines()
    polls = [line for line in lines if line.get("logger") == "monitor.daemon" and "source" in line]
    ok = [line for line in polls if line["status"] == "ok"]
    assert ok and {"source", "kind", "status", "new", "matches", "duration_s"} <= set(ok[0])
    assert all(str(line["time"]).endswith("Z") for line in lines)
    assert any(line.get("message") == "monitor stopped" for line in lines)


def test_readiness_follows_the_database_and_liveness_the_tick() -> None:
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise ConnectionError("connection refused")

    state = HealthState(Metrics(), failing, stale_after=0.2)
    ready, details = state.readiness()
    assert not ready and "connection refused" in str(details["database"])
    state.readiness()
    assert len(calls) == 1  # checked at most once a second
    assert state.liveness()[0]
    time.sleep(0.3)
    assert not state.liveness()[0]
    state.ticked()
    assert state.liveness()[0]


def test_a_poll_deadline_ends_every_request_of_the_poll(feed_server: FeedServer) -> None:
    feed_server.serve("/slow.rss", rss_feed(rss_item("a", "t", "x")), delay=5.0)
    config = load_config_text(GAZETTEER + "settings: {http_retries: 3}\n", "t.yaml")
    http = build_http_client(config)
    started = time.monotonic()
    with pytest.raises(TransportError), http.poll_deadline(1.0):
        http.get(feed_server.url("/slow.rss"))
    assert time.monotonic() - started < 3.0  # not 5 s, nor 4 retries of it
    http.cancelled.set()
    with pytest.raises(TransportError, match="shutting down"):
        http.get(feed_server.url("/slow.rss"))
    http.close()


def test_claims_respect_the_per_host_and_overall_limits(db: Database, tmp_path: Path) -> None:
    busy = "".join(_source(f"busy{n}", f"http://127.0.0.1:9/f{n}.rss") for n in range(6))
    other = "".join(_source(f"other{n}", f"http://localhost:9/f{n}.rss") for n in range(2))
    config = load_config_text(
        _config_text(busy + other, "  per_host_connections: 2\n  max_concurrent_polls: 3\n"),
        "t.yaml",
    )
    daemon = Daemon(config, db)

    sync_sources(db, config)
    polls, left_due = daemon._claim()
    claimed = [source.id for source, _ in polls]
    hosts = sorted("busy" if sid.startswith("busy") else "other" for sid in claimed)
    # Three slots: two to the busy host (its limit), the third to the other host.
    assert hosts == ["busy", "busy", "other"]
    # Five left due: three for the slots, and the busy host is at its limit.
    assert left_due.for_slots and left_due.for_hosts == {"127.0.0.1"}
    daemon.runtime.http.close()


@pytest.mark.parametrize(
    ("slots", "per_host"),
    [(2, 2), (4, 1)],
    ids=["held-back-by-the-slots", "held-back-by-the-per-host-limit"],
)
def test_finished_polls_claim_the_sources_left_due_without_waiting_for_a_tick(
    db: Database,
    feed_server: FeedServer,
    monkeypatch: pytest.MonkeyPatch,
    slots: int,
    per_host: int,
) -> None:
    """Ten due sources on one host, and room for two polls (or one on that host):
    the first tick claims that many; every later claim is a refill as polls finish.
    With the tick an hour apart, the ten are polled only if finished polls claim
    the rest (before, a daemon polled at most max_concurrent_polls sources, or
    per_host_connections of one host, a tick, however fast its polls ran)."""
    monkeypatch.setattr("monitor.scheduler.TICK_SECONDS", 3600.0)
    paths = [f"/r{n}.rss" for n in range(10)]
    for path in paths:
        feed_server.serve(path, rss_feed(rss_item(path, "بيان", "بيان عن الوضع")))
    sources = "".join(
        _source(f"r{n}", feed_server.url(path)) + "    interval: 1h\n"
        for n, path in enumerate(paths)
    )
    config = load_config_text(
        _config_text(
            sources, f"  max_concurrent_polls: {slots}\n  per_host_connections: {per_host}\n"
        ),
        "t.yaml",
    )
    daemon = Daemon(config, db)
    peak_polls, peak_on_host = 0, 0
    start_poll = daemon._start_poll

    def start_counted(source: Source, fetch_state: FetchState) -> None:
        nonlocal peak_polls, peak_on_host
        start_poll(source, fetch_state)
        peak_polls = max(peak_polls, len(daemon.in_flight))
        peak_on_host = max(peak_on_host, *daemon.per_host.values())

    monkeypatch.setattr(daemon, "_start_poll", start_counted)
    run_daemon_until(daemon, lambda: all(feed_server.requests[path] for path in paths))
    unpolled = [path for path in paths if not feed_server.requests[path]]
    assert not unpolled, f"left due after the first tick's claim: {unpolled}"
    assert max(feed_server.requests[path] for path in paths) == 1  # hourly: once each
    # One claim at a time: never more polls than slots, nor on a host than its limit.
    assert (peak_polls, peak_on_host) == (min(slots, per_host), per_host)
    with db.read() as session:
        leases = session.scalars(
            select(SourceState.id).where(SourceState.lease_owner.is_not(None))
        ).all()
    assert not leases  # stopped cleanly: every lease released


def test_a_claim_that_gets_nothing_does_not_claim_again_at_once(
    db: Database, feed_server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first due rows locked by another transaction (SKIP LOCKED passes them
    over): the claim gets nothing, and no refill follows it (only a finished poll or
    the next tick claims again), or claims would spin for as long as the lock lasts."""
    if db.dialect != "postgresql":
        pytest.skip("row locks that SKIP LOCKED passes over are PostgreSQL's")
    monkeypatch.setattr("monitor.scheduler.TICK_SECONDS", 3600.0)
    sources = "".join(
        _source(f"r{n}", feed_server.url(f"/r{n}.rss")) + "    interval: 1h\n" for n in range(8)
    )
    config = load_config_text(
        _config_text(sources, "  max_concurrent_polls: 2\n  per_host_connections: 2\n"),
        "t.yaml",
    )
    sync_sources(db, config)
    daemon = Daemon(config, db)
    claims = 0
    claim = daemon._claim

    def counted_claim() -> tuple[list[tuple[Source, FetchState]], LeftDue]:
        nonlocal claims
        claims += 1
        return claim()

    monkeypatch.setattr(daemon, "_claim", counted_claim)
    with db.engine.connect() as other:
        # The two the daemon wants first (its order), locked until the block ends.
        locked = other.execute(
            text("SELECT id FROM sources ORDER BY next_poll_at, id LIMIT 2 FOR UPDATE")
        ).all()
        assert len(locked) == 2
        deadline = time.monotonic() + 1.0
        run_daemon_until(daemon, lambda: claims >= 1 and time.monotonic() > deadline)
        other.rollback()
    assert claims == 1  # the first tick's; it got nothing, and started no refill
    assert not any(feed_server.requests[f"/r{n}.rss"] for n in range(8))


def run_daemon_until(daemon: Daemon, condition: Callable[[], bool], timeout: float = 30) -> None:
    """Run the daemon in this thread's event loop until ``condition`` holds (or
    ``timeout`` passes), then stop it as SIGTERM would."""

    async def run() -> None:
        running = asyncio.create_task(daemon.run())
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            assert not running.done(), "the daemon stopped by itself"
            await asyncio.sleep(0.02)
        daemon.request_stop()
        await asyncio.wait_for(running, 30)

    asyncio.run(run())


def test_secrets_of_the_config_are_masked_in_log_records() -> None:
    slack = (
        "  - id: slack\n    kind: webhook\n    format: slack\n"
        "    url: https://hooks.slack.com/services/T000/B000/XXXXsecret\n"
        "    headers: {Authorization: Bearer tok-123456}\n"
    )
    config = load_config_text(
        _config_text("", "  proxy: http://px:proxy-pass-123@127.0.0.1:3128\n") + slack,
        "t.yaml",
    )
    secrets = secrets_of(config, environ={})
    assert {SECRET, PASSWORD, "proxy-pass-123", "Bearer tok-123456"} <= secrets
    assert "/services/T000/B000/XXXXsecret" in secrets
    assert "/hook" not in secrets  # too short to mask without masking ordinary words
    import logging

    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "failed with %s", (f"token {PASSWORD}",), None
    )
    RedactSecrets(secrets).filter(record)
    assert record.getMessage() == "failed with token [redacted]"
