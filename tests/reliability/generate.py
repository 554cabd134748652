"""A seeded generator of valid org snapshots: many contracts, several orders each.

Theory of operation: ``generate_org(seed, contracts=N)`` returns an org snapshot (DESIGN 3
format) built on the demo org's price book (so the demo Stripe catalog resolves every
price). Each contract gets its own Account and Contract and 3 to 5 activated Orders:
the first starts the contract, each later one adds items a month later, and every item
runs to the contract's end (or is open-ended for an open contract), so a contract's
timeline never has a gap. Within a contract every item uses a different price, so no
two items can conflict on quantity; some items carry a percent or amount discount, so
coupons are made. The same seed always gives the same snapshot; every order is valid,
so after a sync every one of them must be in Stripe exactly once.
"""

from __future__ import annotations

import json
import random
from copy import deepcopy
from datetime import date
from pathlib import Path
from typing import Any

from sf_stripe_sync.sandbox.salesforce_org.store import to_18

ROOT = Path(__file__).resolve().parents[2]
DEMO_ORG = ROOT / "fixtures" / "demo-org.json"

USD_ENTRIES = {
    # PricebookEntry id -> (Product2 id, unit price)
    "01u000000000001AAA": ("01t000000000001AAA", 10.0),
    "01u000000000002AAA": ("01t000000000002AAA", 25.0),
    "01u000000000003AAA": ("01t000000000003AAA", 15.0),
    "01u000000000004AAA": ("01t000000000004AAA", 50.0),
    "01u000000000005AAA": ("01t000000000005AAA", 8.0),
    "01u000000000006AAA": ("01t000000000006AAA", 120.0),
}
STAMP = "2026-11-01T10:00:00.000+0000"


def record_id(prefix: str, number: int) -> str:
    """A valid 18-character id of the generated org (``R`` marks generated records)."""
    return to_18(f"{prefix}R{number:011d}")


def _month(start: date, months: int) -> date:
    total = start.month - 1 + months
    return date(start.year + total // 12, total % 12 + 1, 1)


def _order(order_id: str, account_id: str, contract_id: str | None, number: int, effective: date,
           end: date | None, name: str) -> dict[str, Any]:
    return {
        "Id": order_id, "Name": name, "OrderNumber": f"{number:08d}",
        "AccountId": account_id, "ContractId": contract_id, "Status": "Activated",
        "EffectiveDate": effective.isoformat(), "EndDate": end.isoformat() if end else None,
        "CurrencyIsoCode": "USD", "Pricebook2Id": "01s000000000001AAA", "Type": "New",
        "Stripe_Subscription_Schedule_Id__c": None, "Stripe_Account__c": None,
        "Stripe_Collection_Method__c": None, "Days_Until_Due__c": None,
        "Discount_Amount_Off__c": None, "Discount_Percent_Off__c": None,
        "Stripe_Sync_Status__c": None, "Stripe_Sync_Error__c": None,
        "Stripe_Last_Synced_At__c": None, "LastModifiedDate": STAMP, "SystemModstamp": STAMP,
    }


def _item(item_id: str, order_id: str, number: int, entry_id: str, quantity: int,
          start: date, end: date | None) -> dict[str, Any]:
    product_id, unit_price = USD_ENTRIES[entry_id]
    return {
        "Id": item_id, "OrderId": order_id, "OrderItemNumber": f"{number:08d}",
        "Product2Id": product_id, "PricebookEntryId": entry_id, "Quantity": float(quantity),
        "UnitPrice": unit_price, "ServiceDate": start.isoformat(),
        "EndDate": end.isoformat() if end else None, "OriginalOrderItemId": None,
        "Stripe_Price_Id__c": None, "Stripe_Collection_Method__c": None,
        "Days_Until_Due__c": None, "Discount_Amount_Off__c": None,
        "Discount_Percent_Off__c": None, "Description": None,
        "LastModifiedDate": STAMP, "SystemModstamp": STAMP,
    }


def generate_org(seed: int, *, contracts: int = 55) -> dict[str, list[dict[str, Any]]]:
    """A valid org snapshot with ``contracts`` contracts of 3 to 5 activated orders each."""
    rng = random.Random(seed)
    demo = json.loads(DEMO_ORG.read_text(encoding="utf-8"))
    snapshot: dict[str, list[dict[str, Any]]] = {
        "Account": [], "Contract": [], "Order": [], "OrderItem": [],
        "PricebookEntry": deepcopy(demo["PricebookEntry"]),
        "Product2": deepcopy(demo["Product2"]),
    }
    order_n = item_n = 0
    for c in range(1, contracts + 1):
        account_id, contract_id = record_id("001", c), record_id("800", c)
        start = _month(date(2027, 1, 1), rng.randrange(0, 6))
        open_ended = rng.random() < 0.2
        end = None if open_ended else _month(start, 12)
        snapshot["Account"].append({
            "Id": account_id, "Name": f"Generated customer {c} ({seed})",
            "Stripe_Customer_Id__c": None, "LastModifiedDate": STAMP, "SystemModstamp": STAMP})
        snapshot["Contract"].append({
            "Id": contract_id, "Name": f"Generated contract {c}", "AccountId": account_id,
            "Status": "Activated", "StartDate": start.isoformat(),
            "EndDate": end.isoformat() if end else None,
            "Stripe_Subscription_Schedule_Id__c": None,
            "LastModifiedDate": STAMP, "SystemModstamp": STAMP})
        entries = rng.sample(sorted(USD_ENTRIES), k=6)
        for k in range(rng.randint(3, 5)):
            order_n += 1
            order_id = record_id("801", order_n)
            effective = _month(start, k)
            snapshot["Order"].append(_order(order_id, account_id, contract_id, order_n,
                                            effective, end, f"Generated order {order_n}"))
            for _ in range(1 if k else 2):
                if not entries:
                    break
                item_n += 1
                item = _item(record_id("802", item_n), order_id, item_n, entries.pop(),
                             rng.randint(1, 9), effective, end)
                roll = rng.random()
                if roll < 0.15:
                    item["Discount_Percent_Off__c"] = float(rng.choice((5, 10, 12.5, 25)))
                elif roll < 0.25:
                    item["Discount_Amount_Off__c"] = float(rng.choice((1, 2.5, 4)))
                snapshot["OrderItem"].append(item)
    return snapshot


def main() -> None:  # pragma: no cover - a convenience for looking at one
    import sys

    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 6
    json.dump(generate_org(seed), sys.stdout, indent=1)


if __name__ == "__main__":  # pragma: no cover
    main()
