"""The long-running daemon: APScheduler (3.x, asyncio) drives jobs over a schedule
that lives in the database.

Each source's next poll time is a row (``sources.next_poll_at``); the ``tick``
job claims due sources with a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL),
so replicas share them, and a replica that dies has its leases run out and
taken over. Polls run on a bounded thread pool (fetching and the database are
blocking code), at most ``max_concurrent_polls`` at once and at most
``per_host_connections`` per host, each with a hard deadline
(``poll_timeout``) on every request it makes. Delivery, notifier alarms,
metrics and housekeeping are jobs too. SIGHUP (or a change of the config
file) reloads the config; SIGTERM/SIGINT stop taking work, let in-flight work
finish within ``shutdown_grace``, release what this process holds, and return.

Every job catches everything: a database outage or a bug in one poll is
logged and retried at the next run, never the end of the daemon.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import or_, select, text, update

from monitor.config import Config, Source, load_config
from monitor.daemon import build_runtime, guarded_poll, http_settings
from monitor.notify.attempts import DeliveryPolicy
from monitor.notify.base import Notifier
from monitor.notify.health import alarm_failing_notifiers
from monitor.notify.outbox import deliver_all_due
from monitor.notify.registry import build_notifiers, close_notifiers
from monitor.ops.health import HealthServer, HealthState
from monitor.ops.logs import configure_daemon_logging
from monitor.ops.metrics import Metrics
from monitor.pipeline import PollReport, Runtime, claim_sources, sync_sources
from monitor.sources.base import FetchState
from monitor.sources.registry import host_of
from monitor.store.housekeeping import prune_fetch_runs, prune_raw_responses
from monitor.store.models import Alert, SourceState, utcnow
from monitor.store.session import Database

log = logging.getLogger(__name__)

T = TypeVar("T")

TICK_SECONDS = 1.0
DELIVER_SECONDS = 2.0
ALARM_SECONDS = 60.0
METRICS_SECONDS = 5.0
WATCH_SECONDS = 2.0
HOUSEKEEPING_SECONDS = 3600.0
LIVENESS_STALE_SECONDS = 60.0  # /healthz fails when the tick has not run for this long


class Daemon:
    def __init__(
        self,
        config: Config,
        db: Database,
        *,
        heartbeat: Path | None = None,
        health_port: int | None = None,
    ) -> None:
        self.config = config
        self.db = db
        self.runtime: Runtime = build_runtime(config, db)
        self.notifiers: dict[str, Notifier] = build_notifiers(config)
        self.heartbeat = heartbeat
        self.metrics = Metrics()
        self.health = HealthState(self.metrics, self._ping_database, LIVENESS_STALE_SECONDS)
        port = health_port if health_port is not None else config.settings.health_port
        self.health_server = HealthServer(self.health, port) if port else None
        workers = config.settings.max_concurrent_polls
        self.slots = workers  # fixed at start, like the pool (a reload does not resize it)
        self.polls = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll")
        # Delivery on one thread: alerts go out in order, and a reload's old
        # notifiers are closed there, after the delivery that may still use them.
        self.delivery = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deliver")
        self.chores = ThreadPoolExecutor(max_workers=2, thread_name_prefix="db")
        self.in_flight: dict[str, asyncio.Future[PollReport]] = {}
        # A claim under way (a tick's or a refill's): one at a time, or two could both
        # count the same free slots and claim more sources than there are slots.
        self._claiming: asyncio.Future[Any] | None = None
        # What the last claim left due (see _refill): finished polls claim those,
        # not the next tick, so a replica polls as many sources a second as its
        # polls allow, not max_concurrent_polls (or per_host_connections) a tick.
        self._left_due = LeftDue()
        self._reached_database = False  # a claim did since the heartbeat was last touched
        self.per_host: Counter[str] = Counter()
        self.stop_requested = threading.Event()  # also read by delivery threads
        self._stopping: asyncio.Event | None = None
        self._reload_requested = False
        self._config_mtime = self._mtime()
        self._delivering: asyncio.Future[None] | None = None
        # Held by a claim and by the release at shutdown, so a claim whose tick was
        # cancelled (the scheduler's shutdown cancels running jobs, not their threads)
        # is released after it commits, never before; and none starts after a stop.
        self._claim_lock = threading.Lock()
        self._closing: set[asyncio.Future[None]] = set()  # old HTTP clients after a reload

    # ---- running -------------------------------------------------------------

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop, signum)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        if self.health_server:
            self.health_server.start()
        await self._in_thread(self.chores, sync_sources, self.db, self.config)
        log.info(
            "monitor running: %d enabled sources, %d rules, owner %s",
            len(self.config.enabled_sources()),
            len(self.runtime.rules.rules),
            self.runtime.owner,
        )
        scheduler = AsyncIOScheduler(event_loop=loop, timezone="UTC")
        jobs: list[tuple[Callable[[], Any], float]] = [
            (self.tick, TICK_SECONDS),
            (self.deliver, DELIVER_SECONDS),
            (self.alarm, ALARM_SECONDS),
            (self.refresh_metrics, METRICS_SECONDS),
            (self.watch_config, WATCH_SECONDS),
            (self.housekeeping, HOUSEKEEPING_SECONDS),
        ]
        now = utcnow()
        for job, seconds in jobs:
            # coalesce + one instance: a job that overran is not run twice to catch up.
            scheduler.add_job(
                job,
                "interval",
                seconds=seconds,
                next_run_time=now,
                max_instances=1,
                coalesce=True,
                misfire_grace_time=None,
                id=job.__name__,
            )
        scheduler.start()
        try:
            await self._stopping.wait()
        finally:
            scheduler.shutdown(wait=False)
            await self._shut_down()

    def request_stop(self, signum: int | None = None) -> None:
        if self._stopping is None or self._stopping.is_set():
            return
        name = signal.Signals(signum).name if signum else "stop"
        log.info(
            "%s: stopping; in-flight work has %s to finish",
            name,
            self.config.settings.shutdown_grace,
        )
        self.stop_requested.set()
        self.health.stopping = True
        self._stopping.set()

    def request_reload(self) -> None:
        log.info("SIGHUP: reloading the config")
        self._reload_requested = True

    async def _in_thread(self, pool: ThreadPoolExecutor, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)

    # ---- jobs ----------------------------------------------------------------

    async def tick(self) -> None:
        """Claim due sources for the free poll slots and start their polls."""
        self.health.ticked()
        if self._claiming is None:  # else a refill is claiming: the next tick looks again
            self._claiming = asyncio.current_task()
            try:
                started = await self._claim_and_start("tick")
            finally:
                self._claiming = None
            if started:
                self._refill()  # polls that ended during the claim
        # A claim of this tick's or of a refill's since the last tick: touched while a
        # backlog keeps refills claiming, as long as they reach the database.
        if self._reached_database and self.heartbeat is not None:
            self._reached_database = False
            try:
                self.heartbeat.touch()
            except OSError as exc:
                log.error("heartbeat file %s: %s", self.heartbeat, exc)

    async def _claim_and_start(self, by: str) -> int:
        """The number of polls started."""
        if self.stop_requested.is_set():
            return 0
        try:
            claimed, self._left_due = await self._in_thread(self.chores, self._claim)
        except Exception as exc:
            self._left_due = LeftDue()  # the database is failing: ticks retry, not polls
            log.error("%s: could not claim sources (retrying next tick): %s", by, _oneline(exc))
            return 0
        if self.stop_requested.is_set():
            return 0  # stopping meanwhile: _shut_down releases what was just claimed
        self._reached_database = True
        for source, fetch_state in claimed:
            self._start_poll(source, fetch_state)
        return len(claimed)

    def _refill(self) -> None:
        """Claim now, not at the next tick, when the last claim left sources due and
        what held them back has eased: half the slots are free again, or half the
        connections of a host that was at its per_host_connections (claims are
        batched: one query for several polls, not one per finished poll)."""
        if self._claiming is not None or self.stop_requested.is_set():
            return
        free = self.slots - len(self.in_flight)
        per_host = self.config.settings.per_host_connections
        if free > 0 and (
            (self._left_due.for_slots and free >= half(self.slots))
            or any(
                per_host - self.per_host[host] >= half(per_host)
                for host in self._left_due.for_hosts
            )
        ):
            self._claiming = asyncio.ensure_future(self._refill_now())

    async def _refill_now(self) -> None:
        try:
            started = await self._claim_and_start("refill")
        finally:
            self._claiming = None
        # Only after progress: a claim that got nothing (the due rows locked by another
        # transaction, SKIP LOCKED) leaves the rest to the next tick or finished poll.
        if started:
            self._refill()

    def _claim(self) -> tuple[list[tuple[Source, FetchState]], LeftDue]:
        with self._claim_lock:
            if self.stop_requested.is_set():
                return [], LeftDue()
            return self._claim_due()

    def _claim_due(self) -> tuple[list[tuple[Source, FetchState]], LeftDue]:
        """The sources claimed, and why due ones were left."""
        settings = self.config.settings
        free = self.slots - len(self.in_flight)
        if free <= 0:
            self._ping_database()  # the heartbeat says the database answers: it must
            return [], LeftDue(for_slots=True)  # whether any is due is not known: look
        enabled = {s.id: s for s in self.config.enabled_sources() if s.id not in self.in_flight}
        if not enabled:
            self._ping_database()
            return [], LeftDue()
        now = utcnow()
        with self.db.read() as session:
            due = list(
                session.scalars(
                    select(SourceState.id)
                    .where(
                        SourceState.id.in_(list(enabled)),
                        SourceState.next_poll_at <= now,
                        or_(SourceState.lease_until.is_(None), SourceState.lease_until < now),
                    )
                    # All due ids (cheap): the first ones may all be on a busy host.
                    .order_by(SourceState.next_poll_at, SourceState.id)
                )
            )
        # Per host: a host with its share of polls running waits; the others go on.
        room = Counter(self.per_host)
        wanted: list[str] = []
        crowded: set[str] = set()
        for source_id in due:
            if len(wanted) == free:
                left_due = LeftDue(for_slots=True, for_hosts=frozenset(crowded))
                break
            host = host_of(enabled[source_id])
            if room[host] < settings.per_host_connections:
                room[host] += 1
                wanted.append(source_id)
            else:
                crowded.add(host)
        else:
            left_due = LeftDue(for_hosts=frozenset(crowded))
        claimed = claim_sources(
            self.db, self.runtime.owner, wanted, due_only=True, lease=settings.poll_lease
        )
        polls = [(enabled[source_id], fetch_state) for source_id, fetch_state in claimed.items()]
        return polls, left_due

    def _start_poll(self, source: Source, fetch_state: FetchState) -> None:
        runtime = self.runtime  # a reload swaps it; this poll keeps the one it began with
        host = host_of(source)
        self.per_host[host] += 1
        self.metrics.in_flight.inc()
        deadline = self.config.settings.poll_timeout.total_seconds()

        def poll() -> PollReport:
            with runtime.http.poll_deadline(deadline):
                return guarded_poll(runtime, source, fetch_state)

        future = asyncio.get_running_loop().run_in_executor(self.polls, poll)
        self.in_flight[source.id] = future

        def done(finished: asyncio.Future[PollReport]) -> None:
            self.in_flight.pop(source.id, None)
            self.per_host[host] -= 1
            if self.per_host[host] <= 0:
                del self.per_host[host]
            self.metrics.in_flight.dec()
            if not finished.cancelled() and finished.exception() is None:
                self.metrics.record_poll(finished.result())
            self._refill()

        future.add_done_callback(done)

    async def deliver(self) -> None:
        notifiers, policy = self.notifiers, DeliveryPolicy.from_settings(self.config.settings)

        def work() -> None:
            report = deliver_all_due(
                self.db, notifiers, self.runtime.owner, stop=self.stop_requested, policy=policy
            )
            self.metrics.record_delivery(report.sent, report.failed, report.dead)
            if report.sent or report.failed or report.dead:
                log.info(
                    "alerts: %d sent, %d failed, %d dead", report.sent, report.failed, report.dead
                )

        if self.stop_requested.is_set():
            return
        self._delivering = asyncio.get_running_loop().run_in_executor(self.delivery, work)
        try:
            await self._delivering
        except Exception as exc:
            log.error("delivery failed (retrying in %gs): %s", DELIVER_SECONDS, _oneline(exc))

    async def alarm(self) -> None:
        # Quiet failure is a bug: a notifier failing too long is an ERROR every minute.
        try:
            await self._in_thread(
                self.chores,
                alarm_failing_notifiers,
                self.db,
                self.config.settings.notifier_alarm_after,
                self.notifiers,
            )
        except Exception as exc:
            log.error("notifier check failed: %s", _oneline(exc))

    async def refresh_metrics(self) -> None:
        enabled = [source.id for source in self.config.enabled_sources()]
        try:
            owner = self.runtime.owner
            refresh = self.metrics.refresh_from
            await self._in_thread(self.chores, refresh, self.db, owner, enabled, utcnow())
            self.metrics.database_up.set(1)
        except Exception as exc:
            self.metrics.database_up.set(0)
            log.error("metrics: database unreachable: %s", _oneline(exc))

    async def housekeeping(self) -> None:
        settings = self.config.settings
        try:
            bodies = await self._in_thread(
                self.chores, prune_raw_responses, self.db, settings.raw_retention
            )
            runs = await self._in_thread(
                self.chores, prune_fetch_runs, self.db, settings.fetch_run_retention
            )
        except Exception as exc:
            log.error("housekeeping failed (next run in an hour): %s", _oneline(exc))
            return
        if bodies or runs:
            log.info(
                "housekeeping: %d fetched bodies and %d poll records past retention removed",
                bodies,
                runs,
            )

    # ---- config reload -------------------------------------------------------

    def _mtime(self) -> float | None:
        path = self.config.path
        try:
            return path.stat().st_mtime if path else None
        except OSError:
            return None

    async def watch_config(self) -> None:
        mtime = self._mtime()
        changed = mtime is not None and mtime != self._config_mtime
        if not (changed or self._reload_requested):
            return
        self._reload_requested = False
        self._config_mtime = mtime
        await self.reload()

    async def reload(self) -> None:
        path = self.config.path
        if path is None:
            log.error("reload: the config was not read from a file; nothing to reload")
            return
        try:
            config = await self._in_thread(self.chores, load_config, path)
            await self._in_thread(self.chores, sync_sources, self.db, config)
        except Exception as exc:
            # A bad edit must not stop a daemon that was working: keep the old config.
            self.metrics.reloads.labels("error").inc()
            log.error("reload of %s refused, the running config stays: %s", path, exc)
            return
        old = self.config
        for key in ("database_url", "health_port", "max_concurrent_polls"):
            if getattr(old.settings, key) != getattr(config.settings, key):
                log.warning("reload: settings.%s changed; it takes effect on restart", key)
        self.config = config
        runtime = build_runtime(config, self.db)
        if http_settings(config) == http_settings(old):
            runtime.http.close()
            runtime = replace(runtime, http=self.runtime.http)
        else:
            # Closed once the polls that use it are done, not under their feet.
            polls_using_it = list(self.in_flight.values())
            old_http = self.runtime.http

            async def close_when_done() -> None:
                await asyncio.gather(*polls_using_it, return_exceptions=True)
                old_http.close()

            self._closing.add(asyncio.ensure_future(close_when_done()))
        self.runtime = replace(runtime, owner=self.runtime.owner)
        old_notifiers, self.notifiers = self.notifiers, build_notifiers(config)
        self.delivery.submit(close_notifiers, old_notifiers)
        configure_daemon_logging(config)
        self.metrics.reloads.labels("ok").inc()
        log.info(
            "config reloaded: %d enabled sources, %d rules, %d notifiers",
            len(config.enabled_sources()),
            len(self.runtime.rules.rules),
            len(self.notifiers),
        )

    # ---- stopping ------------------------------------------------------------

    async def _shut_down(self) -> None:
        # Also when run() was cancelled rather than asked to stop: no claim starts now.
        self.stop_requested.set()
        grace = self.config.settings.shutdown_grace.total_seconds()
        pending: list[asyncio.Future[Any]] = list(self.in_flight.values())
        if self._claiming is not None:
            pending.append(self._claiming)  # what it claims, the release below frees
        if self._delivering is not None and not self._delivering.done():
            pending.append(self._delivering)
        if pending:
            log.info("waiting up to %gs for %d polls/deliveries in flight", grace, len(pending))
            _, still = await asyncio.wait(pending, timeout=grace)
            if still:
                # No new request starts; those running end at their timeouts. Their
                # writes are refused once the leases below are released.
                self.runtime.http.cancelled.set()
                log.warning("%d polls did not finish within the grace period", len(still))
        # An alert still being sent stays claimed (its lease runs out): released, another
        # replica would send it a second time.
        sending = self._delivering is not None and not self._delivering.done()
        try:
            await self._in_thread(self.chores, self._release_everything, not sending)
        except Exception as exc:
            log.error("could not release leases (they run out by themselves): %s", _oneline(exc))
        if self.health_server:
            self.health_server.stop()
        for pool in (self.polls, self.delivery, self.chores):
            pool.shutdown(wait=False, cancel_futures=True)
        if not sending:  # a send under way keeps its notifier; the process exit ends both
            close_notifiers(self.notifiers)
        log.info("monitor stopped")

    def _release_everything(self, alerts_too: bool = True) -> None:
        """Leases of sources and claims of alerts held by this process: to others, now."""
        owner = self.runtime.owner
        released = 0
        with self._claim_lock, self.db.write() as session:
            sources = session.execute(
                update(SourceState)
                .where(SourceState.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )
            released += sources.rowcount  # type: ignore[attr-defined]
            if alerts_too:
                alerts = session.execute(
                    update(Alert)
                    .where(Alert.locked_by == owner, Alert.status == "pending")
                    .values(locked_by=None, locked_until=None)
                )
                released += alerts.rowcount  # type: ignore[attr-defined]
        if released:
            log.info("released %d source leases and alert claims", released)

    def unfinished_threads(self) -> bool:
        """Whether a poll or a delivery is still running (past the grace period)."""
        delivering = self._delivering is not None and not self._delivering.done()
        return delivering or any(not future.done() for future in self.in_flight.values())

    def _ping_database(self) -> None:
        with self.db.read() as session:
            session.execute(text("SELECT 1"))


def half(count: int) -> int:
    return max(1, count // 2)


@dataclass(frozen=True, slots=True)
class LeftDue:
    """Why a claim left due sources unclaimed: every slot taken, or hosts at their
    per_host_connections (a finished poll on one of those makes room)."""

    for_slots: bool = False
    for_hosts: frozenset[str] = frozenset()


def _oneline(error: BaseException) -> str:
    return " ".join(f"{type(error).__name__}: {error}".split())[:500]
