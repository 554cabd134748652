"""The run's first page warmed up: its prices and its creates' customer listings read
before the workers need them, once, and nothing for later pages."""

from __future__ import annotations

import threading
from typing import Any

from sf_stripe_sync.config import Settings, StripeAccountSettings
from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.core.rules import FieldMap, SyncRules
from sf_stripe_sync.sources.file_source import FileOrderSource
from sf_stripe_sync.warmup import Warmup


def order(order_id: str, account: str, **extra: Any) -> dict[str, Any]:
    return {"Id": order_id, "Status": "Activated", "AccountId": account, "ContractId": None,
            "EffectiveDate": "2027-01-01", "EndDate": "2028-01-01", "CurrencyIsoCode": "USD",
            **extra}


def item(item_id: str, order_id: str, entry: str) -> dict[str, Any]:
    return {"Id": item_id, "OrderId": order_id, "PricebookEntryId": entry,
            "Product2Id": "01tA", "Quantity": 1, "UnitPrice": 10,
            "ServiceDate": "2027-01-01", "EndDate": "2028-01-01"}


def page() -> list[OrderBundle]:
    snapshot = {
        "Account": [{"Id": "001A", "Name": "A", "Stripe_Customer_Id__c": "cus_A"},
                    {"Id": "001B", "Name": "B", "Stripe_Customer_Id__c": "cus_B"},
                    {"Id": "001N", "Name": "New"},
                    {"Id": "001K", "Name": "K", "Stripe_Customer_Id__c": "cus_K"}],
        "Order": [order("801A", "001A"), order("801B", "001B"), order("801N", "001N"),
                  order("801S", "001B", Stripe_Subscription_Schedule_Id__c="sub_sched_S"),
                  order("801K", "001K"), order("801X", "001K", Status="Draft")],
        "OrderItem": [item("802A", "801A", "01uA"), item("802B", "801B", "01uB"),
                      item("802N", "801N", "01uA"), item("802S", "801S", "01uB"),
                      item("802K", "801K", "01uA"), item("802X", "801X", "01uC")],
        "PricebookEntry": [{"Id": e, "Product2Id": "01tA", "Stripe_Price_Id__c": f"price_{e}"}
                           for e in ("01uA", "01uB", "01uC")],
        "Product2": [{"Id": "01tA", "Name": "Product A"}],
    }
    source = FileOrderSource(snapshot, fields=FieldMap(), rules=SyncRules())
    return source.orders_by_id(["801A", "801B", "801N", "801S", "801K", "801X"])


class Reads:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = threading.Semaphore(0)
        self.seen: list[str] = []

    def _saw(self, what: str) -> None:
        with self.lock:
            self.seen.append(what)
        self.done.release()

    def price_facts(self, price_ids: list[str]) -> None:
        self._saw("price " + ",".join(price_ids))

    def find_schedule(self, *, customer_id: str, contract_key: str) -> None:
        self._saw("list " + customer_id)


def test_the_first_page_reads_its_prices_one_each_and_its_creates_customers_listings() -> None:
    """(One page warmed: ``pages=1``.)"""
    reads = Reads()
    accounts: list[StripeAccountSettings] = []

    def gateway(account: StripeAccountSettings) -> Reads:
        accounts.append(account)
        return reads

    warmup = Warmup(Settings(), gateway,  # type: ignore[arg-type]
                    known=lambda account, contract_key: contract_key == "801K")
    warmup.page(page())
    for _ in range(4):
        assert reads.done.acquire(timeout=10)
    warmup.page(page())  # a later page: nothing more
    assert not reads.done.acquire(timeout=0.2)
    # cus_B's create needs its listing; 801S updates a known schedule, 801N's customer
    # does not exist yet (a customer made in the run has no schedules), the store knows
    # 801K's contract, and the Draft 801X is not synced (its price is not read).
    assert sorted(reads.seen) == ["list cus_A", "list cus_B", "price price_01uA",
                                  "price price_01uB"]
    assert {a.name for a in accounts} == {"default"}
