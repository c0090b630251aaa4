"""Alembic environment: runs on the connection monitor hands over.

`monitor db upgrade` passes an open connection in ``config.attributes``; the
`alembic` command line (alembic.ini at the repository root) builds one from
$MONITOR_DATABASE_URL instead.
"""

from alembic import context
from sqlalchemy import Connection, create_engine

from monitor.store.models import Base, UTCDateTime
from monitor.store.search import include_in_autogenerate
from monitor.store.session import resolve_database_url

target_metadata = Base.metadata


def _render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
    # Migrations must not import the models' types: they change, migrations must not.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
        include_name=include_in_autogenerate,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    engine = create_engine(resolve_database_url(None))
    with engine.connect() as fresh_connection:
        _run(fresh_connection)
    engine.dispose()
