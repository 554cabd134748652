"""Injected faults reach the SDK as the exceptions Stripe's real failures raise."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import stripe

from sf_stripe_sync.sandbox.stripe_emulator import FaultConfig, StripeEmulator

pytestmark = pytest.mark.integration


@pytest.fixture
def emu() -> Iterator[StripeEmulator]:
    with StripeEmulator(now=1_700_000_000).running() as running:
        yield running


@pytest.fixture
def client(emu: StripeEmulator) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_faults", base_addresses={"api": emu.url},
                               max_network_retries=0)


def test_injected_500_raises_api_error_and_creates_nothing(
    emu: StripeEmulator, client: stripe.StripeClient,
) -> None:
    emu.set_faults(FaultConfig(script=("error",)))
    with pytest.raises(stripe.APIError) as info:
        client.v1.customers.create()
    assert info.value.http_status == 500
    assert info.value.headers is not None
    assert info.value.headers["Stripe-Should-Retry"] == "true"
    assert emu.objects("customer") == []


def test_lock_timeout_raises_rate_limit_error_marked_retryable(
    emu: StripeEmulator, client: stripe.StripeClient,
) -> None:
    emu.set_faults(FaultConfig(script=("lock_timeout",)))
    with pytest.raises(stripe.RateLimitError) as info:
        client.v1.customers.list()
    assert info.value.json_body is not None
    assert info.value.json_body["error"]["code"] == "lock_timeout"
    assert info.value.headers is not None
    assert info.value.headers["Stripe-Should-Retry"] == "true"


def test_rate_limit_refuses_requests_over_the_budget(
    emu: StripeEmulator, client: stripe.StripeClient,
) -> None:
    emu.set_faults(FaultConfig(rate_limit=0.001))  # one request, then a refill in ~17 min
    client.v1.customers.list()
    with pytest.raises(stripe.RateLimitError) as info:
        client.v1.customers.list()
    assert info.value.json_body is not None
    assert info.value.json_body["error"]["code"] == "rate_limit"
    assert [r["status"] for r in emu.requests()] == [200, 429]


def test_dropped_connection_raises_connection_error_and_executes_nothing(
    emu: StripeEmulator, client: stripe.StripeClient,
) -> None:
    emu.set_faults(FaultConfig(script=("drop",)))
    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.create(options={"idempotency_key": "dropped"})
    assert emu.objects("customer") == []
    created = client.v1.customers.create(options={"idempotency_key": "dropped"})
    assert [c["id"] for c in emu.objects("customer")] == [created.id]


def test_lost_response_leaves_the_object_and_replay_returns_it(
    emu: StripeEmulator, client: stripe.StripeClient,
) -> None:
    emu.set_faults(FaultConfig(script=("lost",)))
    options: stripe.RequestOptions = {"idempotency_key": "lost-once"}
    with pytest.raises(stripe.APIConnectionError):
        client.v1.customers.create(params={"email": "lost@example.com"}, options=options)
    stored = emu.objects("customer")
    assert len(stored) == 1

    replayed = client.v1.customers.create(params={"email": "lost@example.com"}, options=options)
    assert replayed.id == stored[0]["id"]
    assert len(emu.objects("customer")) == 1
    assert emu.requests()[-1]["replayed"] is True


def test_fault_seed_replays_the_same_fault_sequence(emu: StripeEmulator) -> None:
    def outcomes() -> list[int | None]:
        emu.clear_requests()
        emu.set_faults(FaultConfig(error_rate=0.5, seed=7))
        for _ in range(12):
            requests.get(f"{emu.url}/v1/customers", timeout=5,
                         headers={"Authorization": "Bearer sk_test_x"})
        return [r["status"] for r in emu.requests()]

    first = outcomes()
    assert set(first) == {200, 500}
    assert outcomes() == first


def test_control_endpoints_are_never_faulted_nor_logged(emu: StripeEmulator) -> None:
    response = requests.post(f"{emu.url}/_emulator/faults", json={"error_rate": 1.0},
                             timeout=5)
    assert response.json()["error_rate"] == 1.0
    assert requests.get(f"{emu.url}/_emulator/requests", timeout=5).status_code == 200
    assert requests.get(f"{emu.url}/_emulator/objects/customer", timeout=5).json()["data"] == []
    api = requests.get(f"{emu.url}/v1/customers", timeout=5,
                       headers={"Authorization": "Bearer sk_test_x"})
    assert api.status_code == 500
    log = requests.get(f"{emu.url}/_emulator/requests", timeout=5).json()["data"]
    assert [entry["path"] for entry in log] == ["/v1/customers"]
    requests.delete(f"{emu.url}/_emulator/faults", timeout=5)
    assert emu.faults_config().error_rate == 0.0


def test_unknown_fault_setting_is_refused(emu: StripeEmulator) -> None:
    response = requests.post(f"{emu.url}/_emulator/faults", json={"eror_rate": 1.0}, timeout=5)
    assert response.status_code == 400
    assert "eror_rate" in response.json()["error"]["message"]
