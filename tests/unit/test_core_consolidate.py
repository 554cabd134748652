"""Consolidation of overlapping lines into linear phases (DESIGN 2, steps 1-7)."""

from __future__ import annotations

import random
from decimal import Decimal

from sf_stripe_sync.core.consolidate import consolidate
from sf_stripe_sync.core.issues import IssueCode
from sf_stripe_sync.core.models import (
    ConsolidationResult,
    Discount,
    PhaseProperties,
)
from tests.unit.core_lines import ORDER_ID, line, shape


def codes(result: ConsolidationResult) -> list[str]:
    return [i.code.value for i in result.issues]


def test_stripe_docs_example_becomes_two_phases() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", "2026-01-01"),
                          line("B", "price_B", "2025-06-01", "2026-01-01")])
    assert shape(result) == [
        ("2025-01-01", "2025-06-01", [("price_A", 1, ("A",))]),
        ("2025-06-01", "2026-01-01", [("price_A", 1, ("A",)), ("price_B", 1, ("B",))]),
    ]
    assert result.ok
    assert result.schedule is not None
    assert result.schedule.end_behavior == "cancel"


def test_last_phase_is_open_and_released_when_an_item_is_open_ended() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", None),
                          line("B", "price_B", "2025-01-01", "2025-06-01")])
    assert shape(result) == [
        ("2025-01-01", "2025-06-01", [("price_A", 1, ("A",)), ("price_B", 1, ("B",))]),
        ("2025-06-01", None, [("price_A", 1, ("A",))]),
    ]
    assert result.schedule is not None
    assert result.schedule.end_behavior == "release"


def test_gap_between_items_is_an_error_naming_both_sides() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", "2025-03-01"),
                          line("B", "price_B", "2025-06-01", "2026-01-01")])
    assert codes(result) == ["gap"]
    assert result.issues[0].order_item_ids == ("A", "B")
    assert "2025-03-01" in result.issues[0].message
    assert result.schedule is None
    assert not result.ok


def test_differing_collection_method_is_property_conflict_naming_items_and_property() -> None:
    invoice = PhaseProperties(currency="usd", collection_method="send_invoice",
                              days_until_due=30)
    result = consolidate([line("A", "price_A", "2025-01-01", "2026-01-01"),
                          line("B", "price_B", "2025-06-01", "2026-01-01",
                               properties=invoice)])
    assert codes(result) == ["property_conflict", "property_conflict"]
    assert {i.field for i in result.issues} == {"collection_method", "days_until_due"}
    assert all(i.order_item_ids == ("A", "B") for i in result.issues)


def test_differing_order_discount_or_currency_is_property_conflict() -> None:
    ten = PhaseProperties(currency="usd", discount=Discount(percent_off=Decimal(10)))
    eur = PhaseProperties(currency="eur")
    result = consolidate([line("A", "price_A", "2025-01-01", "2026-01-01"),
                          line("B", "price_B", "2025-01-01", "2026-01-01", properties=ten),
                          line("C", "price_C", "2025-01-01", "2026-01-01", properties=eur)])
    assert {i.field for i in result.issues} == {"discount", "currency"}
    assert set(codes(result)) == {"property_conflict"}


def test_properties_need_only_agree_where_items_overlap() -> None:
    invoice = PhaseProperties(currency="usd", collection_method="send_invoice",
                              days_until_due=30)
    result = consolidate([line("A", "price_A", "2025-01-01", "2025-06-01"),
                          line("B", "price_B", "2025-06-01", "2026-01-01",
                               properties=invoice)])
    assert result.ok
    assert result.schedule is not None
    assert [p.properties.collection_method for p in result.schedule.phases] == [
        "charge_automatically", "send_invoice"]


def test_linked_change_line_adds_its_quantity() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", "2026-01-01", 5),
                          line("B", "price_A", "2025-06-01", "2026-01-01", 2,
                               original_item_id="A")])
    assert shape(result) == [
        ("2025-01-01", "2025-06-01", [("price_A", 5, ("A",))]),
        ("2025-06-01", "2026-01-01", [("price_A", 7, ("A", "B"))]),
    ]


