"""The PNG of `monitor timeline --png`: daily stance scores as lines over bars of
counts, turns marked. Needs matplotlib (the `chart` extra); imported only for --png.

The figure is built on the Agg canvas directly, without pyplot: no global figure
state, no GUI backend picked from the environment (the daemon's hosts have no display).
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from monitor.store.timeline import DE_ESCALATION, ESCALATION, Timeline

COLORS = {ESCALATION: "#c0392b", DE_ESCALATION: "#1e8449"}
MARKERS = {ESCALATION: "^", DE_ESCALATION: "v"}
MARKS = {ESCALATION: "▲", DE_ESCALATION: "▼"}
MAX_TICKS = 16


def timeline_figure(result: Timeline, leader_name: str, tz_name: str) -> Figure:
    """The chart; returned unsaved so that callers (and tests) can look at it first."""
    figure = Figure(figsize=(11, 5.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    counts = figure.add_subplot()
    scores = counts.twinx()
    # Day numbers from the first day, labelled below: matplotlib's date helpers are untyped.
    x = list(range(len(result.days)))
    # Quiet days are drawn as zero: a gap in the line would hide how long the silence was.
    counts.bar(
        x, [day.count for day in result.days], width=0.8, color="#b0b7c3", label="statements"
    )
    counts.set_ylabel("statements per day")
    counts.yaxis.set_major_locator(MaxNLocator(integer=True))
    counts.set_ylim(0, max(day.count for day in result.days) * 1.25 or 1)
    for label in (ESCALATION, DE_ESCALATION):
        values = [
            (day.escalation if label == ESCALATION else day.de_escalation) or 0.0
            for day in result.days
        ]
        scores.plot(
            x, values, color=COLORS[label], marker=".", linewidth=1.8, label=f"{label} (mean)"
        )
    scores.set_ylim(0, 1.15)
    scores.set_ylabel("mean stance score")
    for at, day in enumerate(result.days):
        if not day.turn or not day.turn_statement:
            continue
        value = (day.escalation if day.turn == ESCALATION else day.de_escalation) or 0.0
        scores.plot(
            [at],
            [value],
            linestyle="none",
            marker=MARKERS[day.turn],
            markersize=12,
            color=COLORS[day.turn],
        )
        scores.annotate(
            f"{MARKS[day.turn]} {day.turn} turn\n#{day.turn_statement.id}",
            xy=(at, value),
            xytext=(0, 16 if day.turn == ESCALATION else -28),
            textcoords="offset points",
            ha="center",
            fontsize=8,
            color=COLORS[day.turn],
            arrowprops={"arrowstyle": "-", "color": COLORS[day.turn]},
        )
    step = max(1, math.ceil(len(x) / MAX_TICKS))
    counts.set_xticks(x[::step], [f"{day.day:%m-%d}" for day in result.days[::step]])
    counts.set_xlim(x[0] - 0.6, x[-1] + 0.6)
    counts.set_xlabel(f"day ({tz_name})")
    handles, labels = counts.get_legend_handles_labels()
    more_handles, more_labels = scores.get_legend_handles_labels()
    scores.legend(handles + more_handles, labels + more_labels, loc="upper left", fontsize=8)
    figure.suptitle(
        f"{leader_name}: statements and stance per day, {result.first} to {result.last} ({tz_name})"
    )
    return figure


def save_png(figure: Figure, path: Path) -> None:
    """Write the PNG next to ``path`` and rename it into place, so that a reader
    never sees half a file and a failed write leaves any older chart intact."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            figure.savefig(stream, format="png")
        # mkstemp makes the file private (0600); a chart is an ordinary file.
        mask = os.umask(0)
        os.umask(mask)
        Path(temporary).chmod(0o666 & ~mask)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
