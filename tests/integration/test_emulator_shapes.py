"""Every object the emulator returns has the fields the pinned SDK's classes declare.

The walk creates one object of every kind through the SDK (so each create answer is
checked), then GETs every retrieve and list route the emulator serves, expanding what
can be expanded, and holds each answer against ``sdk_shapes.shape_problems``. A route
added without an object for the walk to read, or a field the SDK gains on upgrade,
fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe

from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator
from sf_stripe_sync.sandbox.stripe_emulator.routes import ROUTES, Route
from tests.integration.sdk_shapes import shape_problems

pytestmark = pytest.mark.integration

NOW = 1_700_000_000
KEY = "sk_test_shapes"
# Query parameters a list route cannot do without.
LIST_QUERY = {"/v1/entitlements/active_entitlements": "customer={customer}",
              "search": "query=created>0"}
EXPANSIONS = {"subscription_schedule": ["customer", "subscription"]}


def _create_everything(client: stripe.StripeClient) -> list[dict[str, Any]]:
    v1 = client.v1
    customer = v1.customers.create(params={"name": "Shape", "email": "s@example.com",
                                           "metadata": {"k": "v"}})
    product = v1.products.create(params={"name": "Shape", "description": "d"})
    price = v1.prices.create(params={"product": product.id, "currency": "usd",
                                     "unit_amount": 100, "lookup_key": "shape",
                                     "recurring": {"interval": "month"}})
    one_time = v1.prices.create(params={"product": product.id, "currency": "usd",
                                        "unit_amount": 500})
    percent = v1.coupons.create(params={"percent_off": 10, "duration": "forever"})
    amount = v1.coupons.create(params={"amount_off": 500, "currency": "usd",
                                       "duration": "once", "max_redemptions": 1})
    schedule = v1.subscription_schedules.create(params={
        "customer": customer.id, "start_date": NOW, "end_behavior": "release",
        "phases": [{"items": [{"price": price.id, "quantity": 2}],
                    "discounts": [{"coupon": percent.id}],
                    "duration": {"interval": "month"}, "metadata": {"p": "1"}}]})
    feature = v1.entitlements.features.create(params={"name": "F", "lookup_key": "f"})
    attached = v1.products.features.create(product.id,
                                           params={"entitlement_feature": feature.id})
    method = v1.payment_methods.create(params={"type": "card"})
    method = v1.payment_methods.attach(method.id, params={"customer": customer.id})
    config = v1.billing_portal.configurations.create(params={
        "features": {"invoice_history": {"enabled": True}},
        "default_return_url": "https://example.com/back"})
    session = v1.billing_portal.sessions.create(params={"customer": customer.id})
    clock = v1.test_helpers.test_clocks.create(params={"frozen_time": NOW, "name": "c"})
    meter = v1.billing.meters.create(params={
        "display_name": "Calls", "event_name": "api_call",
        "default_aggregation": {"formula": "sum"}})
    hook = v1.webhook_endpoints.create(params={"url": "http://127.0.0.1:9/hook",
                                               "enabled_events": ["invoice.paid"]})
    made = [customer, product, price, one_time, percent, amount, schedule, feature,
            attached, method, config, session, clock, meter, hook,
            *_billed(client, price.id)]
    return [dict(obj.last_response.data) for obj in made if obj.last_response is not None]


def _billed(client: stripe.StripeClient, price: str) -> list[Any]:
    """An invoice and a subscription, made by advancing a clocked customer's schedule."""
    v1 = client.v1
    clock = v1.test_helpers.test_clocks.create(params={"frozen_time": NOW})
    customer = v1.customers.create(params={"test_clock": clock.id})
    v1.subscription_schedules.create(params={
        "customer": customer.id, "start_date": NOW,
        "phases": [{"items": [{"price": price}], "duration": {"interval": "month"}}]})
    v1.test_helpers.test_clocks.advance(clock.id, params={"frozen_time": NOW + 40 * 86_400})
    invoice = v1.invoices.list(params={"customer": customer.id}).data[0]
    subscription = v1.subscriptions.list(params={"customer": customer.id}).data[0]
    return [v1.invoices.retrieve(invoice.id), v1.subscriptions.retrieve(subscription.id)]


def _sample_id(emu: StripeEmulator, route: Route, ids: dict[str, str]) -> str | None:
    if "features/" in route.pattern.pattern:
        return f"{ids['product']}/features/{ids['product_feature']}"
    return ids.get(route.kind)


def _get_paths(emu: StripeEmulator, ids: dict[str, str]) -> list[tuple[str, str]]:
    """(kind, path) of a GET for every GET route, ids filled in."""
    paths: list[tuple[str, str]] = []
    for route in ROUTES:
        if route.method != "GET":
            continue
        template = route.pattern.pattern.strip("^$").replace("\\", "")
        if "(?P<id>" in template:
            product_scoped = template.startswith("/v1/products/(?P<id>[^/]+)/")
            filled = ids["product"] if product_scoped else ids.get(route.kind)
            assert filled is not None, f"the walk made no {route.kind} for {template}"
            if route.kind == "payment_method" and "customers" in template:
                filled = ids["customer"]
            path = template.replace("(?P<id>[^/]+)", filled)
        else:
            path = template
        query = LIST_QUERY.get(path) or (LIST_QUERY["search"] if path.endswith("/search")
                                         else "")
        query = query.format(customer=ids["customer"])
        expand = "&".join(f"expand[]={('data.' if route.listed else '')}{field}"
                          for field in EXPANSIONS.get(route.kind, []))
        paths.append((route.kind, f"{path}?{'&'.join(p for p in (query, expand) if p)}"))
    return paths


@pytest.fixture(scope="module")
def walked() -> Iterator[list[dict[str, Any]]]:
    with StripeEmulator(now=NOW).running() as emu:
        client = stripe.StripeClient(KEY, base_addresses={"api": emu.url},
                                     max_network_retries=0)
        answers = _create_everything(client)
        ids = {str(a["object"]).replace("entitlements.feature", "entitlements.feature"):
               str(a["id"]) for a in answers}
        ids["event"] = str(emu.objects("event")[0]["id"])
        ids["entitlements.active_entitlement"] = ""
        for _kind, path in _get_paths(emu, ids):
            response = requests.get(f"{emu.url}{path}", timeout=10,
                                    headers={"Authorization": f"Bearer {KEY}"})
            assert response.status_code == 200, (path, response.text)
            body = response.json()
            answers.extend(body["data"] if body.get("object") in ("list", "search_result")
                           else [body])
        yield answers


def test_the_walk_reads_every_kind_the_emulator_serves(walked: list[dict[str, Any]]) -> None:
    served = {route.kind for route in ROUTES} - {"entitlements.active_entitlement"}
    assert served <= {str(a["object"]) for a in walked}


def test_every_answer_has_exactly_the_fields_the_sdk_declares(
    walked: list[dict[str, Any]],
) -> None:
    problems = sorted({p for answer in walked for p in shape_problems(answer)})
    assert problems == [], "\n".join(problems)


def test_the_check_names_a_missing_field_an_extra_field_and_a_wrong_null(
    walked: list[dict[str, Any]],
) -> None:
    schedule = next(dict(a) for a in walked if a["object"] == "subscription_schedule")
    del schedule["pause_schedules"]
    schedule["product"] = "prod_X"
    schedule["status"] = None
    assert shape_problems(schedule) == [
        "subscription_schedule.pause_schedules: missing",
        "subscription_schedule.product: not declared by SubscriptionSchedule",
        "subscription_schedule.status: null but not Optional",
    ]
