"""Billing what was sold, end to end: negotiated prices, totals, one-time and usage lines."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from tests.e2e.harness import DEMO_ORG, Harness, load_json, running

ACME_ORDER = "801000000000001AAA"
GLOBEX_ORDER = "801000000000002AAA"
STARK_ORDER = "801000000000007AAA"
NEGOTIATED_LOOKUP_KEY = "sfss:prod_A:usd:month-1:750"


def _negotiated_snapshot(total_amount: float | None = None) -> dict[str, Any]:
    """The demo org with Product A sold at 7.50 (list 10.00) on two orders."""
    snapshot = copy.deepcopy(load_json(DEMO_ORG))
    for item in snapshot["OrderItem"]:
        if item["OrderId"] in (ACME_ORDER, GLOBEX_ORDER) and \
                item["PricebookEntryId"] == "01u000000000001AAA":
            item["UnitPrice"] = 7.5
            if item.get("TotalPrice") is not None:
                item["TotalPrice"] = 7.5 * item["Quantity"]
    if total_amount is not None:
        for order in snapshot["Order"]:
            if order["Id"] == ACME_ORDER:
                order["TotalAmount"] = total_amount
    return snapshot


def _custom_prices(h: Harness) -> list[dict[str, Any]]:
    return [p for p in h.objects("price")
            if (p.get("metadata") or {}).get("salesforce_custom_price") == "true"]


def _items_of(h: Harness, order_id: str) -> list[dict[str, Any]]:
    schedule_id = h.record("Order", order_id)["Stripe_Subscription_Schedule_Id__c"]
    schedule = next(s for s in h.schedules() if s["id"] == schedule_id)
    return [i for phase in schedule["phases"] for i in phase["items"]]


def test_a_negotiated_price_on_two_orders_and_a_rerun_makes_exactly_one_custom_price(
        tmp_path: Path) -> None:
    with running(tmp_path, _negotiated_snapshot()) as h:
        first = h.sync(order_ids=[ACME_ORDER, GLOBEX_ORDER])
        assert {o.result for o in first.outcomes} == {"create"}
        second = h.sync(order_ids=[ACME_ORDER, GLOBEX_ORDER])
        assert {o.result for o in second.outcomes} == {"noop"}
        # Stripe's items on the custom price read back as the plan's: no drift
        dry = h.sync(order_ids=[ACME_ORDER, GLOBEX_ORDER], dry_run=True)
        assert {p.operation.value for p in dry.plans} == {"noop"}
        assert [w.code.value for p in dry.plans for w in p.warnings] == []

        (custom,) = _custom_prices(h)
        assert custom["lookup_key"] == NEGOTIATED_LOOKUP_KEY
        assert (custom["unit_amount"], custom["currency"], custom["product"]) == (
            750, "usd", "prod_A")
        assert custom["recurring"]["interval"] == "month"
        assert custom["metadata"]["salesforce_pricebook_entry_id"] == "01u000000000001AAA"
        for order_id in (ACME_ORDER, GLOBEX_ORDER):
            prices = {i["price"] for i in _items_of(h, order_id)}
            assert custom["id"] in prices and "price_A" not in prices


def test_demo_bills_list_prices_as_is_a_setup_fee_once_and_usage_without_quantity(
        demo: Harness) -> None:
    demo.sync(order_ids=[ACME_ORDER])

    assert _custom_prices(demo) == []
    items = {i["price"]: i["quantity"] for i in _items_of(demo, ACME_ORDER)}
    assert items == {"price_A": 1, "price_api_calls": None}
    schedule_id = demo.record("Order", ACME_ORDER)["Stripe_Subscription_Schedule_Id__c"]
    schedule = next(s for s in demo.schedules() if s["id"] == schedule_id)
    added = [(a["price"], a["quantity"]) for p in schedule["phases"]
             for a in p["add_invoice_items"]]
    assert added == [("price_setup", 1)]


def test_demo_negotiated_seats_bill_through_one_custom_price(demo: Harness) -> None:
    demo.sync()

    (custom,) = _custom_prices(demo)
    assert (custom["unit_amount"], custom["product"]) == (1200, "prod_seat")
    assert custom["lookup_key"] == "sfss:prod_seat:usd:month-1:1200"
    assert {i["price"] for i in _items_of(demo, STARK_ORDER)} == {custom["id"], "price_support"}


def test_the_plan_carries_the_negotiated_amount_and_salesforce_disagreement(
        tmp_path: Path) -> None:
    with running(tmp_path, _negotiated_snapshot(total_amount=10.0)) as h:
        report = h.sync(order_ids=[ACME_ORDER], dry_run=True)

    (plan,) = report.plans
    assert plan.schedule is not None
    item = next(i for i in plan.schedule.phases[0].items if i.custom_price is not None)
    assert (item.unit_amount, item.amount) == (750, 750)
    assert plan.billing_total == 12 * 750 + 50000  # and the setup fee; usage is not known
    assert plan.salesforce_total == 1000
    assert [w.code.value for w in plan.warnings] == ["amount_mismatch"]
