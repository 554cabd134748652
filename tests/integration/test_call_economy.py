"""What a run costs: Stripe requests per operation, Salesforce queries per page, pacing.

The engine runs for real against the local org and the Stripe emulator (loopback HTTP,
real adapters). A first run syncs five contracts; between runs the org is edited so the
second run sees one create, one amend, one replace and one noop. The costs asserted are
the promises of the call economy: a create is one request plus Stripe's answer to "does
this customer already have a schedule for the contract?" (one list per customer and
run, never skipped: another host or a lost store may have made one), amend and replace
one read and one write, a noop none; the page's contracts are read in one query, not one
per contract; every Stripe request takes a token from the account's bucket.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.config import SalesforceSettings, Settings, StripeAccountSettings
from sf_stripe_sync.engine import Engine, RunOptions, RunReport
from sf_stripe_sync.engine_settings import EngineSettings
from sf_stripe_sync.ports import BillingGateway
from sf_stripe_sync.runtime import SandboxOptions, open_runtime
from sf_stripe_sync.salesforce.auth import connect
from sf_stripe_sync.salesforce.writer import SalesforceWriteBack
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.salesforce_org.store import to_18
from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator
from sf_stripe_sync.state.store import StateStore
from sf_stripe_sync.stripe.gateway import StripeGateway

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
FIRST_RUN_AT = datetime(2026, 11, 1, tzinfo=UTC)
STAMP = "2026-10-01T10:00:00.000+0000"
PRICES = ("price_A", "price_B", "price_seat")
UNIT_PRICES = (10.0, 25.0, 15.0)
"""The list prices of PRICES in the demo Stripe catalog: every line sells at list price."""


def rid(prefix: str, n: int) -> str:
    return to_18(f"{prefix}T{n:011d}")


def _order(n: int, contract: int | None, status: str = "Activated",
           effective: str = "2027-01-01") -> dict[str, Any]:
    return {"Id": rid("801", n), "Name": f"Order {n}", "AccountId": rid("001", n % 2),
            "ContractId": rid("800", contract) if contract is not None else None,
            "Status": status, "EffectiveDate": effective, "EndDate": "2028-01-01",
            "Pricebook2Id": "01s000000000001AAA", "Stripe_Subscription_Schedule_Id__c": None,
            "Stripe_Sync_Status__c": None, "Stripe_Sync_Error__c": None,
            "Stripe_Last_Synced_At__c": None, "LastModifiedDate": STAMP, "SystemModstamp": STAMP}


def _item(n: int, order: int, price: int) -> dict[str, Any]:
    return {"Id": rid("802", n), "OrderId": rid("801", order),
            "PricebookEntryId": rid("01u", price), "Product2Id": rid("01t", price),
            "Quantity": 1.0, "UnitPrice": UNIT_PRICES[price], "ServiceDate": None,
            "EndDate": None,
            "OriginalOrderItemId": None, "LastModifiedDate": STAMP, "SystemModstamp": STAMP}


def snapshot() -> dict[str, list[dict[str, Any]]]:
    orders = [_order(n, n) for n in range(4)] + [_order(4, None)]
    orders.append(_order(5, 0, status="Draft", effective="2027-04-01"))  # the amend
    orders.append(_order(6, 6, status="Draft"))  # the create of the second run
    items = [_item(n, n, n % 2) for n in range(5)]
    items += [_item(5, 5, 2), _item(6, 6, 1)]
    return {
        "Account": [{"Id": rid("001", a), "Name": f"Account {a}",
                     "Stripe_Customer_Id__c": f"cus_cost{a}",
                     "LastModifiedDate": STAMP, "SystemModstamp": STAMP} for a in range(2)],
        "Contract": [{"Id": rid("800", c), "AccountId": rid("001", c % 2),
                      "Status": "Activated", "Stripe_Subscription_Schedule_Id__c": None,
                      "LastModifiedDate": STAMP, "SystemModstamp": STAMP}
                     for c in (0, 1, 2, 3, 6)],
        "Order": orders,
        "OrderItem": items,
        "PricebookEntry": [{"Id": rid("01u", p), "Product2Id": rid("01t", p),
                            "UnitPrice": UNIT_PRICES[p], "Stripe_Price_Id__c": price,
                            "LastModifiedDate": STAMP, "SystemModstamp": STAMP}
                           for p, price in enumerate(PRICES)],
        "Product2": [{"Id": rid("01t", p), "Name": price,
                      "LastModifiedDate": STAMP, "SystemModstamp": STAMP}
                     for p, price in enumerate(PRICES)],
    }


def stripe_seed() -> dict[str, Any]:
    catalog: dict[str, Any] = json.loads(
        (ROOT / "fixtures" / "demo-stripe-catalog.json").read_text(encoding="utf-8"))
    catalog["customers"] = [{"id": f"cus_cost{a}", "object": "customer",
                             "name": f"Account {a}", "metadata": {}} for a in range(2)]
    return catalog


class Stand:
    def __init__(self, org: LocalOrg, emulator: StripeEmulator, state_dir: Path) -> None:
        self.org = org
        self.emulator = emulator
        self.state_dir = state_dir
        self.org_calls: Counter[str] = Counter()
        self.gateways: list[StripeGateway] = []
        serve = org.handle

        def counted(request: Any) -> Any:
            kind = ("describe" if "/describe" in request.path else
                    "query" if "/query" in request.path else request.method)
            self.org_calls[kind] += 1
            return serve(request)

        org.handle = counted  # type: ignore[method-assign]

    def sync(self) -> RunReport:
        account = StripeAccountSettings(name="default", rate_limit_per_second=1000.0)
        settings = Settings(state_dir=self.state_dir, stripe_accounts=(account,),
                            concurrency=4)
        with open_runtime(settings, SandboxOptions(org=self.org, emulator=self.emulator)) as rt:
            def gateway_for(chosen: StripeAccountSettings) -> BillingGateway:
                gateway = rt.gateway_for(chosen)
                assert isinstance(gateway, StripeGateway)
                self.gateways.append(gateway)
                return gateway

            engine = Engine(settings=EngineSettings.of(rt.settings), source=rt.source,
                            writer=rt.writer, gateway_for=gateway_for, store=rt.store,
                            clock=lambda: datetime.now(UTC),
                            salesforce_calls=rt.salesforce_calls)
            return engine.run(RunOptions(as_of=AS_OF))

    def edit_between_runs(self) -> None:
        """Activate the amend and the create, change order 1's item, rename order 2."""
        self.org.set_now(FIRST_RUN_AT + timedelta(hours=2))
        settings = Settings(salesforce=SalesforceSettings(
            auth="session", instance_url=self.org.instance_url))
        conn = connect(settings, session=self.org.requests_session(),
                       environ={"SF_SESSION_ID": self.org.session_id})
        writer = SalesforceWriteBack(conn)
        results = writer.update("Order", [{"Id": rid("801", 5), "Status": "Activated"},
                                          {"Id": rid("801", 6), "Status": "Activated"},
                                          {"Id": rid("801", 2), "Name": "Renamed"}])
        results += writer.update("OrderItem", [{"Id": rid("802", 1), "Quantity": 3.0}])
        assert all(r.success for r in results)
        self.org.set_now(None)


