"""Salesforce dates and datetimes as exact UTC instants.

Theory of operation (DESIGN 2, "Dates and time"): a Salesforce Date (``2025-01-01``)
means 00:00:00 UTC of that day; a DateTime (``2025-01-01T10:00:00.000+0000``) means its
exact instant, whatever offset it is written with. Every value leaves this module as a
timezone-aware ``datetime`` in UTC, and Stripe gets whole Unix seconds. Bad input raises
``ValueError``; ``core.normalize`` turns that into an issue naming the field. Nothing
here reads the clock: "now" is always passed in by the caller. Parsed texts are cached
(a bounded ``lru_cache``): a run reads the same dates and change stamps many times.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_DAY = timedelta(days=1)

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME_RE = re.compile(
    r"(?P<body>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)"
    r"(?P<offset>Z|[+-]\d{2}:?\d{2})?"
)


def _text(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {type(value).__name__}")
    return value.strip()


def parse_sf_date(value: str) -> datetime:
    """``YYYY-MM-DD`` -> 00:00:00 UTC of that day."""
    return _parse_date(_text(value, "date"))


@lru_cache(maxsize=4096)
def _parse_date(text: str) -> datetime:
    """(Cached: a run reads the same few dates on most of its records.)"""
    if not _DATE_RE.fullmatch(text):
        raise ValueError(f"not a date (YYYY-MM-DD): {text!r}")
    day = date.fromisoformat(text)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@lru_cache(maxsize=4096)
def _parse_datetime(text: str, *, naive_is_utc: bool) -> datetime:
    """(Cached: every record's change stamps are read several times in a run.)"""
    match = _DATETIME_RE.fullmatch(text)
    if match is None:
        raise ValueError(f"not a datetime: {text!r}")
    if match.group("offset") is None and not naive_is_utc:
        raise ValueError(f"datetime without a UTC offset: {text!r}")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not a datetime: {text!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_sf_datetime(value: str) -> datetime:
    """A Salesforce DateTime (``...T10:00:00.000+0000``, ``Z``, ``+02:00``) -> UTC instant.

    A value without an offset is refused: Salesforce always writes one, and guessing a
    time zone would shift billing dates.
    """
    return _parse_datetime(_text(value, "datetime"), naive_is_utc=False)


def parse_sf_date_or_datetime(value: str) -> datetime:
    """A Date or a DateTime, whichever the text is (custom fields may be either)."""
    text = _text(value, "date")
    if _DATE_RE.fullmatch(text):
        return parse_sf_date(text)
    return parse_sf_datetime(text)


def parse_as_of(value: str) -> datetime:
    """The ``--as-of`` option: ``YYYY-MM-DD`` (midnight UTC) or a datetime.

    A datetime typed without an offset is read as UTC, the zone of every other date here.
    """
    text = _text(value, "as-of")
    if _DATE_RE.fullmatch(text):
        return parse_sf_date(text)
    return _parse_datetime(text, naive_is_utc=True)


def _require_aware(dt: datetime) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt.isoformat()} has no time zone")


def to_unix(dt: datetime) -> int:
    """Whole Unix seconds of an aware datetime (sub-second parts are floored)."""
    _require_aware(dt)
    return (dt - EPOCH) // timedelta(seconds=1)


def from_unix(seconds: int) -> datetime:
    """Unix seconds -> aware UTC datetime."""
    if isinstance(seconds, bool) or not isinstance(seconds, int):
        raise ValueError(f"unix time must be an int, got {type(seconds).__name__}")
    return EPOCH + timedelta(seconds=seconds)


@lru_cache(maxsize=4096)
def iso_z(dt: datetime) -> str:
    """``2027-01-01T00:00:00Z``: the UTC instant to the second, as JSON shows it.

    (Cached: equal aware datetimes are one instant, so one text.)"""
    _require_aware(dt)
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
