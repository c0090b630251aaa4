"""The schema on both databases: migrations, time handling, SQLite settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import StatementError

from monitor.errors import StoreError
from monitor.store import migrate
from monitor.store.migrate import current_revision, head_revision, require_schema, upgrade
from monitor.store.models import Base, SourceState
from monitor.store.search import include_in_autogenerate
from monitor.store.session import (
    Database,
    normalize_database_url,
    open_database,
    resolve_database_url,
)


def test_migrations_reach_head_and_match_the_models(db: Database) -> None:
    assert current_revision(db) == head_revision()
    with db.engine.connect() as connection:
        opts = {"compare_type": True, "include_name": include_in_autogenerate}
        context = MigrationContext.configure(connection, opts=opts)
        assert compare_metadata(context, Base.metadata) == []


def test_upgrade_is_idempotent(db: Database) -> None:
    head = head_revision()
    assert upgrade(db) == (head, head)


def test_fresh_sqlite_upgrade_from_empty(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'new.db'}")
    assert upgrade(db) == (None, head_revision())
    db.dispose()


def _alembic_scripts() -> ScriptDirectory:
    config = AlembicConfig()
    config.set_main_option("script_location", str(migrate.SCRIPT_LOCATION))
    return ScriptDirectory.from_config(config)


def test_head_revision_without_alembic_is_alembics() -> None:
    # head_revision reads the scripts' revision lines: Alembic must agree.
    assert migrate._scanned_head() == head_revision() == _alembic_scripts().get_current_head()


def test_an_older_database_is_still_upgraded(tmp_path: Path) -> None:
    previous = _alembic_scripts().get_revision(head_revision()).down_revision
    assert isinstance(previous, str)
    db = open_database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        assert upgrade(db, previous) == (None, previous)
        assert current_revision(db) == previous
        with pytest.raises(StoreError, match=f"the database has revision {previous}; this"):
            require_schema(db)
        assert upgrade(db) == (previous, head_revision())
        require_schema(db)
    finally:
        db.dispose()


def test_an_empty_database_has_no_monitor_schema(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        assert current_revision(db) is None
        with pytest.raises(StoreError, match="the database has no monitor schema; this version"):
            require_schema(db)
    finally:
        db.dispose()


def _script(folder: Path, revision: str, down: str | None, form: str = "plain") -> None:
    """A migration script's header as script.py.mako writes it."""
    revision_line = f"revision: str = {revision!r}"
    if form == "computed":
        revision_line = f"revision: str = str({revision!r})"
    (folder / f"{revision}_x.py").write_text(
        f'"""x\n\nRevision ID: {revision}\n"""\n\n{revision_line}\n'
        f"down_revision: str | None = {down!r}\n",
        encoding="utf-8",
    )


@pytest.mark.parametrize(
    ("scripts", "head"),
    [
        ([("a", None), ("b", "a"), ("c", "b")], "c"),
        ([("a", None), ("b", "a"), ("c", "a")], None),  # two heads: Alembic's error
        ([("a", None), ("b", "a", "computed")], None),  # not a literal
        ([], None),
    ],
)
def test_the_head_is_read_from_a_plain_chain_of_scripts_only(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    scripts: list[tuple[str, ...]],
    head: str | None,
) -> None:
    # None: head_revision asks Alembic instead.
    for script in scripts:
        _script(tmp_path, *script)
    monkeypatch.setattr(migrate, "VERSIONS", tmp_path)
    assert migrate._scanned_head() == head


def test_times_are_stored_and_read_as_aware_utc(db: Database) -> None:
    baghdad = timezone(timedelta(hours=3))
    with db.write() as session:
        session.add(
            SourceState(
                id="s", kind="rss", next_poll_at=datetime(2026, 11, 20, 12, 0, tzinfo=baghdad)
            )
        )
    with db.read() as session:
        state = session.get_one(SourceState, "s")
    assert state.next_poll_at == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert state.next_poll_at.tzinfo == UTC


def test_naive_times_are_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"), db.write() as session:
        session.add(SourceState(id="s", kind="rss", next_poll_at=datetime(2026, 11, 20, 12, 0)))
        session.flush()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'm.db'}")
    with db.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
    db.dispose()


def test_database_url_resolution(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MONITOR_DATABASE_URL", raising=False)
    assert resolve_database_url(None) == "sqlite:///monitor.db"
    assert resolve_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("MONITOR_DATABASE_URL", "postgres://env@h/db")
    assert resolve_database_url("sqlite:///ignored.db") == "postgresql+psycopg://env@h/db"
    assert normalize_database_url("sqlite:///x.db") == "sqlite:///x.db"
