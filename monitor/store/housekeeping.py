"""Pruning what is kept only for a while: raw response bodies and poll records."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from monitor.store.models import FetchRun, RawResponse, utcnow
from monitor.store.session import Database

BATCH = 500


def _prune_older(db: Database, model: type[RawResponse] | type[FetchRun], cutoff: datetime) -> int:
    """Delete rows stamped before ``cutoff`` in batches: a long transaction would hold
    up the polls writing meanwhile."""
    stamp = model.fetched_at if model is RawResponse else FetchRun.started_at
    removed = 0
    while True:
        with db.write() as session:
            ids = list(session.scalars(select(model.id).where(stamp < cutoff).limit(BATCH)))
            if not ids:
                return removed
            session.execute(delete(model).where(model.id.in_(ids)))
            removed += len(ids)


def prune_raw_responses(db: Database, keep: timedelta) -> int:
    """Delete fetched bodies older than ``keep``; versions keep their text, lose
    the link to the body (the foreign key is ON DELETE SET NULL)."""
    return _prune_older(db, RawResponse, utcnow() - keep)


def prune_fetch_runs(db: Database, keep: timedelta) -> int:
    """Delete poll records older than ``keep``; `sources list` reads only recent ones."""
    return _prune_older(db, FetchRun, utcnow() - keep)
