"""One-line-per-row tables that fit the terminal: metadata columns keep their
width (up to a cap), the last column (the text) takes what is left."""

from __future__ import annotations

from collections.abc import Sequence

from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

MIN_TEXT = 16
FIXED = 16
WANTED_TEXT = 40  # metadata columns give way until the text has this much


def first_line(text: str, width: int = 80) -> str:
    line = next((part.strip() for part in text.splitlines() if part.strip()), "")
    return line if len(line) <= width else line[: width - 1] + "…"


def fitted_table(
    columns: Sequence[tuple[str, int]],
    rows: Sequence[Sequence[str]],
    texts: Sequence[str],
    width: int,
    *,
    caption: str | None = None,
) -> Table:
    """``columns``: (header, cap) of each metadata column; ``texts``: the last
    column of each row, cut to the room left. Every cell is plain text: what a
    source wrote is never read as rich markup."""
    widths = [
        min(cap, max(len(header), *(len(row[i]) for row in rows)) if rows else len(header))
        for i, (header, cap) in enumerate(columns)
    ]
    # 3 characters of border and padding per column, plus the table's edges.
    overhead = 3 * len(widths) + 4
    # Short columns (times, codes, flags: cap <= 16) keep their width; the widest
    # of the others gives way, one character at a time, down to 6.
    elastic = [i for i, (_header, cap) in enumerate(columns) if cap > FIXED]
    while sum(widths) + overhead + WANTED_TEXT > width and elastic:
        widest = max(elastic, key=lambda i: widths[i])
        if widths[widest] <= 6:
            break
        widths[widest] -= 1
    text_width = max(MIN_TEXT, width - sum(widths) - overhead)
    lines = [first_line(text, text_width) for text in texts]
    # Every width is known here: given to rich, it skips measuring each cell (a
    # third of the time a 50-row table takes to print).
    text_width = min(text_width, max([cell_len("text"), *(cell_len(line) for line in lines)]))
    table = Table(pad_edge=False, caption=caption, caption_justify="left")
    for (header, _cap), column_width in zip(columns, widths, strict=True):
        table.add_column(header, no_wrap=True, overflow="ellipsis", width=column_width)
    table.add_column("text", no_wrap=True, overflow="ellipsis", width=text_width)
    for row, line in zip(rows, lines, strict=True):
        table.add_row(*(Text(cell) for cell in row), Text(line))
    return table
