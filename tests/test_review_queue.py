"""`monitor review`, the interactive queue, on SQLite and PostgreSQL: the queue logic
on its own, the real prompt_toolkit application driven by keystrokes through a pipe,
and the whole command in a real pseudo-terminal."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prompt_toolkit.application import create_app_session
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.input.base import PipeInput
from prompt_toolkit.output import DummyOutput
from sqlalchemy import select as sql_select
from typer.testing import CliRunner

from monitor.cli import review_app
from monitor.cli.app import app
from monitor.cli.review_app import (
    ReviewScreen,
    browser_usable,
    build_application,
    item_paragraphs,
    open_in_browser,
    wrap,
)
from monitor.cli.review_queue import ChangedElsewhere, ReviewQueue, is_rtl
from monitor.store.models import Match, Statement
from monitor.store.queries import ItemFilters
from monitor.store.review import review_items
from monitor.store.session import Database
from tests.review_seed import DELETED_TEXT, REPLY_V2, WAR_TEXT, seed, write_config

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parents[1]
Seeded = tuple[Path, dict[str, str]]


def seed_queue(db: Database) -> None:
    """The review seed, with statements 2 and 3 matched too: the queue is 1, 2, 3
    (oldest first); 4 matched nothing."""
    seed(db)
    with db.write() as session:
        session.add_all(
            [
                Match(
                    rule_id="war-on-us", statement_id=2, severity="medium", version=2,
                    evidence={"terms": ["الحداد"], "spans": [[REPLY_V2.index("الحداد"),
                                                              REPLY_V2.index("الحداد") + 6]]},
                ),
                Match(
                    rule_id="war-on-us", statement_id=3, severity="low", version=1,
                    evidence={"terms": ["foreign forces"],
                              "spans": [[DELETED_TEXT.index("foreign"),
                                         DELETED_TEXT.index("forces") + 6]]},
                ),
            ]
        )  # fmt: skip


@pytest.fixture
def seeded(tmp_path: Path, db: Database, database_url: str) -> Seeded:
    seed_queue(db)
    return write_config(tmp_path), {"MONITOR_DATABASE_URL": database_url}


def statuses(db: Database) -> dict[int, str]:
    with db.read() as session:
        return {s.id: s.status for s in session.scalars(sql_select(Statement))}


def fetch(db: Database, statement_id: int) -> Statement:
    with db.read() as session:
        statement = session.get_one(Statement, statement_id)
        session.expunge(statement)
        return statement


@pytest.fixture
def pipe() -> Iterator[PipeInput]:
    with create_pipe_input() as pipe_input, create_app_session(
        input=pipe_input, output=DummyOutput()
    ):  # fmt: skip
        yield pipe_input


# --- the queue on its own -------------------------------------------------------------


def test_queue_holds_unreviewed_matched_statements_oldest_first(db: Database) -> None:
    seed_queue(db)
    with db.write() as session:
        review_items(session, [2], status="relevant")
    queue = ReviewQueue.load(db, ItemFilters())
    assert [item.id for item in queue.items] == [1, 3]
    first = queue.items[0]
    assert (first.leader, first.organization, first.source, first.kind) == (
        "akram-kaabi", "harakat-hezbollah-al-nujaba", "kaabi-telegram", "telegram",
    )  # fmt: skip
    assert [(r.rule, r.severity, r.terms) for r in first.rules] == [
        ("war-on-us", "high", ("إعلان الحرب", "أمريكا"))
    ]
    assert [(s.label, s.score, s.target) for s in first.stance] == [("escalation", 0.82, "us")]
    spans = {(h.kind, WAR_TEXT[h.start : h.end]) for h in first.highlights}
    assert spans == {("match", "إعلان الحرب"), ("match", "أمريكا"), ("cue", "التصعيد")}
    assert first.rtl and not queue.items[1].rtl
    assert queue.items[1].deleted_at is not None

    assert [i.id for i in ReviewQueue.load(db, ItemFilters(), oldest_first=False).items] == [3, 1]
    assert [i.id for i in ReviewQueue.load(db, ItemFilters(), include_unmatched=True).items] == [
        1, 3, 4,
    ]  # fmt: skip
    assert [i.id for i in ReviewQueue.load(db, ItemFilters(language="en")).items] == [3]
    assert [i.id for i in ReviewQueue.load(db, ItemFilters(limit=1)).items] == [1]


def test_queue_marks_at_once_undoes_and_counts(db: Database) -> None:
    seed_queue(db)
    queue = ReviewQueue.load(db, ItemFilters())
    assert queue.counter() == "1/3"
    queue.mark("relevant")
    assert statuses(db)[1] == "relevant"  # written before anything else happens
    queue.skip()
    assert queue.counter() == "3/3"
    assert queue.add_note("  check the source  ")
    assert not queue.add_note("   ")
    queue.add_tag("iraq")
    queue.mark("escalated")
    assert queue.at_end and queue.current is None
    assert queue.summary().line() == (
        "reviewed 2: 1 relevant, 0 irrelevant, 1 escalated; 1 skipped; 0 left"
    )
    mark = queue.undo()
    assert mark is not None and (mark.statement_id, mark.previous) == (3, "new")
    assert queue.current is not None and queue.current.id == 3
    assert statuses(db) == {1: "relevant", 2: "new", 3: "new", 4: "new"}
    note = fetch(db, 3)
    assert note.note is not None and note.note.endswith(" check the source")
    assert note.tags == ["iraq"]
    assert queue.summary().line() == (
        "reviewed 1: 1 relevant, 0 irrelevant, 0 escalated; 1 skipped; 1 left"
    )
    queue.back()
    queue.back()
    queue.mark("irrelevant")  # the first one again: a second mark replaces the first
    assert statuses(db)[1] == "irrelevant"
    assert queue.undo() is not None
    assert statuses(db)[1] == "relevant"  # back to this session's earlier mark
    assert queue.undo() is not None
    assert queue.undo() is None
    assert statuses(db)[1] == "new"
    assert queue.position == 0
    assert queue.summary().line() == (
        "reviewed 0: 0 relevant, 0 irrelevant, 0 escalated; 1 skipped; 2 left"
    )


def test_undo_leaves_a_mark_made_elsewhere_alone(db: Database) -> None:
    seed_queue(db)
    queue = ReviewQueue.load(db, ItemFilters())
    queue.mark("relevant")
    with db.write() as session:  # a colleague, meanwhile
        review_items(session, [1], status="escalated")
    with pytest.raises(ChangedElsewhere, match="statement 1 is now escalated"):
        queue.undo()
    assert statuses(db)[1] == "escalated"


# --- the application, driven through a pipe -------------------------------------------


def invoke(seeded: Seeded, *args: str) -> tuple[int, str, str]:
    config, env = seeded
    result = CliRunner().invoke(
        app, ["--config", str(config), "review", *args], env=env, catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    # CliRunner's stdin is no terminal; the keys come through the pipe instead.
    monkeypatch.setattr(review_app, "is_terminal", lambda: True)


@pytest.mark.usefixtures("terminal")
def test_keys_mark_note_tag_skip_undo_and_quit(
    seeded: Seeded, db: Database, pipe: PipeInput
) -> None:
    pipe.send_text("r")  # 1 relevant
    pipe.send_text("s")  # 2 skipped
    pipe.send_text("nneeds a second look\r")  # a note on 3 (the n of "needs" is typed)
    pipe.send_text("tiraq\r")
    pipe.send_text("e")  # 3 escalated: the end of the queue
    pipe.send_text("u")  # 3 back to new
    pipe.send_text("i")  # 3 irrelevant
    pipe.send_text("q")
    code, out, err = invoke(seeded)
    assert (code, err) == (0, "")
    assert out == "reviewed 2: 1 relevant, 1 irrelevant, 0 escalated; 1 skipped; 0 left\n"
    assert statuses(db) == {1: "relevant", 2: "new", 3: "irrelevant", 4: "new"}
    third = fetch(db, 3)
    assert third.note is not None
    assert re.fullmatch(r"\[\d{4}-\d\d-\d\d \d\d:\d\d UTC\] needs a second look", third.note)
    assert third.tags == ["iraq"]
    assert fetch(db, 2).note is None


@pytest.mark.usefixtures("terminal")
def test_undo_restores_and_escape_cancels_a_note(
    seeded: Seeded, db: Database, pipe: PipeInput
) -> None:
    pipe.send_text("e")
    pipe.send_text("u")  # back on 1, new again
    pipe.send_text("nnot this\x1b")  # Esc: the note is dropped
    pipe.send_text("b")  # already the first: stays
    pipe.send_text(" ")  # skip 1 (Space)
    pipe.send_text("\x1b[C")  # skip 2 (Right)
    pipe.send_text("\x1b[D")  # back to 2 (Left)
    pipe.send_text("\x03")  # Ctrl-C
    code, out, _ = invoke(seeded, "--newest-first")
    assert code == 0
    assert statuses(db) == {1: "new", 2: "new", 3: "new", 4: "new"}
    assert fetch(db, 3).status == "new" and fetch(db, 3).note is None
    # Newest first: 3 was undone and skipped, 2 skipped; 1 never reached.
    assert out == "reviewed 0: 0 relevant, 0 irrelevant, 0 escalated; 2 skipped; 1 left\n"


@pytest.mark.usefixtures("terminal")
def test_filters_and_all_select_the_queue(seeded: Seeded, db: Database, pipe: PipeInput) -> None:
    pipe.send_text("rrq")
    code, out, _ = invoke(seeded, "--all", "--leader", "abu-hussein-al-hamidawi")
    assert code == 0
    assert out == "reviewed 1: 1 relevant, 0 irrelevant, 0 escalated; 0 skipped; 0 left\n"
    assert statuses(db) == {1: "new", 2: "new", 3: "new", 4: "relevant"}


def test_open_link_shows_it_without_a_browser(db: Database, pipe: PipeInput) -> None:
    seed_queue(db)
    queue = ReviewQueue.load(db, ItemFilters())
    opened: list[str] = []

    def no_browser(url: str) -> bool:
        opened.append(url)
        return False

    screen = ReviewScreen(queue, UTC, "UTC", open_url=no_browser)
    pipe.send_text("oq")
    build_application(screen).run()
    url = "https://example.org/kaabi-telegram/100"
    assert opened == [url]
    assert screen.message == [
        ("class:message", "no browser here; copy the link:\n"),
        ("class:url", url),
    ]


def test_browser_is_not_used_over_ssh_or_without_a_display() -> None:
    assert not browser_usable({"SSH_CONNECTION": "10.0.0.1 5 10.0.0.2 22"}, "linux")
    assert not browser_usable({"SSH_TTY": "/dev/pts/1", "DISPLAY": ":0"}, "darwin")
    assert not browser_usable({}, "linux")
    assert browser_usable({"DISPLAY": ":0"}, "linux")
    assert browser_usable({}, "darwin")
    # Links come from sources: only web addresses go to a browser, whatever the session.
    assert not open_in_browser("file:///etc/passwd")
    assert not open_in_browser("javascript:alert(1)")


def test_screen_shows_the_statement_with_arabic_flush_right(db: Database) -> None:
    seed_queue(db)
    queue = ReviewQueue.load(db, ItemFilters())
    paragraphs = item_paragraphs(queue.items[0], "1/3", ZoneInfo("Asia/Baghdad"), "Asia/Baghdad")
    lines = ["".join(text for _style, text in p.fragments) for p in paragraphs]
    assert lines[0] == " 1/3  statement #1  new "
    assert "published     2026-11-20 12:00 Asia/Baghdad  (2026-11-20 09:00 UTC)" in lines
    assert "rule          war-on-us [high]  terms: إعلان الحرب, أمريكا" in lines
    assert "stance        escalation 0.82 about us" in lines
    assert "link          https://example.org/kaabi-telegram/100" in lines
    text_lines = [(line, p.rtl) for line, p in zip(lines, paragraphs, strict=True)][-2:]
    assert text_lines == [(line, True) for line in WAR_TEXT.split("\n")]
    styled = {text: style for p in paragraphs for style, text in p.fragments}
    assert styled["إعلان الحرب"] == "class:match" and styled["التصعيد"] == "class:cue"

    def rows(text: str, width: int, rtl: bool = False, indent: int = 0) -> list[str]:
        wrapped = wrap([("", text)], width, rtl=rtl, indent=indent)
        return ["".join(t for _s, t in row) for row in wrapped]

    assert rows("ab cd ef", 6, rtl=True) == [" ab cd", "    ef"]
    assert rows("ab cd ef", 6) == ["ab cd", "ef"]
    assert rows("abcdefgh", 3) == ["abc", "def", "gh"]
    assert rows("link: abc def", 10, indent=4) == ["link: abc", "    def"]
    assert rows("", 3) == [""]
    assert is_rtl("  123 نص") and not is_rtl("text نص")


def test_empty_queue_and_no_terminal(seeded: Seeded, db: Database) -> None:
    code, out, err = invoke(seeded, "--leader", "nobody")
    assert (code, out, err) == (0, "nothing to review\n", "")
    code, out, err = invoke(seeded)  # CliRunner's stdin is not a terminal
    assert code == 2 and out == ""
    assert "needs a terminal" in err and "monitor items review" in err
    assert statuses(db) == {1: "new", 2: "new", 3: "new", 4: "new"}


# --- the command in a real pseudo-terminal --------------------------------------------

ESCAPES = re.compile(
    r"\x1b(\[[0-9;?<=>]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|.)"
)


class Terminal:
    """A child process on a pseudo-terminal of 100x30, read without blocking."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        self.process = subprocess.Popen(
            args, stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
            start_new_session=True, close_fds=True,
        )  # fmt: skip
        os.close(slave)
        self.output = b""

    @property
    def screen(self) -> str:
        return ESCAPES.sub("", self.output.decode("utf-8", errors="replace"))

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError as exc:  # EIO: the child closed the terminal
            if exc.errno != errno.EIO:
                raise
            return False
        self.output += chunk
        return bool(chunk)

    def wait_for(self, check: Callable[[str], bool], what: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while not check(self.screen):
            if time.monotonic() > deadline or not self._read(0.2):
                if check(self.screen):
                    return
                pytest.fail(f"timed out waiting for {what}; the screen so far:\n{self.screen}")

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def finish(self, timeout: float = 15) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            self._read(0.2)
        while self._read(0.05):
            pass
        if self.process.poll() is None:
            self.process.kill()
            pytest.fail(f"the command did not exit; the screen so far:\n{self.screen}")
        return self.process.wait()

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            os.close(self.master)


def test_review_in_a_real_terminal(seeded: Seeded, db: Database) -> None:
    config, db_env = seeded
    env = {**os.environ, **db_env, "TERM": "xterm-256color", "MONITOR_LOG_LEVEL": "WARNING"}
    for name in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY", "DISPLAY", "WAYLAND_DISPLAY"):
        env.pop(name, None)
    terminal = Terminal([sys.executable, "-m", "monitor", "--config", str(config), "review"], env)
    try:
        terminal.wait_for(lambda s: "1/3" in s, "the first statement")
        terminal.wait_for(lambda s: "الاحتلال" in s and "war-on-us" in s, "its text and rule")
        terminal.type("r")
        # The screen is redrawn by difference ("1/3" becomes "2/3" by one character): look
        # for what only the second statement shows.
        terminal.wait_for(
            lambda s: "edited since capture" in s and "#1 marked relevant" in s, "the second one"
        )
        terminal.type("o")  # no browser in this terminal: the link is shown
        terminal.wait_for(lambda s: "copy the link" in s, "the link to copy")
        terminal.type("q")
        code = terminal.finish()
    finally:
        terminal.close()
    assert code == 0, terminal.screen
    assert "reviewed 1: 1 relevant, 0 irrelevant, 0 escalated; 0 skipped; 2 left" in terminal.screen
    assert statuses(db) == {1: "relevant", 2: "new", 3: "new", 4: "new"}
