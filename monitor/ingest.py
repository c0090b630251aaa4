"""Posts to statements: each stored once, edits kept as versions, attributed.

Runs inside the caller's write transaction. Safe against two processes
ingesting the same posts at once: the insert is ``ON CONFLICT DO NOTHING`` on
(source, external id) and an existing row is locked before it is compared,
so exactly one of them creates (or edits) a statement.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from monitor.sources.base import Post
from monitor.store.dialect import insert_ignoring_conflicts
from monitor.store.models import Statement, StatementVersion


@dataclass(frozen=True)
class Attribution:
    """Who speaks on a source, from the config."""

    source_id: str
    leader_id: str | None = None
    organization_id: str | None = None
    language: str | None = None


@dataclass
class IngestResult:
    new: list[Statement] = field(default_factory=list)
    edited: list[Statement] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> list[Statement]:
        return [*self.new, *self.edited]


def content_hash(post: Post) -> str:
    return hashlib.sha256(f"{post.title or ''}\x00{post.text}".encode()).hexdigest()


def ingest(
    session: Session, attribution: Attribution, posts: Sequence[Post], fetched_at: datetime
) -> IngestResult:
    result = IngestResult()
    unique_posts = _last_of_each_id(posts)
    known = _known_hashes(session, attribution.source_id, list(unique_posts))
    for external_id, post in unique_posts.items():
        digest = content_hash(post)
        if known.get(external_id) == digest:
            result.unchanged += 1
            continue
        if external_id not in known:
            created = _insert_new(session, attribution, post, digest, fetched_at)
            if created is not None:
                result.new.append(created)
                continue
        edited = _apply_edit(session, attribution.source_id, post, digest, fetched_at)
        if edited is None:
            result.unchanged += 1
        else:
            result.edited.append(edited)
    return result


def _last_of_each_id(posts: Sequence[Post]) -> dict[str, Post]:
    # A feed listing one id twice is a publisher bug; the later entry wins.
    return {post.external_id: post for post in posts}


def _known_hashes(session: Session, source_id: str, external_ids: list[str]) -> dict[str, str]:
    known: dict[str, str] = {}
    for start in range(0, len(external_ids), 500):
        chunk = external_ids[start : start + 500]
        rows = session.execute(
            select(Statement.external_id, Statement.content_hash).where(
                Statement.source_id == source_id, Statement.external_id.in_(chunk)
            )
        )
        known.update({row.external_id: row.content_hash for row in rows})
    return known


def _insert_new(
    session: Session, attribution: Attribution, post: Post, digest: str, fetched_at: datetime
) -> Statement | None:
    """Insert the statement unless another transaction already did; None then."""
    values: dict[str, object] = {
        "source_id": attribution.source_id,
        "external_id": post.external_id,
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
        "language": post.language or attribution.language,
        "reply_to": post.reply_to,
        "forwarded_from": post.forwarded_from,
        "extra": dict(post.extra),
        "mentions": [],
        "stance": {},
        "tags": [],
    }
    new_id = session.execute(
        insert_ignoring_conflicts(
            session, Statement, values, ["source_id", "external_id"]
        ).returning(Statement.id)
    ).scalar_one_or_none()
    if new_id is None:
        return None
    session.execute(
        insert(StatementVersion).values(
            statement_id=new_id,
            version=1,
            text=post.text,
            title=post.title,
            content_hash=digest,
            seen_at=fetched_at,
        )
    )
    return session.get_one(Statement, new_id)


def _apply_edit(
    session: Session, source_id: str, post: Post, digest: str, fetched_at: datetime
) -> Statement | None:
    """Record a changed text as a new version; None when nothing changed after all."""
    statement = session.execute(
        select(Statement)
        .where(Statement.source_id == source_id, Statement.external_id == post.external_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    if statement.content_hash == digest:
        return None  # another process recorded this very edit first
    latest = session.execute(
        select(StatementVersion.version)
        .where(StatementVersion.statement_id == statement.id)
        .order_by(StatementVersion.version.desc())
        .limit(1)
    ).scalar_one()
    session.add(
        StatementVersion(
            statement_id=statement.id,
            version=latest + 1,
            text=post.text,
            title=post.title,
            content_hash=digest,
            seen_at=fetched_at,
        )
    )
    statement.text = post.text
    statement.title = post.title
    statement.content_hash = digest
    statement.edited = True
    statement.updated_at = fetched_at
    if post.url:
        statement.url = post.url
    session.flush()
    return statement
