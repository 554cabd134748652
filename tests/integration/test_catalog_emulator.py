"""The emulator's catalog-access resources behave as Stripe does, through the official SDK."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stripe

from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator

pytestmark = pytest.mark.integration
NOW = 1_800_000_000
SEED = {
    "products": [{"id": "prod_A", "name": "A"}, {"id": "prod_B", "name": "B"}],
    "prices": [
        {"id": "price_A", "product": "prod_A", "currency": "usd", "unit_amount": 1000,
         "recurring": {"interval": "month"}},
        {"id": "price_B", "product": "prod_B", "currency": "usd", "unit_amount": 500,
         "recurring": {"interval": "month"}},
    ],
    "customers": [{"id": "cus_1"}, {"id": "cus_2"}],
    "payment_methods": [{"id": "pm_saved", "type": "amazon_pay", "customer": "cus_1"}],
}


@pytest.fixture
def emulator() -> Iterator[StripeEmulator]:
    with StripeEmulator(seed=SEED, now=NOW).running() as running:
        yield running


@pytest.fixture
def client(emulator: StripeEmulator) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_emulator", base_addresses={"api": emulator.url},
                               max_network_retries=0)


def test_an_active_lookup_key_is_unique_but_an_archived_one_is_free(
        client: stripe.StripeClient) -> None:
    first = client.v1.entitlements.features.create(params={"lookup_key": "sso", "name": "SSO"})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.entitlements.features.create(params={"lookup_key": "sso", "name": "Again"})
    client.v1.entitlements.features.update(first.id, params={"active": False})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.entitlements.features.update(first.id, params={"name": "Edited"})

    second = client.v1.entitlements.features.create(params={"lookup_key": "sso", "name": "SSO"})

    assert second.id != first.id
    assert [f.id for f in client.v1.entitlements.features.list().data] == [second.id]
    archived = client.v1.entitlements.features.list(params={"archived": True}).data
    assert [f.id for f in archived] == [first.id]


def test_a_retried_create_replays_the_same_feature(client: stripe.StripeClient) -> None:
    options: stripe.RequestOptions = {"idempotency_key": "feature-sso-1"}
    first = client.v1.entitlements.features.create(
        params={"lookup_key": "sso", "name": "SSO"}, options=options)
    again = client.v1.entitlements.features.create(
        params={"lookup_key": "sso", "name": "SSO"}, options=options)
    assert again.id == first.id
    assert len(client.v1.entitlements.features.list().data) == 1


def test_an_archived_feature_cannot_be_attached_and_a_feature_attaches_once(
        client: stripe.StripeClient) -> None:
    feature = client.v1.entitlements.features.create(params={"lookup_key": "api", "name": "API"})
    client.v1.products.features.create("prod_A", params={"entitlement_feature": feature.id})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.features.create("prod_A", params={"entitlement_feature": feature.id})
    client.v1.entitlements.features.update(feature.id, params={"active": False})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.products.features.create("prod_B", params={"entitlement_feature": feature.id})


def test_active_entitlements_follow_the_phase_in_force(
        client: stripe.StripeClient, emulator: StripeEmulator) -> None:
    feature_a = client.v1.entitlements.features.create(params={"lookup_key": "a", "name": "A"})
    feature_b = client.v1.entitlements.features.create(params={"lookup_key": "b", "name": "B"})
    client.v1.products.features.create("prod_A", params={"entitlement_feature": feature_a.id})
    attached_b = client.v1.products.features.create(
        "prod_B", params={"entitlement_feature": feature_b.id})
    month = 30 * 86400
    client.v1.subscription_schedules.create(params={
        "customer": "cus_1", "start_date": NOW + 100, "phases": [
            {"items": [{"price": "price_A"}], "end_date": NOW + 100 + month},
            {"items": [{"price": "price_A"}, {"price": "price_B"}],
             "end_date": NOW + 100 + 2 * month}]})

    def keys() -> list[str]:
        listed = client.v1.entitlements.active_entitlements.list(params={"customer": "cus_1"})
        return sorted(e.lookup_key for e in listed.data)

    assert keys() == []  # not started yet
    emulator.set_now(NOW + 200)
    assert keys() == ["a"]
    emulator.set_now(NOW + 200 + month)
    assert keys() == ["a", "b"]
    client.v1.products.features.delete("prod_B", attached_b.id)
    assert keys() == ["a"]


def test_catalog_writes_are_listed_as_events_oldest_last(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"name": "New"})
    client.v1.products.update(product.id, params={"name": "Renamed"})
    client.v1.products.update(product.id, params={"name": "Renamed"})  # no change, no event
    price = client.v1.prices.create(params={"product": product.id, "currency": "usd",
                                            "unit_amount": 100})

    events = client.v1.events.list().data

    assert [(e.type, e.data.object.id) for e in events] == [
        ("price.created", price.id), ("product.updated", product.id),
        ("product.created", product.id)]
    assert events[1].data.previous_attributes["name"] == "New"
    only_prices = client.v1.events.list(params={"type": "price.*"}).data
    assert [e.type for e in only_prices] == ["price.created"]


def test_a_schedule_default_payment_method_must_be_saved_to_its_customer(
        client: stripe.StripeClient) -> None:
    phases = [{"items": [{"price": "price_A"}], "end_date": NOW + 86400 * 60}]
    made = client.v1.subscription_schedules.create(params={
        "customer": "cus_1", "start_date": NOW, "phases": phases,
        "default_settings": {"default_payment_method": "pm_saved"}})
    assert made.default_settings.default_payment_method == "pm_saved"

    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.subscription_schedules.create(params={
            "customer": "cus_2", "start_date": NOW, "phases": phases,
            "default_settings": {"default_payment_method": "pm_saved"}})
    assert "must be attached" in str(refused.value.user_message)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscription_schedules.create(params={
            "customer": "cus_1", "start_date": NOW, "phases": phases,
            "default_settings": {"default_payment_method": "pm_missing"}})
