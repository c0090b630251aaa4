"""The daemon's Prometheus metrics, in a registry of its own (one per daemon).

Counters are bumped by the daemon as work happens; the gauges that describe
the database (alerts by status, due sources, leases) are refreshed from it by
a scheduled job, so a scrape never waits on the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, or_, select

from monitor.pipeline import PollReport
from monitor.store.models import Alert, SourceState
from monitor.store.session import Database

ALERT_STATUSES = ("pending", "sent", "failed", "dead")
# Fetch latencies run from a 304 on loopback (ms) to a slow site's pages (a minute).
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.polls = Counter("monitor_polls", "Polls finished, by outcome.", ["status"], registry=r)
        self.poll_failures = Counter(
            "monitor_poll_failures", "Polls that failed, by source kind.", ["kind"], registry=r
        )
        self.statements = Counter(
            "monitor_statements",
            "Statements changed by polls: new, edited, deleted.",
            ["change"],
            registry=r,
        )
        self.matches = Counter("monitor_matches", "Rule matches recorded.", registry=r)
        self.alerts_created = Counter(
            "monitor_alerts_created", "Alerts written to the outbox.", registry=r
        )
        self.deliveries = Counter(
            "monitor_alert_deliveries",
            "Alert delivery outcomes: sent, failed (to be retried), dead.",
            ["outcome"],
            registry=r,
        )
        self.fetch_seconds = Histogram(
            "monitor_poll_duration_seconds",
            "Wall time of one poll (fetch, parse, store, match), by source kind.",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.alerts = Gauge(
            "monitor_alerts", "Alerts in the outbox, by status.", ["status"], registry=r
        )
        self.queue_depth = Gauge(
            "monitor_sources_due",
            "Enabled sources due for a poll and not claimed by any replica.",
            registry=r,
        )
        self.alerts_due = Gauge(
            "monitor_alerts_due", "Pending alerts whose next attempt is due.", registry=r
        )
        self.leases = Gauge(
            "monitor_source_leases",
            "Sources claimed right now: by this process (mine) and by all replicas (all).",
            ["holder"],
            registry=r,
        )
        self.in_flight = Gauge(
            "monitor_polls_in_flight", "Polls running in this process.", registry=r
        )
        self.sources = Gauge("monitor_sources_enabled", "Enabled sources.", registry=r)
        self.last_tick = Gauge(
            "monitor_last_tick_timestamp_seconds",
            "When the scheduler last ran its tick (Unix time).",
            registry=r,
        )
        self.database_up = Gauge(
            "monitor_database_up", "1 if the last database check succeeded.", registry=r
        )
        self.reloads = Counter(
            "monitor_config_reloads", "Config reloads, by outcome.", ["outcome"], registry=r
        )
        for status in ("ok", "not_modified", "error"):
            self.polls.labels(status)
        for outcome in ("sent", "failed", "dead"):
            self.deliveries.labels(outcome)
        for change in ("new", "edited", "deleted"):
            self.statements.labels(change)

    def record_poll(self, report: PollReport) -> None:
        self.polls.labels(report.status).inc()
        kind = report.kind or "unknown"
        if report.status == "error":
            self.poll_failures.labels(kind).inc()
        self.fetch_seconds.labels(kind).observe(report.seconds)
        self.statements.labels("new").inc(report.new)
        self.statements.labels("edited").inc(report.edited)
        self.statements.labels("deleted").inc(report.deleted)
        self.matches.inc(report.matches)
        self.alerts_created.inc(report.alerts)

    def record_delivery(self, sent: int, failed: int, dead: int) -> None:
        self.deliveries.labels("sent").inc(sent)
        self.deliveries.labels("failed").inc(failed)
        self.deliveries.labels("dead").inc(dead)

    def refresh_from(self, db: Database, owner: str, enabled: list[str], now: datetime) -> None:
        """Read the gauges that describe shared state (all replicas) off the database."""
        with db.read() as session:
            counts = dict(
                session.execute(select(Alert.status, func.count()).group_by(Alert.status)).all()
            )
            due_alerts = session.scalar(
                select(func.count())
                .select_from(Alert)
                .where(Alert.status == "pending", Alert.next_attempt_at <= now)
            )
            leased = SourceState.lease_until > now
            mine = session.scalar(
                select(func.count())
                .select_from(SourceState)
                .where(leased, SourceState.lease_owner == owner)
            )
            held = session.scalar(select(func.count()).select_from(SourceState).where(leased))
            due = session.scalar(
                select(func.count())
                .select_from(SourceState)
                .where(
                    SourceState.id.in_(enabled),
                    SourceState.next_poll_at <= now,
                    or_(SourceState.lease_until.is_(None), SourceState.lease_until <= now),
                )
            )
        for status in ALERT_STATUSES:
            self.alerts.labels(status).set(counts.get(status, 0))
        self.alerts_due.set(due_alerts or 0)
        self.leases.labels("mine").set(mine or 0)
        self.leases.labels("all").set(held or 0)
        self.queue_depth.set(due or 0)
        self.sources.set(len(enabled))
