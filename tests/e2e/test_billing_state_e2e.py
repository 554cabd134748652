"""Stripe's billing state back in Salesforce: the demo org synced, its customers' test
clock advanced, then ``billing pull`` / webhooks / ``billing status`` against the local
org and the emulator, with the real adapters."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import stripe
from pydantic import SecretStr

from sf_stripe_sync.billing_state.pull import BillingReport
from sf_stripe_sync.catalog.context import catalog_context
from sf_stripe_sync.cli import main
from sf_stripe_sync.cli.billing_commands import make_billing_pull
from sf_stripe_sync.runtime import SandboxOptions, open_runtime
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator
from tests.e2e.harness import AS_OF, DEMO_CATALOG, DEMO_ORG, Harness, load_json

pytestmark = pytest.mark.e2e

CYBERDYNE_ACCOUNT = "001000000000011AAA"
CONTRACT = "800000000000001AAA"
CYBERDYNE_ORDER = "801000000000011AAA"
ACME_ACCOUNT = "001000000000001AAA"
ACME_ORDER = "801000000000001AAA"
CLOCK = "clock_demo_billing"
MID_MARCH = datetime(2027, 3, 15, tzinfo=UTC)
SECRET = "whsec_billing_tests"


class BillingHarness(Harness):
    def stripe(self) -> stripe.StripeClient:
        return stripe.StripeClient("sk_test_billing_state", base_addresses={
            "api": self.emulator.url}, max_network_retries=0)

    def advance_clock(self, to: datetime) -> None:
        """A month at a time, as Stripe allows (two intervals at most per advance)."""
        clocks = self.stripe().v1.test_helpers.test_clocks
        now = clocks.retrieve(CLOCK).frozen_time
        target = int(to.timestamp())
        while now < target:
            now = min(now + 28 * 86_400, target)
            clocks.advance(CLOCK, params={"frozen_time": now})

    def pull(self) -> BillingReport:
        sandbox = SandboxOptions(org=self.org, emulator=self.emulator)
        with open_runtime(self.settings(), sandbox) as rt:
            return make_billing_pull(rt, catalog_context(rt), None).pull()

    def apply_delivery(self, event: dict[str, Any]) -> str:
        sandbox = SandboxOptions(org=self.org, emulator=self.emulator)
        with open_runtime(self.settings(), sandbox) as rt:
            return make_billing_pull(rt, catalog_context(rt), None).apply_event(event)

    def invoices_in_salesforce(self) -> list[dict[str, Any]]:
        return self.org.records("Stripe_Invoice__c")

    def invoices_in_stripe(self, customer: str) -> list[dict[str, Any]]:
        return [i for i in self.emulator.objects("invoice") if i["customer"] == customer]


def _seed() -> dict[str, Any]:
    """The demo catalog, Cyberdyne paying by a good card and Acme by a declining one, both
    on one test clock set at the demo's planning date."""
    seed = load_json(DEMO_CATALOG)
    seed["test_clocks"] = [{"id": CLOCK, "frozen_time": int(AS_OF.timestamp())}]
    seed["payment_methods"] = [
        {"id": "pm_cyberdyne_visa", "type": "card", "customer": "cus_cyberdyne"},
        {"id": "pm_acme_declines", "type": "card", "customer": "cus_acme",
         "card": {"brand": "visa", "last4": "0341", "exp_month": 12, "exp_year": 2034}},
    ]
    methods = {"cus_cyberdyne": "pm_cyberdyne_visa", "cus_acme": "pm_acme_declines"}
    for customer in seed["customers"]:
        if customer["id"] in methods:
            customer["test_clock"] = CLOCK
            customer["invoice_settings"] = {"custom_fields": None, "footer": None,
                                            "default_payment_method": methods[customer["id"]],
                                            "rendering_options": None}
    return seed


@contextmanager
def _running(tmp_path: Path) -> Iterator[BillingHarness]:
    org = LocalOrg(load_json(DEMO_ORG))
    emulator = StripeEmulator(seed=_seed(), now=int(AS_OF.timestamp()))
    org.start(host="127.0.0.1", port=0)
    emulator.start(host="127.0.0.1", port=0)
    try:
        yield BillingHarness(org=org, emulator=emulator, state_dir=tmp_path / "state")
    finally:
        emulator.stop()
        org.stop()


@pytest.fixture
def billed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BillingHarness]:
    """The demo org synced, then two and a half months of billing on the clock."""
    monkeypatch.setenv("STRIPE_BILLING_WEBHOOK_SECRET", SECRET)
    with _running(tmp_path) as harness:
        harness.sync()
        harness.advance_clock(MID_MARCH)
        yield harness


