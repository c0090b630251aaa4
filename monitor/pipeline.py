"""One poll of one source: fetch, parse, ingest, match, outbox — in that order.

Fetching happens outside any transaction. Everything a poll changes (new
statements, versions, deletions, evidence, matches, alerts, the source's
validators, cursor and schedule, the fetch run) is written in ONE
transaction, so a crash leaves either all of it or none of it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Integer, Select, Table, Update, bindparam, or_, select, update
from sqlalchemy.orm import Session

from monitor.config import Config, Settings, Source
from monitor.errors import HTTPStatusError, MonitorError, StoreError
from monitor.http import HttpClient
from monitor.ingest import (
    Attribution,
    Evidence,
    IngestResult,
    NewStatement,
    compress_evidence,
    content_hash,
    ingest,
    language_code,
    mark_deleted,
    storable_id,
)
from monitor.notify.outbox import record_matches
from monitor.rules.analysis import Analysis, Analyzer
from monitor.rules.engine import Prejudged, RuleSet
from monitor.rules.stance import scores_to_json
from monitor.sources.base import FetchResult, FetchState, Post, Validators
from monitor.sources.registry import build_adapter
from monitor.store.dialect import insert_ignoring_conflicts
from monitor.store.history import StoreHistory
from monitor.store.models import FetchRun, SourceState, Statement, utcnow
from monitor.store.queries import known_hashes
from monitor.store.search import search_text
from monitor.store.session import Database

POLL_LEASE = timedelta(minutes=10)
MAX_FAILURE_BACKOFF = timedelta(hours=6)
# Keys that change when and how a source is scheduled or attributed, not what is fetched.
_NOT_FETCH_KEYS = {
    "id",
    "leader",
    "organization",
    "interval",
    "language",
    "enabled",
    "detect_deletions",
}


log = logging.getLogger(__name__)

_SOURCES = cast(Table, SourceState.__table__)
_FETCH_RUNS = cast(Table, FetchRun.__table__)


class LeaseLost(StoreError):
    """Another process holds the source now: this poll's results are not written."""


