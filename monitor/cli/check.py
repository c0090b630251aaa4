"""`monitor check`: validate the config and show what it defines."""

from __future__ import annotations

import typer

from monitor.cli.context import err, load, out
from monitor.config.summary import render_summary, warnings


def check(ctx: typer.Context) -> None:
    config = load(ctx)
    out.print(render_summary(config))
    for warning in warnings(config):
        err.print(f"warning: {warning}", markup=False)
    out.print("config OK", markup=False)
