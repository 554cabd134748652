"""Shared setup for the gateway tests: a local Stripe emulator, prices, plans.

The emulator listens on 127.0.0.1 on an ephemeral port; catalog objects are made through
the raw SDK so the tests depend only on the public HTTP API.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import stripe
from pydantic import SecretStr

from sf_stripe_sync.config import StripeAccountSettings
from sf_stripe_sync.core.keys import operation_key
from sf_stripe_sync.core.models import (
    DesiredSchedule,
    Discount,
    OperationKind,
    OrderPlan,
    Phase,
    PhaseItem,
    PhaseProperties,
)
from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator
from sf_stripe_sync.stripe.client import build_client
from sf_stripe_sync.stripe.gateway import StripeGateway
from sf_stripe_sync.stripe.retry import RetryPolicy

API_KEY = SecretStr("sk_test_gateway_suite")
JAN = datetime(2025, 1, 1, tzinfo=UTC)
APR = datetime(2025, 4, 1, tzinfo=UTC)
JUN = datetime(2025, 6, 1, tzinfo=UTC)
NEXT_JAN = datetime(2026, 1, 1, tzinfo=UTC)
BEFORE_JAN = int(datetime(2024, 12, 1, tzinfo=UTC).timestamp())


@dataclass
class Stand:
    """One emulator, a raw SDK client on it, a gateway, two prices and a customer."""

    emu: StripeEmulator
    raw: stripe.StripeClient
    gateway: StripeGateway
    price_a: str
    price_b: str
    customer: str

    def posts(self, since: int = 0) -> list[dict[str, Any]]:
        return [r for r in self.emu.requests()[since:] if r["method"] == "POST"]

    def mark(self) -> int:
        return len(self.emu.requests())


SEED: dict[str, Any] = {
    "customers": [{"id": "cus_acme", "name": "Acme"}],
    "products": [{"id": "prod_widget", "name": "Widget"}],
    "prices": [
        {"id": "price_A", "product": "prod_widget", "currency": "usd", "unit_amount": 1000,
         "recurring": {"interval": "month"}},
        {"id": "price_B", "product": "prod_widget", "currency": "usd", "unit_amount": 2500,
         "recurring": {"interval": "month"}},
    ],
    "coupons": [{"id": "co_existing", "percent_off": 5, "duration": "forever"}],
}


def make_stand(now: int = BEFORE_JAN, retry: RetryPolicy | None = None) -> Stand:
    emu = StripeEmulator(seed=SEED, now=now)
    emu.start(host="127.0.0.1", port=0)
    account = StripeAccountSettings(name="default", api_base=emu.url, max_retries=8)
    raw = build_client(account, API_KEY)
    gateway = StripeGateway.from_settings(account, API_KEY,
                                          retry=retry or RetryPolicy.no_wait())
    return Stand(emu, raw, gateway, "price_A", "price_B", "cus_acme")


@pytest.fixture()
def stand() -> Iterator[Stand]:
    made = make_stand()
    try:
        yield made
    finally:
        made.emu.stop()


def phase(start: datetime, end: datetime | None, *items: PhaseItem,
          discount: Discount | None = None) -> Phase:
    return Phase(start=start, end=end, items=items,
                 properties=PhaseProperties(currency="usd", discount=discount))


def item(price: str, quantity: int, *ids: str, discount: Discount | None = None) -> PhaseItem:
    return PhaseItem(price=price, quantity=quantity, order_item_ids=ids, discount=discount)


def plan(*phases: Phase, fingerprint: str = "fp-1", end_behavior: str = "cancel",
         operation: OperationKind = OperationKind.CREATE, contract_key: str = "800C1"
         ) -> OrderPlan:
    return OrderPlan.model_validate({
        "order_id": "801O1", "contract_key": contract_key, "operation": operation,
        "stripe_account": "default", "fingerprint": fingerprint,
        "schedule": DesiredSchedule.model_validate(
            {"phases": phases, "end_behavior": end_behavior}),
        "metadata": {"salesforce_order_id": "801O1"},
    })


def discounted_plan(stand: Stand, *, quantity: int = 2, fingerprint: str = "fp-1") -> OrderPlan:
    """Two phases, one phase discount and one item discount: two coupons to make."""
    return plan(
        phase(JAN, JUN, item(stand.price_a, quantity, "802a"),
              discount=Discount(percent_off=Decimal("10"))),
        phase(JUN, NEXT_JAN, item(stand.price_a, quantity, "802a"),
              item(stand.price_b, 1, "802b", discount=Discount(amount_off=550, currency="usd"))),
        fingerprint=fingerprint,
    )


def key_for(p: OrderPlan) -> str:
    return operation_key("default", p.operation.value, p.order_id, p.fingerprint)


def cancel_of(p: OrderPlan, schedule_id: str, *, invoice_now: bool = False,
              prorate: bool = False) -> OrderPlan:
    """The cancel plan of the schedule ``p`` made: cancel terms travel in the plan."""
    return p.model_copy(update={"operation": OperationKind.CANCEL, "schedule_id": schedule_id,
                                "invoice_now": invoice_now, "prorate": prorate})