def new_owner_id() -> str:
    """Names this process in leases, so a replica only ever releases its own."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Runtime:
    config: Config
    db: Database
    http: HttpClient
    rules: RuleSet
    analyzer: Analyzer
    owner: str
    # Set: polls that find nothing to store are written in batches (see QuietPolls).
    quiet: QuietPolls | None = None


@dataclass(frozen=True)
class PollReport:
    source_id: str
    status: str  # ok | not_modified | error
    kind: str = ""
    new: int = 0
    edited: int = 0
    deleted: int = 0
    unchanged: int = 0
    matches: int = 0
    alerts: int = 0
    http_status: int | None = None
    error: str | None = None
    seconds: float = 0.0


def fetch_fingerprint(source: Source) -> str:
    """Changes when what is fetched changes (kind, address, proxy, selectors...)."""
    data = source.model_dump(mode="json", exclude=_NOT_FETCH_KEYS)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def sync_sources(db: Database, config: Config) -> None:
    """Bring the sources' state in line with the config.

    Every source gets a row (removed sources keep theirs: their statements
    refer to it). A source whose address changed starts afresh: validators and
    cursor of the old address would make the new one answer 304 or skip posts.
    A shorter interval takes effect now, not after the old one runs out.

    A few set-based statements, whatever the number of sources: the rows are
    read once, the missing ones inserted together, and only the rows that need
    it are updated. Every write keeps its condition in SQL (ON CONFLICT DO
    NOTHING, ``config_hash !=``, ``next_poll_at >``), so replicas syncing at
    once do what one after the other would.
    """
    rows_per_insert = 500  # six parameters a row: far below SQLite's and PostgreSQL's limits
    table = _SOURCES
    now = utcnow()
    wanted: dict[str, tuple[Source, str]] = {}
    for source in config.sources:
        wanted[source.id] = (source, fetch_fingerprint(source))
    with db.write() as session:
        existing = {
            row.id: (row.config_hash, row.next_poll_at)
            for row in session.execute(
                select(SourceState.id, SourceState.config_hash, SourceState.next_poll_at)
            )
        }
        missing = sorted(source_id for source_id in wanted if source_id not in existing)
        raced: list[str] = []  # inserted by another process since we read
        for start in range(0, len(missing), rows_per_insert):
            chunk = missing[start : start + rows_per_insert]
            rows = [
                {
                    "id": source_id,
                    "kind": wanted[source_id][0].kind,
                    "config_hash": wanted[source_id][1],
                }
                for source_id in chunk
            ]
            insert = insert_ignoring_conflicts(session, SourceState, rows, ["id"])
            inserted = set(session.scalars(insert.returning(SourceState.id)))
            raced.extend(source_id for source_id in chunk if source_id not in inserted)
        changed = sorted(
            [
                source_id
                for source_id, (config_hash, _) in existing.items()
                if source_id in wanted
                and config_hash is not None
                and config_hash != wanted[source_id][1]
            ]
            + raced
        )
        if changed:
            session.connection().execute(
                update(table)
                .where(
                    table.c.id == bindparam("source_id"),
                    table.c.config_hash != bindparam("fingerprint"),
                )
                .values(
                    kind=bindparam("new_kind"),
                    config_hash=bindparam("fingerprint"),
                    etag=None,
                    last_modified=None,
                    cursor=None,
                    consecutive_failures=0,
                    next_poll_at=now,
                ),
                [
                    {
                        "source_id": source_id,
                        "fingerprint": wanted[source_id][1],
                        "new_kind": wanted[source_id][0].kind,
                    }
                    for source_id in changed
                ],
            )
        later = []
        for source_id, (_, next_poll_at) in sorted(existing.items()):
            if source_id in wanted:
                soonest = now + config.interval_of(wanted[source_id][0])
                if next_poll_at > soonest:
                    later.append({"source_id": source_id, "soonest": soonest})
        if later:
            session.connection().execute(
                update(table)
                .where(
                    table.c.id == bindparam("source_id"),
                    table.c.next_poll_at > bindparam("soonest"),
                )
                .values(next_poll_at=bindparam("soonest")),
                later,
            )


@functools.cache
def _claim_query(due_only: bool, limited: bool) -> Select[tuple[str, str, str, Any]]:
    """Built once per variant: a poll cycle claims hundreds of times, and building a
    SQLAlchemy statement (and its cache key) costs more than running it."""
    table = _SOURCES
    query = select(table.c.id, table.c.etag, table.c.last_modified, table.c.cursor).where(
        table.c.id.in_(bindparam("ids", expanding=True)),
        or_(table.c.lease_until.is_(None), table.c.lease_until < bindparam("now")),
    )
    if due_only:
        query = query.where(table.c.next_poll_at <= bindparam("now"))
    query = query.order_by(table.c.next_poll_at, table.c.id)
    if limited:
        query = query.limit(bindparam("limit", type_=Integer))
    return query.with_for_update(skip_locked=True)


_TAKE_LEASES = (
    _SOURCES.update()
    .where(_SOURCES.c.id.in_(bindparam("ids", expanding=True)))
    .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"))
)


def claim_sources(
    db: Database,
    owner: str,
    source_ids: Iterable[str],
    *,
    due_only: bool = True,
    limit: int | None = None,
    lease: timedelta = POLL_LEASE,
) -> dict[str, FetchState]:
    """Lease up to ``limit`` of the given sources that no one else holds (and that
    are due); each with what its adapter left after its last poll, read in the
    claim's transaction, so the poll itself need not read the row again."""
    now = utcnow()
    ids = list(source_ids)
    if not ids:
        return {}
    with db.write() as session:
        connection = session.connection()
        rows = connection.execute(
            _claim_query(due_only, limit is not None), {"ids": ids, "now": now, "limit": limit}
        )
        claimed = {
            row.id: FetchState(Validators(row.etag, row.last_modified), row.cursor or {})
            for row in rows
        }
        if claimed:
            connection.execute(
                _TAKE_LEASES, {"ids": list(claimed), "owner": owner, "until": now + lease}
            )
    return claimed