def test_a_change_of_a_change_is_linked_through_the_chain() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", "2026-01-01", 5),
                          line("B", "price_A", "2025-04-01", "2026-01-01", 2,
                               original_item_id="A"),
                          line("C", "price_A", "2025-08-01", "2026-01-01", -3,
                               original_item_id="B")])
    assert shape(result) == [
        ("2025-01-01", "2025-04-01", [("price_A", 5, ("A",))]),
        ("2025-04-01", "2025-08-01", [("price_A", 7, ("A", "B"))]),
        ("2025-08-01", "2026-01-01", [("price_A", 4, ("A", "B", "C"))]),
    ]


def test_full_reduction_removes_the_item_from_that_point() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", "2026-01-01", 3),
                          line("B", "price_B", "2025-01-01", "2026-01-01"),
                          line("R", "price_A", "2025-06-01", "2026-01-01", -3,
                               original_item_id="A")])
    assert shape(result) == [
        ("2025-01-01", "2025-06-01", [("price_A", 3, ("A",)), ("price_B", 1, ("B",))]),
        ("2025-06-01", "2026-01-01", [("price_B", 1, ("B",))]),
    ]


def test_reduction_below_zero_is_invalid_quantity() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", "2026-01-01", 2),
                          line("R", "price_A", "2025-06-01", "2026-01-01", -3,
                               original_item_id="A")])
    assert codes(result) == ["invalid_quantity"]
    assert result.issues[0].order_item_ids == ("A", "R")


def test_segment_emptied_by_netting_between_billed_ones_is_a_gap() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", "2026-01-01", 1),
                          line("R", "price_A", "2025-03-01", "2025-06-01", -1,
                               original_item_id="A")])
    assert codes(result) == ["gap"]


def test_reduction_at_the_end_just_ends_the_schedule_earlier() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", None, 1),
                          line("R", "price_A", "2025-09-01", None, -1,
                               original_item_id="A")])
    assert shape(result) == [("2025-01-01", "2025-09-01", [("price_A", 1, ("A",))])]
    assert result.schedule is not None
    assert result.schedule.end_behavior == "cancel"


def test_unlinked_same_price_same_quantity_is_one_item_listing_both() -> None:
    result = consolidate([line("B", "price_A", "2025-01-01", "2026-01-01", 2),
                          line("A", "price_A", "2025-01-01", "2026-01-01", 2)])
    assert shape(result) == [("2025-01-01", "2026-01-01", [("price_A", 2, ("A", "B"))])]
    assert result.schedule is not None
    item = result.schedule.phases[0].items[0]
    assert item.metadata == {"salesforce_order_item_id": "A,B"}


def test_unlinked_same_quantity_with_different_item_discounts_is_property_conflict() -> None:
    result = consolidate([
        line("A", "price_A", "2025-01-01", "2026-01-01", discount=Discount(amount_off=100,
                                                                          currency="usd")),
        line("B", "price_A", "2025-01-01", "2026-01-01")])
    assert codes(result) == ["property_conflict"]
    assert result.issues[0].field == "discount"
    assert result.issues[0].order_item_ids == ("A", "B")


def test_unlinked_same_price_different_quantities_is_quantity_conflict() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", "2026-01-01", 1),
                          line("B", "price_A", "2025-06-01", "2026-01-01", 2)])
    assert codes(result) == ["quantity_conflict"]
    assert result.issues[0].order_item_ids == ("A", "B")


def test_more_items_than_the_limit_is_too_many_items() -> None:
    lines = [line(f"I{n:02}", f"price_{n:02}", "2025-01-01", "2026-01-01") for n in range(4)]
    assert consolidate(lines, max_items_per_phase=4).ok
    result = consolidate(lines, max_items_per_phase=3)
    assert codes(result) == ["too_many_items"]
    assert len(result.issues[0].order_item_ids) == 4


