"""A generated org snapshot for the preview benchmark: N activated orders of K items each.

Theory of operation: the preview plans every activated order of a snapshot, so the org
is built to exercise what grows with it: every order has ``items`` lines over the demo
catalog's six prices (each Product2 carries entitlement features, so the JSON preview
looks features up for every phase), the lines start on two dates (two phases per
order), one order in three has no Contract, and the others share a Contract two by two
(the second order amends the first a quarter later), five orders per Account. The same
arguments always give the same snapshot; ``write_snapshot`` streams it to a file without
holding its JSON text in memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from generated_org import OPTIONAL_FIELDS, PRICEBOOK, PRICES, SNAPSHOT_STAMP, gen_id

Record = dict[str, Any]
FEATURES = ("api_access", "sso", "audit_log", "priority_support", "storage_1tb", "analytics")
STAMPS = {"LastModifiedDate": SNAPSHOT_STAMP, "SystemModstamp": SNAPSHOT_STAMP}


def _catalog() -> dict[str, list[Record]]:
    products, entries = [], []
    for n, price in enumerate(PRICES):
        products.append({"Id": gen_id("01t", n), "Name": price, "IsActive": True,
                         "Stripe_Features__c": f"{FEATURES[n]};{FEATURES[(n + 1) % 6]}",
                         **STAMPS})
        entries.append({"Id": gen_id("01u", n), "Pricebook2Id": PRICEBOOK,
                        "Product2Id": gen_id("01t", n), "UnitPrice": 10.0,
                        "CurrencyIsoCode": "USD", "IsActive": True,
                        "Stripe_Price_Id__c": price, **STAMPS})
    return {"Product2": products, "PricebookEntry": entries}


def _records(orders: int, items: int) -> Iterator[tuple[str, Record]]:
    """(sObject, record) for every Account, Contract, Order and OrderItem."""
    contract: str | None = None
    item_number = 0
    for n in range(orders):
        account = gen_id("001", n // 5)
        if n % 5 == 0:
            yield "Account", {"Id": account, "Name": f"Account {account}",
                              "Stripe_Customer_Id__c": f"cus_p{n // 5:07d}", **STAMPS}
        second = n % 3 == 2  # orders 1 and 2 of every three share a contract
        if n % 3 == 0:
            contract = None
        elif n % 3 == 1:
            contract = gen_id("800", n)
            yield "Contract", {"Id": contract, "AccountId": account, "Status": "Activated",
                               "StartDate": "2027-01-01", "EndDate": "2028-12-31",
                               "Stripe_Subscription_Schedule_Id__c": None, **STAMPS}
        order_id = gen_id("801", n)
        yield "Order", {
            "Id": order_id, "Name": f"Order {order_id}", "AccountId": account,
            "ContractId": contract, "Status": "Activated", "StatusCode": "Activated",
            "EffectiveDate": "2027-04-01" if second else "2027-01-01",
            "EndDate": "2028-01-01", "CurrencyIsoCode": "USD", "Pricebook2Id": PRICEBOOK,
            "Type": "New", "Stripe_Subscription_Schedule_Id__c": None,
            "Stripe_Account__c": None, **OPTIONAL_FIELDS, **STAMPS}
        for k in range(items):
            price = (n + k) % len(PRICES) if not second else (n + k + 3) % len(PRICES)
            yield "OrderItem", {
                "Id": gen_id("802", item_number), "OrderId": order_id,
                "Product2Id": gen_id("01t", price), "PricebookEntryId": gen_id("01u", price),
                "Quantity": float(1 + price % 3), "UnitPrice": 10.0,
                "ServiceDate": "2027-07-01" if k == items - 1 else None, "EndDate": None,
                "OriginalOrderItemId": None, "Stripe_Price_Id__c": None, **OPTIONAL_FIELDS,
                **STAMPS}
            item_number += 1


def snapshot(orders: int, items: int = 5) -> dict[str, list[Record]]:
    """The same snapshot as a dict (what the local org is built from)."""
    data = _catalog()
    for name in ("Account", "Contract", "Order", "OrderItem"):
        data[name] = []
    for kind, record in _records(orders, items):
        data[kind].append(record)
    return data


def write_snapshot(path: Path, orders: int, items: int = 5) -> None:
    """Write the snapshot for ``orders`` orders of ``items`` lines each to ``path``."""
    by_object: dict[str, list[str]] = {name: [] for name in
                                       ("Account", "Contract", "Order", "OrderItem")}
    with path.open("w", encoding="utf-8") as out:
        _write(out, _catalog(), by_object, orders, items)


def _write(out: TextIO, catalog: dict[str, list[Record]], by_object: dict[str, list[str]],
           orders: int, items: int) -> None:
    out.write("{")
    for name, records in catalog.items():
        out.write(f"{json.dumps(name)}: {json.dumps(records)}, ")
    # One pass per sObject keeps each list contiguous without holding the records.
    for index, name in enumerate(by_object):
        out.write(f"{json.dumps(name)}: [")
        first = True
        for kind, record in _records(orders, items):
            if kind != name:
                continue
            out.write(("" if first else ",\n") + json.dumps(record))
            first = False
        out.write("]" + (", " if index < len(by_object) - 1 else ""))
    out.write("}\n")