def release_leases(db: Database, owner: str) -> int:
    """Hand every source ``owner`` holds to the others now; how many there were."""
    with db.write() as session:
        released = session.connection().execute(
            _SOURCES.update()
            .where(_SOURCES.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
    return released.rowcount


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


def _may_write(state: SourceState, runtime: Runtime, claimed: bool) -> bool:
    """A claimed poll writes only while its lease is its own (a lease that ran out and
    was taken, or released, is lost); an unclaimed one (tests, tools) unless another
    process holds the source."""
    if claimed:
        return state.lease_owner == runtime.owner
    return state.lease_owner in (None, runtime.owner)


def poll_source(
    runtime: Runtime,
    source: Source,
    *,
    claimed: bool = False,
    fetch_state: FetchState | None = None,
) -> PollReport:
    """``claimed``: the caller holds the source's lease (the daemon, `run --once`);
    ``fetch_state``: the state its claim read (else it is read here)."""
    started_at = utcnow()
    clock = time.monotonic()
    if fetch_state is None:
        with runtime.db.read() as session:
            state = session.get_one(SourceState, source.id)
            fetch_state = FetchState(
                Validators(state.etag, state.last_modified), state.cursor or {}
            )
    try:
        fetched = build_adapter(source).fetch(runtime.http, fetch_state)
    except MonitorError as exc:
        return record_failure(runtime, source, started_at, clock, exc, claimed=claimed)
    # Analysis is the costly part of a poll: done before the write transaction, so
    # the database is locked (SQLite: all of it) only for the writes themselves.
    attribution = attribution_of(runtime.config, source)
    analyses = _analyze_changed(runtime, source, attribution, fetched)
    interval = jittered(runtime.config.interval_of(source), runtime.config.settings)
    windows = fetched.windows if source.detect_deletions else ()
    result, deleted, matches, alerts = IngestResult(), 0, 0, 0
    if not fetched.posts and not windows and runtime.quiet is not None:
        # Nothing to store (a 304, an empty answer): only the source's schedule and
        # the fetch run, written together with those of other such polls.
        values = _success_values(source.id, fetched, interval, runtime)
        runtime.quiet.add(
            QuietPoll(values, _fetch_run(source.id, started_at, fetched, result, 0), claimed)
        )
    else:

        def write(session: Session) -> tuple[IngestResult, int, int, int]:
            # The source's row first, under the lease condition: it takes the row lock,
            # so whoever holds the lease writes and no one else meanwhile, and a lease
            # lost updates nothing (and all this poll wrote is rolled back).
            if not _schedule_success(session, source.id, fetched, interval, runtime, claimed):
                raise LeaseLost(
                    f"source {source.id}: the lease ran out during the poll "
                    f"({_lease_holder(session, source.id) or 'released'}); nothing written"
                )
            result, deleted, matches, alerts = IngestResult(), 0, 0, 0
            if fetched.posts or windows:  # not so after a 304
                evidence = Evidence(
                    session, source.id, fetched.responses, started_at, analyses.evidence
                )
                result = ingest(
                    session,
                    attribution,
                    fetched.posts,
                    started_at,
                    evidence,
                    analyses.described_as,
                )
                seen = [post.external_id for post in fetched.posts] + list(fetched.seen_ids)
                deleted = mark_deleted(session, source.id, windows, seen, started_at)
                matches, alerts = _match_changed(session, runtime, result, started_at, analyses)
            run = _fetch_run(source.id, started_at, fetched, result, deleted)
            session.connection().execute(_FETCH_RUNS.insert(), run)
            return result, deleted, matches, alerts

        result, deleted, matches, alerts = runtime.db.write_together(write)
    return PollReport(
        source_id=source.id,
        status="not_modified" if fetched.not_modified else "ok",
        new=len(result.new),
        edited=len(result.edited),
        deleted=deleted,
        unchanged=result.unchanged,
        matches=matches,
        alerts=alerts,
        http_status=fetched.http_status,
        seconds=time.monotonic() - clock,
        kind=source.kind,
    )


def _lease_holder(session: Session, source_id: str) -> str | None:
    return session.scalar(select(SourceState.lease_owner).where(SourceState.id == source_id))


@dataclass
class Analyses:
    """What a poll works out before its write transaction, for the posts that are new
    or changed since they were stored: their analyses, keyed by (text, language hint),
    their statement columns (see ingest's ``described_as``) by external id, and the
    fetched bodies they came from, compressed for storage as evidence."""

    by_key: dict[tuple[str, str | None], Analysis]
    by_id: dict[str, Analysis]  # by (storable) external id
    columns: dict[str, dict[str, Any]]  # by (storable) external id
    evidence: dict[int, bytes]
    # The rules each passed on its content, by (storable) external id.
    prejudged: dict[str, Prejudged] = field(default_factory=dict)

    def described_as(self, post: Post) -> dict[str, Any] | None:
        return self.columns.get(storable_id(post.external_id))

    def of(self, external_id: str, text: str) -> Analysis | None:
        """The analysis of the post stored as this statement, if its text is the one
        analyzed (another process may have stored another text meanwhile)."""
        analysis = self.by_id.get(external_id)
        return analysis if analysis is not None and analysis.doc.text == text else None


def _analysis_columns(analysis: Analysis, language: str | None) -> dict[str, Any]:
    return {
        "language": analysis.language or language,
        "mentions": [mention.to_json() for mention in analysis.mentions],
        "stance": scores_to_json(analysis.stance),
    }


def _analyze_changed(
    runtime: Runtime, source: Source, attribution: Attribution, fetched: FetchResult
) -> Analyses:
    """Analyze each post that is new or changed since it was stored, and compress the
    bodies they came from: CPU work done before the write transaction, so the database
    is locked (SQLite: all of it, for every process) only for the writes themselves."""
    analyses = Analyses({}, {}, {}, {})
    posts, responses = fetched.posts, fetched.responses
    if not posts:
        return analyses
    ids = [storable_id(post.external_id) for post in posts]
    with runtime.db.read() as session:
        known = known_hashes(session, source.id, ids)
    for external_id, post in zip(ids, posts, strict=True):
        if known.get(external_id) == content_hash(post):
            continue
        runtime.db.stand_aside_for_writer()
        hint = source.language or language_code(post.language)
        key = (post.text, hint)
        analysis = analyses.by_key.get(key)
        if analysis is None:
            analysis = analyses.by_key[key] = runtime.analyzer.analyze(post.text, hint)
        analyses.by_id[external_id] = analysis
        columns = _analysis_columns(analysis, hint)
        columns["search_text"] = search_text(post.text, post.title, analysis.doc.tokens)
        analyses.columns[external_id] = columns
        facts = analysis.facts(
            language=columns["language"],
            source_id=source.id,
            leader_id=attribution.leader_id,
            organization_id=attribution.organization_id,
        )
        analyses.prejudged[external_id] = runtime.rules.prejudge(facts, analysis.doc)
        index = post.response
        if index is not None and 0 <= index < len(responses) and index not in analyses.evidence:
            analyses.evidence[index] = compress_evidence(responses[index].body)
    return analyses


def _match_changed(
    session: Session,
    runtime: Runtime,
    result: IngestResult,
    now: datetime,
    analyses: Analyses | None = None,
) -> tuple[int, int]:
    """Analyze each new or edited statement (language, mentions, stance: stored on
    it), then match the rules; oldest first, so a stance shift within one poll is
    seen against the statement before it."""
    max_age = runtime.config.settings.alert_max_age
    new_ids = {statement.id for statement in result.new}
    history = StoreHistory(session)
    matched = alerts = 0
    for statement in sorted(result.changed, key=lambda s: (s.published_at, s.id)):
        analysis = analyses.of(statement.external_id, statement.text) if analyses else None
        prejudged = None
        if analysis is None:  # stored meanwhile by another process with another text
            analysis = runtime.analyzer.analyze(statement.text, statement.language)
        elif analyses is not None:
            prejudged = analyses.prejudged.get(statement.external_id)
        # A new statement was inserted with these already (see Analyses.described_as),
        # unless its analysis was not at hand: only what differs is written.
        columns = _analysis_columns(analysis, statement.language)
        changed = {
            name: value for name, value in columns.items() if getattr(statement, name) != value
        }
        if changed and isinstance(statement, NewStatement):
            session.execute(update(Statement).where(Statement.id == statement.id).values(changed))
            statement = replace(statement, **changed)
        elif changed:
            for name, value in changed.items():
                setattr(statement, name, value)
        # No flush here: the history queries of later statements autoflush, so a
        # poll's updates go out together instead of one UPDATE per statement.
        facts = analysis.facts(
            language=statement.language,
            source_id=statement.source_id,
            leader_id=statement.leader_id,
            organization_id=statement.organization_id,
            statement_id=statement.id,
            published_at=statement.published_at,
            reply_to=statement.reply_to,
            quote_of=statement.quote_of,
        )
        # Only the history conditions are left to check here, in the transaction,
        # unless the statement's stored facts differ from those prejudged with.
        matches = runtime.rules.evaluate(facts, analysis.doc, history, prejudged)
        if not matches:
            continue
        matched += len(matches)
        # Backlog (a new source's archive) is matched for the record, not alerted.
        backlog = statement.id in new_ids and now - statement.published_at > max_age
        version = result.versions[statement.id]
        alerts += record_matches(session, statement.id, version, matches, now, alert=not backlog)
    return matched, alerts


def jittered(interval: timedelta, settings: Settings) -> timedelta:
    """The interval moved by up to ±interval_jitter, so sources configured together
    do not stay in step (and replicas' polls spread out)."""
    spread = settings.interval_jitter
    return interval * random.uniform(1 - spread, 1 + spread) if spread else interval


def _schedule_success(
    session: Session,
    source_id: str,
    fetched: FetchResult,
    interval: timedelta,
    runtime: Runtime,
    claimed: bool,
) -> bool:
    """Note the success, schedule the next poll and release the lease, if the source
    is still ours to write (see _may_write); False, with nothing changed, if not."""
    values = _success_values(source_id, fetched, interval, runtime)
    # On the connection, not through the ORM: this runs once per poll, 304s included.
    updated = session.connection().execute(_success_update(claimed, "cursor" in values), values)
    return updated.rowcount > 0


def _success_values(
    source_id: str, fetched: FetchResult, interval: timedelta, runtime: Runtime
) -> dict[str, Any]:
    """The parameters of _success_update."""
    now = utcnow()
    values: dict[str, Any] = {
        "source_id": source_id,
        "owner": runtime.owner,
        "etag": fetched.validators.etag,
        "last_modified": fetched.validators.last_modified,
        "now": now,
        "next_poll_at": now + interval,
    }
    if fetched.cursor is not None:
        values["cursor"] = dict(fetched.cursor)
    return values


@dataclass(frozen=True)
class QuietPoll:
    """What a poll that found nothing to store writes: _success_update's parameters
    and its fetch run."""

    success: dict[str, Any]
    fetch_run: dict[str, object]
    claimed: bool


class QuietPolls:
    """Polls that found nothing to store, written together (``run --once``).

    Most polls of a cycle are 304s, and each written on its own is a transaction
    (on SQLite, a turn on the one write lock) for one row and one fetch run. These
    wait here for a batch, written in one transaction with the same rule as one
    poll: only a source whose lease is still ours is written. Until then the
    source stays leased; if the process dies first, the poll is simply repeated
    once the lease runs out (a 304 changes no statement).
    """

    def __init__(self, db: Database, batch: int = 64) -> None:
        self._db = db
        self._batch = batch
        self._pending: list[QuietPoll] = []
        self._lock = threading.Lock()

    def add(self, poll: QuietPoll) -> None:
        with self._lock:
            self._pending.append(poll)
            full = len(self._pending) >= self._batch
        if full:
            self.flush()

    def flush(self) -> None:
        """Write what waits; if the database fails, it waits for the next flush (and
        the poll that filled the batch is not blamed for it)."""
        with self._lock:
            polls, self._pending = self._pending, []
        if not polls:
            return
        try:
            self._write(polls)
        except Exception as exc:
            log.error(
                "could not record %d polls that found nothing new (retried at the next "
                "batch; else polled again when their leases run out): %s",
                len(polls),
                describe_error(exc),
            )
            with self._lock:
                self._pending[:0] = polls

    def _write(self, polls: list[QuietPoll]) -> None:
        with self._db.write() as session:
            connection = session.connection()
            groups: dict[tuple[bool, bool], list[QuietPoll]] = {}
            for poll in polls:
                groups.setdefault((poll.claimed, "cursor" in poll.success), []).append(poll)
            for (claimed, with_cursor), group in groups.items():
                ours = set(
                    connection.execute(
                        _ours_query(claimed),
                        {"ids": [poll.success["source_id"] for poll in group],
                         "owner": group[0].success["owner"]},
                    ).scalars()
                )  # fmt: skip
                kept = [poll for poll in group if poll.success["source_id"] in ours]
                for poll in group:
                    if poll.success["source_id"] not in ours:
                        log.warning(
                            "source %s: the lease ran out during the poll; nothing written",
                            poll.success["source_id"],
                        )
                if kept:
                    update = _success_update(claimed, with_cursor)
                    connection.execute(update, [poll.success for poll in kept])
                    connection.execute(_FETCH_RUNS.insert(), [poll.fetch_run for poll in kept])


@functools.cache
def _ours_query(claimed: bool) -> Select[tuple[str]]:
    """Which of the sources this process may write (see _may_write), their rows locked."""
    table = _SOURCES
    ours = table.c.lease_owner == bindparam("owner")
    return (
        select(table.c.id)
        .where(
            table.c.id.in_(bindparam("ids", expanding=True)),
            ours if claimed else or_(table.c.lease_owner.is_(None), ours),
        )
        .with_for_update()
    )


@functools.cache
def _success_update(claimed: bool, with_cursor: bool) -> Update:
    """Built once per variant (see _claim_query)."""
    table = _SOURCES
    owner = table.c.lease_owner
    ours = owner == bindparam("owner")
    values: dict[str, Any] = {
        "etag": bindparam("etag"),
        "last_modified": bindparam("last_modified"),
        "last_attempt_at": bindparam("now"),
        "last_success_at": bindparam("now"),
        "consecutive_failures": 0,
        "next_poll_at": bindparam("next_poll_at"),
        "lease_owner": None,
        "lease_until": None,
    }
    if with_cursor:
        values["cursor"] = bindparam("cursor", type_=table.c.cursor.type)
    return (
        table.update()
        .where(
            table.c.id == bindparam("source_id"),
            # _may_write, in SQL: the lease is ours (claimed), or nobody else's.
            ours if claimed else or_(owner.is_(None), ours),
        )
        .values(values)
    )


def _release(state: SourceState, owner: str) -> None:
    if state.lease_owner == owner:
        state.lease_owner = None
        state.lease_until = None


def _fetch_run(
    source_id: str,
    started_at: datetime,
    fetched: FetchResult,
    result: IngestResult,
    deleted: int,
) -> dict[str, object]:
    return {
        "source_id": source_id,
        "started_at": started_at,
        "finished_at": utcnow(),
        "status": "not_modified" if fetched.not_modified else "ok",
        "http_status": fetched.http_status,
        "bytes": fetched.bytes_read,
        "posts_seen": len(fetched.posts),
        "new_count": len(result.new),
        "updated_count": len(result.edited),
        "deleted_count": deleted,
    }


def failure_backoff(
    interval: timedelta, failures: int, retry_after: float | None = None
) -> timedelta:
    """interval, 2x, 4x ... capped at 6 hours (or the interval, if longer)."""
    cap = max(MAX_FAILURE_BACKOFF, interval)
    # The exponent is capped before multiplying: 2**40 intervals overflow timedelta.
    delay: timedelta = min(interval * 2 ** min(max(failures - 1, 0), 20), cap)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=min(retry_after, cap.total_seconds())))
    return delay


