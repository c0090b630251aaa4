"""Screenshot-style checks: the `items list` table and the `items show` view, rendered
with rich's recording console at 120 columns, against tests/data/screen_*.txt.

The seeded store has fixed times and ids, so the only volatile part is nothing at
all; run with UPDATE_SCREENS=1 to rewrite the expected files after a deliberate
change (and read the diff before committing it)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console, RenderableType

from monitor.cli.items import statement_links
from monitor.cli.render import _highlighted, items_table, render_item
from monitor.store.queries import ItemFilters, alerts_of, get_item, list_items, source_kinds
from monitor.store.session import Database
from tests.review_seed import WAR_TEXT, seed

DATA = Path(__file__).parent / "data"
BAGHDAD = ZoneInfo("Asia/Baghdad")


def screen(renderable: RenderableType) -> str:
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(renderable)
    text = console.export_text()
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def compare(name: str, actual: str) -> None:
    path = DATA / f"screen_{name}.txt"
    if os.environ.get("UPDATE_SCREENS") == "1":
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"{path.name} differs"


def test_items_list_screen(db: Database) -> None:
    seed(db)
    with db.read() as session:
        statements = list_items(session, ItemFilters())
        compare("list", screen(items_table(statements, BAGHDAD, "Asia/Baghdad", 120)))


@pytest.mark.parametrize("item_id", [1, 2, 3])
def test_items_show_screen(db: Database, item_id: int) -> None:
    seed(db)
    with db.read() as session:
        statement = get_item(session, item_id)
        kind = source_kinds(session).get(statement.source_id)
        view = render_item(
            statement,
            kind,
            alerts_of(session, item_id),
            BAGHDAD,
            statement_links(session, statement),
        )
        compare(f"show_{item_id}", screen(view))


def test_evidence_is_highlighted_in_the_text(db: Database) -> None:
    seed(db)
    with db.read() as session:
        text = _highlighted(get_item(session, 1))
    marked = {(WAR_TEXT[span.start : span.end], str(span.style)) for span in text.spans}
    # the rule's terms in reverse video, the stance cue that fired underlined
    assert marked == {
        ("إعلان الحرب", "bold reverse"),
        ("أمريكا", "bold reverse"),
        ("التصعيد", "underline"),
    }
