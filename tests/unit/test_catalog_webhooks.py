"""Webhook deliveries are applied only with a valid Stripe-Signature."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import requests
import stripe
from pydantic import SecretStr

from sf_stripe_sync.catalog.webhooks import WebhookEndpoint, verify_event
from sf_stripe_sync.errors import TerminalError, TransientError

SECRET = SecretStr("whsec_test_catalog")
EVENT = {"id": "evt_1", "object": "event", "type": "price.created",
         "data": {"object": {"id": "price_1", "object": "price"}}}


def _signed(payload: str, secret: str = "whsec_test_catalog", at: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=at)


def test_a_correctly_signed_payload_gives_its_event() -> None:
    payload = json.dumps(EVENT)
    event = verify_event(payload.encode(), _signed(payload), SECRET)
    assert event["id"] == "evt_1" and event["data"]["object"]["id"] == "price_1"


@pytest.mark.parametrize("signature", [
    None, "t=1,v1=deadbeef", "garbage",
])
def test_a_missing_or_wrong_signature_is_refused(signature: str | None) -> None:
    with pytest.raises(TerminalError) as caught:
        verify_event(json.dumps(EVENT), signature, SECRET)
    assert caught.value.code == "invalid_signature"


def test_a_tampered_payload_or_another_secret_is_refused() -> None:
    payload = json.dumps(EVENT)
    header = _signed(payload)
    with pytest.raises(TerminalError):
        verify_event(payload.replace("price_1", "price_2"), header, SECRET)
    with pytest.raises(TerminalError):
        verify_event(payload, _signed(payload, "whsec_other"), SECRET)


def test_an_old_signature_is_refused_unless_the_tolerance_is_off() -> None:
    payload = json.dumps(EVENT)
    old = _signed(payload, at=int(time.time()) - 3600)
    with pytest.raises(TerminalError):
        verify_event(payload, old, SECRET, tolerance=300)
    assert verify_event(payload, old, SECRET, tolerance=0)["id"] == "evt_1"


@pytest.mark.integration
def test_the_endpoint_applies_signed_events_and_refuses_the_rest() -> None:
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any]) -> str:
        seen.append(event)
        return "created"

    endpoint = WebhookEndpoint(handler, SECRET).start(port=0)
    try:
        payload = json.dumps(EVENT)
        good = requests.post(endpoint.url, data=payload,
                             headers={"Stripe-Signature": _signed(payload)}, timeout=5)
        bad = requests.post(endpoint.url, data=payload,
                            headers={"Stripe-Signature": "t=1,v1=00"}, timeout=5)
    finally:
        endpoint.stop()
    assert good.status_code == 200 and good.json()["outcome"] == "created"
    assert bad.status_code == 400
    assert [e["id"] for e in seen] == ["evt_1"]


def test_a_transient_failure_asks_stripe_to_deliver_again() -> None:
    def handler(event: dict[str, Any]) -> str:
        raise TransientError("Salesforce is busy")

    payload = json.dumps(EVENT)
    status, answer = WebhookEndpoint(handler, SECRET).answer(payload.encode(), _signed(payload))
    assert status == 503 and "again" in answer["error"]
