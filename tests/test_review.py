"""The analyst's review commands on a seeded store, on SQLite and PostgreSQL:
`items review`, the extra `items list` filters, `items show` in full, `export`, `stats`."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.store.session import Database
from tests.review_seed import DELETED_TEXT, ELECTION_TEXT, REPLY_V2, WAR_TEXT, seed, write_config

Seeded = tuple[Path, dict[str, str]]
STAMP = r"\[\d{4}-\d\d-\d\d \d\d:\d\d UTC\]"


def invoke(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "120", **env}, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def seeded(tmp_path: Path, db: Database, database_url: str) -> Seeded:
    seed(db)
    return write_config(tmp_path), {"MONITOR_DATABASE_URL": database_url}


def run(seeded: Seeded, *args: str) -> tuple[int, str, str]:
    config, env = seeded
    return invoke(["--config", str(config), *args], env)


def listed(seeded: Seeded, *args: str) -> list[dict[str, Any]]:
    code, out, err = run(seeded, "items", "list", "--json", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_review_marks_several_ids_with_note_and_tags(seeded: Seeded) -> None:
    code, out, _ = run(
        seeded, "items", "review", "1", "2", "--status", "relevant",
        "--note", "يستحق المتابعة", "--tag", "iraq", "--tag", "us", "--tag", "iraq",
    )  # fmt: skip
    assert code == 0
    assert out.splitlines() == [
        "1: status relevant, tags iraq, us",
        "2: status relevant, tags iraq, us",
    ]
    code, out, _ = run(seeded, "items", "review", "2", "--note", "second look", "--untag", "us")
    assert out.strip() == "2: status relevant, tags iraq"

    rows = {row["id"]: row for row in listed(seeded)}
    assert [rows[i]["status"] for i in (1, 2, 3, 4)] == ["relevant", "relevant", "new", "new"]
    assert rows[1]["tags"] == ["iraq", "us"]
    assert rows[2]["tags"] == ["iraq"]
    assert re.fullmatch(f"{STAMP} يستحق المتابعة", rows[1]["note"])
    assert re.fullmatch(f"{STAMP} يستحق المتابعة\n{STAMP} second look", rows[2]["note"])
    assert [row["id"] for row in listed(seeded, "--unreviewed")] == [4, 3]

    code, out, _ = run(seeded, "items", "show", "2")
    assert re.search(f"notes\n  {STAMP} يستحق المتابعة\n  {STAMP} second look", out)
    assert "status        relevant" in out
    assert "tags          iraq" in out


def test_review_json_output(seeded: Seeded) -> None:
    code, out, _ = run(seeded, "items", "review", "3", "--status", "escalated", "--json")
    assert code == 0
    [row] = [json.loads(line) for line in out.splitlines()]
    assert (row["id"], row["status"], row["text"]) == (3, "escalated", DELETED_TEXT)


def test_review_unknown_ids_change_nothing(seeded: Seeded) -> None:
    config, env = seeded
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "items", "review",
         "1", "999", "998", "--status", "irrelevant"],
        capture_output=True, text=True, env={**os.environ, **env}, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no statement with ids 999, 998; nothing changed"
    assert listed(seeded, "--status", "irrelevant") == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["1"], "give at least one of --status, --note, --tag, --untag"),
        (["1", "--status", "done"], "'done' is not a status"),
    ],
)
def test_review_usage_errors(seeded: Seeded, args: list[str], message: str) -> None:
    code, _, err = run(seeded, "items", "review", *args)
    assert code == 2
    assert message in " ".join(err.split())


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], [4, 3, 2, 1]),
        (["--matched"], [1]),
        (["--edited"], [2]),
        (["--deleted"], [3]),
        (["--unreviewed"], [4, 3, 2, 1]),
        (["--unreviewed", "--matched", "--leader", "akram-kaabi"], [1]),
        (["--limit", "2", "--page", "1"], [4, 3]),
        (["--limit", "2", "--page", "2"], [2, 1]),
        (["--limit", "3", "--page", "2"], [1]),
        (["--limit", "2", "--page", "3"], []),
    ],
)
def test_items_list_review_filters(seeded: Seeded, args: list[str], expected: list[int]) -> None:
    assert [row["id"] for row in listed(seeded, *args)] == expected


def test_items_list_page_needs_a_limit(seeded: Seeded) -> None:
    code, _, err = run(seeded, "items", "list", "--limit", "0", "--page", "2")
    assert code == 2
    assert "--page needs a --limit above 0" in err


def test_items_list_local_and_utc_times(seeded: Seeded) -> None:
    _, local, _ = run(seeded, "items", "list")
    _, utc, _ = run(seeded, "items", "list", "--utc")
    assert "2026-11-20 12:00" in local and "times in Asia/Baghdad" in local
    assert "2026-11-20 09:00" in utc and "times in UTC" in utc
    assert "2026-11-20 12:00" not in utc
    assert "بيان صادر عن المكتب السياسي" in local


def test_items_show_everything(seeded: Seeded) -> None:
    code, out, _ = run(seeded, "items", "show", "1")
    assert code == 0
    assert 'organization united-states as "أمريكا"' in out
    assert "escalation 0.82 about us; cues: التصعيد" in out
    assert "de-escalation" not in out  # a zero score is noise
    assert "war-on-us [high] terms: إعلان الحرب, أمريكا" in out
    assert "sent attempts=1, sent 2026-11-20 09:02 UTC" in out
    assert "status        new" in out

    _, reply, _ = run(seeded, "items", "show", "2")
    assert "reply to      100 -> #1: نحذر الاحتلال الأمريكي من عواقب التصعيد" in reply
    assert "+" + REPLY_V2 in reply
    _, deleted, _ = run(seeded, "items", "show", "3")
    assert "deleted       2026-11-21 09:00 UTC" in deleted


def test_items_show_json_is_complete(seeded: Seeded) -> None:
    code, out, _ = run(seeded, "items", "show", "2", "--json")
    assert code == 0
    shown = json.loads(out)
    assert shown["links"] == {
        "reply to": {"id": 1, "first_line": "نحذر الاحتلال الأمريكي من عواقب التصعيد"}
    }
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["edited"] is True and shown["text"] == REPLY_V2
    _, out, _ = run(seeded, "items", "show", "1", "--json")
    war = json.loads(out)
    assert war["mentions"][0]["id"] == "united-states"
    assert war["stance"]["escalation"]["cues"][0]["query"] == "التصعيد"
    assert war["matches"][0]["evidence"]["spans"] == [[40, 51], [56, 62]]
    assert war["alerts"][0]["sent_at"] == "2026-11-20T09:02:00+00:00"
    assert WAR_TEXT[40:51] == "إعلان الحرب"


def test_export_csv_for_excel(seeded: Seeded, tmp_path: Path) -> None:
    target = tmp_path / "brief.csv"
    code, _, err = run(seeded, "export", "--format", "csv", "-o", str(target))
    assert code == 0
    assert f"4 statements written to {target}" in err
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.split(b"\n", 1)[0].endswith(b"\r")  # CRLF row ends
    assert raw.count(b"\r\n") == 5  # header and 4 rows; a newline inside the text stays LF
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert [row["id"] for row in rows] == ["4", "3", "2", "1"]
    assert list(rows[0]) == list(listed(seeded)[0])  # every field of the JSON objects
    war = rows[3]
    assert war["text"] == WAR_TEXT  # Arabic, its line break kept inside the quoted field
    assert war["rules"] == "war-on-us"
    assert json.loads(war["stance"])["escalation"]["score"] == 0.82
    assert rows[1]["deleted"] == "true" and rows[1]["deleted_at"].startswith("2026-11-21T09:00")


def test_export_jsonl_matches_items_json(seeded: Seeded) -> None:
    code, out, _ = run(seeded, "export", "--format", "jsonl", "--edited")
    assert code == 0
    [row] = [json.loads(line) for line in out.splitlines()]
    assert row == listed(seeded, "--edited")[0]
    code, out, _ = run(seeded, "export", "--format", "jsonl")
    assert len(out.splitlines()) == 4  # no limit by default


def test_export_markdown_brief(seeded: Seeded) -> None:
    run(seeded, "items", "review", "1", "--note", "أولوية", "--tag", "war")
    code, out, _ = run(seeded, "export", "--format", "md", "--matched")
    assert code == 0
    assert out.startswith("## akram-kaabi: 2026-11-20 09:00 UTC (2026-11-20 12:00 Asia/Baghdad)\n")
    assert "- Link: <https://example.org/kaabi-telegram/100>" in out
    assert "- Rules: war-on-us" in out
    assert "- Tags: war" in out
    assert "> نحذر الاحتلال الأمريكي من عواقب التصعيد\n> إعلان الحرب على أمريكا" in out
    assert re.search(f"Notes:\n\n- {STAMP} أولوية", out)
    _, deleted, _ = run(seeded, "export", "--format", "md", "--deleted")
    assert "- Status: new, deleted 2026-11-21T09:00:00+00:00" in deleted


def test_export_bad_format(seeded: Seeded) -> None:
    code, _, err = run(seeded, "export", "--format", "xlsx")
    assert code == 2
    assert "'xlsx' is not a format (valid: csv, jsonl, md)" in " ".join(err.split())


def test_stats(seeded: Seeded) -> None:
    code, out, _ = run(seeded, "stats", "--json")
    assert code == 0
    rows = {(row["kind"], row["id"]): row for row in map(json.loads, out.splitlines())}
    kaabi = rows["source", "kaabi-telegram"]
    assert (kaabi["statements"], kaabi["matched"], kaabi["edited"], kaabi["deleted"]) == (
        2, 1, 1, 0,
    )  # fmt: skip
    assert kaabi["last_statement_at"] == "2026-11-20T09:30:00+00:00"
    failing = rows["source", "hamidawi-x"]
    assert (failing["consecutive_failures"], failing["last_error"]) == (
        3, "HTTP 503 Service Unavailable",
    )  # fmt: skip
    leader = rows["leader", "akram-kaabi"]
    assert (leader["statements"], leader["matched"], leader["edited"], leader["deleted"]) == (
        3, 1, 1, 1,
    )  # fmt: skip

    code, out, _ = run(seeded, "stats")
    assert re.search(
        r"hamidawi-x\s+│\s+1 │\s+0 │\s+0 │\s+0 │ 2026-11-20 11:00 │\s+3 │ HTTP 503", out
    )
    assert re.search(r"akram-kaabi\s+│\s+3 │\s+1 │\s+1 │\s+1 │ 2026-11-20 10:00", out)
    assert ELECTION_TEXT not in out


def test_search_takes_the_review_filters(seeded: Seeded) -> None:
    config, env = seeded
    code, out, _ = invoke(["--config", str(config), "search", "أمريكا", "--json", "--matched"], env)
    assert [json.loads(line)["id"] for line in out.splitlines()] == [1]
    code, out, _ = invoke(["--config", str(config), "search", "الشهداء", "--json", "--edited"], env)
    assert [json.loads(line)["id"] for line in out.splitlines()] == [2]
    code, out, _ = invoke(["--config", str(config), "search", "أمريكا", "--deleted"], env)
    assert "no statements match" in out
    code, out, _ = invoke(["--config", str(config), "search", "أمريكا", "--utc"], env)
    assert code == 0
    assert "2026-11-20 09:00" in out and "times in UTC" in out


def test_export_csv_with_no_rows_still_has_every_column(seeded: Seeded) -> None:
    code, out, _ = run(seeded, "export", "--format", "csv", "--lang", "fr")
    assert code == 0
    header = out.lstrip("\ufeff").rstrip("\r\n").split(",")
    assert header == list(listed(seeded)[0])
