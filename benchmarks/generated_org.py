"""A generated org for the benchmarks: N orders in a chosen mix of create/amend/replace/noop.

Theory of operation: one snapshot holds every record the benchmark needs. A *baseline*
of activated orders is synced first (untimed): the replace targets, the noop targets
and the contracts that the amend orders will extend, one contract each. The orders
that the measured run must create or amend wait in the snapshot as ``Draft``. After the
baseline, ``mutations`` describes what an org user would do between two runs:
activate the drafts (creates and amends), change an item's quantity on each replace
target (its items change, the Order itself does not), and rename each noop target
(a change the engine must re-read, that changes nothing billed). The next scheduled run
then sees exactly N changed orders in the requested mix.

Every Account already has a Stripe customer (seeded into the emulator with the demo
price catalog), and every item names an existing price, so a create without discounts
costs exactly one Stripe request. Dates lie after the benchmark's ``AS_OF``, so nothing
is clipped or already ended. The same arguments always give the same org.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sf_stripe_sync.sandbox.salesforce_org.store import to_18

ROOT = Path(__file__).resolve().parents[1]
DEMO_CATALOG = ROOT / "fixtures" / "demo-stripe-catalog.json"
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
SNAPSHOT_STAMP = "2026-10-01T10:00:00.000+0000"
PRICEBOOK = "01s000000000001AAA"
PRICES = ("price_A", "price_B", "price_seat", "price_support", "price_storage",
          "price_analytics")
LIST_PRICES = (10.0, 25.0, 15.0, 50.0, 8.0, 120.0)
"""Each price's amount in the demo Stripe catalog: lines sell at list price."""
"""USD monthly prices of the demo catalog; each gets a generated Product2 + entry."""

Record = dict[str, Any]
OPTIONAL_FIELDS: Record = {
    "Stripe_Collection_Method__c": None, "Days_Until_Due__c": None,
    "Discount_Amount_Off__c": None, "Discount_Percent_Off__c": None}
"""Present (empty) so the org's describe has them and the engine reads them."""


def gen_id(prefix: str, number: int) -> str:
    """A valid 18-character id (``G`` marks generated records)."""
    return to_18(f"{prefix}G{number:011d}")


@dataclass
class Mix:
    create: int
    amend: int
    replace: int
    noop: int

    @classmethod
    def of(cls, orders: int) -> Mix:
        """About 60% create, 20% amend, 10% replace, 10% noop."""
        amend, replace, noop = orders // 5, orders // 10, orders // 10
        return cls(create=orders - amend - replace - noop, amend=amend, replace=replace,
                   noop=noop)

    @property
    def total(self) -> int:
        return self.create + self.amend + self.replace + self.noop


@dataclass
class GeneratedOrg:
    snapshot: dict[str, list[Record]]
    stripe_seed: dict[str, Any]
    mix: Mix
    drafts: list[str] = field(default_factory=list)
    """Orders to activate (creates and amends)."""
    replace_items: list[str] = field(default_factory=list)
    """One item per replace target, whose quantity changes."""
    noop_orders: list[str] = field(default_factory=list)
    """Baseline orders renamed (re-read, nothing billed changes)."""


