"""Durations as people write them in sources.yaml: 30s, 5m, 2h, 1d, 1h30m, or bare seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

HINT = "(use e.g. 30s, 5m, 2h, 1d)"

# Units must come largest first and at most once each, so "5m30s" reads one way only.
_DURATION = re.compile(
    r"(?:(?P<d>\d+)\s*d)?\s*(?:(?P<h>\d+)\s*h)?\s*(?:(?P<m>\d+)\s*m)?\s*(?:(?P<s>\d+)\s*s)?"
)
_SECONDS_PER_UNIT = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(value: object) -> timedelta:
    """``30s``, ``5m``, ``2h``, ``1d``, ``1h30m``, an int (seconds) or a timedelta; > 0.

    Raises ValueError with a message meant for the user.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str):
        seconds = _seconds_of_text(value)
    else:
        raise ValueError(f"expected a duration {HINT}, got {type(value).__name__}")
    if seconds <= 0:
        raise ValueError(f"{value!r} is not a duration greater than zero {HINT}")
    return timedelta(seconds=seconds)


def _seconds_of_text(text: str) -> int:
    stripped = text.strip()
    if stripped.isdigit():
        return int(stripped)
    match = _DURATION.fullmatch(stripped)
    if not stripped or match is None:
        raise ValueError(f"{text!r} is not a duration {HINT}")
    return sum(
        int(amount) * _SECONDS_PER_UNIT[unit]
        for unit, amount in match.groupdict().items()
        if amount is not None
    )


def format_duration(duration: timedelta) -> str:
    """The shortest text parse_duration reads back: ``5m``, ``1h30m``, ``1d``; ``0s`` for zero."""
    remaining = round(duration.total_seconds())
    if remaining <= 0:
        return "0s"
    parts = []
    for unit, size in _SECONDS_PER_UNIT.items():
        amount, remaining = divmod(remaining, size)
        if amount:
            parts.append(f"{amount}{unit}")
    return "".join(parts)


def _validate_duration(value: Any) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as error:
        raise PydanticCustomError("config", "{message}", {"message": str(error)}) from None


Duration = Annotated[timedelta, BeforeValidator(_validate_duration)]
"""A pydantic field type holding a timedelta, read from the duration text."""
