"""Polling and delivery loops: `monitor run --once` and the long-running `monitor run`.

This is the simple loop of the walking skeleton: each tick claims due sources
(leases in the database, so several processes share them), polls them on a
small thread pool, then delivers due alerts. Only the job wrappers
(``guarded_poll`` and the tick) catch broad exceptions: a bug in one source's
poll, or a database outage, must not stop the daemon.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from monitor.config import Config, Source
from monitor.errors import MonitorError
from monitor.http import HttpClient, HttpSettings
from monitor.notify.attempts import DeliveryPolicy
from monitor.notify.base import Notifier
from monitor.notify.health import alarm_failing_notifiers
from monitor.notify.outbox import DeliveryReport, deliver_all_due
from monitor.pipeline import (
    PollReport,
    Runtime,
    claim_sources,
    describe_error,
    new_owner_id,
    poll_source,
    record_failure,
    sync_sources,
)
from monitor.rules.analysis import Analyzer
from monitor.rules.engine import RuleSet
from monitor.store.housekeeping import prune_raw_responses
from monitor.store.models import utcnow
from monitor.store.session import Database

log = logging.getLogger(__name__)

POLL_WORKERS = 8
TICK_SECONDS = 5.0
HOUSEKEEPING_SECONDS = 3600.0


def _housekeeping(runtime: Runtime) -> None:
    try:
        removed = prune_raw_responses(runtime.db, runtime.config.settings.raw_retention)
    except Exception:
        log.exception("housekeeping failed; it runs again in an hour")
        return
    if removed:
        log.info("housekeeping: %d fetched bodies past retention removed", removed)


def build_http_client(config: Config) -> HttpClient:
    settings = config.settings
    return HttpClient(
        HttpSettings(
            user_agent=settings.user_agent,
            timeout_seconds=settings.http_timeout.total_seconds(),
            max_response_bytes=settings.max_response_bytes,
            proxy=settings.proxy,
            max_connections=settings.max_connections,
            per_host_connections=settings.per_host_connections,
            per_host_delay=settings.per_host_delay,
            retries=settings.http_retries,
        )
    )


def build_runtime(config: Config, db: Database) -> Runtime:
    return Runtime(
        config=config,
        db=db,
        http=build_http_client(config),
        rules=RuleSet.from_config(config),
        analyzer=Analyzer.from_config(config),
        owner=new_owner_id(),
    )


def guarded_poll(runtime: Runtime, source: Source) -> PollReport:
    """The one place that catches everything: record the failure, back off, go on."""
    started_at = utcnow()
    clock = time.monotonic()
    try:
        report = poll_source(runtime, source)
    except Exception as exc:
        log.exception("source %s: poll failed unexpectedly", source.id)
        try:
            report = record_failure(runtime, source, started_at, clock, exc)
        except Exception:
            # The database itself is failing; the lease runs out and the poll is retried.
            log.exception("source %s: could not record the failure", source.id)
            return PollReport(source.id, "error", error=describe_error(exc))
    _log_poll(report)
    return report


def _log_poll(report: PollReport) -> None:
    if report.status == "error":
        log.warning("source %s: error: %s (%.2fs)", report.source_id, report.error, report.seconds)
    else:
        log.info(
            "source %s: %s http=%s new=%d edited=%d deleted=%d alerts=%d (%.2fs)",
            report.source_id,
            report.status,
            report.http_status,
            report.new,
            report.edited,
            report.deleted,
            report.alerts,
            report.seconds,
        )


@dataclass
class CycleSummary:
    polls: list[PollReport] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # leased by another process
    delivery: DeliveryReport = field(default_factory=DeliveryReport)

    @property
    def failed(self) -> bool:
        polls_failed = any(p.status == "error" for p in self.polls)
        return polls_failed or self.delivery.failed > 0 or self.delivery.dead > 0


def poll_sources(
    runtime: Runtime, *, due_only: bool, stop: threading.Event | None = None
) -> tuple[list[PollReport], list[str]]:
    """Claim and poll sources a few at a time (as many as there are workers), so a
    lease is only ever taken by a poll that starts right away."""
    enabled = {source.id: source for source in runtime.config.enabled_sources()}
    remaining = dict(enabled)
    reports: list[PollReport] = []
    with ThreadPoolExecutor(max_workers=POLL_WORKERS) as pool:
        while remaining and not (stop is not None and stop.is_set()):
            claimed = claim_sources(
                runtime.db, runtime.owner, remaining, due_only=due_only, limit=POLL_WORKERS
            )
            if not claimed:
                break
            for source_id in claimed:
                del remaining[source_id]
            reports.extend(pool.map(lambda sid: guarded_poll(runtime, enabled[sid]), claimed))
    polled = {report.source_id for report in reports}
    skipped = [] if due_only else sorted(set(enabled) - polled)
    return reports, skipped


def run_once(runtime: Runtime, notifiers: Mapping[str, Notifier]) -> CycleSummary:
    """Poll every enabled source now, whatever its schedule, then deliver due alerts."""
    sync_sources(runtime.db, runtime.config)
    polls, skipped = poll_sources(runtime, due_only=False)
    policy = DeliveryPolicy.from_settings(runtime.config.settings)
    delivery = deliver_all_due(runtime.db, notifiers, runtime.owner, policy=policy)
    alarm_failing_notifiers(runtime.db, runtime.config.settings.notifier_alarm_after, notifiers)
    return CycleSummary(polls=polls, skipped=skipped, delivery=delivery)


def run_forever(
    runtime: Runtime,
    notifiers: Mapping[str, Notifier],
    stop: threading.Event,
    heartbeat: Path | None = None,
) -> None:
    """Tick until ``stop`` is set; in-flight polls finish before it returns.

    After every tick that reached the database, ``heartbeat`` (if given) is
    touched, so a container health check can tell a live loop from a stuck one.
    """
    sync_sources(runtime.db, runtime.config)
    log.info(
        "monitor running: %d enabled sources, %d rules, owner %s",
        len(runtime.config.enabled_sources()),
        len(runtime.rules.rules),
        runtime.owner,
    )
    next_housekeeping = 0.0
    policy = DeliveryPolicy.from_settings(runtime.config.settings)
    while not stop.is_set():
        if time.monotonic() >= next_housekeeping:
            next_housekeeping = time.monotonic() + HOUSEKEEPING_SECONDS
            _housekeeping(runtime)
        try:
            poll_sources(runtime, due_only=True, stop=stop)
            delivery = deliver_all_due(
                runtime.db, notifiers, runtime.owner, stop=stop, policy=policy
            )
            if delivery.sent or delivery.failed or delivery.dead:
                log.info(
                    "alerts: %d sent, %d failed, %d dead",
                    delivery.sent,
                    delivery.failed,
                    delivery.dead,
                )
            # Quiet failure is a bug: a notifier failing too long is an ERROR every tick.
            alarm_failing_notifiers(
                runtime.db, runtime.config.settings.notifier_alarm_after, notifiers
            )
            if heartbeat is not None:
                heartbeat.touch()
        except MonitorError as exc:
            log.error("tick failed: %s", exc)
        except Exception:
            log.exception("tick failed unexpectedly; retrying at the next tick")
        stop.wait(TICK_SECONDS)
    log.info("monitor stopped")
