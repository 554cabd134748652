"""The amend overlay: new lines over the phases Stripe has (DESIGN 2, Operations)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sf_stripe_sync.core.amend import overlay
from sf_stripe_sync.core.models import (
    Discount,
    Phase,
    PhaseItem,
    PhaseProperties,
)
from tests.unit.core_lines import ORDER_ID, USD, day, line, shape

COUPON = Discount(coupon="co_stripe")


def phase(start: str, end: str | None, *items: PhaseItem, properties: PhaseProperties = USD,
          metadata: dict[str, str] | None = None) -> Phase:
    begin = day(start)
    assert begin is not None
    return Phase(start=begin, end=day(end), properties=properties, items=items,
                 metadata=metadata or {})


def item(price: str, quantity: int, *ids: str, **extra: Any) -> PhaseItem:
    """A phase item as read back from Stripe: ids in ``order_item_ids``."""
    return PhaseItem(price=price, quantity=quantity, order_item_ids=ids, **extra)


BASE = [
    phase("2025-01-01", "2025-06-01", item("price_A", 5, "A"), metadata={"n": "1"}),
    phase("2025-06-01", "2026-01-01", item("price_A", 5, "A"), item("price_B", 1, "B"),
          metadata={"n": "2"}),
]


def test_new_item_is_added_from_its_start() -> None:
    result = overlay(BASE, [line("C", "price_C", "2025-09-01", "2026-01-01")])
    assert shape(result) == [
        ("2025-01-01", "2025-06-01", [("price_A", 5, ("A",))]),
        ("2025-06-01", "2025-09-01", [("price_A", 5, ("A",)), ("price_B", 1, ("B",))]),
        ("2025-09-01", "2026-01-01", [("price_A", 5, ("A",)), ("price_B", 1, ("B",)),
                                      ("price_C", 1, ("C",))]),
    ]


def test_reduction_line_nets_against_its_original_item_in_the_base() -> None:
    result = overlay(BASE, [line("R", "price_A", "2025-09-01", "2026-01-01", -2,
                                 original_item_id="A")])
    assert shape(result)[-1] == (
        "2025-09-01", "2026-01-01", [("price_A", 3, ("A", "R")), ("price_B", 1, ("B",))])


def test_full_reduction_removes_the_base_item() -> None:
    result = overlay(BASE, [line("R", "price_B", "2025-09-01", "2026-01-01", -1,
                                 original_item_id="B")])
    assert shape(result)[-1] == ("2025-09-01", "2026-01-01", [("price_A", 5, ("A",))])


def test_reduction_of_an_item_listed_with_its_change_line_nets_the_total() -> None:
    base = [phase("2025-01-01", "2026-01-01", item("price_A", 7, "A", "B"))]
    result = overlay(base, [line("R", "price_A", "2025-06-01", "2026-01-01", -7,
                                 original_item_id="B")])
    assert shape(result) == [("2025-01-01", "2025-06-01", [("price_A", 7, ("A", "B"))])]


def test_edits_made_in_stripe_survive() -> None:
    base = [phase("2025-01-01", None,
                  item("price_A", 1, "A", metadata={"note": "kept"}),
                  item("price_X", 2, discount=COUPON),
                  properties=PhaseProperties(currency="usd", discount=COUPON,
                                             default_payment_method="pm_1"))]
    result = overlay(base, [line("C", "price_C", "2025-06-01", None)])
    assert result.ok
    assert result.schedule is not None
    last = result.schedule.phases[-1]
    assert last.properties.discount == COUPON
    assert last.properties.default_payment_method == "pm_1"
    by_price = {i.price: i for i in last.items}
    assert by_price["price_X"].discount == COUPON
    assert by_price["price_X"].order_item_ids == ()
    assert by_price["price_A"].metadata == {"note": "kept", "salesforce_order_item_id": "A"}
    assert result.schedule.end_behavior == "release"


def test_base_phases_before_the_first_new_line_stay_as_they_are() -> None:
    identical = [phase("2025-01-01", "2025-03-01", item("price_A", 1, "A"), metadata={"n": "1"}),
                 phase("2025-03-01", "2025-06-01", item("price_A", 1, "A"), metadata={"n": "2"}),
                 phase("2025-06-01", "2026-01-01", item("price_A", 1, "A"), metadata={"n": "3"})]
    result = overlay(identical, [line("C", "price_C", "2025-09-01", "2026-01-01")])
    assert result.schedule is not None
    phases = result.schedule.phases
    assert phases[:2] == tuple(identical[:2])
    assert [p.metadata for p in phases] == [{"n": "1"}, {"n": "2"}, {"n": "3"}, {"n": "3"}]
    assert [str(p.start.date()) for p in phases] == [
        "2025-01-01", "2025-03-01", "2025-06-01", "2025-09-01"]


def test_unlinked_line_with_a_different_quantity_of_a_base_price_conflicts() -> None:
    result = overlay(BASE, [line("C", "price_A", "2025-09-01", "2026-01-01", 2)])
    assert [i.code.value for i in result.issues] == ["quantity_conflict"]
    assert result.issues[0].order_item_ids == ("A", "C")
    assert result.issues[0].order_id == ORDER_ID
    assert result.schedule is None


def test_new_order_with_different_collection_method_conflicts_with_the_base() -> None:
    invoice = PhaseProperties(currency="usd", collection_method="send_invoice",
                              days_until_due=10)
    result = overlay(BASE, [line("C", "price_C", "2025-09-01", "2026-01-01",
                                 properties=invoice)])
    assert {i.field for i in result.issues} == {"collection_method", "days_until_due"}


def test_new_order_discount_that_differs_from_the_base_coupon_conflicts() -> None:
    base = [phase("2025-01-01", "2026-01-01", item("price_A", 1, "A"),
                  properties=PhaseProperties(currency="usd", discount=COUPON))]
    ten = PhaseProperties(currency="usd", discount=Discount(percent_off=Decimal(10)))
    result = overlay(base, [line("C", "price_C", "2025-06-01", "2026-01-01",
                                 properties=ten)])
    assert [(i.code.value, i.field) for i in result.issues] == [("property_conflict",
                                                                 "discount")]


def test_lines_extending_past_the_base_continue_the_schedule() -> None:
    result = overlay(BASE, [line("C", "price_C", "2025-09-01", "2026-06-01")])
    assert shape(result)[-1] == ("2026-01-01", "2026-06-01", [("price_C", 1, ("C",))])
    assert result.schedule is not None
    assert result.schedule.phases[-1].metadata == {}


def test_no_new_lines_leave_the_base_unchanged() -> None:
    result = overlay(BASE, [])
    assert result.schedule is not None
    assert result.schedule.phases == tuple(BASE)
    assert result.schedule.end_behavior == "cancel"


def test_empty_base_is_a_plain_consolidation() -> None:
    result = overlay([], [line("C", "price_C", "2025-09-01", None)])
    assert shape(result) == [("2025-09-01", None, [("price_C", 1, ("C",))])]


def test_item_ids_recorded_only_in_metadata_are_linked_too() -> None:
    base = [phase("2025-01-01", "2026-01-01", PhaseItem(
        price="price_A", quantity=4, metadata={"salesforce_order_item_id": "A,B"}))]
    result = overlay(base, [line("R", "price_A", "2025-06-01", "2026-01-01", -1,
                                 original_item_id="B")])
    assert shape(result)[-1] == ("2025-06-01", "2026-01-01", [("price_A", 3, ("A", "B", "R"))])


def test_rerunning_the_same_amend_does_not_apply_a_reduction_twice() -> None:
    reduction = line("R", "price_A", "2025-09-01", "2026-01-01", -2, original_item_id="A")
    once = overlay(BASE, [reduction])
    assert once.schedule is not None
    twice = overlay(once.schedule.phases, [reduction])
    assert twice.schedule is not None
    assert shape(twice) == shape(once)
    assert shape(twice)[-1][2][0] == ("price_A", 3, ("A", "R"))


def test_a_renewal_identical_to_the_last_phase_extends_it_instead_of_adding_a_twin() -> None:
    base = [phase("2028-01-01", "2029-01-01", item("price_A", 2, "A"), item("price_B", 1, "B"))]
    renewal = [line("RA", "price_A", "2029-01-01", "2030-01-01", 2),
               line("RB", "price_B", "2029-01-01", "2030-01-01", 1)]
    result = overlay(base, renewal)
    assert shape(result) == [
        ("2028-01-01", "2030-01-01", [("price_A", 2, ("A", "RA")), ("price_B", 1, ("B", "RB"))]),
    ]


def test_a_renewal_that_bills_differently_stays_a_phase_of_its_own() -> None:
    base = [phase("2028-01-01", "2029-01-01", item("price_A", 2, "A"))]
    result = overlay(base, [line("RA", "price_A", "2029-01-01", "2030-01-01", 3)])
    assert [(start, end) for start, end, _ in shape(result)] == [
        ("2028-01-01", "2029-01-01"), ("2029-01-01", "2030-01-01")]


def test_phases_before_the_change_keep_their_stripe_boundaries() -> None:
    base = [phase("2028-01-01", "2028-07-01", item("price_A", 2, "A"), metadata={"n": "1"}),
            phase("2028-07-01", "2029-01-01", item("price_A", 2, "A"), metadata={"n": "2"})]
    result = overlay(base, [line("RA", "price_A", "2029-01-01", "2030-01-01", 2)])
    assert [(start, end) for start, end, _ in shape(result)] == [
        ("2028-01-01", "2028-07-01"), ("2028-07-01", "2030-01-01")]
