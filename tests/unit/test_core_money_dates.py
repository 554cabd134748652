"""Dates as UTC instants and money in minor units (DESIGN 2, "Dates and time", "Money")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sf_stripe_sync.core.dates import (
    from_unix,
    iso_z,
    parse_as_of,
    parse_sf_date,
    parse_sf_datetime,
    to_unix,
)
from sf_stripe_sync.core.money import (
    currency_exponent,
    decimal_from_json,
    from_minor_units,
    to_minor_units,
)


def test_sf_date_is_midnight_utc_of_that_day() -> None:
    parsed = parse_sf_date("2025-01-01")
    assert parsed == datetime(2025, 1, 1, tzinfo=UTC)
    assert to_unix(parsed) == 1735689600


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-01T10:00:00.000+0000", datetime(2025, 1, 1, 10, tzinfo=UTC)),
        ("2025-01-01T10:00:00Z", datetime(2025, 1, 1, 10, tzinfo=UTC)),
        ("2025-01-01T10:00:00+02:00", datetime(2025, 1, 1, 8, tzinfo=UTC)),
        ("2025-01-01T01:30:00.000-0500", datetime(2025, 1, 1, 6, 30, tzinfo=UTC)),
    ],
)
def test_sf_datetime_is_the_exact_utc_instant_whatever_the_offset(
    text: str, expected: datetime
) -> None:
    parsed = parse_sf_datetime(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "bad", ["", "2025-13-01", "2025-02-30", "01/02/2025", "2025-1-1", "tomorrow"]
)
def test_bad_sf_date_raises_value_error(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_sf_date(bad)


@pytest.mark.parametrize("bad", ["2025-01-01T10:00:00", "2025-01-01T25:00:00Z", "noon", "7"])
def test_sf_datetime_without_offset_or_malformed_raises(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_sf_datetime(bad)


def test_non_string_date_raises_value_error() -> None:
    with pytest.raises(ValueError):
        parse_sf_date(20250101)  # type: ignore[arg-type]


def test_as_of_accepts_a_date_or_a_datetime_and_reads_naive_as_utc() -> None:
    assert parse_as_of("2025-03-04") == datetime(2025, 3, 4, tzinfo=UTC)
    assert parse_as_of("2025-03-04T12:00:00+01:00") == datetime(2025, 3, 4, 11, tzinfo=UTC)
    assert parse_as_of("2025-03-04T12:00") == datetime(2025, 3, 4, 12, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_as_of("last tuesday")


def test_unix_round_trip_and_iso_z_format() -> None:
    instant = datetime(2027, 1, 1, tzinfo=UTC)
    assert from_unix(to_unix(instant)) == instant
    assert iso_z(instant) == "2027-01-01T00:00:00Z"
    assert iso_z(datetime(2027, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))) == (
        "2027-01-01T00:00:00Z"
    )


def test_naive_datetimes_are_refused_at_the_edge() -> None:
    with pytest.raises(ValueError):
        to_unix(datetime(2025, 1, 1))
    with pytest.raises(ValueError):
        iso_z(datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("usd", 2), ("USD", 2), ("eur", 2), ("jpy", 0), ("krw", 0), ("xpf", 0),
     ("kwd", 3), ("bhd", 3), ("tnd", 3), ("xyz", None), ("", None)],
)
def test_currency_exponent_follows_iso_4217_as_stripe_uses_it(
    currency: str, exponent: int | None
) -> None:
    assert currency_exponent(currency) == exponent


def test_to_minor_units_respects_the_currency_exponent() -> None:
    assert to_minor_units(Decimal("5.50"), "usd") == 550
    assert to_minor_units(Decimal("1000"), "jpy") == 1000
    assert to_minor_units(Decimal("1.234"), "kwd") == 1234
    assert to_minor_units(Decimal("19.99"), "eur") == 1999


@pytest.mark.parametrize(
    ("amount", "currency"), [("5.505", "usd"), ("100.5", "jpy"), ("1.2345", "kwd")]
)
def test_to_minor_units_refuses_to_round_silently(amount: str, currency: str) -> None:
    with pytest.raises(ValueError, match="decimal places"):
        to_minor_units(Decimal(amount), currency)


def test_to_minor_units_refuses_an_unknown_currency() -> None:
    with pytest.raises(ValueError, match="unknown currency"):
        to_minor_units(Decimal(1), "zzz")


def test_from_minor_units_gives_the_exact_decimal() -> None:
    assert from_minor_units(550, "usd") == Decimal("5.50")
    assert from_minor_units(1234, "kwd") == Decimal("1.234")
    assert from_minor_units(1000, "jpy") == Decimal(1000)


def test_json_numbers_become_decimals_without_float_error() -> None:
    assert decimal_from_json(0.1) == Decimal("0.1")
    assert to_minor_units(decimal_from_json(0.29), "usd") == 29
    for bad in (True, None, "abc", float("nan"), float("inf"), [1]):
        with pytest.raises(ValueError):
            decimal_from_json(bad)
