"""`monitor search`: the full-text index as a prefilter, the exact matcher as the judge.

Every test runs on SQLite (FTS5) and PostgreSQL (tsvector + GIN) through the
``db``/``database_url`` fixtures.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, insert, select, text, update
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.ingest import Attribution, ingest
from monitor.rules.matcher import compile_query
from monitor.sources.base import Post
from monitor.store import search as search_module
from monitor.store.migrate import upgrade
from monitor.store.models import Match, SourceState, Statement
from monitor.store.queries import ItemFilters
from monitor.store.search import (
    AllOf,
    AnyOf,
    Word,
    prefilter,
    search,
    search_text,
    searchable,
)
from monitor.store.session import Database, open_database
from tests.conftest import POSTGRES_ADMIN_URL
from tests.helpers import GAZETTEER

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
KAABI = Attribution("kaabi-site", "akram-kaabi", "harakat-hezbollah-al-nujaba", "ar")
HAMIDAWI = Attribution("kh-site", "abu-hussein-al-hamidawi", "kataib-hezbollah", "en")


@dataclass(frozen=True)
class Seed:
    attribution: Attribution
    external_id: str
    text: str
    minutes: int


SEEDS = [
    Seed(KAABI, "ar-1", "نحذر إسرائيل وأمريكا من عواقب التصعيد", 0),
    Seed(KAABI, "ar-2", "إعلان الحرب على الاحتلال الأمريكي واجب", 10),
    Seed(KAABI, "ar-3", "المُقاوَمة الإسلامية مستمرة حتى التحرير", 20),
    Seed(KAABI, "ar-4", "نعزي عوائل الشهداء الأبرار", 30),
    Seed(HAMIDAWI, "en-1", "We declare war on America and its allies.", 40),
    Seed(HAMIDAWI, "en-2", "A ceasefire was agreed; war is not our aim.", 50),
    Seed(HAMIDAWI, "en-3", "Escalation against the occupation will continue.", 60),
    Seed(HAMIDAWI, "en-4", "The resistance welcomes the negotiations.", 70),
]


def post(seed: Seed, text_: str | None = None) -> Post:
    return Post(
        external_id=seed.external_id,
        text=text_ or seed.text,
        url=f"https://example.org/{seed.external_id}",
        published_at=T0 + timedelta(minutes=seed.minutes),
    )


def add_sources(db: Database) -> None:
    with db.write() as session:
        for source in ("kaabi-site", "kh-site"):
            session.add(SourceState(id=source, kind="rss", next_poll_at=T0))


def seed(db: Database, seeds: list[Seed]) -> None:
    with db.write() as session:
        for item in seeds:
            ingest(session, item.attribution, [post(item)], T0)


@pytest.fixture
def store(db: Database) -> Database:
    add_sources(db)
    seed(db, SEEDS)
    return db


def found(db: Database, query: str, **filters: object) -> list[str]:
    with db.read() as session:
        hits = search(session, compile_query(query), ItemFilters(**filters))  # type: ignore[arg-type]
        return [hit.statement.external_id for hit in hits]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # one-letter proclitics: أمريكا finds وأمريكا, not the adjective الأمريكي
        ("أمريكا", ["ar-1"]),
        ("امريكا", ["ar-1"]),
        # alef forms, ta marbuta written as ha, diacritics in the text
        ("اعلان", ["ar-2"]),
        ("المقاومه", ["ar-3"]),
        ("مُقاومة", ["ar-3"]),
        # a query word with the article also finds the bare word and its clitic forms
        ("الشهداء", ["ar-4"]),
        ('"declare war"', ["en-1"]),
        ('"war declare"', []),  # both words are there, not as a phrase
        ('"الحرب على الاحتلال"', ["ar-2"]),
        ("ceasefire OR escalation", ["en-3", "en-2"]),
        ("war AND America", ["en-1"]),
        ("war ceasefire", ["en-2"]),
        ("war NOT ceasefire", ["en-1"]),
        ("escalat*", ["en-3"]),
        ("امري*", ["ar-2", "ar-1"]),
        ("war NEAR/2 america", ["en-1"]),
        ("war NEAR/1 america", []),
        ("(war OR الحرب) AND lang:ar", ["ar-2"]),
        ("war AND lang:en", ["en-2", "en-1"]),
        ("leader:akram-kaabi AND (war OR الحرب)", ["ar-2"]),
        ("source:kh-site OR الشهداء", ["en-4", "en-3", "en-2", "en-1", "ar-4"]),
        ("nothing-like-this", []),
    ],
)
def test_search_matches_as_the_rules_do(store: Database, query: str, expected: list[str]) -> None:
    assert found(store, query) == expected


def test_list_filters_apply(store: Database) -> None:
    query = "war OR الحرب OR أمريكا"
    assert found(store, query) == ["en-2", "en-1", "ar-2", "ar-1"]
    assert found(store, query, leader="akram-kaabi") == ["ar-2", "ar-1"]
    assert found(store, query, organization="kataib-hezbollah") == ["en-2", "en-1"]
    assert found(store, query, source="kh-site") == ["en-2", "en-1"]
    assert found(store, query, language="ar") == ["ar-2", "ar-1"]
    assert found(store, query, since=T0 + timedelta(minutes=10)) == ["en-2", "en-1", "ar-2"]
    assert found(store, query, until=T0 + timedelta(minutes=10)) == ["ar-1"]
    assert found(store, query, limit=3) == ["en-2", "en-1", "ar-2"]
    with store.write() as session:
        session.execute(
            update(Statement).where(Statement.external_id == "en-1").values(status="relevant")
        )
        war_on_us = session.scalars(select(Statement.id).where(Statement.external_id == "ar-2"))
        session.execute(
            insert(Match).values(
                rule_id="war-on-us", statement_id=war_on_us.one(), severity="high", evidence={}
            )
        )
    assert found(store, query, status="relevant") == ["en-1"]
    assert found(store, query, rule="war-on-us") == ["ar-2"]


def test_an_edited_statement_is_found_by_its_new_text_only(store: Database) -> None:
    assert found(store, "welcomes") == ["en-4"]
    edited = SEEDS[-1]
    with store.write() as session:
        result = ingest(
            session, HAMIDAWI, [post(edited, "The resistance rejects the negotiations.")], T0
        )
        assert len(result.edited) == 1
    assert found(store, "welcomes") == []
    assert found(store, "rejects") == ["en-4"]
    assert found(store, "negotiations") == ["en-4"]


def test_limit_counts_exact_matches_not_index_candidates(
    store: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Newer statements hold both words but not the phrase: the index returns them
    # first; the one true match must still come back under --limit 1.
    decoys = [
        Seed(HAMIDAWI, f"decoy-{i}", "War? We did not declare it.", 100 + i) for i in range(7)
    ]
    seed(store, decoys)
    monkeypatch.setattr(search_module, "FIRST_BATCH", 2)
    monkeypatch.setattr(search_module, "MAX_BATCH", 3)
    assert found(store, '"declare war"', limit=1) == ["en-1"]
    assert found(store, "declare war", limit=2) == ["decoy-6", "decoy-5"]
    assert found(store, "declare", limit=0)[-1] == "en-1"
    assert len(found(store, "declare", limit=0)) == 8


def test_batches_page_through_equal_times_exactly_once(
    store: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    same_time = [Seed(HAMIDAWI, f"same-{i}", f"Truce statement number {i}", 200) for i in range(5)]
    seed(store, same_time)
    monkeypatch.setattr(search_module, "FIRST_BATCH", 2)
    monkeypatch.setattr(search_module, "MAX_BATCH", 2)
    expected = [f"same-{i}" for i in reversed(range(5))]  # same time: newest id first
    assert found(store, "truce", limit=0) == expected
    assert found(store, "NOT war", limit=5) == expected


def test_a_query_without_words_scans_the_filtered_statements(store: Database) -> None:
    assert found(store, "NOT war", since=T0 + timedelta(minutes=30)) == ["en-4", "en-3", "ar-4"]
    assert found(store, "lang:ar OR war", until=T0 + timedelta(minutes=45)) == [
        "en-1",
        "ar-4",
        "ar-3",
        "ar-2",
        "ar-1",
    ]
    assert found(store, "NOT (war OR الحرب)", limit=2) == ["en-4", "en-3"]


def test_prefilter_follows_the_query_tree() -> None:
    assert prefilter(compile_query("a OR NOT b")) is None
    assert prefilter(compile_query("NOT b")) is None
    assert prefilter(compile_query("lang:ar a")) == Word("a")
    assert prefilter(compile_query("(a OR b) c*")) == AllOf(
        (AnyOf((Word("a"), Word("b"))), Word("c", prefix=True))
    )
    assert prefilter(compile_query('"a b" NEAR/3 c')) == AllOf(
        (AllOf((Word("a"), Word("b"))), Word("c"))
    )
    # an Arabic word with the article also matches the bare word
    assert prefilter(compile_query("الاحتلال")) == AnyOf((Word("الاحتلال"), Word("احتلال")))


def test_search_text_holds_every_word_and_its_stems() -> None:
    assert search_text("وأمريكا!", None) == "وامريكا امريكا"
    assert search_text("War on US", "War on US") == "war on us"
    assert search_text("body only", "A Title") == "body only a title"


def test_fts_index_stays_consistent_on_sqlite(store: Database) -> None:
    if store.dialect != "sqlite":
        pytest.skip("FTS5 is SQLite's")
    with store.write() as session:
        ingest(session, KAABI, [post(SEEDS[0], "نص جديد")], T0)
        session.execute(delete(Statement).where(Statement.external_id == "ar-2"))
    with store.write() as session:
        session.execute(
            text("INSERT INTO statements_fts(statements_fts) VALUES ('integrity-check')")
        )
    assert found(store, "جديد") == ["ar-1"]
    assert found(store, "الحرب") == []


# The command line


def write_config(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        GAZETTEER
        + """
