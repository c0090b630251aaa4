"""When a digest is due: the next fire time of a 5-field cron expression (UTC).

APScheduler 3 computes it (``CronTrigger.from_crontab``), but it numbers days
of week from Monday (0 = mon) where crontab(5) counts from Sunday (0 and 7 =
sun). The day-of-week field is therefore rewritten as explicit day names
before it is handed over, so ``0 8 * * 1-5`` means Monday to Friday.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from apscheduler.triggers.cron import CronTrigger

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _day(text: str) -> int:
    lowered = text.lower()
    return _DAYS.index(lowered) if lowered in _DAYS else int(text)  # 7: Sunday, taken % 7


def crontab_days(field: str) -> str:
    """A crontab day-of-week field as day names: ``1-5`` -> ``mon,tue,wed,thu,fri``."""
    days: set[int] = set()
    for item in field.split(","):
        span, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            first, last = 0, 6
        else:
            start, dash, end = span.partition("-")
            first = _day(start)
            last = _day(end) if dash else (6 if step_text else first)
        days.update(day % 7 for day in range(first, last + 1, step))
    if days == set(range(7)):
        return "*"
    return ",".join(_DAYS[day] for day in sorted(days))


def trigger(expression: str) -> CronTrigger:
    fields = expression.split()
    fields[4] = crontab_days(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=UTC)


def next_fire(expression: str, after: datetime) -> datetime:
    """The first fire time strictly after ``after`` (a cron expression always has one)."""
    fire: datetime | None = trigger(expression).get_next_fire_time(None, after)
    assert fire is not None
    if fire <= after:  # a fire time equal to ``after`` belongs to the period before
        fire = trigger(expression).get_next_fire_time(None, after + timedelta(seconds=1))
        assert fire is not None
    return fire.astimezone(UTC)
