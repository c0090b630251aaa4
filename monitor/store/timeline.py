"""A leader's statements per calendar day with stance over time, and the days the stance turned.

Read side of `monitor timeline`. Days are calendar days in a display timezone;
the bucketing is done here in Python, not in SQL, so SQLite and PostgreSQL agree
whatever their date functions and session time zones do.

Per day: the number of statements (deleted ones included: they were said), the
mean escalation and de-escalation scores of the stored ``stance`` column (see
:func:`monitor.rules.stance.scores_to_json`), and the dominant stance:

- ``escalation`` when the mean escalation score is at least
  :data:`DOMINANT_THRESHOLD` and higher than the mean de-escalation score;
- ``de-escalation`` the other way round;
- ``neutral`` otherwise (both under the threshold, or equal).

A *turn* is a day with statements whose dominant stance is ``escalation`` or
``de-escalation`` and differs from the dominant stance of the previous day with
statements in the range (quiet days are skipped). The first day with statements
has nothing to turn from; a stance that fades to ``neutral`` is not a turn. The
statement that drove a turn is that day's statement with the highest score of
the new stance (the earliest of equals).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from monitor.store.models import Statement

ESCALATION = "escalation"
DE_ESCALATION = "de-escalation"
NEUTRAL = "neutral"

# One full cue scores 0.63 (1 - e^-1) and a statement without cues 0, so a day's mean
# reaches 0.3 when about half of its statements take the stance clearly, or fewer
# take it strongly. Lower, a single weak cue among many neutral posts would flip it.
DOMINANT_THRESHOLD = 0.3


@dataclass(frozen=True, slots=True)
class StatementPoint:
    """What the timeline needs of one statement."""

    id: int
    published_at: datetime
    text: str
    escalation: float
    de_escalation: float
    deleted: bool

    def score(self, label: str) -> float:
        return self.escalation if label == ESCALATION else self.de_escalation


@dataclass(frozen=True, slots=True)
class Day:
    """One calendar day; the means and the dominant stance are None on a quiet day."""

    day: date
    statements: tuple[StatementPoint, ...]
    escalation: float | None
    de_escalation: float | None
    dominant: str | None
    turn: str | None = None  # the new stance on a turn day
    turned_from: str | None = None
    turn_statement: StatementPoint | None = None

    @property
    def count(self) -> int:
        return len(self.statements)

    @property
    def deleted(self) -> int:
        return sum(1 for point in self.statements if point.deleted)

    @property
    def quiet(self) -> bool:
        return not self.statements

    def to_json(self) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "statements": self.count,
            "deleted": self.deleted,
            "escalation": _rounded(self.escalation),
            "de_escalation": _rounded(self.de_escalation),
            "dominant": self.dominant,
            "turn": self.turn,
            "turn_statement_id": self.turn_statement.id if self.turn_statement else None,
        }


@dataclass(frozen=True, slots=True)
class Timeline:
    leader_id: str
    since: datetime
    until: datetime
    first: date
    last: date
    days: list[Day]

    @property
    def statements(self) -> int:
        return sum(day.count for day in self.days)

    @property
    def turns(self) -> list[Day]:
        return [day for day in self.days if day.turn]


def _rounded(value: float | None) -> float | None:
    # Means of a few scores print as 0.48333333333333334 otherwise; 4 places are plenty.
    return None if value is None else round(value, 4)


def stance_score(stance: Mapping[str, Any] | None, label: str) -> float:
    """A label's score in a stored ``stance`` column; 0 when absent or malformed
    (statements stored before stance scoring existed have ``{}``)."""
    entry = (stance or {}).get(label)
    if not isinstance(entry, Mapping):
        return 0.0
    score = entry.get("score")
    return float(score) if isinstance(score, int | float) else 0.0


def dominant_stance(escalation: float, de_escalation: float) -> str:
    if escalation >= DOMINANT_THRESHOLD and escalation > de_escalation:
        return ESCALATION
    if de_escalation >= DOMINANT_THRESHOLD and de_escalation > escalation:
        return DE_ESCALATION
    return NEUTRAL


def leader_has_statements(session: Session, leader_id: str) -> bool:
    query = select(Statement.id).where(Statement.leader_id == leader_id).limit(1)
    return session.scalar(query) is not None


def leader_statements(
    session: Session, leader_id: str, since: datetime, until: datetime
) -> list[StatementPoint]:
    """The leader's statements published in [since, until), oldest first."""
    query = (
        select(
            Statement.id,
            Statement.published_at,
            Statement.text,
            Statement.stance,
            Statement.deleted_at,
        )
        .where(
            Statement.leader_id == leader_id,
            Statement.published_at >= since,
            Statement.published_at < until,
        )
        .order_by(Statement.published_at, Statement.id)
    )
    return [
        StatementPoint(
            id=row.id,
            published_at=row.published_at,
            text=row.text,
            escalation=stance_score(row.stance, ESCALATION),
            de_escalation=stance_score(row.stance, DE_ESCALATION),
            deleted=row.deleted_at is not None,
        )
        for row in session.execute(query)
    ]


def daily(points: Iterable[StatementPoint], tz: tzinfo, first: date, last: date) -> list[Day]:
    """One Day for every calendar day from ``first`` to ``last`` (in ``tz``), quiet ones too."""
    buckets: dict[date, list[StatementPoint]] = {}
    for point in points:
        buckets.setdefault(point.published_at.astimezone(tz).date(), []).append(point)
    days: list[Day] = []
    current = first
    while current <= last:
        bucket = tuple(buckets.get(current, ()))
        if bucket:
            escalation = sum(p.escalation for p in bucket) / len(bucket)
            de_escalation = sum(p.de_escalation for p in bucket) / len(bucket)
            days.append(
                Day(
                    current,
                    bucket,
                    escalation,
                    de_escalation,
                    dominant_stance(escalation, de_escalation),
                )
            )
        else:
            days.append(Day(current, (), None, None, None))
        current += timedelta(days=1)
    return days


def mark_turns(days: Sequence[Day]) -> list[Day]:
    """The days with their turns set (definition in the module docstring)."""
    marked: list[Day] = []
    previous: str | None = None
    for day in days:
        if day.dominant is None:
            marked.append(day)
            continue
        if previous is not None and day.dominant != previous and day.dominant != NEUTRAL:
            label = day.dominant
            # max() keeps the first of equals, and the day's statements are oldest first.
            driver = max(day.statements, key=lambda point: point.score(label))
            day = replace(day, turn=label, turned_from=previous, turn_statement=driver)
        marked.append(day)
        previous = day.dominant
    return marked


def leader_timeline(
    session: Session, leader_id: str, since: datetime, until: datetime, tz: tzinfo
) -> Timeline:
    """Days from the one ``since`` falls on to the one before ``until`` (exclusive), in ``tz``."""
    first = since.astimezone(tz).date()
    last = (until - timedelta(microseconds=1)).astimezone(tz).date()
    points = leader_statements(session, leader_id, since, until)
    days = mark_turns(daily(points, tz, first, last))
    return Timeline(leader_id, since, until, first, last, days)
