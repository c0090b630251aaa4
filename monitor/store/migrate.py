"""Schema migrations: Alembic owns the schema, here and in production.

Alembic is imported only when there is something to migrate. Importing it and
reading every migration script costs about 0.15 s, most of a daemon's start-up
otherwise; the common case, a database at the newest revision already, is told
by one row of ``alembic_version`` and the ``revision`` lines of the scripts.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from monitor.errors import StoreError
from monitor.store.session import Database

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

SCRIPT_LOCATION = Path(__file__).resolve().parent.parent / "alembic"
VERSIONS = SCRIPT_LOCATION / "versions"
VERSION_TABLE = "alembic_version"  # Alembic's default, which env.py keeps

# `revision: str = '0005'` and `down_revision: str | None = '0004'`, as
# script.py.mako writes them; the value is read with ast.literal_eval.
_REVISION_LINE = re.compile(r"^(revision|down_revision)\b[^=\n]*=(.*)$", re.MULTILINE)


def _alembic_config() -> AlembicConfig:
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    return config


def _scanned_head() -> str | None:
    """The head revision from the scripts' own lines, without Alembic; None when a
    script is not a plain link of one chain (a merge, a branch, an odd form)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in VERSIONS.glob("*.py"):
        lines = _REVISION_LINE.findall(script.read_text(encoding="utf-8"))
        values = dict(lines)
        if len(lines) != 2 or len(values) != 2:
            return None
        try:
            revision = ast.literal_eval(values["revision"].strip())
            down = ast.literal_eval(values["down_revision"].strip())
        except (ValueError, SyntaxError):
            return None
        if not isinstance(revision, str) or not (down is None or isinstance(down, str)):
            return None
        revisions.add(revision)
        if down is not None:
            parents.add(down)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 and len(revisions) == len(parents) + 1 else None


def head_revision() -> str | None:
    """The newest revision of the migration scripts (Alembic decides unusual cases)."""
    scanned = _scanned_head()
    if scanned is not None:
        return scanned
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def _stored_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: no monitor schema), as Alembic reads it."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    if len(rows) > 1:
        # Several heads stored: Alembic's own answer (an error) is the one to give.
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(connection).get_current_revision()
    return str(rows[0][0]) if rows else None


def current_revision(db: Database) -> str | None:
    with db.engine.connect() as connection:
        return _stored_revision(connection)


# Any fixed number: replicas starting together on PostgreSQL queue on it.
_MIGRATION_LOCK = 7_310_004


def upgrade(db: Database, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply pending migrations; returns (revision before, revision after).

    Two processes upgrading at once run one after the other: SQLite's write
    lock is taken up front, PostgreSQL's advisory lock is held for the upgrade.
    """
    with db.engine.connect().execution_options(for_write=True) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        # Read under the lock: a process that waited finds the work done.
        before = _stored_revision(connection)
        if revision == "head" and before is not None and before == head_revision():
            return before, before  # leaving the block rolls back: the lock is released
        from alembic import command

        config = _alembic_config()
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
