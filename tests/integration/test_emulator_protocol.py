"""Authentication, parameter validation and idempotency, as the SDK sees them."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
import stripe

from sf_stripe_sync.sandbox.stripe_emulator import FaultConfig, StripeEmulator

pytestmark = pytest.mark.integration

NOW = 1_700_000_000
SEED = {"products": [{"id": "prod_A", "name": "A"}],
        "prices": [{"id": "price_A", "product": "prod_A", "currency": "usd",
                    "unit_amount": 1000, "recurring": {"interval": "month"}}],
        "customers": [{"id": "cus_A"}]}


@pytest.fixture
def emu() -> Iterator[StripeEmulator]:
    with StripeEmulator(seed=SEED, now=NOW).running() as running:
        yield running


@pytest.fixture
def client(emu: StripeEmulator) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_protocol", base_addresses={"api": emu.url},
                               max_network_retries=0)


def test_request_without_api_key_gets_401(emu: StripeEmulator) -> None:
    response = requests.get(f"{emu.url}/v1/customers", timeout=5)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert response.headers["Request-Id"].startswith("req_")


def test_malformed_key_raises_authentication_error_without_echoing_it(
    emu: StripeEmulator,
) -> None:
    bad = stripe.StripeClient("pk_live_secretvalue1234", base_addresses={"api": emu.url},
                              max_network_retries=0)
    with pytest.raises(stripe.AuthenticationError) as info:
        bad.v1.customers.list()
    assert "secretvalue" not in str(info.value.user_message)


def test_misspelled_nested_parameter_names_its_path(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_schedules.create(params={  # type: ignore[typeddict-unknown-key]
            "customer": "cus_A",
            "phases": [{"itemz": [{"price": "price_A"}], "end_date": NOW + 1000}]})
    assert info.value.param == "phases[0][itemz]"
    assert info.value.code == "parameter_unknown"
    assert info.value.user_message == "Received unknown parameter: phases[0][itemz]"
    assert info.value.request_id is not None and info.value.request_id.startswith("req_")


def test_literal_values_are_enforced(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.subscription_schedules.create(params={
            "customer": "cus_A", "phases": [{"items": [{"price": "price_A"}],
                                             "collection_method": "by_carrier_pigeon"}]})
    assert info.value.param == "phases[0][collection_method]"


def test_non_integer_is_refused_with_stripes_code(emu: StripeEmulator) -> None:
    response = requests.post(f"{emu.url}/v1/coupons", data={"percent_off": "10",
                             "duration": "once", "max_redemptions": "many"},
                             headers={"Authorization": "Bearer sk_test_x"}, timeout=5)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parameter_invalid_integer"
    assert response.headers["Stripe-Should-Retry"] == "false"


def test_unknown_url_is_404(emu: StripeEmulator) -> None:
    response = requests.get(f"{emu.url}/v1/widgets", timeout=5,
                            headers={"Authorization": "Bearer sk_test_x"})
    assert response.status_code == 404
    assert "Unrecognized request URL" in response.json()["error"]["message"]


def test_replay_returns_the_same_object_and_marks_it(emu: StripeEmulator) -> None:
    headers = {"Authorization": "Bearer sk_test_x", "Idempotency-Key": "key-1"}
    first = requests.post(f"{emu.url}/v1/customers", data={"email": "a@example.com"},
                          headers=headers, timeout=5)
    second = requests.post(f"{emu.url}/v1/customers", data={"email": "a@example.com"},
                           headers=headers, timeout=5)
    assert second.status_code == 200
    assert second.json() == first.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(emu.objects("customer")) == 2  # the seeded one and ours, not a third
    assert [r["replayed"] for r in emu.requests()] == [False, True]


def test_sdk_replay_with_same_key_creates_nothing_new(emu: StripeEmulator,
                                                      client: stripe.StripeClient) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "create-once"}
    one = client.v1.coupons.create(params={"percent_off": 5, "duration": "once"},
                                   options=options)
    two = client.v1.coupons.create(params={"percent_off": 5, "duration": "once"},
                                   options=options)
    assert one.id == two.id
    assert len(emu.objects("coupon")) == 1


def test_same_key_with_other_parameters_raises_idempotency_error(
    client: stripe.StripeClient,
) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "k"}
    client.v1.customers.create(params={"email": "a@example.com"}, options=options)
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(params={"email": "b@example.com"}, options=options)


def test_same_key_on_another_endpoint_raises_idempotency_error(
    client: stripe.StripeClient,
) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "k"}
    client.v1.customers.create(options=options)
    with pytest.raises(stripe.IdempotencyError):
        client.v1.coupons.create(params={"percent_off": 5}, options=options)


def test_business_refusal_is_saved_but_validation_failure_is_not(
    emu: StripeEmulator, client: stripe.StripeClient,
) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "price-k"}
    params: stripe.params.PriceCreateParams = {"product": "prod_later", "currency": "usd",
                                               "unit_amount": 100}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.prices.create(params=params, options=options)
    client.v1.products.create(params={"id": "prod_later", "name": "Later"})
    with pytest.raises(stripe.InvalidRequestError):  # the saved 400 replays
        client.v1.prices.create(params=params, options=options)
    assert emu.requests()[-1]["replayed"] is True

    bad: dict[str, object] = {"percent_off": 5, "duration": "sometimes"}
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.coupons.create(params=bad, options={"idempotency_key": "c-k"})  # type: ignore[arg-type]
    fixed = client.v1.coupons.create(params={"percent_off": 5, "duration": "once"},
                                     options={"idempotency_key": "c-k"})
    assert fixed.percent_off == 5


def test_keys_expire_after_a_day_on_the_emulator_clock(
    emu: StripeEmulator, client: stripe.StripeClient,
) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "day-key"}
    first = client.v1.customers.create(options=options)
    emu.advance(24 * 3600)
    second = client.v1.customers.create(options=options)
    assert first.id != second.id


def test_keys_are_scoped_per_connected_account(emu: StripeEmulator) -> None:
    def client_for(account: str | None) -> stripe.StripeClient:
        return stripe.StripeClient("sk_test_protocol", base_addresses={"api": emu.url},
                                   max_network_retries=0, stripe_account=account)

    options: stripe.RequestOptions = {"idempotency_key": "shared"}
    platform = client_for(None).v1.customers.create(options=options)
    connected = client_for("acct_9").v1.customers.create(options=options)
    assert platform.id != connected.id


def test_concurrent_request_with_key_in_flight_gets_retryable_409(
    emu: StripeEmulator, client: stripe.StripeClient,
) -> None:
    emu.set_faults(FaultConfig(latency_ms=1500))
    options: stripe.RequestOptions = {"idempotency_key": "busy"}
    results: list[object] = []
    first = threading.Thread(target=lambda: results.append(
        client.v1.customers.create(options=options)))
    first.start()
    while emu.core.ledger.in_flight() == 0:
        threading.Event().wait(0.01)
    with pytest.raises(stripe.APIError) as info:
        client.v1.customers.create(options=options)
    first.join()
    assert info.value.http_status == 409
    assert info.value.headers is not None
    assert info.value.headers["Stripe-Should-Retry"] == "true"
    assert len(results) == 1 and len(emu.objects("customer")) == 2
