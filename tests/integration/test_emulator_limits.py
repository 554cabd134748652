"""Stripe's size limits, as the SDK meets them: refused just over each limit, accepted at it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import stripe

from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator
from sf_stripe_sync.sandbox.stripe_emulator.limits import tree_for
from sf_stripe_sync.sandbox.stripe_emulator.routes import ROUTES

pytestmark = pytest.mark.integration

NOW = 1_700_000_000
SEED = {"products": [{"id": "prod_A", "name": "A"}],
        "prices": [{"id": "price_A", "product": "prod_A", "currency": "usd",
                    "unit_amount": 1000, "recurring": {"interval": "month"}}],
        "customers": [{"id": "cus_A"}]}


@pytest.fixture(scope="module")
def emu() -> Iterator[StripeEmulator]:
    with StripeEmulator(seed=SEED, now=NOW).running() as running:
        yield running


@pytest.fixture
def client(emu: StripeEmulator) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_limits", base_addresses={"api": emu.url},
                               max_network_retries=0)


Call = Callable[[stripe.StripeClient, int], Any]


def _customer_name(c: stripe.StripeClient, n: int) -> Any:
    return c.v1.customers.create(params={"name": "n" * n})


def _customer_phone(c: stripe.StripeClient, n: int) -> Any:
    return c.v1.customers.create(params={"phone": "5" * n})


def _statement_descriptor(c: stripe.StripeClient, n: int) -> Any:
    return c.v1.products.create(params={"name": "P", "statement_descriptor": "S" * n})


def _feature_name(c: stripe.StripeClient, n: int) -> Any:
    key = f"feat-{n}-{id(c)}"
    return c.v1.entitlements.features.create(params={"name": "f" * n, "lookup_key": key})


def _metadata_key(c: stripe.StripeClient, n: int) -> Any:
    return c.v1.customers.create(params={"metadata": {"k" * n: "v"}})


def _metadata_value(c: stripe.StripeClient, n: int) -> Any:
    return c.v1.customers.create(params={"metadata": {"note": "v" * n}})


def _metadata_count(c: stripe.StripeClient, n: int) -> Any:
    return c.v1.customers.create(params={"metadata": {f"k{i}": "v" for i in range(n)}})


def _phase_metadata_value(c: stripe.StripeClient, n: int) -> Any:
    return c.v1.subscription_schedules.create(params={
        "customer": "cus_A", "start_date": NOW,
        "phases": [{"items": [{"price": "price_A"}], "duration": {"interval": "month"},
                    "metadata": {"note": "v" * n}}]})


def _idempotency_key(c: stripe.StripeClient, n: int) -> Any:
    return c.v1.customers.create(params={"name": "I"},
                                 options={"idempotency_key": "k" * (n - 5) + f"{n:05d}"})


LIMITS: list[tuple[str, Call, int, str | None]] = [
    ("customer name", _customer_name, 256, "name"),
    ("customer phone", _customer_phone, 20, "phone"),
    ("product statement descriptor", _statement_descriptor, 22, "statement_descriptor"),
    ("entitlement feature name", _feature_name, 80, "name"),
    ("metadata key length", _metadata_key, 40, "metadata"),
    ("metadata value length", _metadata_value, 500, "metadata"),
    ("metadata key count", _metadata_count, 50, "metadata"),
    ("nested metadata value", _phase_metadata_value, 500, "phases[0][metadata]"),
    ("idempotency key length", _idempotency_key, 255, None),
]


@pytest.mark.parametrize(("what", "call", "limit", "param"), LIMITS,
                         ids=[row[0] for row in LIMITS])
def test_limit_is_accepted_at_and_refused_just_over(
    client: stripe.StripeClient, what: str, call: Call, limit: int, param: str | None,
) -> None:
    assert call(client, limit)["id"]
    with pytest.raises(stripe.InvalidRequestError) as info:
        call(client, limit + 1)
    assert info.value.http_status == 400
    assert info.value.param == param
    assert info.value.error is not None and info.value.error.type == "invalid_request_error"
    assert str(limit) in str(info.value.user_message)


def test_too_long_string_is_named_by_its_full_path_and_abbreviated(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.create(params={"invoice_settings": {
            "custom_fields": [{"name": "ok", "value": "v"}, {"name": "x" * 31, "value": "v"}]}})
    assert info.value.param == "invoice_settings[custom_fields][1][name]"
    assert info.value.user_message == (
        "Invalid string: xxxxxxxxxx...xxxxxxxxxx; must be at most 30 characters")


def test_refused_request_is_not_saved_under_its_idempotency_key(
    client: stripe.StripeClient,
) -> None:
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.create(params={"name": "n" * 300},
                                   options={"idempotency_key": "limits-retry"})
    created = client.v1.customers.create(params={"name": "n" * 256},
                                         options={"idempotency_key": "limits-retry"})
    assert created.name == "n" * 256


def _sample_path(pattern: re.Pattern[str]) -> str:
    text = pattern.pattern.strip("^$").replace("(?P<id>[^/]+", "(x")
    text = text.replace("[^/]+", "x").replace("(", "").replace(")", "")
    return text.replace("\\", "")


def test_every_endpoint_the_emulator_serves_has_its_limits_table() -> None:
    missing = [f"{r.method} {_sample_path(r.pattern)}" for r in ROUTES
               if r.method != "DELETE" and tree_for(r.method, _sample_path(r.pattern)) is None]
    assert missing == []


def test_metadata_keys_are_counted_on_the_object_after_an_update(
    client: stripe.StripeClient,
) -> None:
    created = client.v1.customers.create(params={"metadata": {f"a{i}": "v" for i in range(30)}})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.update(created.id,
                                   params={"metadata": {f"b{i}": "v" for i in range(21)}})
    assert info.value.param == "metadata"
    assert "you've set 51" in str(info.value.user_message)
    removing = {f"a{i}": "" for i in range(21)} | {f"b{i}": "v" for i in range(21)}
    updated = client.v1.customers.update(created.id, params={"metadata": removing})
    assert len(updated.metadata.to_dict()) == 30


def test_a_string_the_table_does_not_know_gets_stripes_common_5000(
    client: stripe.StripeClient,
) -> None:
    assert tree_for("POST", "/v1/customers") is not None
    assert "business_name" not in (tree_for("POST", "/v1/customers") or {})
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.create(params={"business_name": "b" * 5001})
    assert info.value.param == "business_name"
