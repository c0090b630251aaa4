"""Pruning what is kept only for a while: raw response bodies and poll records."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from monitor.store.models import FetchRun, RawResponse, utcnow
from monitor.store.session import Database

BATCH = 500


def prune_raw_responses(db: Database, keep: timedelta) -> int:
    """Delete fetched bodies older than ``keep``; versions keep their text, lose
    the link to the body (the foreign key is ON DELETE SET NULL)."""
    cutoff = utcnow() - keep
    removed = 0
    while True:
        with db.write() as session:
            ids = list(
                session.scalars(
                    select(RawResponse.id).where(RawResponse.fetched_at < cutoff).limit(BATCH)
                )
            )
            if not ids:
                return removed
            session.execute(delete(RawResponse).where(RawResponse.id.in_(ids)))
            removed += len(ids)


def prune_fetch_runs(db: Database, keep: timedelta) -> int:
    """Delete poll records older than ``keep``, in batches (a long transaction would
    hold up the polls); `sources list` reads only the recent ones."""
    cutoff = utcnow() - keep
    removed = 0
    while True:
        with db.write() as session:
            ids = list(
                session.scalars(
                    select(FetchRun.id).where(FetchRun.started_at < cutoff).limit(BATCH)
                )
            )
            if not ids:
                return removed
            session.execute(delete(FetchRun).where(FetchRun.id.in_(ids)))
            removed += len(ids)
