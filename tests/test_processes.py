"""Two real `monitor run --once` processes at the same moment on one database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from monitor.demo.server import FeedServer, WebhookReceiver
from tests.helpers import GAZETTEER, rss_feed, rss_item


def test_two_processes_store_and_alert_once(
    tmp_path: Path, database_url: str, feed_server: FeedServer, webhook_receiver: WebhookReceiver
) -> None:
    sources = []
    for n in range(6):
        items = [
            rss_item(f"s{n}-{i}", "بيان", f"إعلان الحرب على أمريكا رقم {i}", minutes=i)
            for i in range(10)
        ]
        # Slow answers keep the first process's leases held while the second claims.
        feed_server.serve(f"/feed{n}.rss", rss_feed(*items), conditional=False, delay=2.0)
        sources.append(
            f"  - id: site-{n}\n    kind: rss\n    url: {feed_server.url(f'/feed{n}.rss')}\n"
            "    leader: akram-kaabi\n"
        )
    config = tmp_path / "sources.yaml"
    config.write_text(
        GAZETTEER
        + "sources:\n"
        + "".join(sources)
        + f"""
rules:
  - id: war-on-us
    match: '"إعلان الحرب" AND أمريكا'
    notify: [hook]
notifiers:
  - id: hook
    kind: webhook
    url: {webhook_receiver.url("/hook")}
""",
        encoding="utf-8",
    )
    env = {**os.environ, "MONITOR_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"]
    processes = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, out + err

    listed = subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(config), "items", "list", "--json",
         "--limit", "0"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert len(rows) == 60
    assert len({(row["source"], row["external_id"]) for row in rows}) == 60
    ids = Counter(request.headers["webhook-id"] for request in webhook_receiver.received)
    assert len(ids) == 60
    assert set(ids.values()) == {1}
    # Every source was polled by exactly one of the two processes (leases) ...
    assert sum(feed_server.requests.values()) == 6
    # ... and their summaries say so: each source "ok" in one, "skipped" in the other.
    lines = [line.split("│") for out, _ in outputs for line in out.splitlines()]
    statuses = Counter((cells[1].strip(), cells[2].strip()) for cells in lines if len(cells) > 3)
    for n in range(6):
        assert statuses[(f"site-{n}", "ok")] == 1
        assert statuses[(f"site-{n}", "skipped")] == 1


def test_daemon_polls_alerts_and_stops_cleanly_on_sigterm(
    tmp_path: Path, database_url: str, feed_server: FeedServer, webhook_receiver: WebhookReceiver
) -> None:
    feed_server.serve("/kaabi.rss", rss_feed(rss_item("k1", "بيان", "إعلان الحرب على أمريكا")))
    config = tmp_path / "sources.yaml"
    config.write_text(
        GAZETTEER
        + f"""
sources:
  - id: kaabi-site
    kind: rss
    url: {feed_server.url("/kaabi.rss")}
    leader: akram-kaabi
    interval: 1h
rules:
  - id: war-on-us
    match: '"إعلان الحرب" AND أمريكا'
    notify: [hook]
notifiers:
  - id: hook
    kind: webhook
    url: {webhook_receiver.url("/hook")}
""",
        encoding="utf-8",
    )
    heartbeat = tmp_path / "heartbeat"
    env = {**os.environ, "MONITOR_DATABASE_URL": database_url}
    daemon = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor",
            "--config",
            str(config),
            "run",
            "--heartbeat",
            str(heartbeat),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (webhook_receiver.received and heartbeat.exists()):
            assert daemon.poll() is None, daemon.communicate()
            assert time.monotonic() < deadline, "the daemon delivered nothing within 60 s"
            time.sleep(0.2)
        daemon.send_signal(signal.SIGTERM)
        _, err = daemon.communicate(timeout=30)
    finally:
        daemon.kill()
    assert daemon.returncode == 0, err
    assert "monitor stopped" in err
    assert "source kaabi-site: ok http=200 new=1 edited=0 deleted=0 alerts=1" in err
    assert len(webhook_receiver.received) == 1
    assert feed_server.requests["/kaabi.rss"] == 1  # the next poll is an hour away
