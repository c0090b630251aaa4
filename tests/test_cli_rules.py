"""`monitor rules test` on a typed text and on a stored statement."""

from __future__ import annotations

import json
from pathlib import Path

from monitor.demo.server import FeedServer
from tests.helpers import rss_feed, rss_item
from tests.test_cli import invoke
from tests.test_rules_engine import CONFIG

WAR = "أصبح واجباً على الجميع إعلان الحرب على أمريكا"


def config_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        CONFIG + "  - {id: war-word, match: 'الحرب AND أمريكا', leaders: [akram-kaabi]}\n" + extra,
        encoding="utf-8",
    )
    return path


def verdicts(out: str) -> dict[str, dict]:  # type: ignore[type-arg]
    return {row["rule"]: row for row in map(json.loads, out.splitlines())}


def test_rules_test_on_a_typed_text(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    code, out, _ = invoke(
        ["--config", str(config), "rules", "test", "--text", WAR, "--source", "kaabi-tg", "--json"]
    )
    assert code == 0
    found = verdicts(out)
    assert set(found) == {
        "names-aah", "names-kh-and-han", "aah-left-out", "escalation", "turn",
        "answers-kaabi", "reacts-to-kaabi", "war-word",
    }  # fmt: skip
    assert found["war-word"]["matched"] is True  # the source's leader admits it
    assert found["war-word"]["evidence"]["terms"] == ["الحرب", "أمريكا"]
    escalation = found["escalation"]
    assert escalation["matched"] is True
    assert escalation["stance"]["label"] == "escalation" and escalation["stance"]["score"] >= 0.6
    assert escalation["stance"]["cues"][0]["query"] == '"إعلان الحرب"'
    assert found["names-aah"]["matched"] is False
    assert found["names-aah"]["reason"] == "mentions: none of asaib-ahl-al-haq"

    code, out, _ = invoke(["--config", str(config), "rules", "test", "--text", WAR, "--json"])
    assert verdicts(out)["war-word"]["reason"].startswith("filter leaders: none is not among")


def test_rules_test_on_a_stored_statement(
    tmp_path: Path, feed_server: FeedServer, database_url: str
) -> None:
    feed_server.serve("/k.rss", rss_feed(rss_item("k1", "بيان", WAR)))
    config = (
        config_file(tmp_path)
        .read_text(encoding="utf-8")
        .replace(
            "  - {id: talibawi-tg",
            f"  - {{id: kaabi-rss, kind: rss, url: '{feed_server.url('/k.rss')}', "
            "leader: akram-kaabi}\n  - {id: talibawi-tg",
        )
    )
    env = {"MONITOR_DATABASE_URL": database_url}
    # Only the rss source can be fetched here: the telegram ones stay disabled.
    path = tmp_path / "with-rss.yaml"
    path.write_text(
        config.replace("channel: kaabi,", "channel: kaabi, enabled: false,").replace(
            "channel: talibawi,", "channel: talibawi, enabled: false,"
        ),
        encoding="utf-8",
    )
    assert invoke(["--config", str(path), "run", "--once"], env)[0] == 0
    [item] = [json.loads(line) for line in invoke(
        ["--config", str(path), "items", "list", "--json"], env
    )[1].splitlines()]  # fmt: skip
    code, out, _ = invoke(["--config", str(path), "rules", "test", "--item", str(item["id"])], env)
    assert code == 0
    assert "escalation" in out and "yes" in out
    code, out, _ = invoke(
        ["--config", str(path), "rules", "test", "--item", str(item["id"]), "--json"], env
    )
    assert verdicts(out)["war-word"]["matched"] is True


def test_rules_test_needs_exactly_one_input(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    code, _, err = invoke(["--config", str(config), "rules", "test"])
    assert code == 2 and "give exactly one of --text or --item" in err
    code, _, err = invoke(
        ["--config", str(config), "rules", "test", "--text", "x", "--leader", "nobody"]
    )
    assert code == 2 and "'nobody' is not a leader of the config" in err