@pytest.fixture
def stand(tmp_path: Path) -> Iterator[Stand]:
    org = LocalOrg(snapshot())
    emulator = StripeEmulator(seed=stripe_seed())
    org.start(host="127.0.0.1", port=0)
    emulator.start(host="127.0.0.1", port=0)
    try:
        yield Stand(org, emulator, tmp_path / "state")
    finally:
        emulator.stop()
        org.stop()


def _requests_since(stand: Stand, mark: int) -> Counter[str]:
    sent = stand.emulator.requests()[mark:]
    shapes: Counter[str] = Counter()
    for request in sent:
        parts = request["path"].split("?")[0].split("/")
        shape = "/".join("{id}" if i == 3 and p != "search" else p for i, p in enumerate(parts))
        shapes[f"{request['method']} {shape}"] += 1
    return shapes


def _first_run(stand: Stand) -> None:
    stand.org.set_now(FIRST_RUN_AT)
    first = stand.sync()
    assert first.counts["create"] == 5 and first.counts["failed"] == 0
    with StateStore.open(stand.state_dir / "state.db") as store:
        store.set_watermark("salesforce", FIRST_RUN_AT + timedelta(hours=1))
    stand.org.set_now(None)


def test_stripe_is_asked_once_per_customer_for_existing_schedules_before_its_creates(
    stand: Stand,
) -> None:
    stand.org.set_now(FIRST_RUN_AT)

    report = stand.sync()

    sent = _requests_since(stand, 0)
    assert report.counts["create"] == 5
    assert sent["GET /v1/subscription_schedules"] == 2  # five contracts, two customers
    assert sent["POST /v1/subscription_schedules"] == 5


def test_second_run_costs_a_list_and_a_request_per_create_and_a_read_and_write_per_update(
    stand: Stand,
) -> None:
    _first_run(stand)
    stand.edit_between_runs()
    mark = len(stand.emulator.requests())

    report = stand.sync()

    by_order = {o.order_id: o.result for o in report.outcomes}
    assert by_order[rid("801", 6)] == "create"
    assert by_order[rid("801", 5)] == "amend"
    assert by_order[rid("801", 1)] == "replace"
    assert by_order[rid("801", 2)] == "noop"
    assert report.counts["failed"] == 0
    sent = _requests_since(stand, mark)
    assert sent == Counter({
        "GET /v1/prices/{id}": 3,                    # each price the lines use, once a run
        "GET /v1/subscription_schedules": 1,         # the guard: its customer's schedules
        "POST /v1/subscription_schedules": 1,        # the create
        "GET /v1/subscription_schedules/{id}": 2,    # amend + replace: one read each
        "POST /v1/subscription_schedules/{id}": 2,   # ... and one write each
    })


def test_a_page_reads_its_contracts_in_one_query_not_one_per_contract(stand: Stand) -> None:
    _first_run(stand)
    stand.edit_between_runs()
    before = Counter(stand.org_calls)

    report = stand.sync()

    calls = stand.org_calls - before
    worked = {o.order_id for o in report.outcomes}
    contract_of = {rid("801", n): (0 if n == 5 else n) for n in (0, 1, 2, 3, 5, 6)}
    assert len({contract_of[o] for o in worked if o in contract_of}) >= 4
    # changed orders + orders whose items changed + one prefetch of the page's contracts
    assert calls["query"] <= 3


def test_every_stripe_request_takes_a_token_from_the_accounts_bucket(stand: Stand) -> None:
    stand.org.set_now(FIRST_RUN_AT)

    stand.sync()

    assert len(stand.gateways) == 1  # one gateway, one bucket, shared by every worker
    assert stand.gateways[0].limiter.acquired == len(stand.emulator.requests()) > 0


def test_a_run_costs_four_salesforce_calls_describe_reads_prefetch_write_back(
        stand: Stand) -> None:
    _first_run(stand)
    stand.edit_between_runs()
    before = Counter(stand.org_calls)

    report = stand.sync()

    calls = stand.org_calls - before
    assert report.counts["failed"] == 0
    # One composite/batch of describes, one composite call of both change queries, one
    # contract prefetch query, one composite write-back call.
    assert calls == Counter({"POST": 3, "query": 1})
    assert report.salesforce_calls == 4