def test_each_invoice_lands_once_with_its_amounts_and_links(billed: BillingHarness) -> None:
    report = billed.pull()
    assert report.errors == []
    stripe_invoices = billed.invoices_in_stripe("cus_cyberdyne")
    assert len(stripe_invoices) == 3  # January, February, March
    by_id = {r["Stripe_Invoice_Id__c"]: r for r in billed.invoices_in_salesforce()}
    for invoice in stripe_invoices:
        record = by_id[invoice["id"]]
        assert Decimal(str(record["Amount_Due__c"])) == Decimal(invoice["amount_due"]) / 100
        assert Decimal(str(record["Amount_Paid__c"])) == Decimal(invoice["amount_paid"]) / 100
        assert record["Status__c"] == "paid"
        assert record["Invoice_Number__c"] == invoice["number"]
        assert record["Hosted_Invoice_Url__c"] == invoice["hosted_invoice_url"]
        assert (record["Account__c"], record["Contract__c"], record["Order__c"]) == (
            CYBERDYNE_ACCOUNT, CONTRACT, CYBERDYNE_ORDER)
    assert sorted(report.invoices_created) == sorted(
        i["id"] for i in billed.emulator.objects("invoice"))


def test_the_contract_and_its_first_order_show_the_subscription_state(
        billed: BillingHarness) -> None:
    billed.pull()
    contract = billed.record("Contract", CONTRACT)
    order = billed.record("Order", CYBERDYNE_ORDER)
    (sub,) = [s for s in billed.emulator.objects("subscription")
              if s["customer"] == "cus_cyberdyne"]
    for record in (contract, order):
        assert record["Stripe_Subscription_Id__c"] == sub["id"]
        assert record["Stripe_Subscription_Status__c"] == "active"
        assert record["Stripe_Schedule_Status__c"] == "active"
        assert record["Stripe_Next_Invoice_Date__c"].startswith("2027-04-01T00:00:00")
        assert record["Stripe_Current_Phase_Start__c"].startswith("2027-01-01T00:00:00")
    assert billed.record("Order", "801000000000012AAA").get(
        "Stripe_Subscription_Status__c") is None  # the amending order did not create it


def test_a_declining_card_shows_past_due_on_the_order(billed: BillingHarness) -> None:
    billed.pull()
    order = billed.record("Order", ACME_ORDER)
    assert order["Stripe_Subscription_Status__c"] == "past_due"
    open_invoices = [r for r in billed.invoices_in_salesforce()
                     if r["Stripe_Customer_Id__c"] == "cus_acme"]
    assert open_invoices and {r["Status__c"] for r in open_invoices} == {"open"}
    assert all(Decimal(str(r["Amount_Remaining__c"])) > 0 for r in open_invoices)


def test_a_second_pull_and_a_replayed_page_write_nothing(billed: BillingHarness) -> None:
    billed.pull()
    snapshot = json.dumps(billed.org.records("Stripe_Invoice__c"), sort_keys=True)
    again = billed.pull()
    assert (again.events, again.invoices_created, again.records_updated) == (0, [], [])
    cursor_file = billed.state_dir / "catalog-state.json"
    cursor_file.unlink()  # forget the cursor: every retained event comes again
    replay = billed.pull()
    assert replay.events > 0
    assert (replay.invoices_created, replay.invoices_updated, replay.records_updated) == (
        [], [], [])
    assert json.dumps(billed.org.records("Stripe_Invoice__c"), sort_keys=True) == snapshot


def _signed(event: dict[str, Any]) -> tuple[str, str]:
    payload = json.dumps(event)
    stamp = int(time.time())
    digest = hmac.new(SECRET.encode(), f"{stamp}.{payload}".encode(), hashlib.sha256)
    return payload, f"t={stamp},v1={digest.hexdigest()}"


def test_a_replayed_webhook_changes_nothing_and_an_old_one_cannot_roll_back(
        billed: BillingHarness, tmp_path: Path) -> None:
    billed.pull()
    events = billed.emulator.objects("event")
    created = next(e for e in events if e["type"] == "invoice.created"
                   and e["data"]["object"]["customer"] == "cus_cyberdyne")
    assert created["data"]["object"]["status"] == "draft"  # an old snapshot
    assert billed.apply_delivery(created) == "unchanged"
    payload, signature = _signed(created)
    delivery = tmp_path / "delivery.json"
    delivery.write_text(payload, encoding="utf-8")
    args = ["billing", "webhook", "--payload", str(delivery), "--signature", signature,
            "--salesforce-sandbox-url", billed.org.instance_url.replace("https://", "http://"),
            "--stripe-emulator-url", billed.emulator.url, "--state-dir", str(billed.state_dir),
            "--format", "json"]
    assert main(args) == 0
    record = next(r for r in billed.invoices_in_salesforce()
                  if r["Stripe_Invoice_Id__c"] == created["data"]["object"]["id"])
    assert record["Status__c"] == "paid"