class _Builder:
    def __init__(self, seed: int, *, known_customers: bool = True) -> None:
        self.known_customers = known_customers
        self.rng = random.Random(seed)
        self.snapshot: dict[str, list[Record]] = {
            "Account": [], "Contract": [], "Order": [], "OrderItem": [],
            "PricebookEntry": [], "Product2": []}
        self.customers: list[Record] = []
        self.counters: dict[str, int] = {}
        for n, price in enumerate(PRICES):
            product = gen_id("01t", n)
            self.snapshot["Product2"].append({
                "Id": product, "Name": price, "IsActive": True,
                "LastModifiedDate": SNAPSHOT_STAMP, "SystemModstamp": SNAPSHOT_STAMP})
            self.snapshot["PricebookEntry"].append({
                "Id": gen_id("01u", n), "Pricebook2Id": PRICEBOOK, "Product2Id": product,
                "UnitPrice": LIST_PRICES[n], "CurrencyIsoCode": "USD", "IsActive": True,
                "Stripe_Price_Id__c": price,
                "LastModifiedDate": SNAPSHOT_STAMP, "SystemModstamp": SNAPSHOT_STAMP})

    def next(self, prefix: str) -> str:
        number = self.counters.get(prefix, 0)
        self.counters[prefix] = number + 1
        return gen_id(prefix, number)

    def account(self) -> str:
        account_id = self.next("001")
        customer = f"cus_bench{len(self.customers):07d}"
        if not self.known_customers:
            self.snapshot["Account"].append({
                "Id": account_id, "Name": f"Account {account_id}",
                "Stripe_Customer_Id__c": None,
                "LastModifiedDate": SNAPSHOT_STAMP, "SystemModstamp": SNAPSHOT_STAMP})
            self.customers.append({"id": customer})  # keeps the numbering; not seeded
            return account_id
        self.customers.append({"id": customer, "object": "customer",
                               "name": f"Account {account_id}", "email": None,
                               "livemode": False,
                               "metadata": {"salesforce_account_id": account_id}})
        self.snapshot["Account"].append({
            "Id": account_id, "Name": f"Account {account_id}",
            "Stripe_Customer_Id__c": customer,
            "LastModifiedDate": SNAPSHOT_STAMP, "SystemModstamp": SNAPSHOT_STAMP})
        return account_id

    def contract(self, account_id: str) -> str:
        contract_id = self.next("800")
        self.snapshot["Contract"].append({
            "Id": contract_id, "AccountId": account_id, "Status": "Activated",
            "StartDate": "2027-01-01", "EndDate": "2028-12-31",
            "Stripe_Subscription_Schedule_Id__c": None,
            "LastModifiedDate": SNAPSHOT_STAMP, "SystemModstamp": SNAPSHOT_STAMP})
        return contract_id

    def order(self, account_id: str, contract_id: str | None, *, status: str,
              effective: str, prices: tuple[int, ...]) -> tuple[str, list[str]]:
        order_id = self.next("801")
        self.snapshot["Order"].append({
            "Id": order_id, "Name": f"Order {order_id}", "AccountId": account_id,
            "ContractId": contract_id, "Status": status, "StatusCode": status,
            "EffectiveDate": effective, "EndDate": "2028-01-01", "CurrencyIsoCode": "USD",
            "Pricebook2Id": PRICEBOOK, "Type": "New",
            "Stripe_Subscription_Schedule_Id__c": None, "Stripe_Sync_Status__c": None,
            "Stripe_Sync_Error__c": None, "Stripe_Last_Synced_At__c": None, **OPTIONAL_FIELDS,
            "Stripe_Account__c": None,
            "LastModifiedDate": SNAPSHOT_STAMP, "SystemModstamp": SNAPSHOT_STAMP})
        items = []
        for index in prices:
            item_id = self.next("802")
            items.append(item_id)
            self.snapshot["OrderItem"].append({
                "Id": item_id, "OrderId": order_id, "Product2Id": gen_id("01t", index),
                "PricebookEntryId": gen_id("01u", index),
                "Quantity": float(self.rng.randint(1, 3)), "UnitPrice": LIST_PRICES[index],
                "ServiceDate": None, "EndDate": None, "OriginalOrderItemId": None,
                "Stripe_Price_Id__c": None, **OPTIONAL_FIELDS,
                "LastModifiedDate": SNAPSHOT_STAMP, "SystemModstamp": SNAPSHOT_STAMP})
        return order_id, items


def generate(
    orders: int | Mix,
    *,
    seed: int = 7,
    orders_per_account: int = 5,
    known_customers: bool = True,
    discount_percent: float | None = None,
) -> GeneratedOrg:
    """An org whose next run after the baseline sees ``orders`` changed orders.

    ``known_customers=False`` leaves the Accounts without a Stripe customer (the engine
    searches, then creates one); ``discount_percent`` puts an order-level discount on
    every created order (one coupon each)."""
    mix = orders if isinstance(orders, Mix) else Mix.of(orders)
    b = _Builder(seed, known_customers=known_customers)
    accounts: list[str] = []

    def some_account() -> str:
        if not accounts or len(accounts) * orders_per_account <= b.counters.get("801", 0):
            accounts.append(b.account())
        return accounts[-1]

    result = GeneratedOrg(snapshot=b.snapshot, stripe_seed={}, mix=mix)
    # Baseline: activated now, one contract each.
    for _ in range(mix.replace):
        account = some_account()
        _, items = b.order(account, b.contract(account), status="Activated",
                           effective="2027-01-01", prices=(0, 1))
        result.replace_items.append(items[0])
    for _ in range(mix.noop):
        account = some_account()
        order_id, _ = b.order(account, b.contract(account), status="Activated",
                              effective="2027-01-01", prices=(2, 3))
        result.noop_orders.append(order_id)
    amend_bases = []
    for _ in range(mix.amend):
        account = some_account()
        contract = b.contract(account)
        b.order(account, contract, status="Activated", effective="2027-01-01", prices=(0, 2))
        amend_bases.append((account, contract))
    # Drafts, activated between the runs: amends add a price a quarter later.
    for account, contract in amend_bases:
        order_id, _ = b.order(account, contract, status="Draft", effective="2027-04-01",
                              prices=(4,))
        result.drafts.append(order_id)
    for n in range(mix.create):
        account = some_account()
        contract = b.contract(account) if n % 2 == 0 else None
        first, second = b.rng.sample(range(len(PRICES)), 2)
        order_id, _ = b.order(account, contract, status="Draft", effective="2027-01-01",
                              prices=(first, second))
        if discount_percent is not None:
            b.snapshot["Order"][-1]["Discount_Percent_Off__c"] = discount_percent
        result.drafts.append(order_id)
    catalog = json.loads(DEMO_CATALOG.read_text(encoding="utf-8"))
    seeded = [c for c in b.customers if "object" in c]
    catalog["customers"] = list(catalog.get("customers", [])) + seeded
    result.stripe_seed = catalog
    return result


def baseline_count(org: GeneratedOrg) -> int:
    return org.mix.replace + org.mix.noop + org.mix.amend
