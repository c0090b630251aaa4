"""`monitor demo`: see monitor.demo.runner."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.context import out


def demo(
    keep: Annotated[
        Path | None,
        typer.Option(help="Keep the demo's SQLite database in this folder to explore it after."),
    ] = None,
) -> None:
    # Imported here: the demo's recorded feeds and servers are no other command's business.
    from monitor.demo.runner import run_demo

    result = run_demo(out, keep)
    out.print(
        f"\nDemo done: {result.statements} statements captured ({result.edited} edited), "
        f"{result.alerts_sent} alerts delivered, "
        f"{result.webhooks_verified}/{result.webhooks_received} webhooks verified.",
        markup=False,
    )
    if result.webhooks_verified != result.webhooks_received or not result.alerts_sent:
        raise typer.Exit(1)
