"""A session's JSON requests: the typed SDK method's request, its answer as plain dicts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe

from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator
from sf_stripe_sync.stripe.retry import RetryPolicy
from sf_stripe_sync.stripe.session import Cost, StripeSession, path_id

pytestmark = pytest.mark.integration

NOW = 1_700_000_000
SEED = {
    "products": [{"id": "prod_A", "name": "A"}],
    "prices": [{"id": "price_A", "product": "prod_A", "currency": "usd", "unit_amount": 1000,
                "recurring": {"interval": "month"}}],
    "customers": [{"id": "cus_A"}],
}
CREATE: dict[str, Any] = {
    "customer": "cus_A", "start_date": NOW, "end_behavior": "cancel",
    "metadata": {"salesforce_contract_key": "800A"},
    "phases": [{"items": [{"price": "price_A", "quantity": 2,
                           "metadata": {"salesforce_order_item_id": "802A,802B"}}],
                "end_date": NOW + 86_400 * 60, "metadata": {"n": "1"}}],
}


class Recorder:
    """Every request the SDK sends: (method, url, body, headers but the telemetry one)."""

    def __init__(self) -> None:
        self.sent: list[tuple[Any, ...]] = []
        self.request_ids: list[str] = []
        self.session = requests.Session()
        self.session.hooks["response"].append(self.record)

    def record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        headers = {k: v for k, v in request.headers.items()
                   if k != "X-Stripe-Client-Telemetry"}
        self.sent.append((request.method, request.url, request.body, headers))
        self.request_ids.append(response.headers.get("Request-Id", ""))


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, StripeSession]]:
    with StripeEmulator(seed=SEED, now=NOW).running() as emu:
        recorder = Recorder()
        client = stripe.StripeClient(
            "sk_test_send_json", base_addresses={"api": emu.url}, max_network_retries=0,
            http_client=stripe.RequestsClient(session=recorder.session))
        yield recorder, StripeSession(client, account_name="default",
                                      retry=RetryPolicy.no_wait())


def test_a_json_write_sends_the_typed_methods_request_and_answers_its_dict(
        recorder: tuple[Recorder, StripeSession]) -> None:
    rec, session = recorder
    typed = session.client.v1.subscription_schedules.create(
        params=CREATE, options={"idempotency_key": "sfss-create-1"})  # type: ignore[arg-type]
    cost = Cost()

    raw = session.send_json("subscription_schedules.create", "post",
                            "/v1/subscription_schedules", CREATE, kind="write",
                            key="sfss-create-1", cost=cost)

    assert rec.sent[1] == rec.sent[0]  # same method, url, body and headers
    assert raw == typed.to_dict()  # the replayed answer, as plain dicts
    assert isinstance(raw["phases"][0]["items"][0]["metadata"], dict)
    assert (cost.writes, cost.request_ids) == (1, [rec.request_ids[1]])
    assert (session.stats.writes, session.stats.reads) == (1, 0)


def test_json_reads_send_the_typed_methods_query_and_path(
        recorder: tuple[Recorder, StripeSession]) -> None:
    rec, session = recorder
    made = session.client.v1.subscription_schedules.create(params=CREATE)  # type: ignore[arg-type]
    listing = {"customer": "cus_A", "limit": 100}
    typed = [session.client.v1.subscription_schedules.list(params=listing),  # type: ignore[arg-type]
             session.client.v1.subscription_schedules.retrieve(made.id)]

    raw = [session.send_json("subscription_schedules.list", "get",
                             "/v1/subscription_schedules", listing),
           session.send_json("subscription_schedules.retrieve", "get",
                             f"/v1/subscription_schedules/{path_id(made.id)}")]

    assert rec.sent[3:5] == rec.sent[1:3]
    assert raw == [t.to_dict() for t in typed]
    assert session.stats.reads == 2


def test_params_named_like_request_options_are_refused_unsent(
        recorder: tuple[Recorder, StripeSession]) -> None:
    rec, session = recorder

    with pytest.raises(ValueError, match="request options"):
        session.send_json("subscription_schedules.list", "get", "/v1/subscription_schedules",
                          {"customer": "cus_A", "stripe_account": "acct_other"})

    assert rec.sent == []


def test_ids_in_a_path_are_quoted_as_the_sdk_quotes_them() -> None:
    assert path_id("sub_sched_1") == "sub_sched_1"
    assert path_id("a/b c") == "a%2Fb+c"