def describe_error(error: Exception, limit: int = 1000) -> str:
    """One line for logs and `last_error`: ours as they are, foreign ones with their type."""
    text = str(error) if isinstance(error, MonitorError) else f"{type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def record_failure(
    runtime: Runtime,
    source: Source,
    started_at: datetime,
    clock: float,
    error: Exception,
    *,
    claimed: bool = False,
) -> PollReport:
    """Note the error on the source and in a fetch run, and back off exponentially."""
    http_status = error.status if isinstance(error, HTTPStatusError) else None
    retry_after = error.retry_after if isinstance(error, HTTPStatusError) else None
    message = describe_error(error)
    lost = PollReport(source.id, "error", kind=source.kind, error=message)
    if runtime.http.cancelled.is_set():
        return lost  # cut short by a shutdown: not the source's failure
    now = utcnow()
    with runtime.db.write() as session:
        state = session.get_one(SourceState, source.id, with_for_update=True)
        if not _may_write(state, runtime, claimed):
            return lost  # another process has the source now: its schedule is its own
        state.consecutive_failures += 1
        state.last_attempt_at = now
        state.last_error = message
        state.last_error_at = now
        interval = runtime.config.interval_of(source)
        failures = state.consecutive_failures
        backoff = jittered(failure_backoff(interval, failures), runtime.config.settings)
        if retry_after is not None:
            # The server's Retry-After is a floor: the jitter must not undercut it.
            backoff = max(backoff, failure_backoff(interval, failures, retry_after))
        state.next_poll_at = now + backoff
        _release(state, runtime.owner)
        session.add(
            FetchRun(
                source_id=source.id,
                started_at=started_at,
                finished_at=now,
                status="error",
                http_status=http_status,
                error=message,
            )
        )
    return PollReport(
        source_id=source.id,
        status="error",
        kind=source.kind,
        http_status=http_status,
        error=message,
        seconds=time.monotonic() - clock,
    )
