"""`monitor alerts list` takes the common filters of every listing command:
--leader, --organization, --source and --lang select by the alert's statement."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from monitor.demo.server import FeedServer
from tests.helpers import GAZETTEER, rss_feed
from tests.test_cli import invoke


def item(guid: str, text: str, minutes_ago: int) -> str:
    published = format_datetime(datetime.now(UTC) - timedelta(minutes=minutes_ago))
    return (
        f'<item><guid isPermaLink="false">{guid}</guid><title>{guid}</title>'
        f"<link>https://example.org/statements/{guid}</link>"
        f"<pubDate>{published}</pubDate><description>{text}</description></item>"
    )


KAABI = [
    item("kaabi-1", "إعلان الحرب على أمريكا وقواعدها في المنطقة", 50),
    item("kaabi-2", "لا مكان لقوات أمريكا في أرض العراق بعد اليوم", 40),
]
KH = [
    item("kh-1", "على قوات أمريكا أن تغادر العراق فوراً وإلا فالرد قادم", 30),
    item("kh-2", "America must withdraw all of its forces from Iraq before the deadline.", 20),
]


@pytest.fixture
def polled(tmp_path: Path, feed_server: FeedServer, database_url: str) -> tuple[Path, str]:
    """Two sources of two leaders of two organizations, statements in Arabic and
    English, each alerted to two console notifiers (eight alerts, all sent)."""
    feed_server.serve("/kaabi.rss", rss_feed(*KAABI))
    feed_server.serve("/kh.rss", rss_feed(*KH, language="en"))
    path = tmp_path / "sources.yaml"
    path.write_text(
        GAZETTEER
        + f"""
settings:
  timezone: Asia/Baghdad
sources:
  - id: kaabi-site
    kind: rss
    url: {feed_server.url("/kaabi.rss")}
    leader: akram-kaabi
  - id: kh-site
    kind: rss
    url: {feed_server.url("/kh.rss")}
    leader: abu-hussein-al-hamidawi
rules:
  - id: america
    match: أمريكا OR America
    notify: [a, b]
notifiers:
  - {{id: a, kind: console}}
  - {{id: b, kind: console}}
