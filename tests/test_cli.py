"""The command line, in-process with typer's runner and as real subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli.app import app
from monitor.demo.server import FeedServer
from monitor.store.migrate import head_revision
from tests.helpers import DAY, GAZETTEER, free_port, rss_feed, rss_item

REPO = Path(__file__).resolve().parents[1]
ITEM_KEYS = {
    "id", "source", "kind", "leader", "external_id", "url", "author", "published_at",
    "fetched_at", "text", "language", "edited", "deleted", "reply_to", "forwarded_from",
    "mentions", "stance", "status",
}  # fmt: skip

WAR = rss_item("kaabi-1", "بيان", "أصبح واجباً على الجميع إعلان الحرب على أمريكا", minutes=0)
CONDOLENCE = rss_item("kaabi-2", "تعزية", "نعزي عوائل الشهداء الأبرار", minutes=30)


def invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, args, env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def write_config(tmp_path: Path, feeds: FeedServer) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        GAZETTEER
        + f"""
settings:
  timezone: Asia/Baghdad
sources:
  - id: kaabi-site
    kind: rss
    url: {feeds.url("/kaabi.rss")}
    leader: akram-kaabi
rules:
  - id: war-on-us
    match: '("declare war" OR "إعلان الحرب") AND (America OR أمريكا)'
    severity: high
  - id: mourning
    match: 'شهداء'
    severity: low
