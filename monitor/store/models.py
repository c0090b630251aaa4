"""The database schema: typed SQLAlchemy 2 models.

Alembic owns the schema (monitor/alembic/versions); these models must match
the newest revision, which a test checks with Alembic's autogenerate diff.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no timezone type, so values are stored as naive UTC there and
    given their timezone back on the way out; naive input is refused so that
    local times can never slip in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given; monitor stores aware UTC times only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
    }


class SourceState(Base):
    """What the daemon knows about a configured source between polls.

    The config file is the truth for what a source is; this row holds only
    the schedule, the lease, HTTP validators and health.
    """

    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    next_poll_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    # What the poll depends on in the config (kind, address, proxy): when it
    # changes, validators and cursor belong to another address and are dropped.
    config_hash: Mapped[str | None] = mapped_column(String(64))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    cursor: Mapped[dict[str, Any] | None]
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Statement(Base):
    """One post of one source, stored once, with its current text."""

    __tablename__ = "statements"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id"),
        Index("ix_statements_published_at_id", "published_at", "id"),
        Index("ix_statements_source_id_sort_key", "source_id", "sort_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    external_id: Mapped[str] = mapped_column(String(500))
    url: Mapped[str | None] = mapped_column(Text)
    author: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    leader_id: Mapped[str | None] = mapped_column(String(100), index=True)
    organization_id: Mapped[str | None] = mapped_column(String(100), index=True)
    published_at: Mapped[datetime]
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    text: Mapped[str] = mapped_column(Text)
    # The text folded and tokenized for the full-text index, every word followed by
    # its forms without proclitics (monitor.store.search.search_text); ingest fills it.
    search_text: Mapped[str] = mapped_column(Text, server_default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(8))
    edited: Mapped[bool] = mapped_column(Boolean, default=False)
    deleted_at: Mapped[datetime | None]
    reply_to: Mapped[str | None] = mapped_column(Text)
    forwarded_from: Mapped[str | None] = mapped_column(Text)
    quote_of: Mapped[str | None] = mapped_column(Text)
    sort_key: Mapped[int | None] = mapped_column(BigInteger)
    mentions: Mapped[list[Any]] = mapped_column(default=list)
    stance: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="new", index=True)
    note: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[Any]] = mapped_column(default=list)

    versions: Mapped[list[StatementVersion]] = relationship(
        back_populates="statement", order_by="StatementVersion.version"
    )
    matches: Mapped[list[Match]] = relationship(back_populates="statement")


class StatementVersion(Base):
    """Every text a statement has had, the first one included."""

    __tablename__ = "statement_versions"
    __table_args__ = (UniqueConstraint("statement_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("statements.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The fetched body this version was read from (evidence); pruned after retention.
    raw_response_id: Mapped[int | None] = mapped_column(
        ForeignKey("raw_responses.id", ondelete="SET NULL"), index=True
    )

    statement: Mapped[Statement] = relationship(back_populates="versions")


class Match(Base):
    """A rule matched a statement; written with its alerts in one transaction."""

    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("rule_id", "statement_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rule_id: Mapped[str] = mapped_column(String(100), index=True)
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("statements.id", ondelete="CASCADE"), index=True
    )
    severity: Mapped[str] = mapped_column(String(10))
    # The version of the statement that matched: evidence spans index its text.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    statement: Mapped[Statement] = relationship(back_populates="matches")


class Alert(Base):
    """The outbox: one row per (rule, statement, notifier), delivered at least once."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("rule_id", "statement_id", "notifier_id"),
        Index("ix_alerts_status_next_attempt_at", "status", "next_attempt_at"),
    )

    # A globally unique, time-ordered id: it is the webhook-id and Message-ID,
    # so receivers fed by two installations must never see the same one twice.
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[str] = mapped_column(String(100))
    statement_id: Mapped[int] = mapped_column(
        ForeignKey("statements.id", ondelete="CASCADE"), index=True
    )
    notifier_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(100))
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]

    match: Mapped[Match] = relationship()
    statement: Mapped[Statement] = relationship()


class AlertAttempt(Base):
    """One delivery attempt of one alert: every error is kept, not only the last."""

    __tablename__ = "alert_attempts"
    __table_args__ = (
        Index("ix_alert_attempts_notifier_id_started_at", "notifier_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    notifier_id: Mapped[str] = mapped_column(String(100), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    outcome: Mapped[str] = mapped_column(String(10))  # sent | failed
    error: Mapped[str | None] = mapped_column(Text)
    # The message this attempt went out in: the alert's own id, or a digest's id
    # shared by every alert in it (throttles count messages, not alerts).
    message_id: Mapped[str | None] = mapped_column(String(100))


class FetchRun(Base):
    """One poll of one source: what came back and what it changed."""

    __tablename__ = "fetch_runs"
    __table_args__ = (Index("ix_fetch_runs_source_id_started_at", "source_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int | None] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer, default=0)
    posts_seen: Mapped[int] = mapped_column(Integer, default=0)
    new_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_count: Mapped[int] = mapped_column(Integer, default=0)
    deleted_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class RawResponse(Base):
    """A fetched body kept (zlib-compressed) as evidence for the posts it produced."""

    __tablename__ = "raw_responses"
    __table_args__ = (Index("ix_raw_responses_fetched_at", "fetched_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(Text)
    fetched_at: Mapped[datetime]
    size: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
