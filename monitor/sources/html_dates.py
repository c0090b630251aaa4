"""Dates as websites print them, to aware UTC datetimes (or None).

Understood, anywhere inside the text (a footer such as "📅 01:32 · 25 Khordad
1405" or "الأربعاء، 28 آب/اغسطس 2013، آخر تحديث 14:00 (GMT+0400)" is fine):

- ISO 8601 (``time@datetime``: 2026-11-21T14:05:00+03:00) and RFC 822
  (Sat, 21 Nov 2026 14:05:00 +0000);
- day-month-year and month-day-year with English month names or
  abbreviations (21 November 2026, Nov 21, 2026 14:05, 2:05 PM);
- Arabic month names of every set in use: Egyptian/Gulf (يناير ... ديسمبر),
  Levantine/Iraqi (كانون الثاني ... كانون الأول), Maghrebi (جانفي، فيفري، أفريل،
  جوان، جويلية، أوت ...) and Moroccan (يوليوز، غشت، شتنبر، نونبر، دجنبر), also
  doubled as sites print them ("21 نوفمبر/تشرين الثاني 2026"), with Arabic-Indic
  or Persian digits (٢١ نوفمبر ٢٠٢٦), ص/م for a.m./p.m.;
- numeric dates, day first (21/11/2026, 21-11-2026) unless the middle number
  cannot be a month (11/21/2026), and year first (2026/11/21);
- Jalali (Persian calendar) dates with the month in Latin letters or in
  Persian (25 Khordad 1405, ۲۵ خرداد ۱۴۰۵), when the ``jdatetime`` package is
  installed (None otherwise);
- relative dates in English and Arabic: "just now", "5 minutes ago", "an hour
  ago", "yesterday 14:05", "منذ ساعتين", "منذ 3 ساعات", "قبل 11 ساعة", "منذ يومين",
  "أمس", "اليوم 14:05", "منذ قليل". They count back from ``now`` (months as
  30 days, years as 365) and are flagged ``relative``: they shift from poll to
  poll, so they never measure deletion windows. A text with both an absolute
  and a relative date ("21 نوفمبر 2026، منذ ساعتين") gives the absolute one.

Time zones: a zone in the text wins (Z, +03:00, +0300, GMT+4, UTC). Without
one, the time is read in ``tz`` (a source's configured zone) when given, else
in UTC, except Jalali dates, which are Iranian civil dates and are read in
Asia/Tehran. A date without a time is midnight. Years before 1900 or after
2200 are refused: "1405-03-25" in digits alone could be Jalali or Hijri.
Anything else gives None, and the pipeline then uses the fetch time.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

from monitor.sources.html_dates_relative import relative_date
from monitor.sources.html_dates_text import clock, fold, without

IRAN = ZoneInfo("Asia/Tehran")
MIN_YEAR, MAX_YEAR = 1900, 2200


@dataclass(frozen=True)
class ParsedDate:
    when: datetime  # aware, UTC
    relative: bool = False  # counted back from "now": approximate, moves between polls


def _months(rows: list[str], extra: dict[str, int]) -> dict[str, int]:
    """Each row names the twelve months in order; ``extra`` maps further names."""
    names = {name: month for row in rows for month, name in enumerate(row.split(), start=1)}
    return {fold(name).lower(): month for name, month in {**names, **extra}.items()}


GREGORIAN_MONTHS = _months(
    [
        "january february march april may june july august september october november december",
        "jan feb mar apr may jun jul aug sep oct nov dec",
        # Egypt and the Gulf
        "يناير فبراير مارس أبريل مايو يونيو يوليو أغسطس سبتمبر أكتوبر نوفمبر ديسمبر",
        # Tunisia and Algeria; Morocco
        "جانفي فيفري مارس أفريل ماي جوان جويلية أوت سبتمبر أكتوبر نوفمبر ديسمبر",
        "يناير فبراير مارس أبريل ماي يونيو يوليوز غشت شتنبر أكتوبر نونبر دجنبر",
    ],
    {
        "sept": 9,
        "يونيه": 6,
        "يوليه": 7,
        "إبريل": 4,
        # The Levant and Iraq
        "كانون الثاني": 1,
        "شباط": 2,
        "آذار": 3,
        "نيسان": 4,
        "أيار": 5,
        "حزيران": 6,
        "تموز": 7,
        "آب": 8,
        "أيلول": 9,
        "تشرين الأول": 10,
        "تشرين الثاني": 11,
        "كانون الأول": 12,
    },
)
JALALI_MONTHS = _months(
    [
        "farvardin ordibehesht khordad tir mordad shahrivar mehr aban azar dey bahman esfand",
        "فروردین اردیبهشت خرداد تیر مرداد شهریور مهر آبان آذر دی بهمن اسفند",
    ],
    {"amordad": 5, "dei": 10},
)


def _alternation(names: list[str]) -> str:
    # Longest first, so "كانون الثاني" wins over a shorter name; a name is a whole word.
    words = sorted(names, key=len, reverse=True)
    spaced = (re.escape(word).replace(r"\ ", r"\s+") for word in words)
    return r"(?<![^\W\d_])(?:" + "|".join(spaced) + r")(?![^\W\d_])"


_MONTH = _alternation([*GREGORIAN_MONTHS, *JALALI_MONTHS])
_ORDINAL = r"(?:st|nd|rd|th)?"
_DAY_MONTH_YEAR = re.compile(
    rf"(?<!\d)(?P<day>\d{{1,2}}){_ORDINAL}[\s.\-/]*(?:of\s+)?(?P<month>{_MONTH})"
    rf"(?:\s*[/(]\s*{_MONTH}\s*\)?)?[\s.,\-/]*(?P<year>\d{{4}})(?!\d)",
    re.IGNORECASE,
)
_MONTH_DAY_YEAR = re.compile(
    rf"(?P<month>{_MONTH})\.?\s+(?P<day>\d{{1,2}}){_ORDINAL},?\s+(?P<year>\d{{4}})(?!\d)",
    re.IGNORECASE,
)
_ISO = re.compile(
    r"(?<!\d)\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
    r"(?:\s?Z|[+-]\d{2}:?\d{2})?)?(?!\d)",
    re.IGNORECASE,
)
_YEAR_FIRST = re.compile(r"(?<!\d)(?P<year>\d{4})[/.](?P<month>\d{1,2})[/.](?P<day>\d{1,2})(?!\d)")
_DAY_FIRST = re.compile(r"(?<!\d)(?P<a>\d{1,2})([/.\-])(?P<b>\d{1,2})\2(?P<year>\d{4})(?!\d)")
_RFC822 = re.compile(
    r"(?:[a-z]{3},?\s*)?\d{1,2}\s+[a-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s+\S+)?",
    re.IGNORECASE,
)


def parse_date(text: str | None, *, now: datetime, tz: tzinfo | None = None) -> ParsedDate | None:
    """The date in ``text``, or None; ``now`` (aware) anchors relative dates."""
    if not text:
        return None
    folded = " ".join(fold(text).split())
    if not folded:
        return None
    for attempt in (_whole_iso, _whole_rfc822):
        when = attempt(folded, tz)
        if when is not None:
            return ParsedDate(when)
    when = _calendar(folded, tz)
    if when is not None:
        return ParsedDate(when)
    relative = relative_date(folded, now, tz)
    return ParsedDate(relative, relative=True) if relative is not None else None


def _sane(when: datetime | None) -> datetime | None:
    if when is None or not MIN_YEAR <= when.year <= MAX_YEAR:
        return None
    return when.astimezone(UTC)


def _localize(naive: datetime, zone: tzinfo | None) -> datetime:
    return naive.replace(tzinfo=zone or UTC) if naive.tzinfo is None else naive


def _whole_iso(text: str, tz: tzinfo | None) -> datetime | None:
    match = _ISO.fullmatch(text)
    return _from_iso(match.group(), tz) if match else None


def _from_iso(value: str, tz: tzinfo | None) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.upper().replace(" Z", "Z").replace(",", "."))
    except ValueError:
        return None
    return _sane(_localize(parsed, tz))


def _whole_rfc822(text: str, tz: tzinfo | None) -> datetime | None:
    if not _RFC822.fullmatch(text):
        return None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return _sane(_localize(parsed, tz))


# --- Calendar dates found inside a longer text -------------------------------------------


def _calendar(text: str, tz: tzinfo | None) -> datetime | None:
    iso = _ISO.search(text)
    if iso and len(iso.group()) > len("2026-11-21"):  # with a time of day
        return _from_iso(iso.group(), tz)
    for pattern in (_DAY_MONTH_YEAR, _MONTH_DAY_YEAR):
        match = pattern.search(text)
        if match:
            return _named_month(match, text, tz)
    for finder in (_iso_date, _year_first, _day_first):
        found = finder(text)
        if found is not None:
            day, span = found
            return _with_time(day, without(text, span), tz or UTC)
    return None


def _named_month(match: re.Match[str], text: str, tz: tzinfo | None) -> datetime | None:
    name = " ".join(match["month"].lower().split())
    year, day = int(match["year"]), int(match["day"])
    rest = without(text, match.span())
    if name in JALALI_MONTHS:
        gregorian = jalali_to_gregorian(year, JALALI_MONTHS[name], day)
        return _with_time(gregorian, rest, tz or IRAN) if gregorian else None
    return _with_time(_date(year, GREGORIAN_MONTHS[name], day), rest, tz or UTC)


def _iso_date(text: str) -> tuple[date | None, tuple[int, int]] | None:
    match = _ISO.search(text)
    if not match:
        return None
    year, month, day = (int(part) for part in match.group()[:10].split("-"))
    return _date(year, month, day), match.span()


def _year_first(text: str) -> tuple[date | None, tuple[int, int]] | None:
    match = _YEAR_FIRST.search(text)
    if not match:
        return None
    return _date(int(match["year"]), int(match["month"]), int(match["day"])), match.span()


def _day_first(text: str) -> tuple[date | None, tuple[int, int]] | None:
    match = _DAY_FIRST.search(text)
    if not match:
        return None
    first, second = int(match["a"]), int(match["b"])
    day, month = (second, first) if second > 12 else (first, second)
    return _date(int(match["year"]), month, day), match.span()


def _date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def jalali_to_gregorian(year: int, month: int, day: int) -> date | None:
    """Through the ``jdatetime`` package; None when it is missing or the date invalid."""
    try:
        jdatetime = importlib.import_module("jdatetime")
    except ImportError:
        return None
    try:
        gregorian = jdatetime.date(year, month, day).togregorian()
    except ValueError:
        return None
    return date(gregorian.year, gregorian.month, gregorian.day)


def _with_time(day: date | None, rest: str, zone: tzinfo) -> datetime | None:
    """``day`` at the time found in ``rest`` (midnight without one), in its zone or ``zone``."""
    if day is None:
        return None
    found = clock(rest)
    if found is None:
        return _sane(datetime(day.year, day.month, day.day, tzinfo=zone))
    (hour, minute, second), offset = found
    try:
        naive = datetime(day.year, day.month, day.day, hour, minute, second)
    except ValueError:
        return None
    return _sane(naive.replace(tzinfo=offset or zone))
