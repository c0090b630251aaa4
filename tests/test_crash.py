"""A delivering process killed with SIGKILL between sending and recording the send.

The alert must go out again, with the same webhook-id (so the receiver can
drop the copy), once the dead process's claim runs out; it is never lost.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from monitor.demo.server import FeedServer
from monitor.store.models import Alert, AlertAttempt
from monitor.store.session import open_database
from tests.helpers import GAZETTEER, rss_feed, rss_item

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


class HangingReceiver:
    """Takes the first request in, tells the test, and does not answer until released."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.first = threading.Event()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((dict(self.headers.items()), body))
                if len(receiver.received) == 1:
                    receiver.first.set()
                    receiver.release.wait(30)
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hook"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[HangingReceiver]:
    hanging = HangingReceiver()
    yield hanging
    hanging.close()


def test_sigkill_between_send_and_record_resends_with_the_same_id(
    tmp_path: Path, database_url: str, feed_server: FeedServer, receiver: HangingReceiver
) -> None:
    feed_server.serve("/kaabi.rss", rss_feed(rss_item("k1", "بيان", "إعلان الحرب على أمريكا")))
    config = tmp_path / "sources.yaml"
    config.write_text(
        GAZETTEER
        + f"""
settings:
  alert_claim_lease: 2s
sources:
  - id: kaabi-site
    kind: rss
    url: {feed_server.url("/kaabi.rss")}
    leader: akram-kaabi
rules:
  - id: war-on-us
    match: '"إعلان الحرب" AND أمريكا'
    notify: [hook]
notifiers:
  - id: hook
    kind: webhook
    url: {receiver.url}
    secret: {SECRET}
""",
        encoding="utf-8",
    )
    env = {**os.environ, "MONITOR_DATABASE_URL": database_url}
    command = [sys.executable, "-m", "monitor", "--config", str(config), "run", "--once"]
    doomed = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert receiver.first.wait(60), doomed.communicate(timeout=5)
        # The webhook is in the receiver's hands; the sender has not heard back: kill it.
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=10)
    finally:
        doomed.kill()
    assert doomed.returncode == -signal.SIGKILL

    db = open_database(database_url)
    try:
        with db.read() as session:
            alert = session.scalars(select(Alert)).one()
            # Sent but not recorded: still pending, claimed by the dead process.
            assert (alert.status, alert.attempts, alert.sent_at) == ("pending", 0, None)
            assert alert.locked_by is not None
            assert session.scalars(select(AlertAttempt)).all() == []
        receiver.release.set()
        time.sleep(2.5)  # the dead process's lease (2 s) runs out

        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr

        with db.read() as session:
            alert = session.scalars(select(Alert)).one()
            assert (alert.status, alert.attempts) == ("sent", 1)
            [attempt] = session.scalars(select(AlertAttempt)).all()
            assert attempt.outcome == "sent"
    finally:
        db.dispose()
    # Delivered twice at most, with one webhook-id: the alert's, both correctly signed.
    assert len(receiver.received) == 2
    ids = {headers["webhook-id"] for headers, _ in receiver.received}
    assert ids == {alert.id}
    for headers, body in receiver.received:
        lowered = {key.lower(): value for key, value in headers.items()}
        Webhook(SECRET).verify(body, lowered)
