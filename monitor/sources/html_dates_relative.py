"""Relative dates ("منذ ساعتين", "2 hours ago", "أمس 14:05") for the date parser.

They count back from ``now``: months as 30 days, years as 365. "Yesterday"
without a time is ``now`` less a day; with one, that time on the day before.
A plural without a number ("منذ ساعات", hours ago) says too little: None.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

from monitor.sources.html_dates_text import clock, fold, without

_UNITS: dict[str, tuple[timedelta, int | None]] = {}


def _units(step: timedelta, one: list[str], two: list[str], many: list[str]) -> None:
    for words, count in ((one, 1), (two, 2), (many, None)):
        for word in words:
            _UNITS[fold(word).lower()] = (step, count)


_units(
    timedelta(seconds=1),
    ["ثانية", "second", "sec"],
    ["ثانيتين", "ثانيتان"],
    ["ثوان", "ثواني", "seconds", "secs", "s"],
)
_units(
    timedelta(minutes=1),
    ["دقيقة", "minute", "min"],
    ["دقيقتين", "دقيقتان"],
    ["دقائق", "minutes", "mins", "m"],
)
_units(
    timedelta(hours=1), ["ساعة", "hour", "hr"], ["ساعتين", "ساعتان"], ["ساعات", "hours", "hrs", "h"]
)
_units(timedelta(days=1), ["يوم", "day"], ["يومين", "يومان"], ["أيام", "days", "d"])
_units(timedelta(weeks=1), ["أسبوع", "week"], ["أسبوعين", "أسبوعان"], ["أسابيع", "weeks", "w"])
_units(timedelta(days=30), ["شهر", "month"], ["شهرين", "شهران"], ["أشهر", "شهور", "months"])
_units(
    timedelta(days=365),
    ["سنة", "عام", "year"],
    ["سنتين", "سنتان", "عامين", "عامان"],
    ["سنوات", "سنين", "أعوام", "years"],
)
_UNIT = r"(?P<unit>" + "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True)) + ")"
_AGO_ARABIC = re.compile(
    rf"(?<![^\W\d_])(?:منذ|قبل)\s+(?:(?P<count>\d+)\s*)?{_UNIT}(?![^\W\d_])", re.IGNORECASE
)
_AGO_ENGLISH = re.compile(
    rf"(?<![^\W\d_])(?P<count>\d+|an?|one)\s*{_UNIT}\s+ago(?![^\W\d_])", re.IGNORECASE
)
_NOW = re.compile(
    r"(?<![^\W\d_])(?:just now|now|الان|منذ قليل|قبل قليل|للتو|منذ لحظات)(?![^\W\d_])",
    re.IGNORECASE,
)
_DAY_WORDS = re.compile(
    r"(?<![^\W\d_])(?P<word>yesterday|today|امس|الامس|البارحه|اليوم)(?![^\W\d_])", re.IGNORECASE
)


def relative_date(text: str, now: datetime, tz: tzinfo | None) -> datetime | None:
    for pattern in (_AGO_ARABIC, _AGO_ENGLISH):
        match = pattern.search(text)
        if match:
            return _ago(match, now)
    match = _DAY_WORDS.search(text)
    if match:
        back = 0 if match["word"].lower() in {"today", "اليوم"} else 1
        return _on_day(now, back, without(text, match.span()), tz or UTC)
    return now.astimezone(UTC) if _NOW.search(text) else None


def _ago(match: re.Match[str], now: datetime) -> datetime | None:
    step, implied = _UNITS[match["unit"].lower()]
    raw = (match["count"] or "").lower()
    count = int(raw) if raw.isdigit() else (1 if raw in {"a", "an", "one"} else implied)
    if count is None:
        return None  # "منذ ساعات": some hours ago
    return (now - step * count).astimezone(UTC)


def _on_day(now: datetime, days_back: int, rest: str, zone: tzinfo) -> datetime:
    """``days_back`` days before ``now``, at the time in ``rest`` if it names one."""
    local = now.astimezone(zone) - timedelta(days=days_back)
    found = clock(rest)
    if found is None:
        return local.astimezone(UTC)
    (hour, minute, second), offset = found
    at = datetime(local.year, local.month, local.day, hour, minute, second, tzinfo=offset or zone)
    return at.astimezone(UTC)
