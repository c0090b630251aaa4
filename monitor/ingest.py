"""Posts to statements: each stored once, edits kept as versions, deletions noted.

Runs inside the caller's write transaction. Safe against two processes
ingesting the same posts at once: the insert is ``ON CONFLICT DO NOTHING`` on
(source, external id) and an existing row is locked before it is compared,
so exactly one of them creates (or edits) a statement.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from monitor.sources.base import Post, RawResponse, Window
from monitor.store.dialect import insert_ignoring_conflicts
from monitor.store.models import RawResponse as RawResponseRow
from monitor.store.models import Statement, StatementVersion
from monitor.store.search import search_text

MAX_EXTERNAL_ID = 500
_RAW_RESPONSES = cast(Table, RawResponseRow.__table__)
_STATEMENTS = cast(Table, Statement.__table__)
_VERSIONS = cast(Table, StatementVersion.__table__)
# A post's analysis and search text as statement columns, if the caller has them.
DescribedAs = Callable[[Post], Mapping[str, object] | None]
_LANGUAGE = re.compile(r"[a-z]{2,3}")


@dataclass(frozen=True)
class Attribution:
    """Who speaks on a source, from the config."""

    source_id: str
    leader_id: str | None = None
    organization_id: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class NewStatement:
    """A statement this ingest created, as inserted: what matching and alerting read
    of it, without loading it back through the ORM (most of a first poll's cost
    under the database's write lock)."""

    id: int
    source_id: str
    external_id: str
    text: str
    title: str | None
    language: str | None
    leader_id: str | None
    organization_id: str | None
    published_at: datetime
    reply_to: str | None
    quote_of: str | None
    mentions: list[Any]
    stance: dict[str, Any]

    @classmethod
    def inserted(cls, new_id: int, row: Mapping[str, Any]) -> NewStatement:
        return cls(new_id, **{name: row[name] for name in _NEW_STATEMENT_COLUMNS})


_NEW_STATEMENT_COLUMNS = [name for name in NewStatement.__slots__ if name != "id"]


@dataclass
class IngestResult:
    new: list[NewStatement] = field(default_factory=list)
    edited: list[Statement] = field(default_factory=list)
    restored: int = 0  # shown again after having been marked deleted
    unchanged: int = 0
    versions: dict[int, int] = field(default_factory=dict)  # statement id -> version stored

    @property
    def changed(self) -> list[NewStatement | Statement]:
        return [*self.new, *self.edited]


class Evidence:
    """Stores a fetched body the first time a new or edited post needs it."""

    def __init__(
        self,
        session: Session,
        source_id: str,
        responses: Sequence[RawResponse],
        fetched_at: datetime,
        compressed: Mapping[int, bytes] | None = None,
    ) -> None:
        """``compressed``: bodies compressed already (see compress_evidence), by index."""
        self._session = session
        self._source_id = source_id
        self._responses = responses
        self._fetched_at = fetched_at
        self._compressed = compressed or {}
        self._stored: dict[int, int] = {}

    def id_for(self, post: Post) -> int | None:
        index = post.response
        if index is None or not 0 <= index < len(self._responses):
            return None
        if index not in self._stored:
            response = self._responses[index]
            body = self._compressed.get(index)
            if body is None:
                body = compress_evidence(response.body)
            row = {
                "source_id": self._source_id,
                "url": response.url,
                "status": response.status,
                "content_type": response.content_type,
                "fetched_at": self._fetched_at,
                "size": len(response.body),
                "body": body,
            }
            inserted = self._session.connection().execute(
                _RAW_RESPONSES.insert().returning(_RAW_RESPONSES.c.id), row
            )
            self._stored[index] = inserted.scalar_one()
        return self._stored[index]


def compress_evidence(body: bytes) -> bytes:
    """How a fetched body is kept; a caller may do it before its write transaction."""
    return zlib.compress(body, 6)


def content_hash(post: Post) -> str:
    return hashlib.sha256(f"{post.title or ''}\x00{post.text}".encode()).hexdigest()


def storable_id(external_id: str) -> str:
    """Ids past the column size are kept as their hash (stable, unique enough)."""
    if len(external_id) <= MAX_EXTERNAL_ID:
        return external_id
    return "sha256:" + hashlib.sha256(external_id.encode()).hexdigest()


def language_code(value: str | None) -> str | None:
    """A 2-3 letter code, or None for what a feed writes instead (`Portuguese`, `en_US`)."""
    if not value:
        return None
    code = value.strip().lower().replace("_", "-").split("-")[0]
    return code if _LANGUAGE.fullmatch(code) else None


class _Known(NamedTuple):
    content_hash: str
    deleted: bool


def ingest(
    session: Session,
    attribution: Attribution,
    posts: Sequence[Post],
    fetched_at: datetime,
    evidence: Evidence | None = None,
    described_as: DescribedAs | None = None,
) -> IngestResult:
    """``described_as``: a post's analysis (language, mentions, stance) and search
    text, where the caller worked them out already: stored with a new statement."""
    result = IngestResult()
    unique_posts = {storable_id(post.external_id): post for post in posts}  # later entry wins
    known = _known(session, attribution.source_id, list(unique_posts))
    fresh: dict[str, tuple[Post, str, int | None]] = {}
    changed: list[tuple[str, Post, str, int | None]] = []
    for external_id, post in unique_posts.items():
        digest = content_hash(post)
        seen = known.get(external_id)
        if seen is not None and seen.deleted:
            _restore(session, attribution.source_id, external_id)
            result.restored += 1
        if seen is not None and seen.content_hash == digest:
            result.unchanged += 1
            continue
        raw_id = evidence.id_for(post) if evidence else None
        if seen is None:
            fresh[external_id] = (post, digest, raw_id)
        else:
            changed.append((external_id, post, digest, raw_id))
    created = _insert_new(session, attribution, fresh, fetched_at, described_as)
    for statement in created:
        result.new.append(statement)
        result.versions[statement.id] = 1
    # Inserted meanwhile by another process: compared as an edit, like a known one.
    taken = {statement.external_id for statement in created}
    changed.extend(
        (external_id, post, digest, raw_id)
        for external_id, (post, digest, raw_id) in fresh.items()
        if external_id not in taken
    )
    for external_id, post, digest, raw_id in changed:
        edited = _apply_edit(
            session, attribution.source_id, external_id, post, digest, fetched_at, raw_id
        )
        if edited is None:
            result.unchanged += 1
        else:
            result.edited.append(edited)
            result.versions[edited.id] = _latest_version(session, edited.id)
    return result


# Built once (each poll runs them in its write transaction, where building a
# statement and its cache key costs more than running it).
_IN_WINDOW = select(Statement.id, Statement.external_id).where(
    Statement.source_id == bindparam("source_id"),
    Statement.sort_key.between(bindparam("low"), bindparam("high")),
    Statement.deleted_at.is_(None),
)
_KNOWN = select(Statement.external_id, Statement.content_hash, Statement.deleted_at).where(
    Statement.source_id == bindparam("source_id"),
    Statement.external_id.in_(bindparam("ids", expanding=True)),
)


def mark_deleted(
    session: Session,
    source_id: str,
    windows: Iterable[Window],
    seen_ids: Iterable[str],
    now: datetime,
) -> int:
    """Mark stored posts inside a fully seen window but absent from it as deleted."""
    seen = {storable_id(external_id) for external_id in seen_ids}
    gone: list[int] = []
    for window in windows:
        rows = session.execute(
            _IN_WINDOW, {"source_id": source_id, "low": window.low, "high": window.high}
        )
        gone.extend(row.id for row in rows if row.external_id not in seen)
    for start in range(0, len(gone), 500):
        session.execute(
            update(Statement)
            .where(Statement.id.in_(gone[start : start + 500]))
            .values(deleted_at=now)
        )
    return len(set(gone))


def _known(session: Session, source_id: str, external_ids: list[str]) -> dict[str, _Known]:
    known: dict[str, _Known] = {}
    for start in range(0, len(external_ids), 500):
        rows = session.execute(
            _KNOWN, {"source_id": source_id, "ids": external_ids[start : start + 500]}
        )
        known.update(
            {row.external_id: _Known(row.content_hash, row.deleted_at is not None) for row in rows}
        )
    return known


def _restore(session: Session, source_id: str, external_id: str) -> None:
    session.execute(
        update(Statement)
        .where(Statement.source_id == source_id, Statement.external_id == external_id)
        .values(deleted_at=None)
    )


def _insert_new(
    session: Session,
    attribution: Attribution,
    posts: dict[str, tuple[Post, str, int | None]],
    fetched_at: datetime,
    described_as: DescribedAs | None = None,
) -> list[NewStatement]:
    """Insert the statements (batched multi-row INSERTs, with their first versions)
    and return those created; a row another transaction inserted first is left out."""
    if not posts:
        return []
    rows = []
    for external_id, (post, digest, _) in posts.items():
        described = described_as(post) if described_as else None
        rows.append(
            _statement_values(attribution, external_id, post, digest, fetched_at, described)
        )
    # One executemany: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues")
    # from one compiled statement, the RETURNING rows in the order of the parameters.
    # On the connection: the ORM's bulk paths cost more than the statements here.
    table = _STATEMENTS
    connection = session.connection()
    statement = insert_ignoring_conflicts(
        session, table, None, ["source_id", "external_id"]
    ).returning(table.c.id, table.c.external_id, sort_by_parameter_order=True)
    new_ids: dict[str, int] = {
        external_id: new_id for new_id, external_id in connection.execute(statement, rows)
    }
    if not new_ids:
        return []
    connection.execute(
        _VERSIONS.insert(),
        [
            {
                "statement_id": new_id,
                "version": 1,
                "text": posts[external_id][0].text,
                "title": posts[external_id][0].title,
                "content_hash": posts[external_id][1],
                "seen_at": fetched_at,
                "raw_response_id": posts[external_id][2],
            }
            for external_id, new_id in new_ids.items()
        ],
    )
    by_external_id = {row["external_id"]: row for row in rows}
    return [
        NewStatement.inserted(new_id, by_external_id[external_id])
        for external_id, new_id in sorted(new_ids.items(), key=lambda item: item[1])
    ]


def _statement_values(
    attribution: Attribution,
    external_id: str,
    post: Post,
    digest: str,
    fetched_at: datetime,
    described: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "source_id": attribution.source_id,
        "external_id": external_id,
        "url": post.url,
        "author": post.author,
        "title": post.title,
        "leader_id": attribution.leader_id,
        "organization_id": attribution.organization_id,
        "published_at": post.published_at or fetched_at,
        "fetched_at": fetched_at,
        "updated_at": fetched_at,
        "text": post.text,
        "content_hash": digest,
        # The operator's hint beats what a feed declares (many CMSs say en-us for all).
        "language": attribution.language or language_code(post.language),
        "reply_to": post.reply_to,
        "forwarded_from": post.forwarded_from,
        "quote_of": post.quote_of,
        "sort_key": post.sort_key,
        "extra": dict(post.extra),
        "mentions": [],
        "stance": {},
        "tags": [],
    }
    if described:
        row.update(described)
    if "search_text" not in row:
        row["search_text"] = search_text(post.text, post.title)
    return row


def _apply_edit(
    session: Session,
    source_id: str,
    external_id: str,
    post: Post,
    digest: str,
    fetched_at: datetime,
    raw_id: int | None,
) -> Statement | None:
    """Record a changed text as a new version; None when nothing changed after all."""
    statement = session.execute(
        select(Statement)
        .where(Statement.source_id == source_id, Statement.external_id == external_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    if statement.content_hash == digest:
        return None  # another process recorded this very edit first
    session.add(
        StatementVersion(
            statement_id=statement.id,
            version=_latest_version(session, statement.id) + 1,
            text=post.text,
            title=post.title,
            content_hash=digest,
            seen_at=fetched_at,
            raw_response_id=raw_id,
        )
    )
    statement.text = post.text
    statement.title = post.title
    statement.search_text = search_text(post.text, post.title)
    statement.content_hash = digest
    statement.edited = True
    statement.updated_at = fetched_at
    statement.url = post.url or statement.url
    statement.extra = {**statement.extra, **post.extra}
    session.flush()
    return statement


def _latest_version(session: Session, statement_id: int) -> int:
    return session.execute(
        select(StatementVersion.version)
        .where(StatementVersion.statement_id == statement_id)
        .order_by(StatementVersion.version.desc())
        .limit(1)
    ).scalar_one()
