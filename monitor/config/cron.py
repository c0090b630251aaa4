"""Checks 5-field cron expressions (the `digest:` of an email notifier) field by field.

Only validation lives here: the notifier computes the schedule. Day of week
follows crontab(5): 0 and 7 are Sunday.
"""

from __future__ import annotations

from dataclasses import dataclass

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    first_name_value: int = 0

    def value(self, text: str) -> int:
        lowered = text.lower()
        if lowered in self.names:
            return self.names.index(lowered) + self.first_name_value
        if not text.isdigit():
            raise ValueError(f"{self.name} {text!r} is not a number")
        number = int(text)
        if not self.low <= number <= self.high:
            raise ValueError(f"{self.name} {number} is out of range {self.low}-{self.high}")
        return number


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, _MONTHS, 1),
    _Field("day of week", 0, 7, _DAYS, 0),
)
_HINT = (
    "5 fields: minute hour day-of-month month day-of-week, e.g. '0 8 * * *' or '30 7 * * mon-fri'"
)


def check_cron(expression: str) -> str:
    """Return the expression if it is a valid 5-field cron expression, else raise ValueError."""
    fields = expression.split()
    try:
        if len(fields) != len(_FIELDS):
            raise ValueError(f"it has {len(fields)} fields")
        for field, text in zip(_FIELDS, fields, strict=True):
            for item in text.split(","):
                _check_item(field, item)
    except ValueError as error:
        raise ValueError(f"{expression!r} is not a cron expression: {error} ({_HINT})") from None
    return expression


def _check_item(field: _Field, item: str) -> None:
    """One comma-separated item: ``*``, ``n``, ``a-b``, each optionally followed by ``/step``."""
    span, slash, step = item.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        raise ValueError(f"{field.name} step {step!r} must be a number above zero")
    if span == "*":
        return
    start, dash, end = span.partition("-")
    if not start:
        raise ValueError(f"{field.name} {item!r} is empty or malformed")
    first = field.value(start)
    if dash and field.value(end) < first:
        raise ValueError(f"{field.name} range {span!r} runs backwards")