settings:
  timezone: UTC
sources:
  - id: kaabi-site
    kind: rss
    url: http://127.0.0.1:9/kaabi.rss
    leader: akram-kaabi
  - id: kh-site
    kind: rss
    url: http://127.0.0.1:9/kh.rss
    leader: abu-hussein-al-hamidawi
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def cli(store: Database, database_url: str, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    return write_config(tmp_path), {"MONITOR_DATABASE_URL": database_url}


def invoke(cli: tuple[Path, dict[str, str]], *args: str) -> tuple[int, str, str]:
    config, env = cli
    result = CliRunner().invoke(
        app,
        ["--config", str(config), "search", *args],
        env={**env, "COLUMNS": "160"},
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


def rows(cli: tuple[Path, dict[str, str]], *args: str) -> list[dict]:  # type: ignore[type-arg]
    code, out, err = invoke(cli, *args, "--json")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_cli_json_has_the_list_keys_and_the_evidence(cli: tuple[Path, dict[str, str]]) -> None:
    [row] = rows(cli, "أمريكا")
    assert row["external_id"] == "ar-1"
    assert (row["source"], row["kind"], row["leader"]) == ("kaabi-site", "rss", "akram-kaabi")
    assert row["evidence"]["terms"] == ["أمريكا"]
    assert [row["text"][s:e] for s, e in row["evidence"]["spans"]] == ["وأمريكا"]
    [row] = rows(cli, '"declare war" AND (America OR أمريكا)')
    assert [row["text"][s:e] for s, e in row["evidence"]["spans"]] == ["declare war", "America"]
    assert row["evidence"]["terms"] == ["declare war", "America"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], ["en-2", "en-1", "ar-2"]),
        (["--leader", "akram-kaabi"], ["ar-2"]),
        (["--organization", "kataib-hezbollah"], ["en-2", "en-1"]),
        (["--source", "kh-site"], ["en-2", "en-1"]),
        (["--lang", "ar"], ["ar-2"]),
        (["--status", "relevant"], []),
        (["--rule", "war-on-us"], []),
        (["--since", "2026-11-20T09:45:00Z"], ["en-2"]),
        (["--until", "2026-11-20T09:45"], ["en-1", "ar-2"]),
        (["--limit", "1"], ["en-2"]),
        (["--limit", "0"], ["en-2", "en-1", "ar-2"]),
    ],
)
def test_cli_filters(
    cli: tuple[Path, dict[str, str]], options: list[str], expected: list[str]
) -> None:
    assert [row["external_id"] for row in rows(cli, "war OR الحرب", *options)] == expected


