"""Statements that differ by backend, behind one call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflicts(
    session: Session,
    model: Any,
    values: dict[str, Any] | list[dict[str, Any]] | None,
    conflict_columns: list[str],
) -> postgresql.Insert | sqlite.Insert:
    """INSERT ... ON CONFLICT (columns) DO NOTHING, for PostgreSQL and SQLite alike;
    a list of value dicts makes one multi-row INSERT; None leaves the values to the
    parameters of the execution (an executemany)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert(model) if dialect == "postgresql" else sqlite.insert(model)
    if values is not None:
        insert = insert.values(values)
    return insert.on_conflict_do_nothing(index_elements=conflict_columns)


def lock_key(session: Session, key: str) -> None:
    """Serialize transactions on ``key`` until this one ends.

    PostgreSQL: a transaction-level advisory lock on the key's hash. SQLite
    needs nothing: its writers (BEGIN IMMEDIATE) are serialized already.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})
