"""For generated orders, the plan's ``billing_total`` is what Stripe invoices over the term.

Each example plans an order with the pure core (its prices read through the real gateway),
creates the schedule through the real gateway in the Stripe emulator for a customer on
a fresh test clock, advances the clock past the schedule's end, and sums the invoices.
Negotiated amounts (custom prices), partial periods, mid-period phase changes,
percentage discounts and one-time charges are all in the mix.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stripe
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sf_stripe_sync.core.models import OperationKind, OrderBundle
from sf_stripe_sync.core.normalize import normalize_order
from sf_stripe_sync.core.plan import KnownState, plan_order
from sf_stripe_sync.core.pricing import price_ids
from sf_stripe_sync.core.rules import FieldMap, SyncRules
from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator
from sf_stripe_sync.stripe.gateway import StripeGateway

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)
SEED = {
    "products": [{"id": "prod_A", "name": "Seat"}, {"id": "prod_B", "name": "Support"},
                 {"id": "prod_FEE", "name": "Setup"}],
    "prices": [
        {"id": "price_A", "product": "prod_A", "currency": "usd", "unit_amount": 1000,
         "recurring": {"interval": "month"}},
        {"id": "price_B", "product": "prod_B", "currency": "usd", "unit_amount": 3333,
         "recurring": {"interval": "month"}},
        {"id": "price_FEE", "product": "prod_FEE", "currency": "usd", "unit_amount": 5000},
    ],
}
LIST = {"price_A": 10.0, "price_B": 33.33, "price_FEE": 50.0}
FIELDS, RULES = FieldMap(), SyncRules()
EXAMPLE = itertools.count()
"""Each example is its own order: coupon ids derive from the contract and are single-use,
so a replayed example must not find the coupon an earlier one redeemed."""


@pytest.fixture(scope="module")
def client() -> Iterator[stripe.StripeClient]:
    with StripeEmulator(seed=SEED, now=int(NOW.timestamp())).running() as emu:
        yield stripe.StripeClient("sk_test_billing_total", base_addresses={"api": emu.url},
                                  max_network_retries=0)


def _day(offset: int) -> str:
    return (NOW + offset * DAY).date().isoformat()


@st.composite
def orders(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(st.integers(0, 40))
    items: list[dict[str, Any]] = []
    for n in range(draw(st.integers(1, 3))):
        price = draw(st.sampled_from(["price_A", "price_B"]))
        begin = start + draw(st.integers(0, 120)) if n else start
        unit = draw(st.sampled_from([LIST[price], 7.5, 12.34, 0.99]))
        items.append({
            "Id": f"802G{n}", "OrderId": "801G", "Quantity": draw(st.integers(1, 5)),
            "UnitPrice": unit, "Stripe_Price_Id__c": price,
            "ServiceDate": _day(begin), "EndDate": _day(begin + draw(st.integers(20, 400))),
            "Discount_Percent_Off__c": draw(st.sampled_from([None, None, 10, 25])),
        })
    if draw(st.booleans()):
        items.append({"Id": "802GF", "OrderId": "801G", "Quantity": draw(st.integers(1, 3)),
                      "UnitPrice": draw(st.sampled_from([50.0, 45.0])),
                      "Stripe_Price_Id__c": "price_FEE",
                      "ServiceDate": _day(start + draw(st.integers(0, 60))), "EndDate": None})
    order = {"Id": "801G", "Status": "Activated", "AccountId": "001G",
             "EffectiveDate": _day(start), "EndDate": _day(start + 500),
             "CurrencyIsoCode": "USD",
             "Discount_Percent_Off__c": draw(st.sampled_from([None, None, 20]))}
    return {"order": order, "items": items}


def _advance(client: stripe.StripeClient, clock: str, target: datetime) -> None:
    clocks = client.v1.test_helpers.test_clocks
    now = clocks.retrieve(clock).frozen_time
    goal = int(target.timestamp())
    while now < goal:
        now = min(now + 31 * 86_400, goal)
        clocks.advance(clock, params={"frozen_time": now})


@settings(max_examples=int(os.environ.get("BILLING_EXAMPLES", "15")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=orders())
def test_billing_total_is_what_the_invoices_of_the_whole_term_add_up_to(
        client: stripe.StripeClient, data: dict[str, Any]) -> None:
    order_id = f"801G{next(EXAMPLE)}"
    bundle = OrderBundle(order={**data["order"], "Id": order_id},
                         items=tuple({**i, "OrderId": order_id} for i in data["items"]),
                         account={"Id": "001G", "Name": "Generated"})
    order, issues = normalize_order(bundle, fields=FIELDS, rules=RULES)
    assert order is not None
    gateway = StripeGateway.over_client(client, account_name="default")
    prices = gateway.price_facts(price_ids([order]))
    plan = plan_order(order, contract_orders=[], known=KnownState(), rules=RULES,
                      as_of=NOW, stripe_account="default", issues=issues, prices=prices)
    assume(plan.operation is OperationKind.CREATE)  # gaps and conflicts are other tests'
    assert plan.schedule is not None and plan.schedule.end is not None
    assert plan.billing_total is not None

    clock = client.v1.test_helpers.test_clocks.create(
        params={"frozen_time": int(NOW.timestamp())}).id
    customer = client.v1.customers.create(params={"test_clock": clock}).id
    gateway.create_schedule(plan, customer_id=customer, op_key=f"sfss-test-{clock}")
    _advance(client, clock, plan.schedule.end + DAY)

    invoices = client.v1.invoices.list(params={"customer": customer, "limit": 100}).data
    assert sum(i.total for i in invoices) == plan.billing_total