""",
        encoding="utf-8",
    )
    code, out, err = invoke(
        ["--config", str(path), "run", "--once"], {"MONITOR_DATABASE_URL": database_url}
    )
    assert code == 0, out + err
    return path, database_url


def run(polled: tuple[Path, str], *args: str) -> tuple[int, str, str]:
    config, database_url = polled
    return invoke(
        ["--config", str(config), *args], {"MONITOR_DATABASE_URL": database_url, "COLUMNS": "200"}
    )


def listed(polled: tuple[Path, str], *args: str) -> list[dict[str, object]]:
    code, out, err = run(polled, "alerts", "list", "--json", *args)
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def statements(polled: tuple[Path, str], *args: str) -> dict[str, int]:
    """external id -> statement id, of `items list` with these filters."""
    code, out, err = run(polled, "items", "list", "--json", *args)
    assert code == 0, err
    return {row["external_id"]: row["id"] for row in map(json.loads, out.splitlines())}


def alerted(rows: list[dict[str, object]]) -> list[tuple[object, object]]:
    return sorted((row["statement_id"], row["notifier"]) for row in rows)


def test_alerts_list_filters_on_the_statement(polled: tuple[Path, str]) -> None:
    ids = statements(polled)
    assert set(ids) == {"kaabi-1", "kaabi-2", "kh-1", "kh-2"}
    assert len(listed(polled)) == 8
    assert {row["status"] for row in listed(polled)} == {"sent"}

    def both(*names: str) -> list[tuple[object, object]]:
        return sorted((ids[name], notifier) for name in names for notifier in ("a", "b"))

    assert alerted(listed(polled, "--leader", "akram-kaabi")) == both("kaabi-1", "kaabi-2")
    assert alerted(listed(polled, "--leader", "abu-hussein-al-hamidawi")) == both("kh-1", "kh-2")
    assert alerted(listed(polled, "--organization", "kataib-hezbollah")) == both("kh-1", "kh-2")
    assert alerted(listed(polled, "--organization", "harakat-hezbollah-al-nujaba")) == both(
        "kaabi-1", "kaabi-2"
    )
    assert alerted(listed(polled, "--source", "kh-site")) == both("kh-1", "kh-2")
    assert alerted(listed(polled, "--lang", "en")) == both("kh-2")
    assert alerted(listed(polled, "--lang", "ar")) == both("kaabi-1", "kaabi-2", "kh-1")
    # Combined with each other and with the alert's own filters: all must hold.
    assert alerted(listed(polled, "--source", "kh-site", "--lang", "ar")) == both("kh-1")
    assert alerted(listed(polled, "--lang", "ar", "--notifier", "b")) == [
        (ids[name], "b") for name in sorted(("kaabi-1", "kaabi-2", "kh-1"), key=ids.__getitem__)
    ]
    assert listed(polled, "--leader", "akram-kaabi", "--source", "kh-site") == []
    assert listed(polled, "--leader", "akram-kaabi", "--status", "dead") == []
    assert listed(polled, "--leader", "akram-kaabi", "--rule", "other") == []
    assert listed(polled, "--leader", "akram-kaabi", "--until", "1h") == []
    assert len(listed(polled, "--leader", "akram-kaabi", "--since", "1h", "--rule", "america")) == 4
    # Newest first, and --limit counts the filtered rows.
    limited = listed(polled, "--organization", "kataib-hezbollah", "--limit", "3")
    assert len(limited) == 3
    assert limited == listed(polled, "--organization", "kataib-hezbollah")[:3]
    # An id nothing carries lists nothing, as in `items list`.
    assert listed(polled, "--leader", "nobody") == []
    assert statements(polled, "--leader", "nobody") == {}
    # The same statements as `items list` with the same filter.
    for option, value in [
        ("--leader", "akram-kaabi"),
        ("--organization", "kataib-hezbollah"),
        ("--source", "kaabi-site"),
        ("--lang", "en"),
    ]:
        expected = set(statements(polled, option, value).values())
        assert {row["statement_id"] for row in listed(polled, option, value)} == expected


def table_rows(out: str) -> list[tuple[str, str, str]]:
    """(item, notifier, status) of each row of the `alerts list` table."""
    rows = []
    for line in out.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│┃]", line)[1:-1]]
        if len(cells) >= 5 and cells[1] == "america":
            rows.append((cells[2], cells[3], cells[4]))
    return rows


def test_alerts_list_table_with_statement_filters(polled: tuple[Path, str]) -> None:
    ids = statements(polled)
    code, out, _ = run(polled, "alerts", "list", "--source", "kh-site", "--lang", "en")
    assert code == 0
    assert sorted(table_rows(out)) == [
        (str(ids["kh-2"]), "a", "sent"),
        (str(ids["kh-2"]), "b", "sent"),
    ]
    code, out, _ = run(polled, "alerts", "list", "--organization", "harakat-hezbollah-al-nujaba")
    assert code == 0
    assert sorted(table_rows(out)) == sorted(
        (str(ids[name]), notifier, "sent")
        for name in ("kaabi-1", "kaabi-2")
        for notifier in ("a", "b")
    )
    code, out, _ = run(polled, "alerts", "list", "--leader", "akram-kaabi", "--lang", "en")
    assert code == 0 and table_rows(out) == [] and "no alerts match" in out


def test_alerts_list_options(polled: tuple[Path, str]) -> None:
    code, out, _ = run(polled, "alerts", "list", "--help")
    assert code == 0
    for option in ("--leader", "--organization", "--source", "--lang", "--rule", "--since"):
        assert option in out
    # The alerts' own statuses, not the review statuses of statements.
    code, _, err = run(polled, "alerts", "list", "--status", "relevant")
    assert code == 2 and "'relevant' is not a status (valid: pending, sent, failed, dead)" in err
    code, _, err = run(polled, "alerts", "list", "--leader", "akram-kaabi", "--since", "soon")
    assert code == 2 and "is neither a duration" in err
    code, _, err = run(polled, "alerts", "list", "--lang", "ar", "--limit", "-1")
    assert code == 2 and "must be 0 (all) or a positive number" in err
