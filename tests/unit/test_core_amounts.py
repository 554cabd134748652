"""The amount rules: what each line bills, one-time and usage charges, totals (pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sf_stripe_sync.core.amounts import add_interval, billing_total
from sf_stripe_sync.core.issues import IssueCode
from sf_stripe_sync.core.models import OrderBundle, OrderPlan, PriceCatalog, PriceFacts
from sf_stripe_sync.core.normalize import normalize_order
from sf_stripe_sync.core.plan import KnownState, plan_order
from sf_stripe_sync.core.render import preview_document
from sf_stripe_sync.core.rules import FieldMap, SyncRules

AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
FIELDS = FieldMap()


def facts(price: str, amount: int | None, currency: str = "usd", *, interval: str | None = "month",
          count: int = 1, usage: str = "licensed", product: str = "prod_X") -> PriceFacts:
    return PriceFacts.model_validate({
        "id": price, "currency": currency, "unit_amount": amount, "product": product,
        "interval": interval, "interval_count": count, "usage_type": usage})


CATALOG = PriceCatalog(prices={
    "price_A": facts("price_A", 1000),
    "price_setup": facts("price_setup", 50000, interval=None, product="prod_setup"),
    "price_usage": facts("price_usage", 5, usage="metered", product="prod_usage"),
    "price_jpy": facts("price_jpy", 1500, "jpy"),
    "price_kwd": facts("price_kwd", 1250, "kwd"),
    "price_year": facts("price_year", 120000, interval="year"),
})


def item(item_id: str, price: str, unit: Any, **extra: Any) -> dict[str, Any]:
    return {"Id": item_id, "OrderId": "801A", "Quantity": 1, "UnitPrice": unit,
            "Stripe_Price_Id__c": price, "ServiceDate": "2027-01-01", "EndDate": "2028-01-01",
            **extra}


def plan(*items: dict[str, Any], currency: str = "USD", catalog: PriceCatalog = CATALOG,
         rules: SyncRules | None = None, products: dict[str, dict[str, Any]] | None = None,
         **order_fields: Any) -> OrderPlan:
    rules = rules or SyncRules()
    bundle = OrderBundle(
        order={"Id": "801A", "Status": "Activated", "AccountId": "001A",
               "EffectiveDate": "2027-01-01", "EndDate": "2028-01-01",
               "CurrencyIsoCode": currency, **order_fields},
        items=tuple(items), account={"Id": "001A", "Name": "Acme"},
        products=products or {})
    order, issues = normalize_order(bundle, fields=FIELDS, rules=rules)
    assert order is not None
    return plan_order(order, contract_orders=[], known=KnownState(), rules=rules, as_of=AS_OF,
                      stripe_account="default", issues=issues, prices=catalog)


def codes(p: OrderPlan) -> list[str]:
    return [i.code.value for i in p.issues]


def test_a_line_sold_at_the_list_price_bills_that_price() -> None:
    p = plan(item("802A", "price_A", 10.0, Quantity=3))
    assert p.schedule is not None
    (phase,) = p.schedule.phases
    (billed,) = phase.items
    assert (billed.price, billed.custom_price, billed.unit_amount, billed.amount) == (
        "price_A", None, 1000, 3000)
    assert phase.recurring_amount == 3000
    assert p.billing_total == 12 * 3000


def test_a_negotiated_line_bills_its_unit_price_through_a_custom_price() -> None:
    p = plan(item("802A", "price_A", 7.5, Quantity=2, PricebookEntryId="01uA"))
    assert p.schedule is not None
    (billed,) = p.schedule.phases[0].items
    assert billed.custom_price is not None
    assert billed.price == billed.custom_price.lookup_key == "sfss:prod_X:usd:month-1:750"
    assert billed.custom_price.list_price == "price_A"
    assert billed.custom_price.pricebook_entry_id == "01uA"
    assert (billed.unit_amount, billed.amount) == (750, 1500)
    assert p.billing_total == 12 * 1500
    data = preview_document([p])["orders"][0]["phases"][0]["items"][0]
    assert data["custom_price"] is True and data["unit_amount"] == 750


def test_two_lines_with_the_same_negotiated_amount_share_one_custom_price() -> None:
    p = plan(item("802A", "price_A", 7.5), item("802B", "price_A", 7.5))
    assert p.schedule is not None
    (billed,) = p.schedule.phases[0].items
    assert billed.order_item_ids == ("802A", "802B")


def test_stripe_price_basis_bills_the_list_price_and_warns() -> None:
    p = plan(item("802A", "price_A", 7.5), rules=SyncRules(unit_price_basis="stripe_price",
                                                             salesforce_total_basis="off"))
    assert p.schedule is not None
    (billed,) = p.schedule.phases[0].items
    assert (billed.price, billed.unit_amount) == ("price_A", 1000)
    assert codes(p) == ["amount_mismatch"]


@pytest.mark.parametrize(("currency", "price", "unit", "minor", "total"), [
    ("USD", "price_A", 12.34, 1234, 12 * 1234),
    ("JPY", "price_jpy", 1000, 1000, 12 * 1000),
    ("KWD", "price_kwd", 1.25, 1250, 12 * 1250),
])
def test_unit_prices_become_minor_units_of_the_currency(currency: str, price: str, unit: Any,
                                                          minor: int, total: int) -> None:
    p = plan(item("802A", price, unit), currency=currency)
    assert p.schedule is not None and p.currency == currency.lower()
    assert p.schedule.phases[0].items[0].unit_amount == minor
    assert p.billing_total == total


@pytest.mark.parametrize(("unit", "currency"), [
    (None, "USD"), (-1, "USD"), (10.005, "USD"), (1.5, "JPY"), (1.2505, "KWD")])
def test_a_missing_negative_or_over_precise_unit_price_is_invalid(unit: Any,
                                                                  currency: str) -> None:
    price = {"USD": "price_A", "JPY": "price_jpy", "KWD": "price_kwd"}[currency]
    p = plan(item("802A", price, unit), currency=currency)
    assert p.errors and p.errors[0].code is IssueCode.INVALID_RECORD
    assert p.errors[0].order_item_ids == ("802A",) and p.errors[0].field == "UnitPrice"


def test_a_price_stripe_does_not_have_is_missing_price() -> None:
    catalog = PriceCatalog(prices=CATALOG.prices, missing=frozenset({"price_gone"}))
    p = plan(item("802A", "price_gone", 10.0), catalog=catalog)
    assert [e.code for e in p.errors] == [IssueCode.MISSING_PRICE]


def test_percent_and_amount_discounts_reduce_item_and_phase_amounts() -> None:
    p = plan(item("802A", "price_A", 10.0, Quantity=3, Discount_Percent_Off__c=10),
             item("802B", "price_year", 1200.0, Discount_Amount_Off__c=200.0),
             Discount_Amount_Off__c=5.0)
    assert p.schedule is not None
    items = {i.price: i for i in p.schedule.phases[0].items}
    assert items["price_A"].amount == 2700
    assert items["price_year"].amount == 100000
    # different intervals in one phase: no single per-interval amount, no term total
    assert p.schedule.phases[0].recurring_amount is None
    assert p.billing_total is None


def test_amount_discounts_come_off_each_billing_period() -> None:
    p = plan(item("802A", "price_A", 10.0, Quantity=3, Discount_Amount_Off__c=2.0),
             Discount_Amount_Off__c=5.0)
    assert p.schedule is not None
    assert p.schedule.phases[0].items[0].amount == 2800
    assert p.schedule.phases[0].recurring_amount == 2300
    assert p.billing_total == 12 * 2300


def test_phase_percent_discount_applies_to_the_recurring_amount() -> None:
    p = plan(item("802A", "price_A", 10.0, Quantity=3), Discount_Percent_Off__c=15)
    assert p.schedule is not None
    assert p.schedule.phases[0].recurring_amount == 2550
    assert p.billing_total == 12 * 2550


def test_a_partial_period_is_prorated_by_time() -> None:
    # 15 of January's 31 days, then the whole of February to December
    p = plan(item("802A", "price_A", 31.0, ServiceDate="2027-01-01", EndDate="2027-01-16"),
             item("802B", "price_A", 31.0, ServiceDate="2027-01-16", EndDate="2028-01-01",
                  Quantity=2))
    assert p.schedule is not None and len(p.schedule.phases) == 2
    january = round(3100 * 15 / 31) + round(6200 * 16 / 31)
    assert p.billing_total == january + 11 * 6200


def test_months_keep_the_anchor_day() -> None:
    start = datetime(2027, 1, 31, tzinfo=UTC)
    assert add_interval(start, "month", 1) == datetime(2027, 2, 28, tzinfo=UTC)
    assert add_interval(start, "month", 2) == datetime(2027, 3, 31, tzinfo=UTC)
    assert add_interval(start, "year", 1) == datetime(2028, 1, 31, tzinfo=UTC)


def test_a_one_time_line_is_an_invoice_item_of_the_phase_holding_its_service_date() -> None:
    p = plan(item("802A", "price_A", 10.0, ServiceDate="2027-01-01", EndDate="2027-06-01"),
             item("802B", "price_A", 10.0, ServiceDate="2027-06-01", EndDate="2028-01-01",
                  Quantity=2),
             item("802S", "price_setup", 500.0, ServiceDate="2027-07-15", EndDate=None))
    assert p.schedule is not None
    first, second = p.schedule.phases
    assert (first.end, second.end) == (datetime(2027, 6, 1, tzinfo=UTC),
                                       datetime(2028, 1, 1, tzinfo=UTC))
    assert first.one_time_items == ()
    (setup,) = second.one_time_items
    assert (setup.price, setup.quantity, setup.amount, setup.order_item_ids) == (
        "price_setup", 1, 50000, ("802S",))
    assert all(i.price != "price_setup" for ph in p.schedule.phases for i in ph.items)
    assert p.billing_total == 5 * 1000 + 7 * 2000 + 50000


def test_a_one_time_line_without_service_date_goes_to_the_first_phase() -> None:
    p = plan(item("802A", "price_A", 10.0),
             item("802S", "price_setup", 500.0, ServiceDate=None, EndDate=None))
    assert p.schedule is not None
    assert [len(ph.one_time_items) for ph in p.schedule.phases] == [1]


def test_a_one_time_product_on_a_recurring_price_gets_a_one_time_custom_price() -> None:
    products = {"01tS": {"Id": "01tS", "Billing_Frequency__c": "One-Time"}}
    p = plan(item("802A", "price_A", 10.0),
             item("802S", "price_A", 10.0, Product2Id="01tS"), products=products)
    assert p.schedule is not None
    (once,) = p.schedule.phases[0].one_time_items
    assert once.custom_price is not None and once.custom_price.interval is None
    assert once.price == "sfss:prod_X:usd:once:1000"


def test_a_metered_item_carries_no_amount_and_warns_about_its_quantity() -> None:
    p = plan(item("802A", "price_A", 10.0), item("802U", "price_usage", 0.05, Quantity=5))
    assert p.schedule is not None
    usage = next(i for i in p.schedule.phases[0].items if i.price == "price_usage")
    assert usage.metered and usage.amount is None
    assert p.schedule.phases[0].recurring_amount == 1000
    assert p.billing_total == 12 * 1000
    assert [w.code for w in p.warnings] == [IssueCode.METERED_QUANTITY]


def test_an_open_ended_schedule_has_no_billing_total() -> None:
    p = plan(item("802A", "price_A", 10.0, EndDate=None), EndDate=None)
    assert p.schedule is not None and p.schedule.end is None
    assert p.billing_total is None and billing_total(p.schedule) is None


def test_salesforce_total_that_disagrees_warns_amount_mismatch_naming_the_basis() -> None:
    p = plan(item("802A", "price_A", 10.0, Quantity=3, TotalPrice=30.0),
             item("802B", "price_A", 7.5, Quantity=1, TotalPrice=9.0))
    assert p.salesforce_total == 3900
    (mismatch,) = p.warnings
    assert mismatch.code is IssueCode.AMOUNT_MISMATCH
    assert "billing_period" in mismatch.message and mismatch.order_item_ids == ("802B",)


def test_salesforce_total_that_agrees_is_quiet() -> None:
    p = plan(item("802A", "price_A", 10.0, Quantity=3, TotalPrice=30.0), TotalAmount=30.0)
    assert p.salesforce_total == 3000 and p.warnings == ()


def test_term_basis_compares_the_whole_term() -> None:
    rules = SyncRules(salesforce_total_basis="term")
    agreed = plan(item("802A", "price_A", 10.0), TotalAmount=120.0, rules=rules)
    assert agreed.warnings == ()
    off = plan(item("802A", "price_A", 10.0), TotalAmount=10.0, rules=rules)
    assert [w.code for w in off.warnings] == [IssueCode.AMOUNT_MISMATCH]
    assert "term" in off.warnings[0].message


def test_stripes_items_on_custom_prices_read_back_as_the_plans_and_keep_their_money() -> None:
    from sf_stripe_sync.core.models import OneTimeItem, Phase, PhaseItem, PhaseProperties
    from sf_stripe_sync.core.pricing import in_plan_terms

    custom = facts("price_c750", 750).model_copy(
        update={"lookup_key": "sfss:prod_X:usd:month-1:750", "list_price": "price_A"})
    catalog = PriceCatalog(prices={**CATALOG.prices, "price_c750": custom})
    stripe_phase = Phase(
        start=datetime(2027, 1, 1, tzinfo=UTC), end=datetime(2028, 1, 1, tzinfo=UTC),
        properties=PhaseProperties(currency="usd"),
        items=(PhaseItem(price="price_c750", quantity=2),),
        one_time_items=(OneTimeItem(price="price_setup", quantity=1,
                                    service_date=datetime(2027, 1, 1, tzinfo=UTC)),))
    (phase,) = in_plan_terms([stripe_phase], catalog)
    (theirs,) = phase.items
    assert theirs.price == "sfss:prod_X:usd:month-1:750"
    assert theirs.custom_price is not None and theirs.custom_price.list_price == "price_A"

    # a new order's line at the same negotiated amount and quantity is the same item
    known = KnownState(schedule_id="sub_sched_1", remote_phases=(phase,),
                       current_phase_start=datetime(2027, 1, 1, tzinfo=UTC))
    bundle = OrderBundle(
        order={"Id": "801B", "Status": "Activated", "AccountId": "001A",
               "EffectiveDate": "2027-01-01", "EndDate": "2028-01-01", "CurrencyIsoCode": "USD"},
        items=({**item("802B", "price_A", 7.5, Quantity=2), "OrderId": "801B"},),
        account={"Id": "001A", "Name": "Acme"})
    order, issues = normalize_order(bundle, fields=FIELDS, rules=SyncRules())
    assert order is not None
    amended = plan_order(order, contract_orders=[], known=known, rules=SyncRules(),
                         as_of=AS_OF, stripe_account="default", issues=issues, prices=catalog)
    assert amended.operation.value == "amend" and amended.schedule is not None
    (sent,) = amended.schedule.phases
    assert [(i.price, i.quantity, i.unit_amount) for i in sent.items] == [
        ("sfss:prod_X:usd:month-1:750", 2, 750)]
    (setup,) = sent.one_time_items
    assert (setup.price, setup.amount) == ("price_setup", 50000)
    assert amended.billing_total == 12 * 1500 + 50000
