"""Shared fixtures: both databases, real loopback servers, configs.

Storage tests take the ``db`` fixture and run once on SQLite and once on the
real PostgreSQL at $MONITOR_TEST_POSTGRES_URL (default: the local server).
Without that server the PostgreSQL half is skipped, unless
MONITOR_TEST_REQUIRE_POSTGRES=1 (set by .ci/run), which makes it an error.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from monitor.demo.server import FeedServer, WebhookReceiver
from monitor.store.migrate import upgrade
from monitor.store.models import Base
from monitor.store.session import Database, open_database

REAL_FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real"
POSTGRES_ADMIN_URL = os.environ.get(
    "MONITOR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("MONITOR_TEST_REQUIRE_POSTGRES") == "1"
REQUIRE_FIXTURES = os.environ.get("MONITOR_TEST_REQUIRE_FIXTURES") == "1"


def real_fixture(relative: str) -> Path:
    """A capture from ../shared/fixtures/real, or a skip that says why
    (a failure where MONITOR_TEST_REQUIRE_FIXTURES=1, as in CI)."""
    path = REAL_FIXTURES / relative
    if not path.exists():
        message = f"real fixture {relative} not found: {REAL_FIXTURES} is absent"
        if REQUIRE_FIXTURES:
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    db = open_database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated, dropped at the end."""
    # Pre-ping: a test restarts the server, and this engine drops the database after it.
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    name = f"monitor_test_{uuid.uuid4().hex[:10]}"
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        message = f"PostgreSQL at {make_url(POSTGRES_ADMIN_URL)!r} is not reachable: {exc}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    db = open_database(url)
    upgrade(db)
    db.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(db: Database) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated database of each kind."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "monitor.db"
        shutil.copy(template, path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_url")
    db = open_database(url)
    _truncate_postgres(db)
    db.dispose()
    yield url


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """The session's PostgreSQL database, emptied: for what only PostgreSQL does
    (replicas sharing a server, its restart)."""
    db = open_database(postgres_url)
    _truncate_postgres(db)
    db.dispose()
    yield postgres_url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = open_database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def feed_server() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver
