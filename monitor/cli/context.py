"""What every command needs: the config (or exit 2), the database, the console."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy.engine import make_url

from monitor.config import Config, load_config, resolve_config_path
from monitor.errors import ConfigError, StoreError
from monitor.store.migrate import require_schema
from monitor.store.session import Database, open_database, resolve_database_url

EXIT_CONFIG = 2

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class AppState:
    config_path: Path | None = None


def state(ctx: typer.Context) -> AppState:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, AppState) else AppState()


def load(ctx: typer.Context) -> Config:
    """The validated config, or the errors on stderr and exit code 2."""
    path = resolve_config_path(state(ctx).config_path)
    try:
        return load_config(path)
    except ConfigError as exc:
        for issue in exc.issues:
            print(str(issue), file=sys.stderr)
        raise typer.Exit(EXIT_CONFIG) from None


def database(config: Config, *, reading: bool = False) -> Database:
    """The configured database; ``reading``: it must exist and be migrated already."""
    url = resolve_database_url(config.settings.database_url)
    parsed = make_url(url)
    file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if reading and file and file != ":memory:" and not Path(file).exists():
        raise StoreError(
            f"no database at {file}: run `monitor run --once` or "
            "`monitor db upgrade` first (or set MONITOR_DATABASE_URL)"
        )
    db = open_database(url)
    if reading:
        require_schema(db)
    return db
