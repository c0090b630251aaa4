"""One poll of one source: fetch, parse, ingest, match, outbox — in that order.

Fetching happens outside any transaction. Everything a poll changes (new
statements, versions, matches, alerts, the source's validators and schedule,
the fetch run) is written in ONE transaction, so a crash leaves either all of
it or none of it.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from monitor.config import Config, Source
from monitor.errors import HTTPStatusError, MonitorError
from monitor.http import HttpClient
from monitor.ingest import Attribution, IngestResult, ingest
from monitor.notify.outbox import record_matches
from monitor.rules.engine import RuleSet, StatementFacts
from monitor.sources.base import FetchResult, Validators
from monitor.sources.registry import build_adapter
from monitor.store.dialect import insert_ignoring_conflicts
from monitor.store.models import FetchRun, SourceState, utcnow
from monitor.store.session import Database

POLL_LEASE = timedelta(minutes=10)
MAX_FAILURE_BACKOFF = timedelta(hours=6)


def new_owner_id() -> str:
    """Names this process in leases, so a replica only ever releases its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Runtime:
    config: Config
    db: Database
    http: HttpClient
    rules: RuleSet
    owner: str


@dataclass(frozen=True)
class PollReport:
    source_id: str
    status: str  # ok | not_modified | error
    new: int = 0
    edited: int = 0
    unchanged: int = 0
    alerts: int = 0
    http_status: int | None = None
    error: str | None = None
    seconds: float = 0.0


def sync_sources(db: Database, config: Config) -> None:
    """Give every configured source a state row; removed sources keep theirs (history)."""
    with db.write() as session:
        for source in config.sources:
            values = {"id": source.id, "kind": source.kind, "consecutive_failures": 0}
            session.execute(insert_ignoring_conflicts(session, SourceState, values, ["id"]))
            session.execute(
                update(SourceState)
                .where(SourceState.id == source.id, SourceState.kind != source.kind)
                .values(kind=source.kind)
            )


def claim_sources(
    db: Database, owner: str, source_ids: Iterable[str], *, due_only: bool = True
) -> list[str]:
    """Lease the given sources that no one else holds (and that are due, if asked)."""
    now = utcnow()
    ids = list(source_ids)
    if not ids:
        return []
    with db.write() as session:
        query = select(SourceState.id).where(
            SourceState.id.in_(ids),
            or_(SourceState.lease_until.is_(None), SourceState.lease_until < now),
        )
        if due_only:
            query = query.where(SourceState.next_poll_at <= now)
        claimed = list(
            session.scalars(
                query.order_by(SourceState.next_poll_at).with_for_update(skip_locked=True)
            )
        )
        if claimed:
            session.execute(
                update(SourceState)
                .where(SourceState.id.in_(claimed))
                .values(lease_owner=owner, lease_until=now + POLL_LEASE)
            )
    return claimed


def attribution_of(config: Config, source: Source) -> Attribution:
    organization = source.organization
    if organization is None and source.leader is not None:
        leader = config.leader(source.leader)
        organization = leader.organization if leader else None
    return Attribution(
        source_id=source.id,
        leader_id=source.leader,
        organization_id=organization,
        language=source.language,
    )


def poll_source(runtime: Runtime, source: Source) -> PollReport:
    started_at = utcnow()
    clock = time.monotonic()
    with runtime.db.read() as session:
        state = session.get_one(SourceState, source.id)
        validators = Validators(state.etag, state.last_modified)
    try:
        fetched = build_adapter(source).fetch(runtime.http, validators)
    except MonitorError as exc:
        return record_failure(runtime, source, started_at, clock, exc)
    with runtime.db.write() as session:
        result = ingest(session, attribution_of(runtime.config, source), fetched.posts, started_at)
        alerts = _match_changed(session, runtime, result, started_at)
        state = session.get_one(SourceState, source.id, with_for_update=True)
        _schedule_success(state, fetched, runtime.config.interval_of(source), runtime.owner)
        session.add(_fetch_run(source.id, started_at, fetched, result))
    return PollReport(
        source_id=source.id,
        status="not_modified" if fetched.not_modified else "ok",
        new=len(result.new),
        edited=len(result.edited),
        unchanged=result.unchanged,
        alerts=alerts,
        http_status=fetched.http_status,
        seconds=time.monotonic() - clock,
    )


def _match_changed(session: Session, runtime: Runtime, result: IngestResult, now: datetime) -> int:
    alerts = 0
    for statement in result.changed:
        facts = StatementFacts(
            text=statement.text,
            source_id=statement.source_id,
            leader_id=statement.leader_id,
            organization_id=statement.organization_id,
            language=statement.language,
        )
        matches = runtime.rules.evaluate(facts)
        if matches:
            alerts += record_matches(session, statement, matches, now)
    return alerts


def _schedule_success(
    state: SourceState, fetched: FetchResult, interval: timedelta, owner: str
) -> None:
    now = utcnow()
    state.etag = fetched.validators.etag
    state.last_modified = fetched.validators.last_modified
    state.last_attempt_at = now
    state.last_success_at = now
    state.consecutive_failures = 0
    state.next_poll_at = now + interval
    _release(state, owner)


def _release(state: SourceState, owner: str) -> None:
    if state.lease_owner == owner:
        state.lease_owner = None
        state.lease_until = None


def _fetch_run(
    source_id: str, started_at: datetime, fetched: FetchResult, result: IngestResult
) -> FetchRun:
    return FetchRun(
        source_id=source_id,
        started_at=started_at,
        finished_at=utcnow(),
        status="not_modified" if fetched.not_modified else "ok",
        http_status=fetched.http_status,
        bytes=fetched.bytes_read,
        posts_seen=len(fetched.posts),
        new_count=len(result.new),
        updated_count=len(result.edited),
    )


def failure_backoff(interval: timedelta, failures: int) -> timedelta:
    delay: timedelta = interval * 2 ** max(failures - 1, 0)
    return min(delay, max(MAX_FAILURE_BACKOFF, interval))


def record_failure(
    runtime: Runtime, source: Source, started_at: datetime, clock: float, error: Exception
) -> PollReport:
    """Note the error on the source and in a fetch run, and back off exponentially."""
    http_status = error.status if isinstance(error, HTTPStatusError) else None
    now = utcnow()
    with runtime.db.write() as session:
        state = session.get_one(SourceState, source.id, with_for_update=True)
        state.consecutive_failures += 1
        state.last_attempt_at = now
        state.last_error = str(error)
        state.last_error_at = now
        delay = failure_backoff(runtime.config.interval_of(source), state.consecutive_failures)
        if isinstance(error, HTTPStatusError) and error.retry_after is not None:
            delay = max(delay, timedelta(seconds=error.retry_after))
        state.next_poll_at = now + delay
        _release(state, runtime.owner)
        session.add(
            FetchRun(
                source_id=source.id,
                started_at=started_at,
                finished_at=now,
                status="error",
                http_status=http_status,
                error=str(error),
            )
        )
    return PollReport(
        source_id=source.id,
        status="error",
        http_status=http_status,
        error=str(error),
        seconds=time.monotonic() - clock,
    )