def test_cli_query_without_words(cli: tuple[Path, dict[str, str]]) -> None:
    found_rows = rows(cli, "NOT war", "--since", "2026-11-20T09:30:00Z")
    assert [row["external_id"] for row in found_rows] == ["en-4", "en-3", "ar-4"]
    assert found_rows[0]["evidence"] == {"terms": [], "spans": []}


def test_cli_table(cli: tuple[Path, dict[str, str]]) -> None:
    code, out, _ = invoke(cli, "التصعيد OR escalation")
    assert code == 0
    lines = [line for line in out.splitlines() if "kaabi-site" in line or "kh-site" in line]
    assert len(lines) == 2
    assert "Escalation against" in lines[0]
    assert "نحذر" in lines[1]
    code, out, _ = invoke(cli, "absent")
    assert (code, out.strip()) == (0, "no statements match")


def test_cli_syntax_error_is_a_usage_error(cli: tuple[Path, dict[str, str]]) -> None:
    code, out, err = invoke(cli, "(war OR peace")
    assert code == 2
    assert out == ""
    assert "error: query: expected ')' at column 14" in err
    assert err.splitlines()[-1] == "  " + " " * 13 + "^"


# The migration fills search_text for rows stored before it


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind (not migrated)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    request.getfixturevalue("postgres_url")  # skips (or fails) without a server
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"monitor_search_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


