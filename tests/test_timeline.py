"""`monitor timeline`: a leader's statements per day with stance over time, on SQLite
and PostgreSQL; the per-day logic, the table, --json, --utc, errors and the PNG chart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.ingest import Attribution, ingest
from monitor.rules.stance import StanceScore, scores_to_json
from monitor.sources.base import Post
from monitor.store.models import SourceState, Statement
from monitor.store.session import Database
from monitor.store.timeline import (
    DE_ESCALATION,
    ESCALATION,
    NEUTRAL,
    StatementPoint,
    daily,
    dominant_stance,
    leader_timeline,
    mark_turns,
)
from tests.review_seed import WAR_TEXT, write_config

BAGHDAD = ZoneInfo("Asia/Baghdad")
CEASEFIRE_TEXT = "نعلن تعليق العمليات العسكرية ضد قوات الاحتلال\nحفاظا على أمن العراق"
LATE_TEXT = "ندعو إلى التهدئة وضبط النفس"
RANGE = ["--since", "2026-11-10", "--until", "2026-11-20"]

# (external id, leader's source, UTC time, text, escalation, de-escalation, deleted)
SEED: list[tuple[str, str, datetime, str, float, float, bool]] = [
    ("k-0", "kaabi-telegram", datetime(2026, 11, 9, 20, 0, tzinfo=UTC),
     "Before the range", 0.9, 0.0, False),
    ("k-1", "kaabi-telegram", datetime(2026, 11, 10, 8, 0, tzinfo=UTC),
     "Statement on the situation in the region", 0.1, 0.0, False),
    ("k-2", "nujaba-site", datetime(2026, 11, 10, 14, 0, tzinfo=UTC),
     "بيان صادر عن المكتب السياسي بشأن الانتخابات", 0.2, 0.0, False),
    ("k-3", "kaabi-telegram", datetime(2026, 11, 11, 7, 0, tzinfo=UTC), WAR_TEXT, 0.82, 0.0, False),
    ("k-4", "kaabi-telegram", datetime(2026, 11, 11, 10, 0, tzinfo=UTC),
     "We will respond to any aggression", 0.63, 0.0, False),
    ("k-5", "nujaba-site", datetime(2026, 11, 11, 12, 0, tzinfo=UTC),
     "Removed an hour later", 0.0, 0.0, True),
    ("k-6", "kaabi-telegram", datetime(2026, 11, 15, 9, 0, tzinfo=UTC),
     CEASEFIRE_TEXT, 0.0, 0.86, False),
    ("k-7", "kaabi-telegram", datetime(2026, 11, 15, 11, 0, tzinfo=UTC),
     "We call for calm", 0.1, 0.5, False),
    ("k-8", "kaabi-telegram", datetime(2026, 11, 16, 9, 0, tzinfo=UTC),
     "Talks must continue", 0.0, 0.65, False),
    # 22:30 UTC is 01:30 the next day in Baghdad.
    ("k-9", "kaabi-telegram", datetime(2026, 11, 16, 22, 30, tzinfo=UTC), LATE_TEXT, 0.0, 0.7,
     False),
    # Another leader, on a day that is quiet for Kaabi: must not count.
    ("h-1", "hamidawi-x", datetime(2026, 11, 12, 9, 0, tzinfo=UTC),
     "We will strike the occupation", 0.9, 0.0, False),
]  # fmt: skip

ATTRIBUTIONS = {
    "kaabi-telegram": Attribution("kaabi-telegram", "akram-kaabi", "harakat-hezbollah-al-nujaba"),
    "nujaba-site": Attribution("nujaba-site", "akram-kaabi", "harakat-hezbollah-al-nujaba"),
    "hamidawi-x": Attribution("hamidawi-x", "abu-hussein-al-hamidawi", "kataib-hezbollah"),
}


def seed(db: Database) -> dict[str, int]:
    """Stores SEED through ingest, sets the stance as the pipeline does; the ids by external id."""
    with db.write() as session:
        session.add_all(
            SourceState(id=source, kind="rss", next_poll_at=SEED[0][2]) for source in ATTRIBUTIONS
        )
        session.flush()
        ids: dict[str, int] = {}
        for external_id, source, moment, text, escalation, de_escalation, deleted in SEED:
            post = Post(external_id=external_id, text=text, published_at=moment)
            [new] = ingest(session, ATTRIBUTIONS[source], [post], moment + timedelta(minutes=1)).new
            statement = session.get_one(Statement, new.id)
            statement.stance = scores_to_json(
                {
                    ESCALATION: StanceScore(ESCALATION, escalation),
                    DE_ESCALATION: StanceScore(DE_ESCALATION, de_escalation),
                }
            )
            if deleted:
                statement.deleted_at = moment + timedelta(hours=1)
            ids[external_id] = statement.id
    return ids


Seeded = tuple[Path, dict[str, str], dict[str, int]]


@pytest.fixture
def seeded(tmp_path: Path, db: Database, database_url: str) -> Seeded:
    ids = seed(db)
    return write_config(tmp_path), {"MONITOR_DATABASE_URL": database_url}, ids


def run(seeded: Seeded, *args: str) -> tuple[int, str, str]:
    config, env, _ids = seeded
    result = CliRunner().invoke(
        app,
        ["--config", str(config), "timeline", *args],
        env={"COLUMNS": "140", **env},
        catch_exceptions=False,
    )
    return result.exit_code, result.stdout, result.stderr


def days_json(seeded: Seeded, *args: str) -> list[dict[str, Any]]:
    code, out, err = run(seeded, "--leader", "akram-kaabi", "--json", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def row_of(out: str, start: str) -> list[str]:
    """The cells of the table row that starts with ``start``."""
    [line] = [line for line in out.splitlines() if line.startswith(f"│{start}")]
    return [cell.strip() for cell in line.split("│")[1:-1]]


def first_cells(out: str) -> list[str]:
    return [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")]


def test_table_counts_scores_turns_and_quiet_days(seeded: Seeded) -> None:
    _config, _env, ids = seeded
    code, out, err = run(seeded, "--leader", "akram-kaabi", *RANGE)
    assert code == 0, err
    assert "Akram Kaabi (akram-kaabi): 2026-11-10 to 2026-11-19" in out
    assert "days in Asia/Baghdad" in out
    assert row_of(out, "2026-11-10") == ["2026-11-10 Tue", "2", "0.15 █▎", "0.00", "neutral", ""]
    assert row_of(out, "2026-11-11") == [
        "2026-11-11 Wed", "3 (1 deleted)", "0.48 ███▉", "0.00", "escalation",
        "▲ escalation turn",
    ]  # fmt: skip
    assert row_of(out, "… 3 quiet days")[0] == "… 3 quiet days"
    assert row_of(out, "2026-11-15") == [
        "2026-11-15 Sun", "2", "0.05 ▍", "0.68 █████▌", "de-escalation", "▼ de-escalation turn",
    ]  # fmt: skip
    assert row_of(out, "2026-11-16")[1:6] == ["1", "0.00", "0.65 █████▎", "de-escalation", ""]
    assert row_of(out, "2026-11-17")[1:6] == ["1", "0.00", "0.70 █████▋", "de-escalation", ""]
    assert row_of(out, "… 2 quiet days")[0] == "… 2 quiet days"
    # One row per day with statements, one per run of quiet days; nothing before the range,
    # and the other leader's statement does not fill 2026-11-12.
    assert first_cells(out) == [
        "2026-11-10 Tue", "2026-11-11 Wed", "… 3 quiet days", "2026-11-15 Sun", "2026-11-16 Mon",
        "2026-11-17 Tue", "… 2 quiet days",
    ]  # fmt: skip
    turns = out.split("turns (", 1)[1].splitlines()[1:]
    assert turns == [
        f"  ▲ 2026-11-11 escalation turn (from neutral): #{ids['k-3']} 2026-11-11 10:00 "
        "score 0.82: نحذر الاحتلال الأمريكي من عواقب التصعيد",
        f"  ▼ 2026-11-15 de-escalation turn (from escalation): #{ids['k-6']} 2026-11-15 12:00 "
        "score 0.86: نعلن تعليق العمليات العسكرية ضد قوات الاحتلال",
    ]


def test_json_one_object_per_day(seeded: Seeded) -> None:
    _config, _env, ids = seeded
    rows = days_json(seeded, *RANGE)
    assert [row["date"] for row in rows] == [f"2026-11-{day}" for day in range(10, 20)]
    assert all(
        list(row) == [
            "date", "statements", "deleted", "escalation", "de_escalation", "dominant", "turn",
            "turn_statement_id",
        ]
        for row in rows
    )  # fmt: skip
    by_date = {row["date"]: row for row in rows}
    assert by_date["2026-11-10"] == {
        "date": "2026-11-10", "statements": 2, "deleted": 0, "escalation": 0.15,
        "de_escalation": 0.0, "dominant": "neutral", "turn": None, "turn_statement_id": None,
    }  # fmt: skip
    assert by_date["2026-11-11"] == {
        "date": "2026-11-11", "statements": 3, "deleted": 1, "escalation": 0.4833,
        "de_escalation": 0.0, "dominant": "escalation", "turn": "escalation",
        "turn_statement_id": ids["k-3"],
    }  # fmt: skip
    assert by_date["2026-11-12"] == {
        "date": "2026-11-12", "statements": 0, "deleted": 0, "escalation": None,
        "de_escalation": None, "dominant": None, "turn": None, "turn_statement_id": None,
    }  # fmt: skip
    assert by_date["2026-11-15"]["de_escalation"] == 0.68
    assert (by_date["2026-11-15"]["turn"], by_date["2026-11-15"]["turn_statement_id"]) == (
        "de-escalation",
        ids["k-6"],
    )
    assert [row["statements"] for row in rows] == [2, 3, 0, 0, 0, 2, 1, 1, 0, 0]
    assert [row["date"] for row in rows if row["turn"]] == ["2026-11-11", "2026-11-15"]


def test_utc_moves_the_late_statement_to_its_utc_day(seeded: Seeded) -> None:
    local = {row["date"]: row["statements"] for row in days_json(seeded, *RANGE)}
    utc = {row["date"]: row for row in days_json(seeded, *RANGE, "--utc")}
    # 2026-11-16 22:30 UTC is 2026-11-17 01:30 in Baghdad.
    assert (local["2026-11-16"], local["2026-11-17"]) == (1, 1)
    assert (utc["2026-11-16"]["statements"], utc["2026-11-17"]["statements"]) == (2, 0)
    assert utc["2026-11-16"]["de_escalation"] == 0.675
    code, out, _ = run(seeded, "--leader", "akram-kaabi", "--utc", *RANGE)
    assert code == 0
    assert "days in UTC" in out
    assert row_of(out, "2026-11-16")[1] == "2"
    assert first_cells(out) == [
        "2026-11-10 Tue", "2026-11-11 Wed", "… 3 quiet days", "2026-11-15 Sun", "2026-11-16 Mon",
        "… 3 quiet days",
    ]  # fmt: skip
    assert "2026-11-11 07:00 score 0.82" in out  # the turn statement's time in UTC


def test_unknown_leader_is_a_usage_error(seeded: Seeded) -> None:
    code, out, err = run(seeded, "--leader", "abu-nobody", *RANGE)
    assert code == 2
    assert out == ""
    assert "'abu-nobody' is not a leader" in " ".join(err.split())


def test_known_leader_without_statements_in_range(seeded: Seeded) -> None:
    today = datetime.now(BAGHDAD).date()
    code, out, err = run(seeded, "--leader", "abu-hussein-al-hamidawi", "--since", "2026-11-13")
    assert code == 0, err
    # Today's date is taken before and after the run (it may cross midnight in Baghdad).
    assert out.splitlines() in [
        [f"no statements of abu-hussein-al-hamidawi from 2026-11-13 to {day} (Asia/Baghdad)"]
        for day in (today, datetime.now(BAGHDAD).date())
    ]
    code, out, err = run(seeded, "--leader", "abu-hussein-al-hamidawi", "--json", *RANGE)
    assert code == 0
    # The range reaches back to the statement of 2026-11-12 and ends on --until.
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[-1]["date"] == "2026-11-19"
    code, out, err = run(seeded, "--leader", "akram-kaabi", "--json", "--since", "2026-11-18")
    assert (code, out) == (0, "")
    assert err.startswith("no statements of akram-kaabi from 2026-11-18")


def test_default_range_is_the_last_30_days(seeded: Seeded, db: Database) -> None:
    """Also: a leader no longer in the config is still known by his stored statements."""
    now = datetime.now(UTC)
    former = Attribution("hamidawi-x", "abu-fadak")
    with db.write() as session:
        for external_id, age in (("recent", timedelta(days=2)), ("old", timedelta(days=31))):
            post = Post(external_id=external_id, text=external_id, published_at=now - age)
            ingest(session, former, [post], now)
    code, out, err = run(seeded, "--leader", "abu-fadak", "--json")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    today = now.astimezone(BAGHDAD).date()
    assert [row["date"] for row in rows] == [
        (today - timedelta(days=30 - n)).isoformat() for n in range(31)
    ]  # the day 30 days ago (from this time of day on) to today
    recent = (now - timedelta(days=2)).astimezone(BAGHDAD).date().isoformat()
    assert {row["date"]: row["statements"] for row in rows if row["statements"]} == {recent: 1}


def test_since_must_be_before_until(seeded: Seeded) -> None:
    code, _, err = run(seeded, "--leader", "akram-kaabi", "--since", "2026-11-20",
                       "--until", "2026-11-10")  # fmt: skip
    assert code == 2
    assert "must be before --until" in " ".join(err.split())


def test_turn_rules_on_days() -> None:
    """Turns skip quiet days, need a previous day with statements, ignore fading to neutral,
    and pick the strongest statement of the new stance (the earliest of equals)."""
    tz = UTC

    def point(ident: int, day: int, escalation: float, de_escalation: float) -> StatementPoint:
        moment = datetime(2026, 11, day, 12, ident, tzinfo=UTC)
        return StatementPoint(ident, moment, f"s{ident}", escalation, de_escalation, False)

    points = [
        point(1, 1, 0.7, 0.0),  # escalation on the first day: nothing to turn from
        point(2, 2, 0.0, 0.0),  # fades to neutral: no turn
        point(3, 4, 0.8, 0.0),  # after a quiet day, neutral -> escalation: a turn
        point(4, 4, 0.8, 0.1),  # equal escalation, later: not the driver
        point(5, 5, 0.9, 0.0),  # escalation again: no turn
        point(6, 6, 0.2, 0.9),  # escalation -> de-escalation
        point(7, 6, 0.0, 0.2),
        point(8, 7, 0.4, 0.4),  # a tie is neutral
    ]
    days = mark_turns(daily(points, tz, date(2026, 11, 1), date(2026, 11, 7)))
    assert [d.dominant for d in days] == [
        ESCALATION, NEUTRAL, None, ESCALATION, ESCALATION, DE_ESCALATION, NEUTRAL,
    ]  # fmt: skip
    assert [(d.day.day, d.turn, d.turned_from) for d in days if d.turn] == [
        (4, ESCALATION, NEUTRAL),
        (6, DE_ESCALATION, ESCALATION),
    ]
    assert [d.turn_statement.id for d in days if d.turn_statement] == [3, 6]
    assert dominant_stance(0.29, 0.0) == NEUTRAL
    assert dominant_stance(0.3, 0.0) == ESCALATION
    assert dominant_stance(0.31, 0.3) == ESCALATION
    assert dominant_stance(0.3, 0.5) == DE_ESCALATION


def test_library_buckets_in_the_display_timezone(seeded: Seeded, db: Database) -> None:
    since = datetime(2026, 11, 16, tzinfo=BAGHDAD).astimezone(UTC)
    until = datetime(2026, 11, 18, tzinfo=BAGHDAD).astimezone(UTC)
    with db.read() as session:
        local = leader_timeline(session, "akram-kaabi", since, until, BAGHDAD)
        in_utc = leader_timeline(session, "akram-kaabi", since, until, UTC)
    assert [(d.day.isoformat(), d.count) for d in local.days] == [
        ("2026-11-16", 1),
        ("2026-11-17", 1),
    ]
    # The same instants seen in UTC: 2026-11-15 21:00 to 2026-11-17 21:00.
    assert [(d.day.isoformat(), d.count) for d in in_utc.days] == [
        ("2026-11-15", 0),
        ("2026-11-16", 2),
        ("2026-11-17", 0),
    ]


def test_png_chart_is_written(seeded: Seeded, tmp_path: Path) -> None:
    target = tmp_path / "kaabi.png"
    code, out, err = run(seeded, "--leader", "akram-kaabi", *RANGE, "--png", str(target))
    assert code == 0, err
    assert f"chart: {target}" in out
    assert "▲ escalation turn" in out  # the table is printed too
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 10_000
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    code, out, err = run(seeded, "--leader", "akram-kaabi", *RANGE, "--json", "--png",
                         str(tmp_path / "again.png"))  # fmt: skip
    assert code == 0
    assert all(json.loads(line) for line in out.splitlines())
    assert "chart: " in err


def test_png_into_a_missing_folder_fails(seeded: Seeded, tmp_path: Path) -> None:
    target = tmp_path / "no-such-folder" / "chart.png"
    code, _, err = run(seeded, "--leader", "akram-kaabi", *RANGE, "--png", str(target))
    assert code == 1
    assert "cannot write the chart" in err
    assert not target.exists()


def test_chart_figure_marks_the_turns(seeded: Seeded, db: Database) -> None:
    from matplotlib.text import Annotation

    from monitor.cli.timeline_chart import timeline_figure

    _config, _env, ids = seeded
    since = datetime(2026, 11, 10, tzinfo=BAGHDAD).astimezone(UTC)
    until = datetime(2026, 11, 20, tzinfo=BAGHDAD).astimezone(UTC)
    with db.read() as session:
        result = leader_timeline(session, "akram-kaabi", since, until, BAGHDAD)
    figure = timeline_figure(result, "Akram Kaabi", "Asia/Baghdad")
    annotations = [
        text for axes in figure.axes for text in axes.texts if isinstance(text, Annotation)
    ]
    assert sorted((a.get_text(), a.xy) for a in annotations) == [
        (f"▲ escalation turn\n#{ids['k-3']}", (1, pytest.approx(0.48333, abs=1e-4))),
        (f"▼ de-escalation turn\n#{ids['k-6']}", (5, pytest.approx(0.68))),
    ]
    title = figure.get_suptitle()
    assert "Akram Kaabi" in title
    assert "2026-11-10 to 2026-11-19" in title
    lines = {line.get_label(): list(line.get_ydata()) for axes in figure.axes
             for line in axes.get_lines()}  # fmt: skip
    # Quiet days are drawn as zero.
    assert lines["escalation (mean)"][2:5] == [0.0, 0.0, 0.0]
    bars = [patch.get_height() for patch in figure.axes[0].patches]
    assert bars == [2, 3, 0, 0, 0, 2, 1, 1, 0, 0]


def test_png_without_matplotlib_explains_the_extra(seeded: Seeded, tmp_path: Path) -> None:
    """In a fresh interpreter where matplotlib cannot be imported: the table still works,
    --png fails with the install hint and writes nothing."""
    config, env, _ids = seeded
    script = (
        "import sys; sys.modules['matplotlib'] = None; "
        "from monitor.cli.app import main; sys.argv = ['monitor'] + sys.argv[1:]; main()"
    )
    base = [sys.executable, "-c", script, "--config", str(config), "timeline",
            "--leader", "akram-kaabi", *RANGE]  # fmt: skip
    environment = {**os.environ, **env, "COLUMNS": "140"}
    plain = subprocess.run(base, capture_output=True, text=True, env=environment, check=False)
    assert plain.returncode == 0, plain.stderr
    assert "▼ de-escalation turn" in plain.stdout
    target = tmp_path / "chart.png"
    charted = subprocess.run(
        [*base, "--png", str(target)], capture_output=True, text=True, env=environment,
        check=False,
    )  # fmt: skip
    assert charted.returncode == 1
    assert "install the chart extra: pip install '.[chart]'" in charted.stderr
    assert charted.stdout == ""
    assert not target.exists()
