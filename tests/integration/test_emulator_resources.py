"""Customers, products, prices, coupons and schedules through the real stripe SDK."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import stripe

from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator

pytestmark = pytest.mark.integration

NOW = 1_700_000_000
DAY = 86_400
SEED = {
    "products": [{"id": "prod_A", "name": "Product A"}],
    "prices": [
        {"id": "price_A", "product": "prod_A", "currency": "usd", "unit_amount": 1000,
         "recurring": {"interval": "month"}, "lookup_key": "a_monthly"},
        {"id": "price_B", "product": "prod_A", "currency": "usd", "unit_amount": 500,
         "recurring": {"interval": "month"}},
    ],
    "customers": [{"id": "cus_seeded", "email": "seed@example.com"}],
}


@pytest.fixture
def emu() -> Iterator[StripeEmulator]:
    with StripeEmulator(seed=SEED, now=NOW).running() as running:
        yield running


@pytest.fixture
def client(emu: StripeEmulator) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_resources", base_addresses={"api": emu.url},
                               max_network_retries=0)


def test_customer_create_retrieve_update_round_trip(client: stripe.StripeClient) -> None:
    created = client.v1.customers.create(params={
        "email": "ops@example.com", "name": "Acme", "metadata": {"salesforce_account_id": "001A"}})
    assert created.id.startswith("cus_")
    assert created.object == "customer" and created.livemode is False
    assert created.created == NOW

    client.v1.customers.update(created.id, params={"metadata": {"tier": "gold",
                                                                "salesforce_account_id": ""}})
    fetched = client.v1.customers.retrieve(created.id)
    assert fetched.name == "Acme"
    assert fetched.metadata.to_dict() == {"tier": "gold"}


def test_customer_list_filters_by_email_and_pages_newest_first(
    client: stripe.StripeClient,
) -> None:
    ids = [client.v1.customers.create(params={"email": f"c{i}@example.com"}).id
           for i in range(5)]
    same_email = client.v1.customers.create(params={"email": "c1@example.com"}).id

    by_email = client.v1.customers.list(params={"email": "c1@example.com"})
    assert [c.id for c in by_email.data] == [same_email, ids[1]]

    first = client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in first.data] == [same_email, ids[4]] and first.has_more
    second = client.v1.customers.list(params={"limit": 2, "starting_after": ids[4]})
    assert [c.id for c in second.data] == [ids[3], ids[2]]
    every = [c.id for c in client.v1.customers.list(params={"limit": 3}).auto_paging_iter()]
    assert every == [same_email, *reversed(ids), "cus_seeded"]


def test_customer_search_finds_by_metadata(client: stripe.StripeClient) -> None:
    wanted = client.v1.customers.create(params={"metadata": {"salesforce_account_id": "001X"}})
    client.v1.customers.create(params={"metadata": {"salesforce_account_id": "001Y"}})
    found = client.v1.customers.search(
        params={"query": "metadata['salesforce_account_id']:'001X'"})
    assert [c.id for c in found.data] == [wanted.id]


def test_product_and_price_lifecycle_with_lookup_keys(client: stripe.StripeClient) -> None:
    product = client.v1.products.create(params={"id": "prod_fixed", "name": "Fixed"})
    assert product.id == "prod_fixed"
    price = client.v1.prices.create(params={
        "product": product.id, "currency": "EUR", "unit_amount": 1250,
        "recurring": {"interval": "year", "usage_type": "licensed"}, "lookup_key": "fixed_y"})
    assert price.id.startswith("price_") and price.type == "recurring"
    assert price.currency == "eur" and price.unit_amount_decimal == Decimal("1250")
    assert price.recurring.interval == "year" and price.recurring.interval_count == 1

    by_key = client.v1.prices.list(params={"lookup_keys": ["fixed_y", "a_monthly"]})
    assert {p.id for p in by_key.data} == {price.id, "price_A"}

    client.v1.prices.update(price.id, params={"active": False})
    active_eur = client.v1.prices.list(params={"active": True, "currency": "eur"})
    assert active_eur.data == []
    renamed = client.v1.products.update(product.id, params={"name": "Renamed"})
    assert client.v1.products.retrieve(product.id).name == renamed.name == "Renamed"
    assert product.id in [p.id for p in client.v1.products.list().data]


def test_price_for_unknown_product_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.prices.create(params={"product": "prod_nope", "currency": "usd",
                                        "unit_amount": 1})
    assert info.value.param == "product" and info.value.code == "resource_missing"


def test_coupon_create_retrieve_delete(client: stripe.StripeClient) -> None:
    coupon = client.v1.coupons.create(params={"amount_off": 550, "currency": "usd",
                                              "duration": "forever", "max_redemptions": 1})
    assert client.v1.coupons.retrieve(coupon.id).amount_off == 550
    deleted = client.v1.coupons.delete(coupon.id)
    assert deleted.deleted is True
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.coupons.retrieve(coupon.id)
    assert info.value.http_status == 404


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"amount_off": 100, "duration": "once"}, "currency"),
        ({"percent_off": 0, "duration": "once"}, "percent_off"),
        ({"percent_off": 100.5, "duration": "once"}, "percent_off"),
        ({"percent_off": 10, "duration": "repeating"}, "duration_in_months"),
        ({"percent_off": 10, "duration": "weekly"}, "duration"),
    ],
)
def test_invalid_coupons_are_refused(client: stripe.StripeClient, params: dict[str, object],
                                     param: str) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.coupons.create(params=params)  # type: ignore[arg-type]
    assert info.value.param == param


def _schedule(client: stripe.StripeClient, customer: str = "cus_seeded", **extra: object
              ) -> stripe.SubscriptionSchedule:
    params: dict[str, object] = {
        "customer": customer, "start_date": NOW + DAY, "end_behavior": "cancel",
        "phases": [{"items": [{"price": "price_A", "quantity": 2}], "end_date": NOW + 31 * DAY},
                   {"items": [{"price": "price_A", "quantity": 3}], "end_date": NOW + 61 * DAY}],
        **extra,
    }
    return client.v1.subscription_schedules.create(params=params)  # type: ignore[arg-type]


def test_schedule_create_has_stripes_shape(client: stripe.StripeClient) -> None:
    schedule = _schedule(client, metadata={"salesforce_order_id": "801A"})
    assert schedule.id.startswith("sub_sched_")
    assert schedule.status == "not_started" and schedule.current_phase is None
    assert schedule.subscription is None and schedule.end_behavior == "cancel"
    first, second = schedule.phases
    assert (first.start_date, first.end_date) == (NOW + DAY, NOW + 31 * DAY)
    assert second.start_date == first.end_date
    assert first.items[0].price == "price_A" and first.items[0].quantity == 2
    assert first.currency == "usd" and first.discounts == []
    assert schedule.metadata["salesforce_order_id"] == "801A"


def test_schedule_retrieve_update_cancel(client: stripe.StripeClient) -> None:
    schedule = _schedule(client)
    client.v1.subscription_schedules.update(schedule.id, params={
        "phases": [{"start_date": NOW + DAY, "end_date": NOW + 40 * DAY,
                    "items": [{"price": "price_B", "quantity": 1}]}],
        "metadata": {"k": "v"}})
    fetched = client.v1.subscription_schedules.retrieve(schedule.id)
    assert [p.items[0].price for p in fetched.phases] == ["price_B"]
    assert fetched.metadata["k"] == "v"
    canceled = client.v1.subscription_schedules.cancel(
        schedule.id, params={"invoice_now": False, "prorate": False})
    assert canceled.status == "canceled" and canceled.canceled_at == NOW


def test_schedule_release_keeps_the_subscription(emu: StripeEmulator,
                                                 client: stripe.StripeClient) -> None:
    schedule = _schedule(client, start_date=NOW - DAY)
    assert schedule.status == "active" and schedule.subscription.startswith("sub_")
    released = client.v1.subscription_schedules.release(schedule.id)
    assert released.status == "released" and released.released_at == NOW
    assert released.released_subscription == schedule.subscription
    assert released.subscription is None
    subscription = emu.objects("subscription")[0]
    assert subscription["status"] == "active" and subscription["schedule"] is None


def test_schedule_list_by_customer_pages(client: stripe.StripeClient) -> None:
    other = client.v1.customers.create().id
    mine = [_schedule(client).id for _ in range(3)]
    _schedule(client, customer=other)
    page = client.v1.subscription_schedules.list(params={"customer": "cus_seeded", "limit": 2})
    assert [s.id for s in page.data] == [mine[2], mine[1]] and page.has_more
    rest = client.v1.subscription_schedules.list(
        params={"customer": "cus_seeded", "limit": 2, "starting_after": mine[1]})
    assert [s.id for s in rest.data] == [mine[0]] and not rest.has_more


def test_schedule_expand_replaces_ids_with_objects(client: stripe.StripeClient) -> None:
    coupon = client.v1.coupons.create(params={"percent_off": 10, "duration": "forever"})
    schedule = _schedule(client, phases=[{
        "items": [{"price": "price_A", "discounts": [{"coupon": coupon.id}]}],
        "discounts": [{"coupon": coupon.id}], "end_date": NOW + 30 * DAY}])
    expanded = client.v1.subscription_schedules.retrieve(schedule.id, params={"expand": [
        "customer", "phases.discounts.coupon", "phases.items.discounts.coupon"]})
    assert expanded.customer.email == "seed@example.com"
    assert expanded.phases[0].discounts[0].coupon.percent_off == 10
    assert expanded.phases[0].items[0].discounts[0].coupon.id == coupon.id
    listed = client.v1.subscription_schedules.list(params={"expand": ["data.customer"]})
    assert listed.data[0].customer.id == "cus_seeded"
    plain = client.v1.subscription_schedules.retrieve(schedule.id)
    assert plain.customer == "cus_seeded"


def test_unexpandable_property_is_refused(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.customers.retrieve("cus_seeded", params={"expand": ["email"]})
    assert "cannot be expanded" in str(info.value.user_message)


def test_connected_accounts_do_not_see_each_others_objects(emu: StripeEmulator) -> None:
    connected = stripe.StripeClient("sk_test_resources", base_addresses={"api": emu.url},
                                    max_network_retries=0, stripe_account="acct_1")
    made = connected.v1.customers.create(params={"email": "x@example.com"})
    assert [c["id"] for c in emu.objects("customer", account="acct_1")] == [made.id]
    assert made.id not in [c["id"] for c in emu.objects("customer")]
    with pytest.raises(stripe.InvalidRequestError):
        connected.v1.customers.retrieve("cus_seeded")