""",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def polled(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> tuple[Path, dict[str, str]]:
    """A config and a database after one `monitor run --once`."""
    feed_server.serve("/kaabi.rss", rss_feed(WAR, CONDOLENCE))
    config = write_config(tmp_path, feed_server)
    env = {"MONITOR_DATABASE_URL": database_url}
    code, out, _ = invoke(["--config", str(config), "run", "--once"], env)
    assert code == 0, out
    assert "1 sources polled, 2 new statements, 0 edited, 0 deleted, 2 alerts created" in out
    assert "alerts delivered: 2 sent, 0 failed" in out
    return config, env


def items(config: Path, env: dict[str, str], *extra: str) -> list[dict]:  # type: ignore[type-arg]
    code, out, err = invoke(["--config", str(config), "items", "list", "--json", *extra], env)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_run_once_prints_alerts_and_summary(polled: tuple[Path, dict[str, str]]) -> None:
    config, env = polled
    rows = items(config, env)
    assert [row["external_id"] for row in rows] == ["kaabi-2", "kaabi-1"]  # newest first
    for row in rows:
        assert set(row) >= ITEM_KEYS
    war = rows[1]
    assert war["source"] == "kaabi-site"
    assert war["kind"] == "rss"
    assert war["leader"] == "akram-kaabi"
    assert war["published_at"] == f"{DAY}T09:00:00+00:00"
    assert war["language"] == "ar"
    assert (war["edited"], war["deleted"], war["status"]) == (False, False, "new")
    assert war["rules"] == ["war-on-us"]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--leader", "akram-kaabi"], ["kaabi-2", "kaabi-1"]),
        (["--leader", "abu-hussein-al-hamidawi"], []),
        (["--organization", "harakat-hezbollah-al-nujaba"], ["kaabi-2", "kaabi-1"]),
        (["--source", "kaabi-site"], ["kaabi-2", "kaabi-1"]),
        (["--rule", "war-on-us"], ["kaabi-1"]),
        (["--rule", "mourning"], ["kaabi-2"]),
        (["--lang", "ar"], ["kaabi-2", "kaabi-1"]),
        (["--lang", "en"], []),
        (["--status", "new"], ["kaabi-2", "kaabi-1"]),
        (["--status", "relevant"], []),
        (["--limit", "1"], ["kaabi-2"]),
        (["--limit", "0"], ["kaabi-2", "kaabi-1"]),
        (["--since", f"{DAY}T09:15:00Z"], ["kaabi-2"]),
        (["--until", f"{DAY}T09:15:00Z"], ["kaabi-1"]),
        # A date-time without offset is read in the display timezone (Baghdad, UTC+3).
        (["--since", f"{DAY}T12:15"], ["kaabi-2"]),
        (["--since", DAY], ["kaabi-2", "kaabi-1"]),
        (["--since", "3650d"], ["kaabi-2", "kaabi-1"]),
    ],
)
def test_items_list_filters(
    polled: tuple[Path, dict[str, str]], options: list[str], expected: list[str]
) -> None:
    config, env = polled
    assert [row["external_id"] for row in items(config, env, *options)] == expected


def test_items_list_table(polled: tuple[Path, dict[str, str]]) -> None:
    config, env = polled
    code, out, _ = invoke(["--config", str(config), "items", "list"], {**env, "COLUMNS": "140"})
    assert code == 0
    assert "times in Asia/Baghdad" in out
    assert f"{DAY} 12:00" in out  # 09:00 UTC shown in Baghdad time
    assert "war-on-us" in out
    assert "بيان" in out


def test_items_show_with_versions_matches_and_alerts(
    polled: tuple[Path, dict[str, str]], feed_server: FeedServer
) -> None:
    config, env = polled
    edited = rss_item("kaabi-2", "تعزية", "نعزي عوائل الشهداء الأبرار ونعلن الحداد", minutes=30)
    feed_server.serve("/kaabi.rss", rss_feed(WAR, edited))
    assert invoke(["--config", str(config), "run", "--once"], env)[0] == 0
    [row] = items(config, env, "--rule", "mourning")
    assert row["edited"] is True

    code, out, _ = invoke(["--config", str(config), "items", "show", str(row["id"])], env)
    assert code == 0
    assert f"{DAY} 09:30 UTC / {DAY} 12:30 local" in out
    assert "versions (2)" in out
    assert "-نعزي عوائل الشهداء الأبرار" in out
    assert "+نعزي عوائل الشهداء الأبرار ونعلن الحداد" in out
    assert "mourning [low] terms: شهداء" in out
    assert "notifier=console sent attempts=1" in out

    code, out, _ = invoke(["--config", str(config), "items", "show", str(row["id"]), "--json"], env)
    shown = json.loads(out)
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert shown["versions"][0]["text"] == "تعزية\n\nنعزي عوائل الشهداء الأبرار"
    assert shown["matches"][0]["evidence"]["terms"] == ["شهداء"]
    assert shown["alerts"][0]["status"] == "sent"


def test_items_show_unknown_id(polled: tuple[Path, dict[str, str]]) -> None:
    config, env = polled
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "items", "show", "999"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "error: no statement with id 999"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--since", "yesterday"], "'yesterday' is neither a duration (24h, 7d) nor an ISO date"),
        (
            ["--status", "done"],
            "'done' is not a status (valid: new, relevant, irrelevant, escalated)",
        ),
        (["--limit", "-1"], "must be 0 (all) or a positive number"),
    ],
)
def test_bad_cli_arguments_are_usage_errors(
    tmp_path: Path, feed_server: FeedServer, options: list[str], message: str
) -> None:
    config = write_config(tmp_path, feed_server)
    code, _, err = invoke(["--config", str(config), "items", "list", *options])
    assert code == 2
    assert message in " ".join(err.split())


def test_check_passes_on_the_shipped_config(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("SMTP_", "WEBHOOK_", "MONITOR_", "HTTPS_PROXY", "X_BEARER")):
            monkeypatch.delenv(name)
    code, out, _ = invoke(["--config", str(REPO / "sources.yaml"), "check"])
    assert code == 0
    assert "config OK" in out
    assert "akram-kaabi" in out


def test_check_reports_a_broken_config_with_file_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n"
        "  - id: a\n"
        "    kind: rss\n"
        "    url: https://example.org/a.rss\n"
        "  - id: b\n"
        "    kind: rss\n"
        "    url: https://example.org/b.rss\n"
        "    interval: 5x\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(path), "check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"{path}:8: sources[1].interval: '5x' is not a duration (use e.g. 30s, 5m, 2h, 1d)"
    )
    assert result.stdout == ""


def test_run_refuses_a_broken_config(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("rules:\n  - id: r\n    match: '(war'\n", encoding="utf-8")
    code, _, err = invoke(["--config", str(path), "run", "--once"])
    assert code == 2
    assert err.strip() == f"{path}:3: rules[0].match: expected ')' at column 5"


def test_config_path_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "elsewhere.yaml"
    path.write_text("sources: []\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, out, _ = invoke(["check"], {"MONITOR_CONFIG": str(path)})
    assert code == 0 and "config OK" in out
    code, _, err = invoke(["check"], {"MONITOR_CONFIG": ""})
    assert code == 2
    assert "sources.yaml" in err


def test_db_upgrade(tmp_path: Path, database_url: str) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text("{}\n", encoding="utf-8")
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    code, out, _ = invoke(
        ["--config", str(config), "db", "upgrade"], {"MONITOR_DATABASE_URL": fresh}
    )
    assert code == 0
    assert out.strip() == f"{fresh}: upgraded from empty to {head_revision()}"
    # The test database is migrated already: nothing to do, on either backend.
    code, out, _ = invoke(
        ["--config", str(config), "db", "upgrade"], {"MONITOR_DATABASE_URL": database_url}
    )
    assert code == 0
    assert out.strip().endswith(f": already at revision {head_revision()}")


def test_console_script_and_module_entry_points() -> None:
    module = subprocess.run(
        [sys.executable, "-m", "monitor", "--version"], capture_output=True, text=True, check=True
    )
    script = Path(sys.executable).with_name("monitor")
    console = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert module.stdout == console.stdout == "monitor 0.1.0\n"


def test_demo_runs_offline(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "demo", "--keep", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert (
        "Demo done: 12 statements captured (1 edited), 14 alerts delivered, 7/7 webhooks verified."
        in out
    )
    assert "ALERT [high] rule=war-on-us" in out
    assert "Round 3: nothing changed" in out
    assert (tmp_path / "demo.db").exists()


def test_source_text_is_never_read_as_markup(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    tricky = rss_item("k9", "Update [/i] [link=https://evil.example]click[/link]", "نص", 0)
    feed_server.serve("/kaabi.rss", rss_feed(tricky))
    config = write_config(tmp_path, feed_server)
    env = {"MONITOR_DATABASE_URL": database_url, "COLUMNS": "200"}
    assert invoke(["--config", str(config), "run", "--once"], env)[0] == 0
    code, out, _ = invoke(["--config", str(config), "items", "list"], env)
    assert code == 0
    assert "Update [/i] [link=https://evil.example]click[/link]" in out


def test_review_commands_need_an_existing_database(tmp_path: Path) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text("{}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "items", "list"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "MONITOR_DATABASE_URL"},
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: no database at monitor.db: run `monitor run --once` or `monitor db upgrade` "
        "first (or set MONITOR_DATABASE_URL)"
    )
    assert not (tmp_path / "monitor.db").exists()


def test_an_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text("{}\n", encoding="utf-8")
    url = f"postgresql+psycopg://nobody@127.0.0.1:{free_port()}/none"
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "db", "upgrade"],
        capture_output=True,
        text=True,
        env={**os.environ, "MONITOR_DATABASE_URL": url},
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: database: connection failed:")
    assert "Traceback" not in result.stderr


def test_replicas_upgrading_a_new_postgres_database_together(postgres_url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(
        make_url(postgres_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
    )
    name = f"monitor_migrate_{os.getpid()}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
        env = {**os.environ, "MONITOR_DATABASE_URL": url}
        command = [sys.executable, "-m", "monitor", "--config", os.devnull, "db", "upgrade"]
        processes = [
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            for _ in range(3)
        ]
        outputs = [process.communicate(timeout=60) for process in processes]
        assert [p.returncode for p in processes] == [0, 0, 0], outputs
        lines = sorted(out.strip().split(": ", 1)[1] for out, _ in outputs)
        head = head_revision()
        assert lines == [f"already at revision {head}"] * 2 + [f"upgraded from empty to {head}"]
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_a_large_run_once_summary_lists_only_what_needs_a_look(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from monitor.cli.run import FULL_TABLE_UP_TO, print_summary
    from monitor.daemon import CycleSummary
    from monitor.pipeline import PollReport

    polls = [PollReport(f"quiet-{n:03d}", "not_modified", http_status=304) for n in range(200)]
    polls += [
        PollReport("same-page", "ok", http_status=200, unchanged=3),
        PollReport("fresh", "ok", http_status=200, new=2, alerts=1),
        PollReport("trimmed", "ok", http_status=200, deleted=1),
        PollReport("newsy", "ok", http_status=200, new=4),
        PollReport("broken", "error", error="HTTP 503 [bold]from[/bold] the server"),
    ]
    assert len(polls) > FULL_TABLE_UP_TO
    print_summary(CycleSummary(polls=polls, skipped=["elsewhere"]))
    out = capsys.readouterr().out
    listed = {
        cells[1].strip(): cells[2].strip()
        for cells in (line.split("│") for line in out.splitlines())
        if len(cells) > 3 and cells[1].strip()
    }
    assert listed == {"broken": "error", "fresh": "ok", "trimmed": "ok"}
    assert "[bold]" in out  # the error is not read as markup
    assert (
        "202 sources not listed: 200 not modified (304), 1 ok without changes, "
        "1 with only new statements (4, none alerted); 1 skipped (leased by another process)"
    ) in out
    assert (
        out.rstrip()
        .splitlines()[-1]
        .startswith("205 sources polled, 6 new statements, 0 edited, 1 deleted, 1 alerts created; ")
    )


def test_a_large_quiet_run_once_summary_has_no_table(capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli.run import print_summary
    from monitor.daemon import CycleSummary
    from monitor.pipeline import PollReport

    polls = [PollReport(f"quiet-{n:03d}", "not_modified", http_status=304) for n in range(60)]
    print_summary(CycleSummary(polls=polls))
    assert capsys.readouterr().out.splitlines() == [
        "60 sources not listed: 60 not modified (304)",
        "60 sources polled, 0 new statements, 0 edited, 0 deleted, 0 alerts created; "
        "alerts delivered: 0 sent, 0 failed",
    ]


def test_a_small_run_once_summary_lists_every_source(capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli.run import print_summary
    from monitor.daemon import CycleSummary
    from monitor.pipeline import PollReport

    polls = [PollReport(f"quiet-{n}", "not_modified", http_status=304) for n in range(5)]
    print_summary(CycleSummary(polls=polls, skipped=["elsewhere"]))
    out = capsys.readouterr().out
    for n in range(5):
        assert f"quiet-{n}" in out
    assert "│ elsewhere │ skipped" in out
    assert "not listed" not in out
