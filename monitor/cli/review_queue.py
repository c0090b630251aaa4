"""The state of an interactive review session, independent of any screen: the queue
of statements to review, the position in it, marks written at once, undo, the summary.

`monitor review` (monitor/cli/review_app.py) draws this with prompt_toolkit; tests
drive it directly. Every mark, note and tag is one short write transaction, so a
session that ends abruptly (Ctrl-C, a dropped SSH connection) loses nothing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from monitor.cli.render import _cue_spans, _match_spans
from monitor.errors import MonitorError, NotFoundError
from monitor.store.models import Statement
from monitor.store.queries import ItemFilters, filtered_statements, source_kinds
from monitor.store.review import review_items
from monitor.store.session import Database

MARKS = ("relevant", "irrelevant", "escalated")
# Languages written right to left that the detector can report.
RTL_LANGUAGES = frozenset({"ar", "fa", "ur", "ps", "he", "yi", "ckb", "sd", "ug", "dv"})


@dataclass(frozen=True)
class RuleHit:
    rule: str
    severity: str
    terms: tuple[str, ...]


@dataclass(frozen=True)
class StanceScore:
    label: str
    score: float
    target: str | None


@dataclass(frozen=True)
class Highlight:
    start: int
    end: int
    kind: str  # "match": a rule's evidence; "cue": a stance cue that counted


@dataclass
class QueueItem:
    """A statement as the review screen shows it, copied out of its session so the
    queue holds no database connection between keystrokes."""

    id: int
    source: str
    kind: str | None
    leader: str | None
    organization: str | None
    published_at: datetime
    url: str | None
    title: str | None
    text: str
    language: str | None
    edited: bool
    deleted_at: datetime | None
    status: str
    note: str | None
    tags: list[str]
    rules: list[RuleHit]
    stance: list[StanceScore]
    highlights: list[Highlight]

    @property
    def rtl(self) -> bool:
        return self.language in RTL_LANGUAGES or is_rtl(self.text)


def is_rtl(line: str) -> bool:
    """Whether a line reads right to left: its first strong character is Arabic or
    Hebrew (the Unicode bidi rule for a paragraph's direction)."""
    for char in line:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


def queue_item(statement: Statement, kind: str | None) -> QueueItem:
    # The same spans `monitor items show` highlights, so both views agree.
    highlights = [Highlight(a, b, "cue") for a, b in _cue_spans(statement)]
    highlights.extend(Highlight(a, b, "match") for a, b in _match_spans(statement))
    stance = [
        StanceScore(label, float(score["score"]), score.get("target"))
        for label, score in (statement.stance or {}).items()
        if score.get("score")
    ]
    stance.sort(key=lambda s: -s.score)
    return QueueItem(
        id=statement.id,
        source=statement.source_id,
        kind=kind,
        leader=statement.leader_id,
        organization=statement.organization_id,
        published_at=statement.published_at,
        url=statement.url,
        title=statement.title,
        text=statement.text,
        language=statement.language,
        edited=statement.edited,
        deleted_at=statement.deleted_at,
        status=statement.status,
        note=statement.note,
        tags=list(statement.tags or []),
        rules=[
            RuleHit(m.rule_id, m.severity, tuple(m.evidence.get("terms", [])))
            for m in sorted(statement.matches, key=lambda m: m.rule_id)
        ],
        stance=stance,
        highlights=highlights,
    )


def load_items(
    db: Database,
    filters: ItemFilters,
    *,
    include_unmatched: bool = False,
    oldest_first: bool = True,
) -> list[QueueItem]:
    """The unreviewed statements the filters select (status new; with a rule match
    unless ``include_unmatched``), oldest first unless told otherwise. The filters'
    own status and matched settings are overridden: this is the review queue."""
    filters = replace(filters, status="new", matched=not include_unmatched)
    order = (
        (Statement.published_at.asc(), Statement.id.asc())
        if oldest_first
        else (Statement.published_at.desc(), Statement.id.desc())
    )
    query = (
        filtered_statements(filters)
        .options(selectinload(Statement.matches), selectinload(Statement.versions))
        .order_by(*order)
    )
    if filters.limit:
        query = query.limit(filters.limit)
    with db.read() as session:
        kinds = source_kinds(session)
        return [queue_item(s, kinds.get(s.source_id)) for s in session.scalars(query)]


class ChangedElsewhere(MonitorError):
    """Undo found the statement marked by someone else after this session's mark."""

    def __init__(self, statement_id: int, status: str) -> None:
        super().__init__(
            f"not undone: statement {statement_id} is now {status} (changed elsewhere)"
        )
        self.statement_id = statement_id
        self.status = status


@dataclass(frozen=True)
class Mark:
    """One status change made in this session, kept for undo."""

    index: int
    statement_id: int
    previous: str
    status: str


@dataclass(frozen=True)
class Summary:
    counts: dict[str, int]
    skipped: int
    left: int

    @property
    def reviewed(self) -> int:
        return sum(self.counts.values())

    def line(self) -> str:
        marks = ", ".join(f"{self.counts.get(status, 0)} {status}" for status in MARKS)
        return f"reviewed {self.reviewed}: {marks}; {self.skipped} skipped; {self.left} left"


@dataclass
class ReviewQueue:
    """A fixed list of statements (loaded once: what arrives meanwhile waits for the
    next session) and a position in it; ``position == len(items)`` is the end."""

    db: Database
    items: list[QueueItem]
    position: int = 0
    undo_stack: list[Mark] = field(default_factory=list)
    # The status this session left each statement in (undo may take it back to new).
    marked: dict[int, str] = field(default_factory=dict)
    skipped: set[int] = field(default_factory=set)

    @classmethod
    def load(
        cls,
        db: Database,
        filters: ItemFilters,
        *,
        include_unmatched: bool = False,
        oldest_first: bool = True,
    ) -> ReviewQueue:
        items = load_items(
            db, filters, include_unmatched=include_unmatched, oldest_first=oldest_first
        )
        return cls(db, items)

    @property
    def total(self) -> int:
        return len(self.items)

    @property
    def current(self) -> QueueItem | None:
        return self.items[self.position] if self.position < len(self.items) else None

    @property
    def at_end(self) -> bool:
        return self.position >= len(self.items)

    def counter(self) -> str:
        """The position as the analyst reads it: "3/17"."""
        return f"{min(self.position + 1, self.total)}/{self.total}"

    def _require_current(self) -> QueueItem:
        item = self.current
        if item is None:
            raise IndexError("the end of the queue has no statement")
        return item

    def _write(
        self, item: QueueItem, *, status: str | None = None, note: str | None = None,
        tags: Sequence[str] = (),
    ) -> str:  # fmt: skip
        """Writes to one statement in its own transaction; the status it had before."""
        with self.db.write() as session:
            # Read under the row lock review_items takes, so undo restores what was
            # really there, even if a colleague marked it since the queue was loaded.
            previous = session.scalar(
                select(Statement.status).where(Statement.id == item.id).with_for_update()
            )
            if previous is None:
                raise NotFoundError(f"statement {item.id} is no longer in the database")
            [statement] = review_items(session, [item.id], status=status, note=note, tags=tags)
            item.status = statement.status
            item.note = statement.note
            item.tags = list(statement.tags or [])
        return previous

    def mark(self, status: str) -> Mark:
        """Sets the current statement's status, saved at once, and moves on."""
        if status not in MARKS:
            raise ValueError(f"{status!r} is not a review mark (valid: {', '.join(MARKS)})")
        item = self._require_current()
        previous = self._write(item, status=status)
        mark = Mark(self.position, item.id, previous, status)
        self.undo_stack.append(mark)
        self.marked[item.id] = status
        self.skipped.discard(item.id)
        self.position += 1
        return mark

    def add_note(self, text: str) -> bool:
        """Appends a note to the current statement (stamped by review_items); an empty
        note is not written. The position stays: a note comes before the mark."""
        if not text.strip():
            return False
        self._write(self._require_current(), note=text.strip())
        return True

    def add_tag(self, tag: str) -> bool:
        if not tag.strip():
            return False
        self._write(self._require_current(), tags=[tag.strip()])
        return True

    def skip(self) -> None:
        item = self.current
        if item is None:
            return
        if self.marked.get(item.id, "new") == "new":
            self.skipped.add(item.id)
        self.position += 1

    def back(self) -> bool:
        if self.position == 0:
            return False
        self.position -= 1
        return True

    def undo(self) -> Mark | None:
        """Takes the last mark back (the status it replaced is written again) and
        returns to that statement; None when there is nothing to undo. A statement
        someone else re-marked since is left alone: their mark is newer."""
        if not self.undo_stack:
            return None
        mark = self.undo_stack[-1]
        item = self.items[mark.index]
        with self.db.write() as session:
            now = session.scalar(
                select(Statement.status).where(Statement.id == mark.statement_id).with_for_update()
            )
            if now is None:
                raise NotFoundError(f"statement {mark.statement_id} is no longer in the database")
            if now != mark.status:
                raise ChangedElsewhere(mark.statement_id, now)
            review_items(session, [mark.statement_id], status=mark.previous)
        self.undo_stack.pop()
        item.status = mark.previous
        self.marked[mark.statement_id] = mark.previous
        self.position = mark.index
        return mark

    def summary(self) -> Summary:
        counts = dict.fromkeys(MARKS, 0)
        for status in self.marked.values():
            if status in counts:
                counts[status] += 1
        reviewed = {i for i, status in self.marked.items() if status != "new"}
        skipped = self.skipped - reviewed
        left = sum(1 for item in self.items if item.id not in reviewed and item.id not in skipped)
        return Summary(counts, len(skipped), left)