def test_stripe_limit_of_twenty_items_is_the_default() -> None:
    lines = [line(f"I{n:02}", f"price_{n:02}", "2025-01-01", "2026-01-01") for n in range(21)]
    assert codes(consolidate(lines)) == ["too_many_items"]


def test_adjacent_segments_with_identical_billing_merge() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", "2025-06-01", 2),
                          line("B", "price_A", "2025-06-01", "2026-01-01", 2),
                          line("C", "price_C", "2025-01-01", "2026-01-01")])
    assert shape(result) == [
        ("2025-01-01", "2026-01-01", [("price_A", 2, ("A", "B")), ("price_C", 1, ("C",))]),
    ]
    assert result.schedule is not None
    merged = result.schedule.phases[0].items[0]
    assert merged.metadata == {"salesforce_order_item_id": "A,B"}


def test_adjacent_segments_with_different_quantities_stay_apart() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", "2025-06-01", 2),
                          line("B", "price_A", "2025-06-01", "2026-01-01", 3)])
    assert len(shape(result)) == 2


def test_empty_period_given_directly_is_invalid_dates() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", "2025-01-01")])
    assert codes(result) == ["invalid_dates"]


def test_all_errors_are_reported_once_each() -> None:
    result = consolidate([
        line("A", "price_A", "2025-01-01", "2025-03-01", 1),
        line("B", "price_A", "2025-01-01", "2025-02-01", 2),
        line("B2", "price_A", "2025-02-01", "2025-03-01", 2),
        line("C", "price_C", "2025-06-01", "2025-09-01"),
        line("D", "price_D", "2025-06-01", "2025-09-01", properties=PhaseProperties(
            currency="usd", default_payment_method="pm_1")),
        line("E", "price_D", "2025-07-01", "2025-09-01", properties=PhaseProperties(
            currency="usd", default_payment_method="pm_1"))])
    assert sorted(codes(result)) == sorted(
        ["quantity_conflict", "quantity_conflict", "gap", "property_conflict"])
    assert len({(i.code, i.order_item_ids, i.field) for i in result.issues}) == len(
        result.issues)


def test_result_does_not_depend_on_input_order() -> None:
    lines = [line("A", "price_B", "2025-01-01", "2026-01-01"),
             line("B", "price_A", "2025-03-01", "2026-01-01"),
             line("C", "price_A", "2025-03-01", "2026-01-01"),
             line("D", "price_C", "2025-02-01", None, 2),
             line("E", "price_C", "2025-05-01", None, 1, original_item_id="D")]
    expected = consolidate(lines)
    shuffler = random.Random(7)
    for _ in range(10):
        shuffled = lines[:]
        shuffler.shuffle(shuffled)
        assert consolidate(shuffled) == expected
    assert expected.schedule is not None
    last = expected.schedule.phases[-2]
    assert [i.price for i in last.items] == ["price_A", "price_B", "price_C"]
    assert last.items[0].order_item_ids == ("B", "C")


def test_latest_change_line_sets_the_item_discount() -> None:
    ten = Discount(percent_off=Decimal(10))
    twenty = Discount(percent_off=Decimal(20))
    result = consolidate([
        line("A", "price_A", "2025-01-01", "2026-01-01", 2, discount=ten),
        line("B", "price_A", "2025-06-01", "2026-01-01", 1, original_item_id="A",
             discount=twenty),
        line("R", "price_A", "2025-09-01", "2026-01-01", -1, original_item_id="B")])
    assert result.schedule is not None
    assert [i.discount for p in result.schedule.phases for i in p.items] == [ten, twenty, twenty]


def test_no_lines_give_an_empty_schedule() -> None:
    result = consolidate([])
    assert result.schedule is not None
    assert result.schedule.phases == ()
    assert result.issues == ()


def test_issues_name_the_order_of_the_lines() -> None:
    result = consolidate([line("A", "price_A", "2025-01-01", "2025-02-01"),
                          line("B", "price_B", "2025-03-01", "2025-04-01")])
    assert result.issues[0].code is IssueCode.GAP
    assert result.issues[0].order_id == ORDER_ID
