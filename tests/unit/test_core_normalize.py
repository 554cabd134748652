"""Normalization of raw Salesforce records into an Order and its lines (DESIGN 2)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from sf_stripe_sync.core.discounts import discount_from_record
from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.models import Discount, Order, OrderBundle
from sf_stripe_sync.core.normalize import normalize_order
from sf_stripe_sync.core.rules import FieldMap, SyncRules

FIELDS = FieldMap()


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def bundle(
    order: dict[str, Any] | None = None,
    items: list[dict[str, Any]] | None = None,
    *,
    account: dict[str, Any] | bool | None = True,
    contract: dict[str, Any] | None = None,
    entries: dict[str, dict[str, Any]] | None = None,
) -> OrderBundle:
    base_order: dict[str, Any] = {
        "Id": "801O", "Status": "Activated", "AccountId": "001A", "OrderNumber": "00000100",
        "EffectiveDate": "2025-01-01", "EndDate": "2026-01-01", "CurrencyIsoCode": "USD",
    }
    base_order.update(order or {})
    if items is None:
        items = [{"Id": "802A"}]
    full_items = []
    for item in items:
        full = {"OrderId": "801O", "Quantity": 1, "UnitPrice": 10, "Stripe_Price_Id__c": "price_A"}
        full.update(item)
        full_items.append(full)
    acct = {"Id": "001A", "Name": "Acme", "Stripe_Customer_Id__c": "cus_1"}
    return OrderBundle(
        order=base_order,
        items=tuple(full_items),
        account=acct if account is True else (account or None),
        contract=contract,
        pricebook_entries=entries or {},
    )


def run(b: OrderBundle, **rules: Any) -> tuple[Order, tuple[OrderIssue, ...]]:
    order, issues = normalize_order(b, fields=FIELDS, rules=SyncRules(**rules))
    assert order is not None
    return order, issues


def codes(issues: tuple[OrderIssue, ...]) -> list[str]:
    return [i.code.value for i in issues]


def test_order_fields_are_read_into_the_order() -> None:
    b = bundle(
        {"ContractId": "800C", "Stripe_Subscription_Schedule_Id__c": "sub_sched_1",
         "Stripe_Account__c": "eu", "Stripe_Sync_Status__c": "Synced",
         "LastModifiedDate": "2025-02-01T10:00:00.000+0000",
         "SystemModstamp": "2025-02-03T09:00:00.000+0000", "Region__c": "EMEA"},
        contract={"Id": "800C", "Stripe_Subscription_Schedule_Id__c": "sub_sched_c"},
    )
    order, issues = run(b, metadata_map={"Region__c": "region"})
    assert issues == ()
    assert (order.id, order.status, order.account_id, order.contract_id) == (
        "801O", "Activated", "001A", "800C")
    assert order.order_number == "00000100"
    assert (order.account_name, order.customer_id) == ("Acme", "cus_1")
    assert (order.schedule_id, order.contract_schedule_id) == ("sub_sched_1", "sub_sched_c")
    assert order.stripe_account == "eu"
    assert order.sync_status == "Synced"
    assert order.currency == "usd"
    assert order.last_modified == datetime(2025, 2, 3, 9, tzinfo=UTC)
    assert order.metadata == {"region": "EMEA"}


def test_currency_falls_back_to_the_configured_default() -> None:
    b = bundle({"CurrencyIsoCode": None})
    order, issues = run(b, default_currency="eur")
    assert issues == ()
    assert order.currency == "eur"
    assert order.lines[0].properties.currency == "eur"


def test_unknown_currency_is_invalid_currency() -> None:
    _, issues = run(bundle({"CurrencyIsoCode": "ABC"}))
    assert codes(issues) == ["invalid_currency"]
    assert issues[0].field == "CurrencyIsoCode"


def test_line_dates_fall_back_to_the_order_dates() -> None:
    order, _ = run(bundle(items=[{"Id": "802A", "ServiceDate": None, "EndDate": None}]))
    line = order.lines[0]
    assert (line.start, line.end) == (day("2025-01-01"), day("2026-01-01"))


def test_line_dates_of_the_item_win_over_the_order() -> None:
    order, _ = run(bundle(items=[
        {"Id": "802A", "ServiceDate": "2025-03-01", "EndDate": "2025-09-01"}]))
    assert (order.lines[0].start, order.lines[0].end) == (day("2025-03-01"), day("2025-09-01"))


def test_no_end_anywhere_means_open_ended() -> None:
    order, issues = run(bundle({"EndDate": None}))
    assert issues == ()
    assert order.lines[0].end is None


def test_inclusive_end_dates_move_one_day_later() -> None:
    b = bundle(items=[{"Id": "802A", "EndDate": "2025-06-30"}, {"Id": "802B"}],
               order={"EndDate": "2025-12-31"})
    order, _ = run(b, end_date_inclusive=True)
    ends = {line.id: line.end for line in order.lines}
    assert ends == {"802A": day("2025-07-01"), "802B": day("2026-01-01")}
    assert order.end_date == day("2026-01-01")


def test_price_on_the_item_wins_over_the_pricebook_entry() -> None:
    entries = {"01uA": {"Id": "01uA", "Stripe_Price_Id__c": "price_pbe", "Product2Id": "01tA"}}
    b = bundle(items=[{"Id": "802A", "PricebookEntryId": "01uA"},
                      {"Id": "802B", "PricebookEntryId": "01uA", "Stripe_Price_Id__c": None}],
               entries=entries)
    order, issues = run(b)
    assert issues == ()
    prices = {line.id: line.price_id for line in order.lines}
    assert prices == {"802A": "price_A", "802B": "price_pbe"}
    assert order.lines[1].product_id == "01tA"
    assert order.lines[1].pricebook_entry_id == "01uA"


def test_unresolvable_price_is_missing_price_naming_the_entry() -> None:
    b = bundle(items=[{"Id": "802A", "Stripe_Price_Id__c": None, "PricebookEntryId": "01uZ"}],
               entries={"01uZ": {"Id": "01uZ", "Stripe_Price_Id__c": None}})
    order, issues = run(b)
    assert codes(issues) == ["missing_price"]
    assert issues[0].order_item_ids == ("802A",)
    assert issues[0].record_ids == ("01uZ",)
    assert order.lines == ()


def test_collection_settings_come_from_the_item_then_the_order() -> None:
    b = bundle({"Stripe_Collection_Method__c": "send_invoice", "Days_Until_Due__c": 30},
               items=[{"Id": "802A"},
                      {"Id": "802B", "Days_Until_Due__c": 15},
                      {"Id": "802C", "Stripe_Collection_Method__c": "charge_automatically"}])
    order, issues = run(b)
    assert issues == ()
    props = {line.id: line.properties for line in order.lines}
    assert (props["802A"].collection_method, props["802A"].days_until_due) == (
        "send_invoice", 30)
    assert props["802B"].days_until_due == 15
    assert (props["802C"].collection_method, props["802C"].days_until_due) == (
        "charge_automatically", None)


def test_collection_method_defaults_to_charge_automatically() -> None:
    order, _ = run(bundle())
    assert order.lines[0].properties.collection_method == "charge_automatically"


def test_send_invoice_without_days_until_due_is_invalid_record_naming_the_field() -> None:
    b = bundle(items=[{"Id": "802A", "Stripe_Collection_Method__c": "send_invoice"}])
    order, issues = run(b)
    assert codes(issues) == ["invalid_record"]
    assert issues[0].field == "Days_Until_Due__c"
    assert order.lines == ()


def test_unknown_collection_method_is_invalid_record() -> None:
    _, issues = run(bundle(items=[{"Id": "802A", "Stripe_Collection_Method__c": "cash"}]))
    assert codes(issues) == ["invalid_record"]
    assert issues[0].field == "Stripe_Collection_Method__c"


def test_default_payment_method_comes_from_contract_then_account_when_configured() -> None:
    fields = FieldMap(default_payment_method="Stripe_Payment_Method__c")
    b = bundle({"ContractId": "800C"},
               contract={"Id": "800C", "Stripe_Payment_Method__c": "pm_contract"},
               account={"Id": "001A", "Name": "Acme", "Stripe_Payment_Method__c": "pm_acct"})
    order, _ = normalize_order(b, fields=fields, rules=SyncRules())
    assert order is not None
    assert order.lines[0].properties.default_payment_method == "pm_contract"
    b2 = bundle(account={"Id": "001A", "Stripe_Payment_Method__c": "pm_acct"})
    order2, _ = normalize_order(b2, fields=fields, rules=SyncRules())
    assert order2 is not None
    assert order2.lines[0].properties.default_payment_method == "pm_acct"
    order3, _ = run(b2)
    assert order3.lines[0].properties.default_payment_method is None


def test_item_discount_is_the_items_and_the_phase_discount_is_the_orders() -> None:
    b = bundle({"Discount_Percent_Off__c": 10},
               items=[{"Id": "802A", "Discount_Amount_Off__c": 5.5}])
    order, issues = run(b)
    assert issues == ()
    line = order.lines[0]
    assert line.discount == Discount(amount_off=550, currency="usd")
    assert line.properties.discount == Discount(percent_off=Decimal(10))
    assert order.discount == Discount(percent_off=Decimal(10))


def test_both_discount_fields_on_one_record_is_discount_conflict() -> None:
    b = bundle(items=[{"Id": "802A", "Discount_Amount_Off__c": 5,
                       "Discount_Percent_Off__c": 10}])
    order, issues = run(b)
    assert codes(issues) == ["discount_conflict"]
    assert issues[0].order_item_ids == ("802A",)
    assert order.lines == ()


@pytest.mark.parametrize(
    ("record", "field"),
    [({"Discount_Percent_Off__c": 120}, "Discount_Percent_Off__c"),
     ({"Discount_Percent_Off__c": -5}, "Discount_Percent_Off__c"),
     ({"Discount_Amount_Off__c": -1}, "Discount_Amount_Off__c"),
     ({"Discount_Amount_Off__c": 1.005}, "Discount_Amount_Off__c"),
     ({"Discount_Amount_Off__c": "lots"}, "Discount_Amount_Off__c")],
)
def test_out_of_range_discounts_are_invalid_records_naming_the_field(
    record: dict[str, Any], field: str
) -> None:
    discount, issues = discount_from_record(
        {"Id": "801O", **record}, fields=FIELDS, currency="usd", sobject="Order",
        record_id="801O", order_id="801O")
    assert discount is None
    assert [i.code for i in issues] == [IssueCode.INVALID_RECORD]
    assert issues[0].field == field
    assert issues[0].record_ids == ("801O",)


def test_zero_or_empty_discounts_mean_no_discount() -> None:
    for record in ({}, {"Discount_Amount_Off__c": 0, "Discount_Percent_Off__c": None},
                   {"Discount_Percent_Off__c": 0.0, "Discount_Amount_Off__c": ""}):
        assert discount_from_record(record, fields=FIELDS, currency="usd", sobject="Order",
                                    record_id="801O", order_id="801O") == (None, [])


def test_percent_of_exactly_100_is_allowed_and_zero_decimal_amounts_convert() -> None:
    full, _ = discount_from_record({"Discount_Percent_Off__c": 100}, fields=FIELDS,
                                   currency="usd", sobject="Order", record_id="o",
                                   order_id="o")
    yen, _ = discount_from_record({"Discount_Amount_Off__c": 500}, fields=FIELDS,
                                  currency="JPY", sobject="Order", record_id="o",
                                  order_id="o")
    assert full == Discount(percent_off=Decimal(100))
    assert yen == Discount(amount_off=500, currency="jpy")


def test_whole_float_quantity_is_accepted() -> None:
    order, issues = run(bundle(items=[{"Id": "802A", "Quantity": 2.0}]))
    assert issues == ()
    assert order.lines[0].quantity == 2


@pytest.mark.parametrize("quantity", [2.5, "abc", None, 0, True])
def test_quantity_that_is_not_a_whole_nonzero_number_is_invalid_quantity(
    quantity: object,
) -> None:
    order, issues = run(bundle(items=[{"Id": "802A", "Quantity": quantity}]))
    assert codes(issues) == ["invalid_quantity"]
    assert issues[0].order_item_ids == ("802A",)
    assert order.lines == ()


def test_negative_quantity_is_allowed_only_on_reduction_lines() -> None:
    order, issues = run(bundle(items=[
        {"Id": "802R", "Quantity": -2, "OriginalOrderItemId": "802X"},
        {"Id": "802N", "Quantity": -2}]))
    assert codes(issues) == ["invalid_quantity"]
    assert issues[0].order_item_ids == ("802N",)
    assert [(line.id, line.quantity, line.original_item_id) for line in order.lines] == [
        ("802R", -2, "802X")]


@pytest.mark.parametrize("account", [None, False])
def test_missing_account_is_missing_customer(account: object) -> None:
    _, issues = run(bundle(account=None) if account is None
                    else bundle({"AccountId": None}, account=None))
    assert codes(issues) == ["missing_customer"]


@pytest.mark.parametrize(("start", "end"), [("2025-06-01", "2025-06-01"),
                                            ("2025-06-01", "2025-05-01")])
def test_end_not_after_start_is_invalid_dates(start: str, end: str) -> None:
    order, issues = run(bundle(items=[{"Id": "802A", "ServiceDate": start, "EndDate": end}]))
    assert codes(issues) == ["invalid_dates"]
    assert issues[0].order_item_ids == ("802A",)
    assert order.lines == ()


def test_inclusive_end_on_the_start_day_is_a_one_day_period() -> None:
    b = bundle(items=[{"Id": "802A", "ServiceDate": "2025-06-01", "EndDate": "2025-06-01"}])
    order, issues = run(b, end_date_inclusive=True)
    assert issues == ()
    assert order.lines[0].end == day("2025-06-02")


@pytest.mark.parametrize("field", ["ServiceDate", "EndDate"])
def test_unparsable_dates_are_invalid_dates_naming_the_field(field: str) -> None:
    _, issues = run(bundle(items=[{"Id": "802A", field: "31/12/2025"}]))
    assert codes(issues) == ["invalid_dates"]
    assert issues[0].field == field


def test_no_start_anywhere_is_invalid_dates() -> None:
    _, issues = run(bundle({"EffectiveDate": None}))
    assert codes(issues) == ["invalid_dates"]
    assert issues[0].field == "ServiceDate"


def test_item_of_another_order_is_invalid_record() -> None:
    order, issues = run(bundle(items=[{"Id": "802A"}, {"Id": "802B", "OrderId": "801Z"}]))
    assert codes(issues) == ["invalid_record"]
    assert issues[0].order_item_ids == ("802B",)
    assert [line.id for line in order.lines] == ["802A"]


def test_duplicate_item_ids_are_invalid_record_and_left_out() -> None:
    order, issues = run(bundle(items=[{"Id": "802A"}, {"Id": "802A", "Quantity": 3},
                                      {"Id": "802B"}]))
    assert codes(issues) == ["invalid_record"]
    assert [line.id for line in order.lines] == ["802B"]


def test_every_problem_of_an_order_is_reported_at_once() -> None:
    b = bundle({"CurrencyIsoCode": "ABC", "AccountId": None}, account=None, items=[
        {"Id": "802A", "Quantity": 1.5, "ServiceDate": "nope", "Stripe_Price_Id__c": None},
        {"Id": "802B", "Discount_Amount_Off__c": 1, "Discount_Percent_Off__c": 1}])
    _, issues = run(b)
    assert sorted(codes(issues)) == sorted([
        "invalid_currency", "missing_customer", "invalid_quantity", "invalid_dates",
        "missing_price", "discount_conflict"])
    assert all(i.order_id == "801O" for i in issues)


def test_order_without_id_is_unusable() -> None:
    order, issues = normalize_order(bundle({"Id": None}), fields=FIELDS, rules=SyncRules())
    assert order is None
    assert codes(issues) == ["invalid_record"]


def test_item_metadata_follows_the_metadata_map() -> None:
    order, _ = run(bundle(items=[{"Id": "802A", "Seat_Type__c": "named"}]),
                   metadata_map={"Seat_Type__c": "seat_type", "Missing__c": "missing"})
    assert order.lines[0].metadata == {"seat_type": "named"}
