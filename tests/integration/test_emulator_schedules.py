"""Subscription schedule rules and the clock, as Stripe enforces them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe

from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator

pytestmark = pytest.mark.integration

NOW = 1_700_000_000  # 2023-11-14T22:13:20Z
DAY = 86_400
SEED = {
    "products": [{"id": "prod_A", "name": "A"}],
    "prices": [
        {"id": "price_A", "product": "prod_A", "currency": "usd", "unit_amount": 1000,
         "recurring": {"interval": "month"}},
        {"id": "price_Y", "product": "prod_A", "currency": "usd", "unit_amount": 9000,
         "recurring": {"interval": "year"}},
        {"id": "price_EUR", "product": "prod_A", "currency": "eur", "unit_amount": 900,
         "recurring": {"interval": "month"}},
        {"id": "price_OFF", "product": "prod_A", "currency": "usd", "unit_amount": 1,
         "recurring": {"interval": "month"}, "active": False},
        {"id": "price_ONCE", "product": "prod_A", "currency": "usd", "unit_amount": 1},
    ],
    "customers": [{"id": "cus_A"}],
    "coupons": [{"id": "ONE_USE", "percent_off": 10, "max_redemptions": 1}],
}


@pytest.fixture
def emu() -> Iterator[StripeEmulator]:
    with StripeEmulator(seed=SEED, now=NOW).running() as running:
        yield running


@pytest.fixture
def client(emu: StripeEmulator) -> stripe.StripeClient:
    return stripe.StripeClient("sk_test_schedules", base_addresses={"api": emu.url},
                               max_network_retries=0)


def _phase(price: str = "price_A", end: int | None = None, **extra: Any) -> dict[str, Any]:
    phase: dict[str, Any] = {"items": [{"price": price, "quantity": 1}], **extra}
    if end is not None:
        phase["end_date"] = end
    return phase


def _create(client: stripe.StripeClient, *phases: dict[str, Any], start: Any = NOW,
            end_behavior: str = "cancel") -> stripe.SubscriptionSchedule:
    return client.v1.subscription_schedules.create(params={  # type: ignore[typeddict-item]
        "customer": "cus_A", "start_date": start, "end_behavior": end_behavior,
        "phases": list(phases)})


def _refused(call: Any) -> stripe.InvalidRequestError:
    with pytest.raises(stripe.InvalidRequestError) as info:
        call()
    return info.value


def test_phase_without_end_lasts_one_period_of_its_longest_price(
    client: stripe.StripeClient,
) -> None:
    schedule = _create(client, _phase(end=NOW + 10 * DAY),
                       {"items": [{"price": "price_A"}, {"price": "price_Y"}]},
                       end_behavior="release")
    last = schedule.phases[-1]
    assert last.start_date == NOW + 10 * DAY
    assert last.end_date == NOW + 10 * DAY + 366 * DAY  # a year from 2023-11-24 spans Feb 29


def test_duration_sets_the_end_and_cannot_be_combined_with_end_date(
    client: stripe.StripeClient,
) -> None:
    schedule = _create(client, _phase(duration={"interval": "month", "interval_count": 2}))
    assert schedule.phases[0].end_date == NOW + 61 * DAY  # Nov 14 -> Jan 14
    error = _refused(lambda: _create(client, _phase(end=NOW + DAY, duration={"interval": "day"})))
    assert error.param == "phases[0][duration]"


@pytest.mark.parametrize(
    ("item", "param"),
    [
        ({"price": "price_nope"}, "phases[0][items][0][price]"),
        ({"price": "price_OFF"}, "phases[0][items][0][price]"),
        ({"price": "price_ONCE"}, "phases[0][items][0][price]"),
        ({"price": "price_A", "quantity": 0}, "phases[0][items][0][quantity]"),
    ],
)
def test_phase_items_must_be_usable_prices(client: stripe.StripeClient, item: dict[str, Any],
                                           param: str) -> None:
    error = _refused(lambda: _create(client, {"items": [item], "end_date": NOW + DAY}))
    assert error.param == param


def test_phase_items_share_one_currency(client: stripe.StripeClient) -> None:
    phase = {"items": [{"price": "price_A"}, {"price": "price_EUR"}], "end_date": NOW + DAY}
    error = _refused(lambda: _create(client, phase))
    assert error.param == "phases[0][items][1][price]"


def test_more_than_twenty_items_are_refused(client: stripe.StripeClient) -> None:
    items = [{"price": "price_A"}] * 21
    error = _refused(lambda: _create(client, {"items": items, "end_date": NOW + DAY}))
    assert error.param == "phases[0][items]"


def test_unknown_customer_is_refused(client: stripe.StripeClient) -> None:
    error = _refused(lambda: client.v1.subscription_schedules.create(
        params={"customer": "cus_nope", "phases": [_phase(end=NOW + DAY)]}))  # type: ignore[list-item]
    assert error.param == "customer" and error.code == "resource_missing"


def test_coupon_max_redemptions_is_enforced_across_schedules(
    emu: StripeEmulator, client: stripe.StripeClient,
) -> None:
    first = _create(client, _phase(end=NOW + 30 * DAY, discounts=[{"coupon": "ONE_USE"}]))
    resent = client.v1.subscription_schedules.update(first.id, params={"phases": [
        _phase(end=NOW + 40 * DAY, start_date=NOW, discounts=[{"coupon": "ONE_USE"}])]})
    assert resent.phases[0].discounts[0].coupon == "ONE_USE"
    assert emu.objects("coupon")[0]["times_redeemed"] == 1

    error = _refused(lambda: _create(
        client, _phase(end=NOW + 30 * DAY, discounts=[{"coupon": "ONE_USE"}])))
    assert "max redemptions" in str(error.user_message)
    assert error.param == "phases[0][discounts][0][coupon]"
    assert len(emu.objects("subscription_schedule")) == 1


def test_update_cannot_move_the_current_phase_start(client: stripe.StripeClient) -> None:
    schedule = _create(client, _phase(end=NOW + 30 * DAY), start=NOW - DAY)
    assert schedule.status == "active"
    error = _refused(lambda: client.v1.subscription_schedules.update(schedule.id, params={
        "phases": [_phase(end=NOW + 30 * DAY, start_date=NOW)]}))
    assert error.param == "phases[0][start_date]"


def test_update_cannot_change_a_past_phase_but_may_omit_it(client: stripe.StripeClient) -> None:
    schedule = _create(client, _phase(end=NOW - 5 * DAY), _phase(end=NOW + 30 * DAY),
                       start=NOW - 20 * DAY)
    error = _refused(lambda: client.v1.subscription_schedules.update(schedule.id, params={
        "phases": [_phase("price_Y", end=NOW - 5 * DAY, start_date=NOW - 20 * DAY),
                   _phase(end=NOW + 30 * DAY)]}))
    assert error.param == "phases[0]"

    updated = client.v1.subscription_schedules.update(schedule.id, params={
        "phases": [_phase("price_Y", end=NOW + 60 * DAY, start_date=NOW - 5 * DAY)]})
    assert [p.start_date for p in updated.phases] == [NOW - 20 * DAY, NOW - 5 * DAY]
    assert updated.phases[1].items[0].price == "price_Y"


def test_finished_schedules_cannot_be_updated(client: stripe.StripeClient) -> None:
    schedule = _create(client, _phase(end=NOW + DAY))
    client.v1.subscription_schedules.cancel(schedule.id)
    error = _refused(lambda: client.v1.subscription_schedules.update(
        schedule.id, params={"metadata": {"a": "b"}}))
    assert "`canceled` status" in str(error.user_message)
    error = _refused(lambda: client.v1.subscription_schedules.release(schedule.id))
    assert "`canceled` status" in str(error.user_message)


def test_status_follows_the_clock_to_completion(emu: StripeEmulator,
                                                client: stripe.StripeClient) -> None:
    schedule = _create(client, _phase(end=NOW + 20 * DAY), _phase(end=NOW + 40 * DAY),
                       start=NOW + 10 * DAY)
    assert schedule.status == "not_started" and schedule.subscription is None

    emu.set_now(NOW + 25 * DAY)
    active = client.v1.subscription_schedules.retrieve(schedule.id)
    assert active.status == "active" and active.subscription.startswith("sub_")
    assert active.current_phase.start_date == NOW + 20 * DAY

    response = requests.post(f"{emu.url}/_emulator/clock", json={"now": NOW + 41 * DAY},
                             timeout=5)
    assert response.json()["now"] == NOW + 41 * DAY
    done = client.v1.subscription_schedules.retrieve(schedule.id)
    assert done.status == "completed" and done.completed_at == NOW + 40 * DAY
    assert done.current_phase is None


def test_release_end_behavior_releases_at_the_end(emu: StripeEmulator,
                                                  client: stripe.StripeClient) -> None:
    schedule = _create(client, _phase(end=NOW + DAY), end_behavior="release")
    emu.advance(2 * DAY)
    listed = client.v1.subscription_schedules.list(params={"customer": "cus_A"}).data[0]
    assert listed.id == schedule.id and listed.status == "released"
    assert listed.released_subscription is not None


def test_start_now_uses_the_emulator_clock(client: stripe.StripeClient) -> None:
    schedule = _create(client, _phase(end=NOW + DAY), start="now")
    assert schedule.phases[0].start_date == NOW and schedule.status == "active"
