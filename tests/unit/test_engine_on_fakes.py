"""The engine on the shipped in-memory fakes (``sf_stripe_sync.testing``): the demo org,
its Stripe catalog and the state store, all in memory. The same scenarios as
``tests/e2e/test_sync_e2e.py`` without a server or a database."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.config import load_settings
from sf_stripe_sync.engine import Engine, RunOptions, RunReport
from sf_stripe_sync.engine_settings import EngineSettings
from sf_stripe_sync.testing import FakeBillingGateway, FakeOrg, MemoryStateStore

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 30, tzinfo=UTC)
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
"""Before every demo order starts (as in the e2e suite)."""
OVERLAP_ORDER = "801000000000002AAA"
BAD_ORDERS = {"801000000000008AAA", "801000000000009AAA", "801000000000010AAA"}
CONTRACT = "800000000000001AAA"
SCHEDULE_FIELD = "Stripe_Subscription_Schedule_Id__c"


@dataclass
class Stand:
    org: FakeOrg
    stripe: FakeBillingGateway
    store: MemoryStateStore
    state_dir: Path

    def sync(self, *, cancel_ids: tuple[str, ...] = ()) -> RunReport:
        settings = EngineSettings.of(load_settings(None, state_dir=self.state_dir))
        engine = Engine(settings=settings,
                        source=self.org, writer=self.org, records=self.org,
                        gateway_for=lambda _: self.stripe, store=self.store, clock=lambda: NOW)
        return engine.run(RunOptions(as_of=AS_OF, cancel_ids=cancel_ids))

    def record(self, sobject: str, record_id: str) -> dict[str, Any]:
        return next(r for r in self.org.records(sobject) if r["Id"] == record_id)

    def live_schedules(self) -> list[dict[str, Any]]:
        return [s for s in self.stripe.schedules.values() if not s["canceled"]]


@pytest.fixture
def stand(tmp_path: Path) -> Stand:
    snapshot = json.loads((ROOT / "fixtures" / "demo-org.json").read_text(encoding="utf-8"))
    catalog = json.loads((ROOT / "fixtures" / "demo-stripe-catalog.json").read_text(
        encoding="utf-8"))
    return Stand(FakeOrg(snapshot, clock=lambda: NOW),
                 FakeBillingGateway(clock=lambda: NOW, seed=catalog),
                 MemoryStateStore(clock=lambda: NOW), tmp_path / "state")


def _activated(stand: Stand) -> set[str]:
    return {o["Id"] for o in stand.org.records("Order") if o["Status"] == "Activated"}


def test_a_first_run_creates_one_schedule_per_contract_and_a_rerun_writes_nothing(
        stand: Stand) -> None:
    first = stand.sync()
    assert {o.order_id for o in first.failed} == BAD_ORDERS
    synced = {o.order_id for o in first.outcomes if o.result in ("create", "amend", "noop")}
    assert synced == _activated(stand) - BAD_ORDERS
    contracts = {o["ContractId"] or o["Id"] for o in stand.org.records("Order")
                 if o["Id"] in synced}
    assert len(stand.live_schedules()) == len(contracts)
    writes = stand.stripe.writes()
    assert first.stripe_writes >= writes > 0

    second = stand.sync()

    assert stand.stripe.writes() == writes
    assert second.stripe_writes == 0
    assert second.counts["noop"] >= len(synced)


def test_ids_and_status_are_written_back_to_the_org(stand: Stand) -> None:
    stand.sync()
    order = stand.record("Order", OVERLAP_ORDER)
    assert order["Stripe_Sync_Status__c"] == "Synced"
    schedule = stand.stripe.schedules[order[SCHEDULE_FIELD]]
    account = stand.record("Account", order["AccountId"])
    assert account["Stripe_Customer_Id__c"] == schedule["customer"]
    assert {log["Order__c"] for log in stand.org.records("Sync_Log__c")} >= {OVERLAP_ORDER}


def test_editing_a_quantity_replaces_the_schedule_with_one_write(stand: Stand) -> None:
    stand.sync()
    item = next(i for i in stand.org.records("OrderItem") if i["OrderId"] == OVERLAP_ORDER)
    assert stand.org.update("OrderItem", [{"Id": item["Id"], "Quantity": 7}])[0].success

    report = stand.sync()

    outcome = next(o for o in report.outcomes if o.order_id == OVERLAP_ORDER)
    assert outcome.result == "replace"
    schedule = stand.stripe.schedules[stand.record("Order", OVERLAP_ORDER)[SCHEDULE_FIELD]]
    assert 7 in {i["quantity"] for p in schedule["phases"] for i in p["items"]}
    assert report.stripe_writes == 1


def test_a_change_order_amends_the_contracts_schedule(stand: Stand) -> None:
    stand.sync()
    schedule_id = stand.record("Contract", CONTRACT)[SCHEDULE_FIELD]
    original = stand.record("Order", "801000000000011AAA")
    item = next(i for i in stand.org.records("OrderItem") if i["OrderId"] == original["Id"])
    (made,) = stand.org.insert("Order", [{
        "AccountId": original["AccountId"], "ContractId": CONTRACT, "Status": "Activated",
        "EffectiveDate": "2027-09-01", "EndDate": "2028-01-01",
        "CurrencyIsoCode": original["CurrencyIsoCode"],
        "Pricebook2Id": original["Pricebook2Id"]}])
    assert made.success and made.id
    assert stand.org.insert("OrderItem", [{
        "OrderId": made.id, "PricebookEntryId": item["PricebookEntryId"],
        "Product2Id": item["Product2Id"], "Quantity": 3, "UnitPrice": item["UnitPrice"],
        "ServiceDate": "2027-09-01", "EndDate": "2028-01-01",
        "OriginalOrderItemId": item["Id"]}])[0].success

    report = stand.sync()

    outcome = next(o for o in report.outcomes if o.order_id == made.id)
    assert (outcome.result, outcome.schedule_id) == ("amend", schedule_id)
    customer = stand.stripe.schedules[schedule_id]["customer"]
    assert [s["id"] for s in stand.live_schedules() if s["customer"] == customer] == [
        schedule_id]


def test_the_cancel_status_cancels_the_schedule(stand: Stand) -> None:
    stand.sync()
    schedule_id = stand.record("Order", OVERLAP_ORDER)[SCHEDULE_FIELD]
    stand.org.update("Order", [{"Id": OVERLAP_ORDER, "Status": "Cancelled"}])

    report = stand.sync()

    assert next(o for o in report.outcomes if o.order_id == OVERLAP_ORDER).result == "cancel"
    assert stand.stripe.schedules[schedule_id]["canceled"]
    assert stand.record("Order", OVERLAP_ORDER)["Stripe_Sync_Status__c"] == "Canceled"


def test_a_create_whose_answer_was_lost_is_not_made_twice_by_the_next_run(
        stand: Stand) -> None:
    stand.stripe.lose_next_answer("subscription_schedules.create")
    first = stand.sync()
    lost = [o for o in first.outcomes if o.result == "failed" and o.transient]
    assert len(lost) == 1
    made = len(stand.stripe.schedules)

    second = stand.sync()

    outcome = next(o for o in second.outcomes if o.order_id == lost[0].order_id)
    assert outcome.result in ("create", "amend", "replace")
    assert len(stand.stripe.schedules) == made  # found by the guard, not made again
    assert stand.record("Order", lost[0].order_id)["Stripe_Sync_Status__c"] == "Synced"
