"""Text helpers of the date parser: folding Arabic script and digits, times of day."""

from __future__ import annotations

import re
from datetime import UTC, timedelta, timezone, tzinfo

Clock = tuple[tuple[int, int, int], tzinfo | None]  # (hour, minute, second), zone if given

_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
# Diacritics, tatweel, superscript alef, direction marks: invisible for dates.
_INVISIBLE = re.compile("[\u064b-\u065f\u0670\u0640\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")
_LETTERS = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ی": "ي", "ک": "ك", "ة": "ه", "،": ","}
)


def fold(text: str) -> str:
    """Digits to ASCII, Arabic letter variants to one form, invisible marks out."""
    return _INVISIBLE.sub("", text.translate(_DIGITS)).translate(_LETTERS)


_TIME = re.compile(
    r"(?<![\d:])(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?(?:[.,]\d+)?(?![\d:])"
    r"(?:\s*(?P<half>a\.?m\.?|p\.?m\.?|صباحا|صباح|مساءا|مساء|ظهرا|ص|م)(?![^\W\d_]))?"
    r"(?:\s*\(?\s*(?P<zone>z(?![^\W\d_])|(?:gmt|utc)(?:\s*[+-]\d{1,2}(?::?\d{2})?)?"
    r"|[+-]\d{2}:?\d{2}))?",
    re.IGNORECASE,
)
_OFFSET = re.compile(r"(?P<sign>[+-])(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?")


def without(text: str, span: tuple[int, int]) -> str:
    return text[: span[0]] + " " + text[span[1] :]


def clock(text: str) -> Clock | None:
    match = _TIME.search(text)
    if not match:
        return None
    hour, minute = int(match["hour"]), int(match["minute"])
    second = int(match["second"] or 0)
    half = (match["half"] or "").lower().replace(".", "")
    if half in {"pm", "م", "مساء", "مساءا", "ظهرا"} and hour < 12:
        hour += 12
    elif half in {"am", "ص", "صباح", "صباحا"} and hour == 12:
        hour = 0
    return (hour, minute, second), _zone(match["zone"])


def _zone(value: str | None) -> tzinfo | None:
    if not value:
        return None
    offset = _OFFSET.search(value)
    if offset is None:
        return UTC  # Z, GMT, UTC
    delta = timedelta(hours=int(offset["hours"]), minutes=int(offset["minutes"] or 0))
    if delta >= timedelta(hours=15):
        return None
    return timezone(-delta if offset["sign"] == "-" else delta)
