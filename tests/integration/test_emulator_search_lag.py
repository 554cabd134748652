"""Search trails writes, as Stripe's eventually consistent search does."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest
import stripe

from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator

pytestmark = pytest.mark.integration

NOW = 1_700_000_000
LAG = 60


@pytest.fixture
def emu() -> Iterator[StripeEmulator]:
    with StripeEmulator(now=NOW, search_lag_seconds=LAG).running() as running:
        yield running


@pytest.fixture
def client(emu: StripeEmulator) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_lag", base_addresses={"api": emu.url},
                               max_network_retries=0)


def _found(client: stripe.StripeClient, query: str) -> list[str]:
    return [c.id for c in client.v1.customers.search(params={"query": query}).data]


def test_new_customer_is_readable_at_once_but_searchable_only_after_the_lag(
    emu: StripeEmulator, client: stripe.StripeClient,
) -> None:
    created = client.v1.customers.create(params={"metadata": {"sf_account": "001A"}})
    query = "metadata['sf_account']:'001A'"
    assert _found(client, query) == []
    assert client.v1.customers.retrieve(created.id).id == created.id
    assert [c.id for c in client.v1.customers.list().data] == [created.id]
    emu.advance(LAG - 1)
    assert _found(client, query) == []
    emu.advance(1)
    assert _found(client, query) == [created.id]


def test_updated_customer_is_found_as_it_was_until_the_lag_passes(
    emu: StripeEmulator, client: stripe.StripeClient,
) -> None:
    created = client.v1.customers.create(params={"name": "Old Name"})
    emu.advance(LAG)
    client.v1.customers.update(created.id, params={"name": "New Name"})
    assert _found(client, "name:'Old Name'") == [created.id]
    assert _found(client, "name:'New Name'") == []
    emu.advance(LAG)
    assert _found(client, "name:'Old Name'") == []
    assert _found(client, "name:'New Name'") == [created.id]


def test_create_then_find_by_search_misses_and_a_naive_caller_duplicates(
    client: stripe.StripeClient,
) -> None:
    def find_or_create() -> str:
        found = _found(client, "metadata['sf_account']:'001B'")
        if found:
            return found[0]
        return client.v1.customers.create(params={"metadata": {"sf_account": "001B"}}).id

    first, second = find_or_create(), find_or_create()
    assert first != second  # what Stripe does to code that trusts search right after a write


def test_refused_write_leaves_search_untouched(
    emu: StripeEmulator, client: stripe.StripeClient,
) -> None:
    created = client.v1.customers.create(params={"name": "Kept"})
    emu.advance(LAG)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.update(created.id, params={"name": "x" * 300})
    assert _found(client, "name:'Kept'") == [created.id]


def test_products_and_prices_search_lag_too(
    emu: StripeEmulator, client: stripe.StripeClient,
) -> None:
    product = client.v1.products.create(params={"name": "Lagging",
                                                "metadata": {"sf": "01t1"}})
    price = client.v1.prices.create(params={"product": product.id, "currency": "usd",
                                            "unit_amount": 100,
                                            "metadata": {"sf": "01u1"}})
    assert client.v1.products.search(params={"query": "metadata['sf']:'01t1'"}).data == []
    assert client.v1.prices.search(params={"query": "metadata['sf']:'01u1'"}).data == []
    emu.advance(LAG)
    assert [p.id for p in client.v1.products.search(
        params={"query": "metadata['sf']:'01t1'"}).data] == [product.id]
    assert [p.id for p in client.v1.prices.search(
        params={"query": "metadata['sf']:'01u1'"}).data] == [price.id]


def test_without_a_lag_search_sees_writes_at_once() -> None:
    with StripeEmulator(now=NOW).running() as emu:
        client = stripe.StripeClient("sk_test_lag", base_addresses={"api": emu.url},
                                     max_network_retries=0)
        created = client.v1.customers.create(params={"name": "Instant"})
        assert _found(client, "name:'Instant'") == [created.id]


def test_sandbox_stripe_takes_the_lag_from_the_command_line() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "sf_stripe_sync.cli", "sandbox", "stripe", "--port", "0",
         "--search-lag-seconds", "3600"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        found = re.search(r"http://127\.0\.0\.1:\d+", process.stdout.readline())
        assert found
        client = stripe.StripeClient("sk_test_lag", base_addresses={"api": found.group(0)},
                                     max_network_retries=0)
        created = client.v1.customers.create(params={"name": "Cli Lag"})
        assert client.v1.customers.retrieve(created.id).name == "Cli Lag"
        assert _found(client, "name:'Cli Lag'") == []
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    assert process.returncode == 0
