"""Each port's implementations side by side: the shipped fake and the real adapter on the
local sandboxes (the Stripe emulator, the local org). Every conformance test runs once
per implementation, so a fake that drifts from the real thing fails here."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from sf_stripe_sync.config import SalesforceSettings, Settings, StripeAccountSettings
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.ports import BillingGateway, OrgRecords
from sf_stripe_sync.salesforce.auth import connect
from sf_stripe_sync.salesforce.records import SalesforceRecords
from sf_stripe_sync.salesforce.retry import RetryPolicy as SalesforceRetry
from sf_stripe_sync.salesforce.source import SalesforceOrderSource
from sf_stripe_sync.salesforce.writer import SalesforceWriteBack
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator
from sf_stripe_sync.stripe.gateway import StripeGateway
from sf_stripe_sync.stripe.retry import RetryPolicy
from sf_stripe_sync.testing import FakeBillingGateway, FakeOrg

NOW = datetime(2024, 12, 1, tzinfo=UTC)
"""Both Stripes' "now": before the plans' phases start, so schedules are not started."""
API_KEY = SecretStr("sk_test_conformance")
PRICES = ("price_A", "price_B")
SEED: dict[str, Any] = {
    "products": [{"id": "prod_widget", "name": "Widget"}],
    "prices": [{"id": p, "product": "prod_widget", "currency": "usd", "unit_amount": 1000,
                "recurring": {"interval": "month"}} for p in PRICES],
}


@dataclass
class Billing:
    """One Stripe account; ``run()`` is a gateway for a new run (nothing cached)."""

    run: Callable[[], BillingGateway]


@pytest.fixture(params=["fake", "emulator"])
def billing(request: pytest.FixtureRequest) -> Iterator[Billing]:
    if request.param == "fake":
        fake = FakeBillingGateway(seed=SEED, clock=lambda: NOW)
        yield Billing(run=lambda: fake)
        return
    emu = StripeEmulator(seed=SEED, now=int(NOW.timestamp()))
    emu.start(host="127.0.0.1", port=0)
    account = StripeAccountSettings(name="default", api_base=emu.url, max_retries=2)
    try:
        yield Billing(run=lambda: StripeGateway.from_settings(
            account, API_KEY, retry=RetryPolicy.no_wait()))
    finally:
        emu.stop()


def sf_id(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}AAA"


ACCOUNT = sf_id("001", 1)
CONTRACT = sf_id("800", 1)
ORDERS = [sf_id("801", n) for n in (1, 2, 3)]


def org_snapshot() -> dict[str, list[dict[str, Any]]]:
    """Two activated Orders on one Contract (one with an item), one draft Order."""
    stamp = "2025-01-0{}T00:00:00.000+0000"
    return {
        "Account": [{"Id": ACCOUNT, "Name": "Acme", "Stripe_Customer_Id__c": None}],
        "Contract": [{"Id": CONTRACT, "AccountId": ACCOUNT, "StartDate": "2025-01-01",
                      "ContractTerm": 12, "Status": "Activated"}],
        "Product2": [{"Id": sf_id("01t", 1), "Name": "Widget", "IsActive": True}],
        "PricebookEntry": [{"Id": sf_id("01u", 1), "Product2Id": sf_id("01t", 1),
                            "UnitPrice": 10.0, "IsActive": True}],
        "Order": [{"Id": oid, "Status": "Draft" if n == 3 else "Activated",
                   "AccountId": ACCOUNT, "ContractId": CONTRACT,
                   "EffectiveDate": f"2025-0{n}-01", "Stripe_Sync_Status__c": None,
                   "LastModifiedDate": stamp.format(n), "SystemModstamp": stamp.format(n)}
                  for n, oid in enumerate(ORDERS, start=1)],
        "OrderItem": [{"Id": sf_id("802", 1), "OrderId": ORDERS[0],
                       "PricebookEntryId": sf_id("01u", 1), "Product2Id": sf_id("01t", 1),
                       "Quantity": 2.0, "UnitPrice": 10.0,
                       "LastModifiedDate": stamp.format(1), "SystemModstamp": stamp.format(1)}],
    }


@dataclass
class Org:
    """One org as the engine sees it: where Orders come from and where results go."""

    source: Any
    writer: Any
    records: Callable[[str], list[dict[str, Any]]]
    shapes: OrgRecords
    """The org's records in domain terms (contract, change stamp, sync status)."""


@pytest.fixture(params=["fake", "local_org"])
def org(request: pytest.FixtureRequest) -> Iterator[Org]:
    if request.param == "fake":
        fake = FakeOrg(org_snapshot())
        yield Org(source=fake, writer=fake, records=fake.records, shapes=fake)
        return
    local = LocalOrg(org_snapshot())
    local.start(host="127.0.0.1", port=0)
    try:
        settings = Settings(salesforce=SalesforceSettings(
            auth="session", instance_url=local.instance_url.replace("http://", "https://")))
        conn = connect(settings, session=local.requests_session(),
                       environ={"SF_SESSION_ID": local.session_id},
                       retry=SalesforceRetry.immediate(2))
        yield Org(source=SalesforceOrderSource(conn), writer=SalesforceWriteBack(conn),
                  records=local.records, shapes=SalesforceRecords(FieldMap()))
    finally:
        local.stop()
