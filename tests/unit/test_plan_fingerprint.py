"""Fingerprints: one canonical spelling per meaning, independent of input order."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sf_stripe_sync.core.consolidate import consolidate
from sf_stripe_sync.core.fingerprint import canonical, canonical_schedule, fingerprint
from sf_stripe_sync.core.models import OperationKind, Order, OrderLine, PhaseProperties
from sf_stripe_sync.core.plan import KnownState, plan_order
from sf_stripe_sync.core.rules import SyncRules

USD = PhaseProperties(currency="usd")


def line(item_id: str, price: str, start: int, end: int, quantity: int = 1) -> OrderLine:
    return OrderLine(
        id=item_id, order_id="801A", price_id=price, quantity=quantity,
        start=datetime(2027, start, 1, tzinfo=UTC), end=datetime(2027, end, 1, tzinfo=UTC),
        properties=USD,
    )


LINES = [
    line("802A", "price_A", 1, 12),
    line("802B", "price_B", 3, 9),
    line("802C", "price_C", 5, 12, quantity=4),
]


def plan_for(lines: list[OrderLine]) -> str:
    subject = Order(id="801A", status="Activated", currency="usd", account_id="001A",
                    lines=tuple(lines))
    result = plan_order(subject, contract_orders=(), known=KnownState(), rules=SyncRules(),
                        as_of=datetime(2026, 11, 20, tzinfo=UTC), stripe_account="default")
    assert result.operation is OperationKind.CREATE
    return result.fingerprint


def test_same_plan_has_the_same_fingerprint_whatever_the_line_order() -> None:
    expected = plan_for(LINES)
    shuffler = random.Random(7)
    for _ in range(5):
        shuffled = LINES[:]
        shuffler.shuffle(shuffled)
        assert plan_for(shuffled) == expected


def test_a_changed_quantity_changes_the_fingerprint() -> None:
    changed = [*LINES[:2], line("802C", "price_C", 5, 12, quantity=5)]
    assert plan_for(changed) != plan_for(LINES)


def test_fingerprint_is_sha256_hex() -> None:
    value = fingerprint({"a": 1})
    assert len(value) == 64 and int(value, 16) >= 0


def test_decimal_spellings_of_one_number_agree() -> None:
    assert fingerprint({"p": Decimal("10")}) == fingerprint({"p": Decimal("10.00")})
    assert fingerprint({"p": Decimal("12.5")}) != fingerprint({"p": Decimal("12.50001")})


def test_key_order_and_set_order_do_not_matter() -> None:
    assert fingerprint({"a": 1, "b": frozenset({"x", "y"})}) == fingerprint(
        {"b": frozenset({"y", "x"}), "a": 1})


def test_datetimes_are_unix_seconds_and_the_zone_does_not_matter() -> None:
    from datetime import timedelta, timezone

    utc = datetime(2027, 1, 1, tzinfo=UTC)
    tokyo = utc.astimezone(timezone(timedelta(hours=9)))
    assert canonical(utc) == canonical(tokyo) == 1798761600


def test_naive_datetimes_cannot_be_fingerprinted() -> None:
    with pytest.raises(ValueError):
        fingerprint(datetime(2027, 1, 1))


def test_canonical_schedule_lists_items_by_price_whatever_their_order() -> None:
    result = consolidate(LINES)
    assert result.schedule is not None
    phase = result.schedule.phases[2]
    reversed_phase = phase.model_copy(update={"items": tuple(reversed(phase.items))})
    flipped = result.schedule.model_copy(update={"phases": (
        *result.schedule.phases[:2], reversed_phase, *result.schedule.phases[3:])})
    assert len(phase.items) > 1
    assert canonical_schedule(flipped) == canonical_schedule(result.schedule)
    prices = [i["price"] for i in canonical_schedule(flipped)["phases"][2]["items"]]
    assert prices == sorted(prices)
