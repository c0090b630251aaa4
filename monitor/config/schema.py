"""The schema of sources.yaml (pydantic v2, frozen, unknown keys rejected) and the Config.

Sections live in their own modules (schema_sources, schema_rules,
schema_notifiers); this one holds settings, the gazetteer and the root.
Cross-references (a rule's notifier that does not exist...) are checked by
the loader, which knows the lines.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

import monitor
from monitor.config.durations import Duration, format_duration
from monitor.config.schema_base import (
    EmailAddress,
    Id,
    NonEmptyStr,
    ProxyUrl,
    StrictModel,
    config_error,
)
from monitor.config.schema_notifiers import IMPLIED_CONSOLE, Notifier, Port
from monitor.config.schema_rules import Rule, Stance
from monitor.config.schema_sources import Source

DEFAULT_USER_AGENT = f"monitor/{monitor.__version__} (statement monitor)"


def _time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise config_error(
            f"{name!r} is not a time zone (use an IANA name such as UTC or Asia/Baghdad)"
        ) from None
    return name


TimeZoneName = Annotated[str, AfterValidator(_time_zone)]


MAX_POLL_PROCESSES = 64


def _process_count(value: object) -> int | str:
    """A whole number of processes or ``auto``, in one message rather than one per branch."""
    if value == "auto":
        return "auto"
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_POLL_PROCESSES:
        return value
    raise ValueError(
        f"must be auto or a whole number from 1 to {MAX_POLL_PROCESSES}, got {value!r}"
    )


class Settings(StrictModel):
    database_url: str | None = None  # None: the store's default; $MONITOR_DATABASE_URL wins
    timezone: TimeZoneName = "UTC"  # for display only; everything is stored in UTC
    default_interval: Duration = timedelta(minutes=5)
    user_agent: NonEmptyStr = DEFAULT_USER_AGENT
    proxy: ProxyUrl | None = None
    health_port: Port | None = None  # None: no /healthz, /readyz, /metrics
    http_timeout: Duration = timedelta(seconds=30)
    http_retries: int = Field(2, ge=0, le=10)  # extra attempts on timeouts, 5xx and 429
    max_connections: int = Field(32, ge=1)  # open connections, all hosts together
    per_host_connections: int = Field(4, ge=1)  # requests in flight to one host
    per_host_delay: float = Field(0.5, ge=0, le=60)  # seconds between two requests to a host
    raw_retention: Duration = timedelta(days=90)  # fetched bodies kept as evidence
    max_response_bytes: int = Field(10_000_000, gt=0)
    email_from: EmailAddress | None = None
    email_reply_to: EmailAddress | None = None
    # A statement first seen longer than this after it was published (a new
    # source's backlog, a late backfill) is stored and matched but not alerted.
    alert_max_age: Duration = timedelta(days=2)
    # Waits between delivery attempts (each ±20% jitter); after the last one the alert is dead.
    alert_retry_schedule: list[Duration] = Field(
        default_factory=lambda: [
            timedelta(seconds=30),
            timedelta(minutes=2),
            timedelta(minutes=10),
            timedelta(hours=1),
            timedelta(hours=6),
        ],
        min_length=1,
    )
    alert_claim_lease: Duration = timedelta(minutes=2)  # how long a claimed alert stays claimed
    notifier_alarm_after: Duration = timedelta(minutes=30)  # failing this long: an ERROR a tick
    # The daemon's scheduling (see the README's "Running several replicas").
    max_concurrent_polls: int = Field(16, ge=1, le=1000)  # polls in flight, all hosts together
    # `run --once`: processes sharing the sources (Python runs one thread at a time per
    # process, and a poll's parsing and analysis are CPU work); auto: one per CPU.
    poll_processes: Annotated[int | Literal["auto"], BeforeValidator(_process_count)] = "auto"
    poll_timeout: Duration = timedelta(minutes=2)  # hard deadline of one poll, all requests in
    poll_lease: Duration = timedelta(minutes=5)  # a claimed source stays claimed this long
    interval_jitter: float = Field(0.1, ge=0, le=0.5)  # each next poll moves by up to ±10%
    shutdown_grace: Duration = timedelta(seconds=30)  # SIGTERM: in-flight work may finish
    fetch_run_retention: Duration = timedelta(days=90)  # poll history kept for `sources list`
    log_format: Literal["auto", "text", "json"] = "auto"  # auto: JSON unless on a terminal
    stance_scorer: Literal["lexicon", "embedding"] = "lexicon"
    stance_model: str | None = None  # a sentence-embedding model folder; None: the packaged one

    @model_validator(mode="after")
    def _lease_outlives_a_poll(self) -> Settings:
        # A lease shorter than a poll could be taken over while the poll still runs.
        if self.poll_lease <= self.poll_timeout:
            raise config_error(
                f"poll_lease ({format_duration(self.poll_lease)}) must be longer than "
                f"poll_timeout ({format_duration(self.poll_timeout)}): a source must stay "
                "claimed while it is polled"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Organization(StrictModel):
    id: Id
    name: NonEmptyStr
    aliases: list[NonEmptyStr] = Field(default_factory=list)


class Leader(StrictModel):
    id: Id
    name: NonEmptyStr
    # Every transliteration and Arabic form analysts expect to count as this leader.
    aliases: list[NonEmptyStr] = Field(default_factory=list)
    organization: str | None = None


class ConfigDocument(StrictModel):
    """Exactly the keys a sources.yaml may have at its top level."""

    settings: Settings = Field(default_factory=Settings)
    organizations: list[Organization] = Field(default_factory=list)
    leaders: list[Leader] = Field(default_factory=list)
    groups: dict[Id, Annotated[list[str], Field(min_length=1)]] = Field(default_factory=dict)
    sources: list[Source] = Field(default_factory=list)
    stances: dict[Id, Stance] = Field(default_factory=dict)
    rules: list[Rule] = Field(default_factory=list)
    notifiers: list[Notifier] = Field(default_factory=list)

    @field_validator("notifiers")
    @classmethod
    def _imply_console(cls, notifiers: list[Notifier]) -> list[Notifier]:
        # A rule's default `notify: [console]` must always resolve.
        if any(notifier.id == IMPLIED_CONSOLE.id for notifier in notifiers):
            return notifiers
        return [*notifiers, IMPLIED_CONSOLE]


class Config(ConfigDocument):
    """A loaded, valid configuration: the document plus where it came from."""

    path: Path | None = None

    def leader(self, leader_id: str) -> Leader | None:
        return next((leader for leader in self.leaders if leader.id == leader_id), None)

    def organization(self, organization_id: str) -> Organization | None:
        return next((org for org in self.organizations if org.id == organization_id), None)

    def source(self, source_id: str) -> Source | None:
        return next((source for source in self.sources if source.id == source_id), None)

    def all_notifiers(self) -> list[Notifier]:
        """Every notifier, the implied `console` included (it is in ``notifiers`` too)."""
        return list(self.notifiers)

    def notifier(self, notifier_id: str) -> Notifier | None:
        return next((n for n in self.notifiers if n.id == notifier_id), None)

    def rule(self, rule_id: str) -> Rule | None:
        return next((rule for rule in self.rules if rule.id == rule_id), None)

    def group_members(self, group_id: str) -> list[str]:
        """The leader and organization ids of a group; empty for an unknown group."""
        return list(self.groups.get(group_id, []))

    def interval_of(self, source: Source) -> timedelta:
        return source.interval or self.settings.default_interval

    def enabled_sources(self) -> list[Source]:
        return [source for source in self.sources if source.enabled]