OLD_ROWS = [
    ("old-1", "نحذر إسرائيل وأمريكا من عواقب التصعيد", None),
    ("old-2", "We declare war on America.", "We declare war"),
    ("old-3", "no words of interest", "الشهداء"),
]


def test_migration_fills_search_text_of_existing_rows(empty_url: str) -> None:
    db = open_database(empty_url)
    try:
        upgrade(db, "0002")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO sources (id, kind, next_poll_at, consecutive_failures, "
                    "created_at) VALUES ('old-site', 'rss', :t, 0, :t)"
                ),
                {"t": T0.replace(tzinfo=None)},
            )
            for minutes, (external_id, body, title) in enumerate(OLD_ROWS):
                connection.execute(
                    text(
                        "INSERT INTO statements (source_id, external_id, title, published_at, "
                        "fetched_at, updated_at, text, content_hash, edited, mentions, stance, "
                        "extra, status, tags) VALUES ('old-site', :external_id, :title, :t, :t, "
                        """
                        :t, :text, 'x', false, '[]', '{}', '{}', 'new', '[]')"""
                    ),
                    {
                        "external_id": external_id,
                        "title": title,
                        "text": body,
                        "t": (T0 + timedelta(minutes=minutes)).replace(tzinfo=None),
                    },
                )
        upgrade(db)
        with db.read() as session:
            stored = session.execute(select(Statement.text, Statement.title, Statement.search_text))
            for body, title, value in stored:
                assert value == search_text(body, title)
        assert found(db, "أمريكا") == ["old-1"]
        assert found(db, '"declare war" america') == ["old-2"]
        assert found(db, "شهداء") == ["old-3"]  # a title the text does not carry is searched
        # rows stored after the migration are indexed too
        with db.write() as session:
            ingest(session, Attribution("old-site"), [Post("new-1", "أمريكا", published_at=T0)], T0)
        assert found(db, "أمريكا") == ["new-1", "old-1"]
    finally:
        db.dispose()


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("والاحتلال الأمريكي يجب أن يرحل، قال الشيخ.", None),
        ("Breaking: the ceasefire holds — for now", "Breaking"),  # the title is in the text
        ("The body only", "A headline the body does not carry"),
        ("", None),
    ],
)
def test_search_text_from_the_analysis_tokens_is_the_same(text: str, title: str | None) -> None:
    from monitor.rules.matcher import analyze

    tokens = analyze(text).tokens
    assert search_text(text, title, tokens) == search_text(text, title)


@pytest.mark.parametrize(
    ("text", "title", "expected"),
    [
        ("بيان المقاومة: نعلن الحرب", "بيان المقاومة", "بيان المقاومة: نعلن الحرب"),  # as written
        ("إعلان الحرب على الاحتلال", "اعلان الحرب...", "إعلان الحرب على الاحتلال"),  # once folded
        ("نص البيان", "عنوان آخر", "نص البيان\n\nعنوان آخر"),  # not in the text
        ("نص البيان", None, "نص البيان"),
    ],
)
def test_the_title_is_searched_when_the_text_does_not_carry_it(
    text: str, title: str | None, expected: str
) -> None:
    assert searchable(text, title) == expected
