"""`monitor db upgrade`: apply Alembic migrations."""

from __future__ import annotations

import typer

from monitor.cli.context import database, load, out
from monitor.config.summary import mask_url
from monitor.store.migrate import upgrade as apply_migrations

app = typer.Typer(help="Database administration.", no_args_is_help=True)


@app.command("upgrade", help="Apply pending migrations (monitor run does this too).")
def upgrade(ctx: typer.Context) -> None:
    config = load(ctx)
    db = database(config)
    try:
        before, after = apply_migrations(db)
    finally:
        db.dispose()
    where = mask_url(db.url)
    if before == after:
        out.print(f"{where}: already at revision {after}", markup=False)
    else:
        out.print(f"{where}: upgraded from {before or 'empty'} to {after}", markup=False)
