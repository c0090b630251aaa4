"""Small builders shared by the tests."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from email.utils import format_datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy import func, select

from monitor.config import Config, load_config_text
from monitor.daemon import build_runtime
from monitor.demo.server import ReceivedRequest, WebhookReceiver
from monitor.pipeline import Runtime, sync_sources
from monitor.store.models import Alert, Statement, StatementVersion
from monitor.store.session import Database

# Yesterday 09:00 UTC: recent enough that the default alert_max_age (2 days) never
# turns the test items into an unalerted backlog, whatever day the suite runs.
BASE_TIME = datetime.combine(datetime.now(UTC).date() - timedelta(days=1), dt_time(9), UTC)
DAY = BASE_TIME.date().isoformat()
T = TypeVar("T")


def rss_item(guid: str, title: str, description: str, minutes: int = 0) -> str:
    published = format_datetime(BASE_TIME + timedelta(minutes=minutes))
    return (
        f'<item><guid isPermaLink="false">{guid}</guid><title>{title}</title>'
        f"<link>https://example.org/statements/{guid}</link>"
        f"<pubDate>{published}</pubDate><description>{description}</description></item>"
    )


def rss_feed(*items: str, language: str = "ar") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>Statements</title><link>https://example.org/</link>"
        f"<language>{language}</language>{''.join(items)}</channel></rss>"
    ).encode()


GAZETTEER = """
organizations:
  - id: harakat-hezbollah-al-nujaba
    name: Harakat Hezbollah al-Nujaba
  - id: kataib-hezbollah
    name: Kataib Hezbollah
leaders:
  - id: akram-kaabi
    name: Akram Kaabi
    aliases: ["أكرم الكعبي"]
    organization: harakat-hezbollah-al-nujaba
  - id: abu-hussein-al-hamidawi
    name: Abu Hussein al-Hamidawi
    organization: kataib-hezbollah
"""


def config_for(
    sources_yaml: str, rules_yaml: str, notifiers_yaml: str = "", settings_yaml: str = ""
) -> Config:
    text = f"{GAZETTEER}\nsources:\n{sources_yaml}\nrules:\n{rules_yaml}\n{notifiers_yaml}"
    if settings_yaml:
        text += f"\nsettings:\n{settings_yaml}"
    return load_config_text(text, "test.yaml")


def runtime_for(config: Config, db: Database) -> Runtime:
    runtime = build_runtime(config, db)
    sync_sources(db, config)
    return runtime


def free_port() -> int:
    """A loopback port nothing listens on (yet): connections to it are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def wait_until(condition: Callable[[], T], timeout: float, what: str, every: float = 0.2) -> T:
    """Poll ``condition`` until it returns something true (returned) or ``timeout`` seconds
    pass (an AssertionError naming ``what``)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:.0f} s for {what}; last value: {value!r}")
        time.sleep(every)


class MonitorProcess:
    """A real ``python -m monitor --config FILE ARGS...`` with its stdout and stderr in
    files (a pipe nobody drains would block it), killed by ``close`` if still running."""

    def __init__(self, config: Path, args: Sequence[str], env: Mapping[str, str], logs: Path):
        logs.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "monitor", "--config", str(config), *args]
        with tempfile.NamedTemporaryFile(dir=logs, prefix="out-", delete=False) as out:
            self.stdout_path = Path(out.name)
        self.stderr_path = self.stdout_path.with_name(self.stdout_path.name.replace("out-", "err-"))
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(command, env=dict(env), stdout=out, stderr=err)
        self.pid = self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> str:
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 40) -> str:
        """The end of its stderr, for assertion messages."""
        text = self.stderr().splitlines()[-lines:]
        return f"--- stderr of pid {self.pid} (last {len(text)} lines) ---\n" + "\n".join(text)

    def signal(self, signum: int) -> None:
        if self.alive():
            self.process.send_signal(signum)

    def wait(self, timeout: float) -> int | None:
        """The exit code, or None if it is still running after ``timeout`` seconds."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        if self.alive():
            self.process.kill()
            self.process.wait(timeout=10)


def monitor_command(
    config: Path, args: Sequence[str], env: Mapping[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m monitor --config FILE ARGS...`` to the end, output captured."""
    command = [sys.executable, "-m", "monitor", "--config", str(config), *args]
    return subprocess.run(command, env=dict(env), capture_output=True, text=True, timeout=timeout)


def eventually(condition: Callable[[], object], timeout: float, every: float = 0.2) -> bool:
    """Like ``wait_until``, but says whether it came true instead of failing: for waits
    whose outcome the test reports later, with more to say than "timed out"."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)
    return True


def stored(db: Database) -> set[tuple[str, str]]:
    with db.read() as session:
        return set(session.execute(select(Statement.source_id, Statement.external_id)).all())


def stored_quietly(db: Database) -> set[tuple[str, str]]:
    """``stored``, or nothing while the database is unreachable."""
    try:
        return stored(db)
    except Exception:
        return set()


def assert_stored_once(db: Database, expected: set[tuple[str, str]]) -> None:
    """Exactly the expected statements, each once, each with exactly one version."""
    with db.read() as session:
        count = session.scalar(select(func.count()).select_from(Statement))
        versions = dict(
            session.execute(
                select(Statement.external_id, func.count(StatementVersion.id))
                .outerjoin(StatementVersion, StatementVersion.statement_id == Statement.id)
                .group_by(Statement.external_id)
            ).all()
        )
    assert stored(db) == expected
    assert count == len(expected)
    wrong = {key: value for key, value in versions.items() if value != 1}
    assert not wrong, f"statements without exactly one version: {wrong}"


def alerted_guid(request: ReceivedRequest) -> str:
    """The item a webhook is about: the guid ends its link (see rss_item)."""
    url: str = json.loads(request.body)["statement"]["url"]
    return url.rsplit("/", 1)[1]


def assert_alerted_once(
    db: Database, hook: WebhookReceiver, expected: set[str], resent: int = 0
) -> None:
    """One alert per matching item (``expected``: guids), one webhook-id each, every
    alert row sent.

    ``resent``: how many webhooks may arrive twice with the same webhook-id (at least
    once delivery: a process that lost its database between sending and recording the
    send sends again, and the receiver drops the copy by its id; see test_crash.py).
    """
    ids_by_guid: dict[str, set[str]] = {}
    for request in hook.received:
        ids_by_guid.setdefault(alerted_guid(request), set()).add(request.headers["webhook-id"])
    assert set(ids_by_guid) == expected, (
        f"not alerted: {sorted(expected - set(ids_by_guid))}; "
        f"alerted unexpectedly: {sorted(set(ids_by_guid) - expected)}"
    )
    twice = {guid: ids for guid, ids in ids_by_guid.items() if len(ids) != 1}
    assert not twice, f"statements alerted under more than one webhook-id: {twice}"
    copies = Counter(request.headers["webhook-id"] for request in hook.received)
    repeated = {key: count for key, count in copies.items() if count > 1}
    assert len(repeated) <= resent, f"webhooks delivered more than once: {repeated}"
    if repeated:
        print(f"re-sent with the same webhook-id (allowed here): {repeated}")
    with db.read() as session:
        statuses = Counter(session.scalars(select(Alert.status)))
    assert statuses == {"sent": len(expected)}, statuses
