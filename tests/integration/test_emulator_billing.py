"""Billing as a test clock advances: periods, prorations, one-time charges, coupons,
payments and the subscription's state, read back through the real stripe SDK."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe

from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator

pytestmark = pytest.mark.integration

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
FEB_1, MAR_1, APR_1 = 1_769_904_000, 1_772_323_200, 1_775_001_600
SEED = {
    "products": [{"id": "prod_A", "name": "Seat"}, {"id": "prod_FEE", "name": "Setup"}],
    "meters": [{"id": "mtr_calls", "display_name": "Calls", "event_name": "calls"}],
    "prices": [
        {"id": "price_A", "product": "prod_A", "currency": "usd", "unit_amount": 1000,
         "recurring": {"interval": "month"}},
        {"id": "price_B", "product": "prod_A", "currency": "usd", "unit_amount": 3000,
         "recurring": {"interval": "month"}},
        {"id": "price_FEE", "product": "prod_FEE", "currency": "usd", "unit_amount": 5000},
        {"id": "price_USAGE", "product": "prod_A", "currency": "usd", "unit_amount": 2,
         "recurring": {"interval": "month", "usage_type": "metered", "meter": "mtr_calls"}},
    ],
    "coupons": [{"id": "TEN", "percent_off": 10, "duration": "forever"},
                {"id": "FIVE_OFF", "amount_off": 500, "currency": "usd",
                 "duration": "forever"},
                {"id": "FIRST", "percent_off": 50, "duration": "once"}],
}


@pytest.fixture
def emu() -> Iterator[StripeEmulator]:
    with StripeEmulator(seed=SEED, now=NOW).running() as running:
        yield running


@pytest.fixture
def client(emu: StripeEmulator) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_billing", base_addresses={"api": emu.url},
                               max_network_retries=0)


class Clocked:
    """A customer on a fresh test clock, paying with ``card``."""

    def __init__(self, client: stripe.StripeClient, card: str | None = "pm_card_visa"):
        self.client = client
        self.clock = client.v1.test_helpers.test_clocks.create(params={"frozen_time": NOW})
        self.customer = client.v1.customers.create(params={"test_clock": self.clock.id}).id
        if card is not None:
            method = client.v1.payment_methods.attach(card, params={"customer": self.customer})
            client.v1.customers.update(self.customer, params={
                "invoice_settings": {"default_payment_method": method.id}})

    def schedule(self, *phases: dict[str, Any], end_behavior: str = "cancel") -> str:
        return self.client.v1.subscription_schedules.create(params={  # type: ignore[typeddict-item]
            "customer": self.customer, "start_date": NOW, "end_behavior": end_behavior,
            "phases": list(phases)}).id

    def advance_to(self, target: int) -> None:
        """Step as a caller of real Stripe must: a month at most per advance."""
        clocks = self.client.v1.test_helpers.test_clocks
        now = clocks.retrieve(self.clock.id).frozen_time
        while now < target:
            now = min(now + 31 * DAY, target)
            assert clocks.advance(self.clock.id, params={"frozen_time": now}).status == "ready"

    def invoices(self) -> list[stripe.Invoice]:
        found = self.client.v1.invoices.list(params={"customer": self.customer, "limit": 100})
        return list(reversed(found.data))

    def subscription(self) -> stripe.Subscription:
        found = self.client.v1.subscriptions.list(params={"customer": self.customer,
                                                         "status": "all"})
        (only,) = found.data
        return only


def _lines(invoice: stripe.Invoice) -> list[tuple[int, str | None]]:
    return [(line.amount, line.description) for line in invoice.lines.data]


def test_each_period_bills_quantity_times_price_and_the_setup_fee_once(
        client: stripe.StripeClient) -> None:
    buyer = Clocked(client)
    buyer.schedule({"items": [{"price": "price_A", "quantity": 3}], "end_date": APR_1,
                    "add_invoice_items": [{"price": "price_FEE"}]})
    buyer.advance_to(APR_1 + DAY)
    invoices = buyer.invoices()
    assert [i.total for i in invoices] == [8000, 3000, 3000]
    assert [i.billing_reason for i in invoices] == [
        "subscription_create", "subscription_cycle", "subscription_cycle"]
    assert sum("Setup" in str(d) for i in invoices for _, d in _lines(i)) == 1
    assert all(i.status == "paid" and i.amount_paid == i.total for i in invoices)
    assert buyer.subscription().status == "canceled"


def test_a_mid_period_phase_change_prorates_and_a_cut_short_last_period_bills_its_part(
        client: stripe.StripeClient) -> None:
    buyer = Clocked(client)
    feb_15 = FEB_1 + 14 * DAY  # halfway through February's 28 days
    apr_11 = APR_1 + 10 * DAY  # a third of April's 30 days
    buyer.schedule({"items": [{"price": "price_A", "quantity": 2}], "end_date": feb_15},
                   {"items": [{"price": "price_B"}], "end_date": apr_11})
    buyer.advance_to(apr_11)
    invoices = buyer.invoices()
    assert [i.total for i in invoices] == [2000, 2000, 3500, 1000]
    march = invoices[2]
    assert sorted(a for a, _ in _lines(march)) == [-1000, 1500, 3000]
    prorated = [line for line in march.lines.data if line.amount != 3000]
    details = [line.parent.subscription_item_details for line in prorated]
    assert all(d is not None and d.proration for d in details)
    assert sum(i.total for i in invoices) == 8500


def test_phase_start_anchor_invoices_at_once_and_credits_the_unused_time(
        client: stripe.StripeClient) -> None:
    buyer = Clocked(client)
    feb_15 = FEB_1 + 14 * DAY
    buyer.schedule({"items": [{"price": "price_A", "quantity": 2}], "end_date": feb_15},
                   {"items": [{"price": "price_B"}], "end_date": feb_15 + 28 * DAY,
                    "billing_cycle_anchor": "phase_start"})
    buyer.advance_to(feb_15 + 28 * DAY)
    invoices = buyer.invoices()
    assert [(i.created, i.total) for i in invoices] == [
        (NOW, 2000), (FEB_1, 2000), (feb_15, 2000)]  # -1000 credit + 3000 new period
    assert buyer.subscription().billing_cycle_anchor == NOW


def test_coupons_take_their_share_of_every_invoice_or_only_the_first(
        client: stripe.StripeClient) -> None:
    buyer = Clocked(client)
    buyer.schedule({"items": [{"price": "price_A", "quantity": 2,
                               "discounts": [{"coupon": "FIVE_OFF"}]}],
                    "discounts": [{"coupon": "TEN"}], "end_date": MAR_1,
                    "add_invoice_items": [{"price": "price_FEE"}]})
    other = Clocked(client)
    other.schedule({"items": [{"price": "price_A"}], "discounts": [{"coupon": "FIRST"}],
                    "end_date": MAR_1})
    buyer.advance_to(MAR_1)
    other.advance_to(MAR_1)
    # item 2000 - 500 = 1500, then 10%: 1350; the fee 5000 - 10% = 4500
    assert [i.total for i in buyer.invoices()] == [5850, 1350]
    assert [i.total for i in other.invoices()] == [500, 1000]
    first = buyer.invoices()[0]
    assert sum(d.amount for d in first.total_discount_amounts or []) == 1150


def test_a_declining_card_leaves_the_invoice_open_and_the_subscription_past_due(
        client: stripe.StripeClient) -> None:
    buyer = Clocked(client, card="pm_card_chargeCustomerFail")
    buyer.schedule({"items": [{"price": "price_A"}], "end_date": MAR_1})
    buyer.advance_to(FEB_1)
    invoices = buyer.invoices()
    assert [(i.status, i.amount_remaining, i.attempt_count) for i in invoices] == [
        ("open", 1000, 1), ("open", 1000, 1)]
    assert buyer.subscription().status == "past_due"
    good = client.v1.payment_methods.attach("pm_card_visa", params={"customer": buyer.customer})
    paid = client.v1.invoices.pay(invoices[1].id, params={"payment_method": good.id})
    assert (paid.status, paid.amount_paid) == ("paid", 1000)
    types = [e.type for e in client.v1.events.list(params={"limit": 100}).data]
    assert "invoice.payment_failed" in types and "invoice.paid" in types


def test_no_payment_method_fails_the_charge_as_stripe_does(
        client: stripe.StripeClient) -> None:
    buyer = Clocked(client, card=None)
    buyer.schedule({"items": [{"price": "price_A"}], "end_date": FEB_1})
    (invoice,) = buyer.invoices()
    assert invoice.status == "open"
    assert buyer.subscription().status == "past_due"


def test_send_invoice_collection_leaves_it_open_and_past_due_only_after_its_due_date(
        client: stripe.StripeClient) -> None:
    buyer = Clocked(client, card=None)
    buyer.schedule({"items": [{"price": "price_A"}], "end_date": APR_1,
                    "collection_method": "send_invoice",
                    "invoice_settings": {"days_until_due": 20}})
    (invoice,) = buyer.invoices()
    assert (invoice.status, invoice.due_date) == ("open", NOW + 20 * DAY)
    assert buyer.subscription().status == "active"
    buyer.advance_to(NOW + 21 * DAY)
    assert buyer.subscription().status == "past_due"
    types = [e.type for e in client.v1.events.list(params={"limit": 100}).data]
    assert "invoice.overdue" in types
    client.v1.invoices.pay(invoice.id, params={"paid_out_of_band": True})
    assert buyer.subscription().status == "active"


def test_invoices_read_back_in_the_pinned_api_shape(client: stripe.StripeClient) -> None:
    buyer = Clocked(client)
    buyer.schedule({"items": [{"price": "price_A"}, {"price": "price_USAGE"}],
                    "end_date": MAR_1})
    buyer.advance_to(FEB_1)
    subscription = buyer.subscription()
    listed = client.v1.invoices.list(params={"subscription": subscription.id})
    assert len(listed.data) == 2
    invoice = client.v1.invoices.retrieve(listed.data[0].id)
    assert invoice.parent is not None and invoice.parent.subscription_details is not None
    assert invoice.parent.subscription_details.subscription == subscription.id
    assert invoice.number is not None and invoice.number.endswith("-0002")
    assert invoice.hosted_invoice_url and invoice.hosted_invoice_url.startswith("https://")
    assert (invoice.period_start, invoice.period_end) == (NOW, FEB_1)
    usage = [line for line in invoice.lines.data if line.description
             and line.description.startswith("Usage")]
    assert [(u.amount, u.period.start, u.period.end) for u in usage] == [(0, NOW, FEB_1)]
    items = subscription.items.data
    assert {i.current_period_start for i in items} == {FEB_1}
    assert subscription.latest_invoice == invoice.id


def test_a_released_subscription_keeps_billing_after_its_schedule(
        client: stripe.StripeClient) -> None:
    buyer = Clocked(client)
    schedule = buyer.schedule({"items": [{"price": "price_A"}], "end_date": FEB_1},
                              end_behavior="release")
    buyer.advance_to(MAR_1)
    assert client.v1.subscription_schedules.retrieve(schedule).status == "released"
    assert [i.total for i in buyer.invoices()] == [1000, 1000, 1000]
    assert buyer.subscription().status == "active"


def test_canceling_with_invoice_now_credits_the_unused_time(
        client: stripe.StripeClient) -> None:
    buyer = Clocked(client)
    schedule = buyer.schedule({"items": [{"price": "price_A", "quantity": 2}],
                               "end_date": APR_1})
    buyer.advance_to(FEB_1 + 14 * DAY)
    client.v1.subscription_schedules.cancel(schedule, params={"invoice_now": True,
                                                              "prorate": True})
    assert [i.total for i in buyer.invoices()] == [2000, 2000, -1000]
    assert client.v1.customers.retrieve(buyer.customer).balance == -1000
    assert buyer.subscription().status == "canceled"


def test_an_update_to_the_current_phase_prorates_from_the_moment_of_the_update(
        client: stripe.StripeClient) -> None:
    buyer = Clocked(client)
    schedule = buyer.schedule({"items": [{"price": "price_A", "quantity": 1}],
                               "end_date": APR_1})
    buyer.advance_to(FEB_1 + 14 * DAY)
    client.v1.subscription_schedules.update(schedule, params={"phases": [
        {"start_date": NOW, "end_date": APR_1, "items": [{"price": "price_A", "quantity": 3}]}]})
    buyer.advance_to(MAR_1)
    march = buyer.invoices()[-1]
    assert sorted(a for a, _ in _lines(march)) == [-500, 1500, 3000]


def test_the_clock_refuses_to_jump_past_two_billing_periods(
        client: stripe.StripeClient) -> None:
    buyer = Clocked(client)
    buyer.schedule({"items": [{"price": "price_A"}], "end_date": APR_1})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.test_helpers.test_clocks.advance(buyer.clock.id,
                                                   params={"frozen_time": NOW + 70 * DAY})


def test_without_test_clocks_billing_can_follow_the_emulators_own_clock() -> None:
    with StripeEmulator(seed={**SEED, "customers": [{"id": "cus_A"}]}, now=NOW,
                        bill_without_test_clock=True).running() as emu:
        client = stripe.StripeClient("sk_test_billing", base_addresses={"api": emu.url},
                                     max_network_retries=0)
        client.v1.subscription_schedules.create(params={
            "customer": "cus_A", "start_date": NOW,
            "phases": [{"items": [{"price": "price_A"}], "end_date": APR_1}]})
        requests.post(f"{emu.url}/_emulator/clock", json={"now": MAR_1 + DAY}, timeout=5)
        totals = [i.total for i in client.v1.invoices.list(params={"customer": "cus_A"}).data]
        assert totals == [1000, 1000, 1000]


def test_webhook_endpoints_get_the_events_they_want_signed_in_order(
        client: stripe.StripeClient, emu: StripeEmulator) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from pydantic import SecretStr

    from sf_stripe_sync.catalog.webhooks import verify_event

    deliveries: list[tuple[bytes, str]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            deliveries.append((body, str(self.headers["Stripe-Signature"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    buyer = Clocked(client)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.webhook_endpoints.create(params={"url": "https://example.com/hook",
                                                   "enabled_events": ["*"]})
    try:
        made = client.v1.webhook_endpoints.create(params={
            "url": f"http://127.0.0.1:{server.server_address[1]}/hook",
            "enabled_events": ["invoice.paid", "customer.subscription.created",
                               "customer.subscription.updated"]})
        assert client.v1.webhook_endpoints.retrieve(made.id).secret is None
        buyer.schedule({"items": [{"price": "price_A"}], "end_date": MAR_1})
        buyer.advance_to(FEB_1)
        emu.deliver_webhooks()
    finally:
        server.shutdown()
        server.server_close()
    received = [verify_event(body, sig, SecretStr(str(made.secret))) for body, sig in deliveries]
    types = [e["type"] for e in received]
    assert types[0] == "customer.subscription.created"
    assert types.count("invoice.paid") == 2
    assert set(types) == {"invoice.paid", "customer.subscription.created",
                          "customer.subscription.updated"}
    created = [e["created"] for e in received]
    assert created == sorted(created)


def test_a_retried_advance_with_the_same_key_bills_once(client: stripe.StripeClient) -> None:
    buyer = Clocked(client)
    buyer.schedule({"items": [{"price": "price_A"}], "end_date": APR_1})
    clocks = client.v1.test_helpers.test_clocks
    for _ in range(2):
        clocks.advance(buyer.clock.id, params={"frozen_time": FEB_1},
                       options={"idempotency_key": "advance-to-feb"})
    assert [i.total for i in buyer.invoices()] == [1000, 1000]
    with pytest.raises(stripe.IdempotencyError):
        clocks.advance(buyer.clock.id, params={"frozen_time": MAR_1},
                       options={"idempotency_key": "advance-to-feb"})
