"""How many API calls reading and writing back 1,000 orders costs (the call budget).

Each order has 3 items; 20 accounts, 10 contracts and 12 products with their
pricebook entries are shared. The numbers are printed (``pytest -s``) and bounded, so
a change that turns the one-query-per-page read into per-order calls, or the composite
write-back (5 collections of 200 records a call) into per-collection calls, fails here.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from sf_stripe_sync.config import SalesforceSettings, Settings
from sf_stripe_sync.ports import WriteOp
from sf_stripe_sync.salesforce.auth import connect
from sf_stripe_sync.salesforce.retry import RetryPolicy
from sf_stripe_sync.salesforce.source import SalesforceOrderSource
from sf_stripe_sync.salesforce.writer import COLLECTIONS_PER_COMPOSITE, SalesforceWriteBack
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg

pytestmark = pytest.mark.integration

ORDERS = 1000
ITEMS_PER_ORDER = 3
DESCRIBES = 1
"""All describes go in one composite/batch call."""


def sf_id(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}AAA"


def big_snapshot() -> dict[str, list[dict[str, Any]]]:
    return {
        "Account": [{"Id": sf_id("001", a), "Name": f"Account {a}",
                     "Stripe_Customer_Id__c": f"cus_{a}"} for a in range(20)],
        "Contract": [{"Id": sf_id("800", c), "AccountId": sf_id("001", c),
                      "Stripe_Subscription_Schedule_Id__c": None} for c in range(10)],
        "Product2": [{"Id": sf_id("01t", p), "Name": f"P{p}"} for p in range(12)],
        "PricebookEntry": [{"Id": sf_id("01u", p), "Product2Id": sf_id("01t", p),
                            "UnitPrice": 10, "Stripe_Price_Id__c": f"price_{p}"}
                           for p in range(12)],
        "Order": [{"Id": sf_id("801", o), "Status": "Activated",
                   "AccountId": sf_id("001", o % 20),
                   "ContractId": sf_id("800", o % 10) if o % 2 else None,
                   "EffectiveDate": "2025-01-01", "EndDate": "2026-01-01"}
                  for o in range(ORDERS)],
        "OrderItem": [{"Id": sf_id("802", o * 10 + i), "OrderId": sf_id("801", o),
                       "PricebookEntryId": sf_id("01u", (o + i) % 12),
                       "Product2Id": sf_id("01t", (o + i) % 12), "Quantity": 1 + i}
                      for o in range(ORDERS) for i in range(ITEMS_PER_ORDER)],
    }


@pytest.mark.parametrize("batch_size", [2000, 200])
def test_reading_and_writing_back_1000_orders_costs_a_handful_of_calls(
    batch_size: int, capsys: pytest.CaptureFixture[str]
) -> None:
    org = LocalOrg(big_snapshot(), batch_size=batch_size)
    org.start(host="127.0.0.1", port=0)
    try:
        settings = Settings(salesforce=SalesforceSettings(
            auth="session", instance_url=org.instance_url.replace("http://", "https://")))
        conn = connect(settings, session=org.requests_session(),
                       environ={"SF_SESSION_ID": org.session_id},
                       retry=RetryPolicy.immediate())
        source = SalesforceOrderSource(conn)

        bundles = [b for page in source.changed_since(None, page_size=200) for b in page]
        read_calls = conn.api_calls
        assert len(bundles) == ORDERS
        assert sum(len(b.items) for b in bundles) == ORDERS * ITEMS_PER_ORDER
        assert all(b.account is not None and b.pricebook_entries for b in bundles)

        writer = SalesforceWriteBack(conn)
        updates, logs = writer.write_many([
            WriteOp("update", "Order", [{"Id": b.order_id, "Stripe_Sync_Status__c": "Synced"}
                                        for b in bundles]),
            WriteOp("insert", "Sync_Log__c", [{"Order__c": b.order_id, "Status__c": "ok"}
                                              for b in bundles]),
        ])
        write_calls = conn.api_calls - read_calls
    finally:
        org.stop()

    assert all(r.success for r in updates + logs)
    pages = math.ceil(ORDERS / batch_size)
    assert read_calls <= DESCRIBES + pages + 1
    collections = 2 * math.ceil(ORDERS / 200)
    assert write_calls == math.ceil(collections / COLLECTIONS_PER_COMPOSITE)
    with capsys.disabled():
        print(f"\n[call budget] batch {batch_size}: read {ORDERS} orders with "
              f"{ORDERS * ITEMS_PER_ORDER} items and related records in {read_calls} calls "
              f"({DESCRIBES} describes); wrote back {ORDERS} updates + {ORDERS} logs in "
              f"{write_calls} calls")
