"""Schema migrations: Alembic owns the schema, here and in production."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from monitor.errors import StoreError
from monitor.store.session import Database

SCRIPT_LOCATION = Path(__file__).resolve().parent.parent / "alembic"


def _alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


# Any fixed number: replicas starting together on PostgreSQL queue on it.
_MIGRATION_LOCK = 7_310_004


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply pending migrations; returns (revision before, revision after).

    Two processes upgrading at once run one after the other: SQLite's write
    lock is taken up front, PostgreSQL's advisory lock is held for the upgrade.
    """
    config = _alembic_config()
    with db.engine.connect().execution_options(for_write=True) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        # Read under the lock: a process that waited finds the work done.
        before = MigrationContext.configure(connection).get_current_revision()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()
    return before, current_revision(db)


def require_schema(db: Database) -> None:
    """Refuse to read a database that this version has not migrated."""
    current, head = current_revision(db), head_revision()
    if current != head:
        found = f"revision {current}" if current else "no monitor schema"
        raise StoreError(
            f"the database has {found}; this version needs {head}: "
            "run `monitor db upgrade` (or `monitor run`)"
        )
