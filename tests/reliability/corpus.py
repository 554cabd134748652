"""A corpus of malformed orders, each on its own Account, with the error code it must get.

Theory of operation: ``bad_orders()`` returns ``BadOrder`` cases; each builds one Order
(plus its items, and whatever else it needs) from a valid template and then breaks one
thing. ``add_to(snapshot)`` appends them all to a valid snapshot, so one run holds good
and bad orders side by side. Every case names the DESIGN error code it must be refused
with; none may reach Stripe.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from tests.reliability.generate import STAMP, _item, _order, record_id

Records = dict[str, list[dict[str, Any]]]
START, END = "2027-03-01", "2028-03-01"
ENTRY_A, ENTRY_B = "01u000000000001AAA", "01u000000000002AAA"


@dataclass(frozen=True)
class BadOrder:
    name: str
    code: str
    """The DESIGN error code the order must fail with."""
    breaks: Callable[[dict[str, Any], list[dict[str, Any]], Records], None]
    """Mutates the order, its items and the snapshot to make the case."""
    items: int = 1


def _set(**values: Any) -> Callable[[dict[str, Any], list[dict[str, Any]], Records], None]:
    def apply(order: dict[str, Any], items: list[dict[str, Any]], _s: Records) -> None:
        order.update(values)
    return apply


def _item_set(index: int = 0, **values: Any
              ) -> Callable[[dict[str, Any], list[dict[str, Any]], Records], None]:
    def apply(order: dict[str, Any], items: list[dict[str, Any]], _s: Records) -> None:
        items[index].update(values)
    return apply


def _gap(order: dict[str, Any], items: list[dict[str, Any]], _s: Records) -> None:
    items[0].update(ServiceDate="2027-03-01", EndDate="2027-06-01")
    items[1].update(ServiceDate="2027-08-01", EndDate="2028-03-01")


def _same_price(quantities: tuple[int, int]
                ) -> Callable[[dict[str, Any], list[dict[str, Any]], Records], None]:
    def apply(order: dict[str, Any], items: list[dict[str, Any]], _s: Records) -> None:
        for item, quantity in zip(items, quantities, strict=True):
            item.update(PricebookEntryId=ENTRY_A, Product2Id="01t000000000001AAA",
                        Quantity=float(quantity), UnitPrice=10.0)
    return apply


def _no_price(order: dict[str, Any], items: list[dict[str, Any]], _s: Records) -> None:
    items[0].update(PricebookEntryId="01u000000000009AAA", Product2Id="01t000000000008AAA")


def _no_account(order: dict[str, Any], items: list[dict[str, Any]], s: Records) -> None:
    order["AccountId"] = None


def _unknown_account(order: dict[str, Any], items: list[dict[str, Any]], s: Records) -> None:
    s["Account"] = [a for a in s["Account"] if a["Id"] != order["AccountId"]]


def _no_items(order: dict[str, Any], items: list[dict[str, Any]], s: Records) -> None:
    items.clear()


def _too_many(order: dict[str, Any], items: list[dict[str, Any]], s: Records) -> None:
    # 21 negotiated amounts of one product: 21 distinct (custom) prices in one phase
    for n, item in enumerate(items):
        item.update(PricebookEntryId=ENTRY_A, Product2Id="01t000000000001AAA",
                    UnitPrice=10.0 + n / 100)


def _conflicting_terms(order: dict[str, Any], items: list[dict[str, Any]], _s: Records) -> None:
    items[0].update(Stripe_Collection_Method__c="send_invoice", Days_Until_Due__c=30.0)
    items[1].update(Stripe_Collection_Method__c="charge_automatically")


def _over_reduced(order: dict[str, Any], items: list[dict[str, Any]], _s: Records) -> None:
    items[1].update(PricebookEntryId=items[0]["PricebookEntryId"],
                    Product2Id=items[0]["Product2Id"], UnitPrice=items[0]["UnitPrice"],
                    Quantity=-5.0,
                    OriginalOrderItemId=items[0]["Id"])
    items[0]["Quantity"] = 2.0


def _no_dates(order: dict[str, Any], items: list[dict[str, Any]], _s: Records) -> None:
    order.update(EffectiveDate=None, EndDate=None)
    items[0].update(ServiceDate=None, EndDate=None)


def bad_orders() -> list[BadOrder]:
    return [
        BadOrder("gap between items", "gap", _gap, items=2),
        BadOrder("collection method conflict", "property_conflict", _conflicting_terms, items=2),
        BadOrder("same price, two quantities", "quantity_conflict", _same_price((2, 3)), items=2),
        BadOrder("item discount both amount and percent", "discount_conflict",
                 _item_set(Discount_Amount_Off__c=5.0, Discount_Percent_Off__c=10.0)),
        BadOrder("order discount both amount and percent", "discount_conflict",
                 _set(Discount_Amount_Off__c=5.0, Discount_Percent_Off__c=10.0)),
        BadOrder("end before start", "invalid_dates",
                 _item_set(ServiceDate="2027-09-01", EndDate="2027-03-01")),
        BadOrder("zero-length period", "invalid_dates",
                 _item_set(ServiceDate="2027-05-01", EndDate="2027-05-01")),
        BadOrder("impossible calendar date", "invalid_dates", _item_set(ServiceDate="2027-02-30")),
        BadOrder("date that is not a date", "invalid_dates", _item_set(EndDate="next tuesday")),
        BadOrder("malformed order effective date", "invalid_dates",
                 _set(EffectiveDate="01/03/2027")),
        BadOrder("no dates anywhere", "invalid_dates", _no_dates),
        BadOrder("null quantity", "invalid_quantity", _item_set(Quantity=None)),
        BadOrder("string quantity", "invalid_quantity", _item_set(Quantity="three")),
        BadOrder("fractional quantity", "invalid_quantity", _item_set(Quantity=1.5)),
        BadOrder("zero quantity", "invalid_quantity", _item_set(Quantity=0.0)),
        BadOrder("negative quantity", "invalid_quantity", _item_set(Quantity=-2.0)),
        BadOrder("huge quantity", "invalid_quantity", _item_set(Quantity=1e15)),
        BadOrder("reduction below zero", "invalid_quantity", _over_reduced, items=2),
        BadOrder("unknown currency", "invalid_currency", _set(CurrencyIsoCode="XYZ")),
        BadOrder("missing Account", "missing_customer", _no_account),
        BadOrder("Account that does not exist", "missing_customer", _unknown_account),
        BadOrder("no price id on item or entry", "missing_price", _no_price),
        BadOrder("negative percent discount", "invalid_record",
                 _item_set(Discount_Percent_Off__c=-10.0)),
        BadOrder("percent discount over 100", "invalid_record",
                 _item_set(Discount_Percent_Off__c=150.0)),
        BadOrder("negative amount discount", "invalid_record",
                 _item_set(Discount_Amount_Off__c=-5.0)),
        BadOrder("send_invoice without days until due", "invalid_record",
                 _set(Stripe_Collection_Method__c="send_invoice")),
        BadOrder("activated order without items", "invalid_record", _no_items),
        BadOrder("more than 20 items in a phase", "too_many_items", _too_many, items=21),
    ]


def add_to(snapshot: Records, *, first_number: int = 900) -> dict[str, BadOrder]:
    """Append every bad order (own Account each) to ``snapshot``; returns them by order id."""
    added: dict[str, BadOrder] = {}
    for n, case in enumerate(bad_orders(), start=first_number):
        account_id, order_id = record_id("001", n), record_id("801", n)
        snapshot["Account"].append({"Id": account_id, "Name": f"Bad input {n}: {case.name}",
                                    "Stripe_Customer_Id__c": None,
                                    "LastModifiedDate": STAMP, "SystemModstamp": STAMP})
        order = _order(order_id, account_id, None, n, _day(START), _day(END), case.name)
        entries = (ENTRY_A, ENTRY_B)
        items = [_item(record_id("802", n * 100 + k), order_id, n * 100 + k, entries[k % 2],
                       1, _day(START), _day(END)) for k in range(case.items)]
        case.breaks(order, items, snapshot)
        snapshot["Order"].append(order)
        snapshot["OrderItem"] += items
        added[order_id] = case
    orphan = _item(record_id("802", 99_999), record_id("801", 99_999), 99_999, ENTRY_A, 1,
                   _day(START), _day(END))
    snapshot["OrderItem"].append(orphan)
    return added


def _day(text: str) -> date:
    return date.fromisoformat(text)


def add_unicode_order(snapshot: Records, *, number: int = 990) -> str:
    """A valid order whose Account and Order names are far from ASCII; returns its id."""
    account_id, order_id = record_id("001", number), record_id("801", number)
    snapshot["Account"].append({"Id": account_id, "Name": "Ünïcødé 株式会社 — Ωmega 🚀",
                                "Stripe_Customer_Id__c": None,
                                "LastModifiedDate": STAMP, "SystemModstamp": STAMP})
    order = _order(order_id, account_id, None, number, _day(START), _day(END),
                   "Заказ «ñandú» 注文 ✓")
    snapshot["Order"].append(order)
    snapshot["OrderItem"].append(_item(record_id("802", number * 100), order_id,
                                       number * 100, ENTRY_B, 3, _day(START), _day(END)))
    return order_id
