"""`monitor review`: the unreviewed matched statements one at a time, marked with a
key each. A plain full-screen prompt_toolkit application: keyboard only, no mouse,
no browser needed, so it works over SSH in any terminal.

The session's state lives in monitor/cli/review_queue.py; this module only draws
it and maps keys to it. prompt_toolkit is imported when the screen is built, not
with the module: every other command imports this one through the CLI app.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import webbrowser
from collections.abc import Callable, Mapping
from datetime import UTC, tzinfo
from typing import TYPE_CHECKING, Annotated, NamedTuple
from urllib.parse import urlsplit

import typer
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from monitor.cli import options
from monitor.cli.context import database, err, load
from monitor.cli.render import UTC_FORMAT, when
from monitor.cli.review_queue import ChangedElsewhere, QueueItem, ReviewQueue, Summary, is_rtl
from monitor.errors import MonitorError

if TYPE_CHECKING:
    from prompt_toolkit.application import Application
    from prompt_toolkit.formatted_text import StyleAndTextTuples

EXIT_USAGE = 2
LABEL_WIDTH = 14  # "organization" and two spaces

# (keys as shown, what they do): the footer, the help screen and the README agree.
KEYS: tuple[tuple[str, str, str], ...] = (
    ("r", "relevant", "mark relevant (saved at once) and go to the next"),
    ("i", "irrelevant", "mark irrelevant and go to the next"),
    ("e", "escalated", "mark escalated and go to the next"),
    ("n", "note", "add a note: type it, Enter saves, Esc cancels"),
    ("t", "tag", "add a tag: type it, Enter saves, Esc cancels"),
    ("o", "link", "open the link in a browser, or show it to copy (over SSH)"),
    ("s", "skip", "skip to the next (also Space, Right); it stays new"),
    ("b", "back", "back to the previous one (also Left)"),
    ("u", "undo", "undo the last mark: the status it replaced is restored"),
    ("↑↓", "scroll", "scroll a long statement (also j/k, PgUp/PgDn)"),
    ("?", "help", "this help; ? or Esc closes it"),
    ("q", "quit", "quit (also Ctrl-C); every mark is saved already"),
)

# Two rows that fit 80 columns, where one row would lose "? help  q quit".
FOOTER = (
    (("r", "relevant"), ("i", "irrelevant"), ("e", "escalated"), ("u", "undo"),
     ("n", "note"), ("t", "tag")),
    (("s/→", "skip"), ("b/←", "back"), ("o", "open link"), ("↑↓", "scroll"), ("?", "help"),
     ("q", "quit")),
)  # fmt: skip

STYLE = {
    "bar": "reverse bold",
    "label": "bold",
    "match": "reverse bold",
    "cue": "underline",
    "flag": "bold",
    "url": "bold underline",
    "key": "reverse",
    "message": "bold",
    "error": "bold fg:ansired",
    "more": "reverse",
}


# --- the command ---------------------------------------------------------------------


def review(
    ctx: typer.Context,
    leader: options.Leader = None,
    organization: options.Organization = None,
    source: options.SourceOpt = None,
    rule: options.RuleOpt = None,
    since: options.Since = None,
    until: options.Until = None,
    lang: options.Lang = None,
    include_all: Annotated[
        bool, typer.Option("--all", help="Also unreviewed statements that no rule matched.")
    ] = False,
    oldest_first: Annotated[
        bool,
        typer.Option(
            "--oldest-first/--newest-first",
            help="Order of the queue (default: oldest first, to work through the night's "
            "statements in the order they came).",
        ),
    ] = True,
    limit: options.Limit = 0,
) -> None:
    config = load(ctx)
    tz = config.settings.tz
    # The queue is always the unreviewed (status new) ones: no --status here.
    filters = options.item_filters(
        tz, leader=leader, organization=organization, source=source, rule=rule,
        since=since, until=until, status="new", lang=lang, limit=limit,
        matched=not include_all,
    )  # fmt: skip
    db = database(config, reading=True)
    try:
        queue = ReviewQueue.load(
            db, filters, include_unmatched=include_all, oldest_first=oldest_first
        )
        if not queue.items:
            print("nothing to review")
            return
        if not is_terminal():
            err.print(
                "error: `monitor review` is interactive and needs a terminal; in scripts "
                "mark statements with `monitor items review ID... --status STATUS`",
                markup=False,
            )
            raise typer.Exit(EXIT_USAGE)
        summary = run_app(queue, tz, config.settings.timezone)
    finally:
        db.dispose()
    print(summary.line())


def is_terminal() -> bool:
    return sys.stdin.isatty()


# --- opening links ---------------------------------------------------------------------


def browser_usable(env: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """Whether a graphical browser can open here. Over SSH it would open on the
    remote machine, if at all; without a display Python falls back to text browsers
    that would take the terminal from under this screen."""
    if any(env.get(name) for name in ("SSH_CONNECTION", "SSH_CLIENT", "SSH_TTY")):
        return False
    if platform in ("darwin", "win32"):
        return True
    return bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))


def open_in_browser(url: str) -> bool:
    """Asks the browser to open ``url`` without waiting for it; False when there is
    no usable browser (the screen then shows the link to copy). Only web links: the
    address comes from a source, and a file: or javascript: one is not followed."""
    if urlsplit(url).scheme.lower() not in ("http", "https") or not browser_usable():
        return False
    # In a thread: some launchers wait for the browser, and the screen must not.
    threading.Thread(target=_open_quietly, args=(url,), daemon=True).start()
    return True


def _open_quietly(url: str) -> None:
    # The link is on screen anyway: a launcher that fails changes nothing.
    with contextlib.suppress(Exception):
        webbrowser.open(url)


# --- drawing ---------------------------------------------------------------------------


class Paragraph(NamedTuple):
    fragments: StyleAndTextTuples
    rtl: bool = False  # reads right to left: set flush right
    indent: int = 0  # cells left blank before each continuation row


BLANK = Paragraph([])


def _label(name: str, value: str, style: str = "") -> Paragraph:
    return Paragraph([("class:label", name.ljust(LABEL_WIDTH)), (style, value)], indent=LABEL_WIDTH)


def item_paragraphs(item: QueueItem, counter: str, tz: tzinfo, tz_name: str) -> list[Paragraph]:
    """What the screen shows of one statement, before wrapping to the terminal."""
    state = "new" if item.status == "new" else f"marked {item.status}"
    local = f"{when(item.published_at, tz)} {tz_name}"
    utc = item.published_at.astimezone(UTC).strftime(UTC_FORMAT)
    paragraphs: list[Paragraph] = [
        Paragraph([("class:bar", f" {counter}  statement #{item.id}  {state} ")]),
        BLANK,
        _label("leader", item.leader or "-"),
        _label("organization", item.organization or "-"),
        _label("source", f"{item.source} ({item.kind or '?'})"),
        _label("published", utc if tz_name == "UTC" else f"{local}  ({utc})"),
    ]
    flags = []
    if item.edited:
        flags.append("edited since capture")
    if item.deleted_at is not None:
        flags.append(f"deleted at the source {item.deleted_at.strftime(UTC_FORMAT)}")
    if flags:
        paragraphs.append(_label("flags", "; ".join(flags), "class:flag"))
    for hit in item.rules:
        terms = ", ".join(hit.terms) or "-"
        paragraphs.append(_label("rule", f"{hit.rule} [{hit.severity}]  terms: {terms}"))
    if not item.rules:
        paragraphs.append(_label("rule", "none matched"))
    if item.stance:
        scores = "; ".join(
            f"{s.label} {s.score:.2f}" + (f" about {s.target}" if s.target else "")
            for s in item.stance
        )
        paragraphs.append(_label("stance", scores))
    paragraphs.append(_label("link", item.url or "-", "class:url" if item.url else ""))
    if item.tags:
        paragraphs.append(_label("tags", ", ".join(item.tags)))
    for index, line in enumerate((item.note or "").splitlines()):
        paragraphs.append(_label("notes" if index == 0 else "", line))
    paragraphs.append(BLANK)
    if item.title and not item.text.startswith(item.title):
        paragraphs.append(Paragraph([("class:label", item.title)], is_rtl(item.title)))
    paragraphs.extend(text_paragraphs(item))
    return paragraphs


def text_paragraphs(item: QueueItem) -> list[Paragraph]:
    """The text, line by line, with rule evidence in reverse video and stance cues
    underlined (the spans `monitor items show` highlights). Like `items show`, the
    text goes out in logical order for the terminal's bidi to lay out; a line that
    reads right to left is also set flush right, where its reader starts."""
    styles = [""] * len(item.text)
    for highlight in item.highlights:
        for i in range(max(highlight.start, 0), min(highlight.end, len(styles))):
            if highlight.kind == "match":
                styles[i] = "class:match"
            elif not styles[i]:
                styles[i] = "class:cue"
    paragraphs: list[Paragraph] = []
    offset = 0
    for line in item.text.split("\n"):
        fragments = _merge([(styles[offset + i], char) for i, char in enumerate(line)])
        strong = any(not char.isspace() for char in line)
        paragraphs.append(Paragraph(fragments, is_rtl(line) if strong else item.rtl))
        offset += len(line) + 1
    return paragraphs


def _merge(chars: list[tuple[str, str]]) -> StyleAndTextTuples:
    fragments: StyleAndTextTuples = []
    for style, char in chars:
        if fragments and fragments[-1][0] == style:
            fragments[-1] = (style, fragments[-1][1] + char)
        else:
            fragments.append((style, char))
    return fragments


def wrap(
    fragments: StyleAndTextTuples, width: int, *, rtl: bool = False, indent: int = 0
) -> list[StyleAndTextTuples]:
    """Rows of at most ``width`` cells, broken at spaces where possible; a right-to-left
    paragraph's rows are padded to end at the right edge, a labelled one's continuation
    rows indented under its value."""
    from prompt_toolkit.utils import get_cwidth

    full = max(width, 1)
    indent = indent if indent < full // 2 else 0
    chars = [(fragment[0], char) for fragment in fragments for char in fragment[1]]
    rows: list[StyleAndTextTuples] = []
    start = 0
    while True:
        width = full - (indent if rows else 0)
        used, end, last_space = 0, start, -1
        while end < len(chars):
            cells = get_cwidth(chars[end][1])
            if used + cells > width:
                break
            if chars[end][1] == " ":
                last_space = end
            used += cells
            end += 1
        if end >= len(chars):
            cut = following = end
        elif chars[end][1] == " ":
            cut, following = end, end + 1
        elif last_space > start:
            cut, following = last_space, last_space + 1
        else:
            cut = following = max(end, start + 1)  # one word wider than the row
        row = chars[start:cut]
        if rtl:
            pad = width - sum(get_cwidth(char) for _style, char in row)
            row = [("", " " * pad), *row] if pad > 0 else row
        elif rows and indent:
            row = [("", " " * indent), *row]
        rows.append(_merge(row))
        start = following
        if start >= len(chars):
            return rows


def help_paragraphs() -> list[Paragraph]:
    paragraphs = [Paragraph([("class:bar", " keys ")]), BLANK]
    for keys, _short, long in KEYS:
        paragraphs.append(Paragraph([("class:label", f"  {keys:<6}"), ("", long)], indent=8))
    about = (
        "The queue holds the unreviewed (status new) statements that a rule matched "
        "(--all: every unreviewed one), as loaded at the start. A mark is written to the "
        "database the moment its key is pressed."
    )
    paragraphs.extend([BLANK, Paragraph([("", about)])])
    return paragraphs


class ReviewScreen:
    """What is on screen besides the queue (mode, message, scroll, help) and what
    each key does to it; the prompt_toolkit wiring is in build_application."""

    def __init__(
        self,
        queue: ReviewQueue,
        tz: tzinfo,
        tz_name: str,
        open_url: Callable[[str], bool] = open_in_browser,
    ) -> None:
        self.queue = queue
        self.tz = tz
        self.tz_name = tz_name
        self.open_url = open_url
        self.mode = "keys"  # or "note", "tag": the input line is open
        self.show_help = False
        self.scroll = 0
        self.page = 10
        self.message: StyleAndTextTuples = []

    # drawing

    def paragraphs(self) -> list[Paragraph]:
        if self.show_help:
            return help_paragraphs()
        item = self.queue.current
        if item is not None:
            return item_paragraphs(item, self.queue.counter(), self.tz, self.tz_name)
        summary = self.queue.summary()
        return [
            Paragraph([("class:bar", f" end of the queue: {self.queue.total} statements ")]),
            BLANK,
            Paragraph([("", summary.line())]),
            BLANK,
            Paragraph([("", "b goes back to the last one, u undoes the last mark, q quits.")]),
        ]

    def rows(self, width: int, height: int) -> list[StyleAndTextTuples]:
        rows = [
            row
            for text, rtl, indent in self.paragraphs()
            for row in wrap(text, width, rtl=rtl, indent=indent)
        ]
        height = max(height, 1)
        self.page = max(height - 2, 1)
        if len(rows) <= height:
            self.scroll = 0
            return rows
        # The last row says there is more, so the window shows height - 1 of the text.
        self.scroll = max(0, min(self.scroll, len(rows) - (height - 1)))
        shown = rows[self.scroll : self.scroll + height - 1]
        last = self.scroll + len(shown)
        note = f" lines {self.scroll + 1}-{last} of {len(rows)}: ↑↓ PgUp PgDn scroll "
        return [*shown, [("class:more", note[:width])]]

    def footer(self) -> StyleAndTextTuples:
        if self.mode != "keys":
            return [("", " Enter saves, Esc cancels")]
        fragments: StyleAndTextTuples = []
        for number, line in enumerate(FOOTER):
            if number:
                fragments.append(("", "\n"))
            for keys, what in line:
                fragments.extend([("class:key", keys), ("", f" {what}  ")])
        return fragments

    def prompt(self) -> str:
        item = self.queue.current
        target = f" #{item.id}" if item else ""
        return f"{self.mode}{target}: "

    # actions: each returns nothing and leaves its outcome in self.message

    def _say(self, text: str, style: str = "class:message") -> None:
        self.message = [(style, text)]

    def _fail(self, exc: Exception) -> None:
        if isinstance(exc, ChangedElsewhere):
            self._say(str(exc), "class:error")
            return
        if isinstance(exc, DBAPIError) and exc.orig is not None:
            reason = " ".join(str(exc.orig).split())
        else:
            reason = " ".join(str(exc).split()) or type(exc).__name__
        self._say(f"error: {reason} (not saved)", "class:error")

    def _moved(self) -> None:
        self.scroll = 0
        self.show_help = False

    def mark(self, status: str) -> None:
        item = self.queue.current
        if item is None:
            self._say("the end of the queue: b goes back, q quits")
            return
        try:
            self.queue.mark(status)
        except (MonitorError, SQLAlchemyError) as exc:
            self._fail(exc)
            return
        self._moved()
        self._say(f"#{item.id} marked {status} (saved)")

    def skip(self) -> None:
        if self.queue.current is None:
            return
        self.queue.skip()
        self._moved()
        self.message = []

    def back(self) -> None:
        if not self.queue.back():
            self._say("this is the first statement")
            return
        self._moved()
        self.message = []

    def undo(self) -> None:
        try:
            mark = self.queue.undo()
        except (MonitorError, SQLAlchemyError) as exc:
            self._fail(exc)
            return
        if mark is None:
            self._say("nothing to undo")
            return
        self._moved()
        self._say(f"undone: #{mark.statement_id} is {mark.previous} again")

    def start_input(self, mode: str) -> bool:
        if self.queue.current is None:
            self._say("the end of the queue: b goes back, q quits")
            return False
        self.mode = mode
        self.message = []
        return True

    def submit(self, text: str) -> None:
        item = self.queue.current
        mode, self.mode = self.mode, "keys"
        if item is None:
            return
        try:
            saved = self.queue.add_note(text) if mode == "note" else self.queue.add_tag(text)
        except (MonitorError, SQLAlchemyError) as exc:
            self._fail(exc)
            return
        if not saved:
            self._say(f"empty {mode}: nothing saved")
        elif mode == "note":
            self._say(f"note saved on #{item.id}")
        else:
            self._say(f"tag {text.strip()} added to #{item.id}")

    def cancel_input(self) -> None:
        self.mode = "keys"
        self._say("cancelled")

    def open_link(self) -> None:
        item = self.queue.current
        if item is None:
            return
        if not item.url:
            self._say(f"#{item.id} has no link")
            return
        try:
            opened = self.open_url(item.url)
        except Exception:
            opened = False
        lead = "opening in your browser:" if opened else "no browser here; copy the link:"
        self.message = [("class:message", lead + "\n"), ("class:url", item.url)]

    def toggle_help(self) -> None:
        self.show_help = not self.show_help
        self.scroll = 0

    def scroll_by(self, rows: int) -> None:
        self.scroll = max(0, self.scroll + rows)


def build_application(screen: ReviewScreen) -> Application[None]:
    from prompt_toolkit.application import Application
    from prompt_toolkit.buffer import Buffer
    from prompt_toolkit.filters import Condition
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
    from prompt_toolkit.layout import (
        ConditionalContainer,
        FormattedTextControl,
        HSplit,
        Layout,
        UIContent,
        UIControl,
        Window,
    )
    from prompt_toolkit.styles import Style
    from prompt_toolkit.widgets import TextArea

    class Body(UIControl):
        def is_focusable(self) -> bool:
            return True

        def create_content(self, width: int, height: int) -> UIContent:
            rows = screen.rows(width, height)
            return UIContent(get_line=lambda i: rows[i], line_count=len(rows), show_cursor=False)

    body = Window(Body())

    def accept(buffer: Buffer) -> bool:
        screen.submit(buffer.text)
        application.layout.focus(body)
        return False  # clears the line for the next note

    typing = Condition(lambda: screen.mode != "keys")
    keys = ~typing
    entry = TextArea(multiline=False, prompt=screen.prompt, accept_handler=accept)
    layout = Layout(
        HSplit(
            [
                body,
                Window(
                    FormattedTextControl(lambda: screen.message),
                    dont_extend_height=True,
                    wrap_lines=True,
                ),
                ConditionalContainer(entry, filter=typing),
                Window(FormattedTextControl(screen.footer), dont_extend_height=True),
            ]
        ),
        focused_element=body,
    )
    bindings = KeyBindings()

    def on(*names: str, action: Callable[[], object]) -> None:
        def handler(_event: KeyPressEvent) -> None:
            action()

        for name in names:
            bindings.add(name, filter=keys)(handler)

    on("r", action=lambda: screen.mark("relevant"))
    on("i", action=lambda: screen.mark("irrelevant"))
    on("e", action=lambda: screen.mark("escalated"))
    on("s", " ", "right", action=screen.skip)
    on("b", "left", action=screen.back)
    on("u", action=screen.undo)
    on("o", action=screen.open_link)
    on("?", action=screen.toggle_help)
    on("down", "j", action=lambda: screen.scroll_by(1))
    on("up", "k", action=lambda: screen.scroll_by(-1))
    on("pagedown", action=lambda: screen.scroll_by(screen.page))
    on("pageup", action=lambda: screen.scroll_by(-screen.page))
    on("home", action=lambda: screen.scroll_by(-(10**9)))

    def start(mode: str) -> None:
        if screen.start_input(mode):
            entry.text = ""
            application.layout.focus(entry)

    on("n", action=lambda: start("note"))
    on("t", action=lambda: start("tag"))

    @bindings.add("escape", filter=keys, eager=True)
    def _close(_event: KeyPressEvent) -> None:
        screen.show_help = False
        screen.message = []

    @bindings.add("escape", filter=typing, eager=True)
    def _cancel(_event: KeyPressEvent) -> None:
        screen.cancel_input()
        application.layout.focus(body)

    @bindings.add("q", filter=keys)
    @bindings.add("c-c")
    def _quit(event: KeyPressEvent) -> None:
        event.app.exit()

    @bindings.add("c-l")
    def _redraw(event: KeyPressEvent) -> None:
        # After a browser launcher wrote over the screen.
        event.app.renderer.clear()

    application: Application[None] = Application(
        layout=layout,
        key_bindings=bindings,
        style=Style.from_dict(STYLE),
        full_screen=True,
        mouse_support=False,
    )
    return application


def run_app(
    queue: ReviewQueue,
    tz: tzinfo,
    tz_name: str,
    *,
    open_url: Callable[[str], bool] = open_in_browser,
) -> Summary:
    """Runs the screen on the current prompt_toolkit session's terminal until q,
    Ctrl-C or the end of input; what was marked is in the database already."""
    application = build_application(ReviewScreen(queue, tz, tz_name, open_url))
    # Ctrl-C outside the key bindings, or the terminal gone: the marks are saved.
    with contextlib.suppress(KeyboardInterrupt, EOFError):
        application.run()
    return queue.summary()
