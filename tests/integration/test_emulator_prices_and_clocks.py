"""Prices by lookup key and search, metered prices, one-time phase charges and test
clocks, through the real stripe SDK against the emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import stripe

from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator

pytestmark = pytest.mark.integration

NOW = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
SEED = {
    "products": [{"id": "prod_A", "name": "A"}, {"id": "prod_FEE", "name": "Setup"}],
    "meters": [{"id": "mtr_calls", "display_name": "Calls", "event_name": "calls"}],
    "prices": [
        {"id": "price_A", "product": "prod_A", "currency": "usd", "unit_amount": 1000,
         "recurring": {"interval": "month"}, "lookup_key": "a_monthly"},
        {"id": "price_FEE", "product": "prod_FEE", "currency": "usd", "unit_amount": 5000},
        {"id": "price_FEE_EUR", "product": "prod_FEE", "currency": "eur", "unit_amount": 5000},
        {"id": "price_USAGE", "product": "prod_A", "currency": "usd", "unit_amount": 2,
         "recurring": {"interval": "month", "usage_type": "metered", "meter": "mtr_calls"}},
    ],
    "customers": [{"id": "cus_A"}],
}


@pytest.fixture
def emu() -> Iterator[StripeEmulator]:
    with StripeEmulator(seed=SEED, now=NOW).running() as running:
        yield running


@pytest.fixture
def client(emu: StripeEmulator) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_prices", base_addresses={"api": emu.url},
                               max_network_retries=0)


def _refused(call: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as refused:
        call()
    return refused.value


def test_prices_are_found_by_lookup_keys_and_a_taken_key_needs_transfer(
        client: stripe.StripeClient) -> None:
    made = client.v1.prices.create(params={
        "product": "prod_A", "currency": "usd", "unit_amount": 750,
        "recurring": {"interval": "month"}, "lookup_key": "a_monthly_750"})
    found = client.v1.prices.list(params={"lookup_keys": ["a_monthly_750", "a_monthly"]})
    assert sorted(p.id for p in found.data) == sorted([made.id, "price_A"])
    refused = _refused(lambda: client.v1.prices.create(params={
        "product": "prod_A", "currency": "usd", "unit_amount": 700,
        "recurring": {"interval": "month"}, "lookup_key": "a_monthly_750"}))
    assert refused.param == "lookup_key"
    moved = client.v1.prices.create(params={
        "product": "prod_A", "currency": "usd", "unit_amount": 700,
        "recurring": {"interval": "month"}, "lookup_key": "a_monthly_750",
        "transfer_lookup_key": True})
    assert client.v1.prices.retrieve(made.id).lookup_key is None
    assert [p.id for p in client.v1.prices.list(
        params={"lookup_keys": ["a_monthly_750"]}).data] == [moved.id]


def test_price_search_understands_lookup_key_active_product_and_metadata(
        client: stripe.StripeClient) -> None:
    made = client.v1.prices.create(params={
        "product": "prod_A", "currency": "usd", "unit_amount": 750,
        "recurring": {"interval": "month"}, "lookup_key": "custom_750",
        "metadata": {"salesforce_custom_price": "true"}})
    queries = {
        "lookup_key:'custom_750'": [made.id],
        "metadata['salesforce_custom_price']:'true' AND active:'true'": [made.id],
        "product:'prod_FEE' AND active:'true'": ["price_FEE_EUR", "price_FEE"],
        "active:'false'": [],
    }
    for query, expected in queries.items():
        found = client.v1.prices.search(params={"query": query})
        assert [p.id for p in found.data] == expected, query


def test_metered_prices_need_a_meter_and_items_on_them_take_no_quantity(
        client: stripe.StripeClient) -> None:
    no_meter = _refused(lambda: client.v1.prices.create(params={
        "product": "prod_A", "currency": "usd", "unit_amount": 1,
        "recurring": {"interval": "month", "usage_type": "metered"}}))
    assert no_meter.param == "recurring[meter]"
    metered = client.v1.prices.create(params={
        "product": "prod_A", "currency": "usd", "unit_amount": 1,
        "recurring": {"interval": "month", "usage_type": "metered", "meter": "mtr_calls"}})
    assert metered.recurring is not None and metered.recurring.usage_type == "metered"
    with_quantity = _refused(lambda: client.v1.subscription_schedules.create(params={
        "customer": "cus_A", "start_date": NOW,
        "phases": [{"items": [{"price": metered.id, "quantity": 1}]}]}))
    assert with_quantity.param == "phases[0][items][0][quantity]"
    schedule = client.v1.subscription_schedules.create(params={
        "customer": "cus_A", "start_date": NOW,
        "phases": [{"items": [{"price": "price_A", "quantity": 2}, {"price": metered.id}]}]})
    assert [i.quantity for i in schedule.phases[0].items] == [2, None]


def test_phase_one_time_charges_are_stored_from_a_price_or_price_data(
        client: stripe.StripeClient) -> None:
    schedule = client.v1.subscription_schedules.create(params={
        "customer": "cus_A", "start_date": NOW, "end_behavior": "cancel",
        "phases": [{"items": [{"price": "price_A"}], "duration": {"interval": "month"},
                    "add_invoice_items": [
                        {"price": "price_FEE", "quantity": 2},
                        {"price_data": {"currency": "usd", "product": "prod_FEE",
                                        "unit_amount": 1250}}]}]})
    added = schedule.phases[0].add_invoice_items
    assert [(a.quantity, a.discountable) for a in added] == [(2, True), (1, True)]
    assert added[0].price == "price_FEE"
    inline = client.v1.prices.retrieve(str(added[1].price))
    assert (inline.type, inline.unit_amount, inline.active) == ("one_time", 1250, False)


@pytest.mark.parametrize(("entry", "param"), [
    ({"price": "price_A"}, "phases[0][add_invoice_items][0][price]"),
    ({"price": "price_FEE_EUR"}, "phases[0][add_invoice_items][0][price]"),
    ({"price": "price_FEE", "quantity": -1}, "phases[0][add_invoice_items][0][quantity]"),
    ({"price_data": {"currency": "usd", "product": "prod_nope", "unit_amount": 1}},
     "phases[0][add_invoice_items][0][price_data][product]"),
])
def test_bad_one_time_charges_are_refused_naming_the_parameter(
        client: stripe.StripeClient, entry: dict[str, Any], param: str) -> None:
    refused = _refused(lambda: client.v1.subscription_schedules.create(params={
        "customer": "cus_A", "start_date": NOW,
        "phases": [{"items": [{"price": "price_A"}], "add_invoice_items": [entry]}]}))
    assert refused.param == param


def _retired_price(client: stripe.StripeClient, *, recurring: bool) -> str:
    params: dict[str, Any] = {"product": "prod_A", "currency": "usd", "unit_amount": 100}
    if recurring:
        params["recurring"] = {"interval": "month"}
    made = client.v1.prices.create(params=params)
    client.v1.prices.update(made.id, params={"active": False})
    return made.id


@pytest.mark.parametrize(("items", "once", "param", "words"), [
    ("price_FEE", None, "phases[0][items][0][price]",
     "`type=one_time` but this field only accepts prices with `type=recurring`"),
    ("price_A", "price_A", "phases[0][add_invoice_items][0][price]",
     "`type=recurring` but this field only accepts prices with `type=one_time`"),
    ("retired recurring", None, "phases[0][items][0][price]", "inactive"),
    ("price_A", "retired one-time", "phases[0][add_invoice_items][0][price]", "inactive"),
    ("price_NONE", None, "phases[0][items][0][price]", "No such price"),
])
def test_phase_items_and_one_time_charges_take_only_active_prices_of_their_type(
        client: stripe.StripeClient, items: str, once: str | None, param: str,
        words: str) -> None:
    retired = {"retired recurring": _retired_price(client, recurring=True),
               "retired one-time": _retired_price(client, recurring=False)}
    phase: dict[str, Any] = {"items": [{"price": retired.get(items, items)}]}
    if once is not None:
        phase["add_invoice_items"] = [{"price": retired.get(once, once)}]
    refused = _refused(lambda: client.v1.subscription_schedules.create(params={
        "customer": "cus_A", "start_date": NOW, "phases": [phase]}))
    assert refused.param == param
    assert words in str(refused.user_message)


def test_a_clocked_customers_schedule_lives_in_the_clocks_time(
        client: stripe.StripeClient, emu: StripeEmulator) -> None:
    clocks = client.v1.test_helpers.test_clocks
    clock = clocks.create(params={"frozen_time": NOW + 100 * DAY, "name": "term"})
    assert (clock.status, clock.frozen_time) == ("ready", NOW + 100 * DAY)
    customer = client.v1.customers.create(params={"test_clock": clock.id})
    schedule = client.v1.subscription_schedules.create(params={
        "customer": customer.id, "start_date": "now",
        "phases": [{"items": [{"price": "price_A"}], "duration": {"interval": "month"}}]})
    assert schedule.phases[0].start_date == NOW + 100 * DAY
    assert schedule.test_clock == clock.id
    assert schedule.status == "active"  # started at the clock's now, not the emulator's
    advanced = clocks.advance(clock.id, params={"frozen_time": NOW + 140 * DAY})
    assert (advanced.status, advanced.frozen_time) == ("ready", NOW + 140 * DAY)
    assert client.v1.subscription_schedules.retrieve(schedule.id).status == "released"
    assert emu.now() == NOW  # the emulator's own clock did not move
    assert [c.id for c in clocks.list().data] == [clock.id]


def test_test_clocks_refuse_going_back_too_far_ahead_and_a_fourth_customer(
        client: stripe.StripeClient) -> None:
    clocks = client.v1.test_helpers.test_clocks
    clock = clocks.create(params={"frozen_time": NOW})
    back = _refused(lambda: clocks.advance(clock.id, params={"frozen_time": NOW - 1}))
    assert back.param == "frozen_time"
    far = _refused(lambda: clocks.advance(clock.id, params={"frozen_time": NOW + 800 * DAY}))
    assert far.param == "frozen_time"
    for _ in range(3):
        client.v1.customers.create(params={"test_clock": clock.id})
    full = _refused(lambda: client.v1.customers.create(params={"test_clock": clock.id}))
    assert full.param == "test_clock"
    deleted = clocks.delete(clock.id)
    assert deleted.deleted is True
    assert [c for c in client.v1.customers.list().data if c.test_clock == clock.id] == []
