"""`monitor items list` and `monitor search` on a 50,000-statement store, SQLite and
PostgreSQL.

    python bench/review.py [--count 50000] [--postgres URL | --no-postgres]

Builds the store of bench/search.py (generated statements over a year, 20 sources,
10 leaders, search_text filled by monitor.store.search.search_text), then marks a
review-like share of it: every 10th statement matched by one of 5 rules, every 33rd
edited, every 50th deleted, every 3rd reviewed. Times what the commands run: the
session, ``list_items`` (or ``search``), ``source_kinds``, ``item_json`` of each row
and the table rendered at 120 columns (total), and the database part alone; default
``--limit 50``. Each figure is the median of 7 runs after one warm-up, in
milliseconds. Target (issue 7): under 300 ms in total.

PostgreSQL: a throw-away database is created on the server at --postgres (default
$MONITOR_TEST_POSTGRES_URL or the local server) and dropped after.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from sqlalchemy import create_engine, insert, select, text, update
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

from search import ADMIN_URL, NOW, fill, generate

from monitor.cli.render import items_table
from monitor.rules.matcher import compile_query
from monitor.store.migrate import upgrade
from monitor.store.models import Match, Statement
from monitor.store.queries import ItemFilters, item_json, list_items, source_kinds
from monitor.store.search import search
from monitor.store.session import Database, open_database

RUNS = 7
TZ = ZoneInfo("Asia/Baghdad")


def mark(db: Database) -> None:
    """Matches, edits, deletions and review marks on a share of the statements."""
    with db.write() as session:
        ids = list(session.scalars(select(Statement.id).order_by(Statement.id)))
        rows = [
            {
                "rule_id": f"rule-{number // 10 % 5}",
                "statement_id": number,
                "severity": "high",
                "version": 1,
                "evidence": {"terms": ["x"], "spans": []},
                "created_at": NOW,
            }
            for number in ids
            if number % 10 == 0
        ]
        for start in range(0, len(rows), 2000):
            session.execute(insert(Match), rows[start : start + 2000])
        session.execute(update(Statement).where(Statement.id % 33 == 0).values(edited=True))
        session.execute(update(Statement).where(Statement.id % 50 == 0).values(deleted_at=NOW))
        session.execute(update(Statement).where(Statement.id % 3 == 0).values(status="relevant"))
    with db.engine.connect() as connection:
        connection.execute(text("ANALYZE"))
        connection.commit()


OUTPUT = True  # False: time the database work alone (the query and loading the rows)


def render(statements: list[Statement], kinds: dict[str, str]) -> int:
    if OUTPUT:
        [item_json(s, kinds.get(s.source_id)) for s in statements]
        console = Console(file=io.StringIO(), width=120)
        console.print(items_table(statements, TZ, "Asia/Baghdad", 120))
    return len(statements)


def timed(db: Database, work: Callable[[Any], int]) -> tuple[float, int]:
    durations = []
    found = 0
    for run in range(RUNS + 1):
        start = time.perf_counter()
        with db.read() as session:
            found = work(session)
        if run:
            durations.append((time.perf_counter() - start) * 1000)
    return statistics.median(durations), found


def listing(filters: ItemFilters) -> Callable[[Any], int]:
    def work(session: Any) -> int:
        return render(list_items(session, filters), source_kinds(session))

    return work


def searching(query: str, filters: ItemFilters) -> Callable[[Any], int]:
    compiled = compile_query(query)

    def work(session: Any) -> int:
        hits = search(session, compiled, filters)
        return render([hit.statement for hit in hits], source_kinds(session))

    return work


WEEK = NOW - timedelta(days=7)
CASES: list[tuple[str, Callable[[Any], int]]] = [
    ("items list", listing(ItemFilters())),
    ("items list --leader leader-3", listing(ItemFilters(leader="leader-3"))),
    ("items list --source source-7", listing(ItemFilters(source="source-7"))),
    ("items list --matched", listing(ItemFilters(matched=True))),
    ("items list --rule rule-2", listing(ItemFilters(rule="rule-2"))),
    ("items list --unreviewed", listing(ItemFilters(status="new"))),
    ("items list --edited", listing(ItemFilters(edited=True))),
    ("items list --deleted", listing(ItemFilters(deleted=True))),
    ("items list --lang en --since 7d", listing(ItemFilters(language="en", since=WEEK))),
    (
        "items list --unreviewed --matched --leader",
        listing(ItemFilters(status="new", matched=True, leader="leader-9")),
    ),
    ("items list --page 200 (rows 9951-10000)", listing(ItemFilters(offset=9950))),
    ("search أمريكا", searching("أمريكا", ItemFilters())),
    ('search "المقاومة الإسلامية"', searching('"المقاومة الإسلامية"', ItemFilters())),
    ("search امري* --matched", searching("امري*", ItemFilters(matched=True))),
    (
        "search أمريكا --unreviewed --leader",
        searching("أمريكا", ItemFilters(status="new", leader="leader-2")),
    ),
]


def run_on(url: str, texts: list[str]) -> bool:
    db = open_database(url)
    try:
        upgrade(db)
        start = time.perf_counter()
        fill(db, texts)
        mark(db)
        print(
            f"{db.dialect}: {len(texts)} statements stored in {time.perf_counter() - start:.0f} s"
        )
        global OUTPUT
        ok = True
        print(f"  {'':<48} {'total':>8}     {'db only':>8}")
        for label, work in CASES:
            OUTPUT = False
            db_ms, _ = timed(db, work)
            OUTPUT = True
            ms, found = timed(db, work)
            ok = ok and ms < 300
            print(f"  {label:<48} {ms:8.1f} ms  {db_ms:8.1f} ms  {found:>4} rows")
        return ok
    finally:
        db.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--postgres", default=ADMIN_URL, help="admin URL of a PostgreSQL server")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    texts = generate(args.count)
    ok = True
    with tempfile.TemporaryDirectory() as directory:
        ok = run_on(f"sqlite:///{Path(directory) / 'bench.db'}", texts) and ok
    if not args.no_postgres:
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        name = f"monitor_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(args.postgres).set(database=name)
            ok = run_on(url.render_as_string(hide_password=False), texts) and ok
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print("all under 300 ms" if ok else "SOME OVER 300 ms")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
