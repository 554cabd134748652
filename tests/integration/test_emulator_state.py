"""Seeds, the state file, reset and the ``sandbox stripe`` command."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import stripe

from sf_stripe_sync.cli import main
from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator

pytestmark = pytest.mark.integration

SEED = {"products": [{"id": "prod_A", "name": "A"}],
        "prices": [{"id": "price_A", "product": "prod_A", "currency": "usd",
                    "unit_amount": 1000, "recurring": {"interval": "month"}}],
        "customers": [{"id": "cus_A", "metadata": {"salesforce_account_id": "001A"}}],
        "coupons": [{"id": "TEN", "percent_off": 10}]}


def _client(emu: StripeEmulator) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_state", base_addresses={"api": emu.url},
                               max_network_retries=0)


def test_seed_file_objects_are_served_with_stripe_defaults(tmp_path: Path) -> None:
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(SEED))
    with StripeEmulator(seed=seed_file).running() as emu:
        client = _client(emu)
        price = client.v1.prices.retrieve("price_A")
        assert price.recurring.usage_type == "licensed" and price.active is True
        assert client.v1.coupons.retrieve("TEN").valid is True
        assert client.v1.customers.retrieve("cus_A").metadata["salesforce_account_id"] == "001A"


def test_state_file_round_trip_keeps_objects_redemptions_and_keys(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    options: stripe.RequestOptions = {"idempotency_key": "schedule-1"}
    params: stripe.params.SubscriptionScheduleCreateParams = {
        "customer": "cus_A", "start_date": 1_700_000_000,
        "phases": [{"items": [{"price": "price_A"}], "end_date": 1_710_000_000,
                    "discounts": [{"coupon": "TEN"}]}]}
    with StripeEmulator(seed=SEED, state_file=state, now=1_700_000_000).running() as emu:
        created = _client(emu).v1.subscription_schedules.create(params=params, options=options)
    saved = json.loads(state.read_text())
    assert "sk_test_state" not in state.read_text()
    assert saved["version"] == 1

    with StripeEmulator(seed=SEED, state_file=state, now=1_700_000_000).running() as emu:
        client = _client(emu)
        assert client.v1.subscription_schedules.retrieve(created.id).customer == "cus_A"
        assert client.v1.coupons.retrieve("TEN").times_redeemed == 1
        replayed = client.v1.subscription_schedules.create(params=params, options=options)
        assert replayed.id == created.id
        assert len(emu.objects("subscription_schedule")) == 1


def test_reset_returns_to_the_seed(tmp_path: Path) -> None:
    with StripeEmulator(seed=SEED).running() as emu:
        _client(emu).v1.customers.create()
        assert len(emu.objects("customer")) == 2
        requests.post(f"{emu.url}/_emulator/reset", timeout=5)
        assert [c["id"] for c in emu.objects("customer")] == ["cus_A"]
        assert emu.requests() == []


def test_unknown_object_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        StripeEmulator().objects("quote")


def test_cli_refuses_an_unreadable_seed_with_exit_code_2(tmp_path: Path) -> None:
    assert main(["sandbox", "stripe", "--port", "0", "--seed", str(tmp_path / "none")]) == 2


def test_cli_serves_until_interrupted_and_saves_state(tmp_path: Path) -> None:
    state = tmp_path / "cli-state.json"
    seed_file = tmp_path / "seed.json"
    seed_file.write_text(json.dumps(SEED))
    process = subprocess.Popen(
        [sys.executable, "-m", "sf_stripe_sync.cli", "sandbox", "stripe", "--port", "0",
         "--seed", str(seed_file), "--state", str(state)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert found, line
        client = stripe.StripeClient("sk_test_cli", base_addresses={"api": found.group(0)},
                                     max_network_retries=0)
        made = client.v1.customers.create(params={"email": "cli@example.com"})
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
    assert process.returncode == 0
    stored = json.loads(state.read_text())["store"]["objects"][""]["customer"]
    assert made.id in stored and "cus_A" in stored