def test_billing_write_back_starts_no_new_sync(billed: BillingHarness) -> None:
    billed.sync()  # settle whatever the first run left
    before = billed.stripe_writes()
    report = billed.pull()
    assert report.records_updated  # Contracts and Orders were written
    scheduled = billed.sync()
    triggered = billed.sync(order_ids=[CYBERDYNE_ORDER, ACME_ORDER])  # as a trigger would
    assert billed.stripe_writes() == before
    assert scheduled.stripe_writes == triggered.stripe_writes == 0
    rerun = triggered
    reread = {o.order_id: o.result for o in rerun.outcomes}
    assert reread.get(CYBERDYNE_ORDER) == "noop" and reread.get(ACME_ORDER) == "noop"


def test_billing_status_prints_subscriptions_and_last_invoices(
        billed: BillingHarness, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["billing", "status", CYBERDYNE_ACCOUNT,
            "--salesforce-sandbox-url", billed.org.instance_url.replace("https://", "http://"),
            "--stripe-emulator-url", billed.emulator.url, "--state-dir", str(billed.state_dir)]
    assert main([*args, "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["customer"] == "cus_cyberdyne"
    assert [s["status"] for s in document["subscriptions"]] == ["active"]
    assert [i["status"] for i in document["invoices"]] == ["paid", "paid", "paid"]
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "cus_cyberdyne" in table and "paid" in table


def test_a_forged_webhook_is_refused_and_applies_nothing(
        billed: BillingHarness, tmp_path: Path) -> None:
    event = next(e for e in billed.emulator.objects("event") if e["type"] == "invoice.paid")
    payload, _ = _signed(event)
    delivery = tmp_path / "forged.json"
    delivery.write_text(payload, encoding="utf-8")
    args = ["billing", "webhook", "--payload", str(delivery),
            "--signature", f"t={int(time.time())},v1={'0' * 64}",
            "--salesforce-sandbox-url", billed.org.instance_url.replace("https://", "http://"),
            "--stripe-emulator-url", billed.emulator.url, "--state-dir", str(billed.state_dir)]
    assert main(args) == 1
    assert billed.invoices_in_salesforce() == []


def test_webhook_deliveries_from_stripe_land_like_the_pull(tmp_path: Path) -> None:
    from sf_stripe_sync.catalog.webhooks import WebhookEndpoint

    with _running(tmp_path) as harness:
        harness.sync()
        hooks = harness.stripe().v1.webhook_endpoints
        made = hooks.create(params={"url": "http://127.0.0.1:9/not-yet", "enabled_events": [
            "invoice.created", "invoice.finalized", "invoice.paid", "invoice.payment_failed",
            "customer.subscription.created", "customer.subscription.updated",
            "subscription_schedule.updated"]})
        sandbox = SandboxOptions(org=harness.org, emulator=harness.emulator)
        with open_runtime(harness.settings(), sandbox) as rt:
            pull = make_billing_pull(rt, catalog_context(rt), None)
            receiver = WebhookEndpoint(pull.apply_event, SecretStr(str(made.secret)))
            receiver.start()
            try:
                hooks.update(made.id, params={"url": f"{receiver.url}/stripe"})
                harness.advance_clock(MID_MARCH)
                harness.emulator.deliver_webhooks()
            finally:
                receiver.stop()
        assert harness.emulator.webhooks.failed == 0
        stripe_ids = {i["id"] for i in harness.emulator.objects("invoice")}
        landed = [r["Stripe_Invoice_Id__c"] for r in harness.invoices_in_salesforce()]
        assert sorted(landed) == sorted(stripe_ids)  # each once
        contract = harness.record("Contract", CONTRACT)
        assert contract["Stripe_Subscription_Status__c"] == "active"
        assert harness.record("Order", ACME_ORDER)["Stripe_Subscription_Status__c"] == "past_due"


def test_invoices_of_customers_salesforce_does_not_hold_are_left_out(
        billed: BillingHarness) -> None:
    client = billed.stripe()
    stranger = client.v1.customers.create(params={"test_clock": CLOCK, "name": "Walk-in"})
    client.v1.subscription_schedules.create(params={
        "customer": stranger.id, "start_date": "now",
        "phases": [{"items": [{"price": "price_A"}], "duration": {"interval": "month"}}]})
    report = billed.pull()
    (theirs,) = billed.invoices_in_stripe(stranger.id)
    assert theirs["id"] not in {r["Stripe_Invoice_Id__c"]
                                for r in billed.invoices_in_salesforce()}
    assert any(theirs["id"] in entry for entry in report.unmatched)
