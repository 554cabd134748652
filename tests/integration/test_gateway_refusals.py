"""What Stripe refuses, and that the refusal reaches the engine as a terminal error."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import stripe
from pydantic import SecretStr
from test_gateway_support import JUN, Stand, discounted_plan, key_for, stand

from sf_stripe_sync.config import StripeAccountSettings
from sf_stripe_sync.errors import AuthenticationError, TerminalError, TransientError
from sf_stripe_sync.stripe.errors import translate_stripe_error
from sf_stripe_sync.stripe.gateway import StripeGateway
from sf_stripe_sync.stripe.retry import RetryPolicy

pytestmark = pytest.mark.integration
__all__ = ["stand"]

MID_JULY = int(datetime(2025, 7, 15, tzinfo=UTC).timestamp())


def _refusal(send: Any) -> TerminalError:
    with pytest.raises(stripe.StripeError) as raised:
        send()
    mapped = translate_stripe_error(raised.value, operation="raw")
    assert isinstance(mapped, TerminalError)
    assert not isinstance(mapped, TransientError)
    return mapped


def test_misspelled_parameter_sent_through_raw_sdk_is_refused(stand: Stand) -> None:
    bad: Any = {"custmer": stand.customer, "start_date": "now",
                "phases": [{"items": [{"price": stand.price_a, "quantity": 1}]}]}
    mapped = _refusal(lambda: stand.raw.v1.subscription_schedules.create(params=bad))
    assert mapped.code == "parameter_unknown"
    assert mapped.param == "custmer"
    assert mapped.request_id


def test_price_data_is_never_needed_and_unknown_price_is_refused(stand: Stand) -> None:
    p = discounted_plan(stand)
    assert p.schedule is not None
    broken = p.model_copy(update={"schedule": p.schedule.model_copy(update={"phases": (
        p.schedule.phases[0].model_copy(update={"items": (
            p.schedule.phases[0].items[0].model_copy(update={"price": "price_missing"}),)}),
    )})})
    with pytest.raises(TerminalError) as refused:
        stand.gateway.create_schedule(broken, customer_id=stand.customer,
                                      op_key=key_for(broken))
    assert refused.value.code == "resource_missing"
    assert stand.gateway.stats.retries == 0


def _started_schedule(stand: Stand) -> tuple[str, list[dict[str, Any]]]:
    p = discounted_plan(stand)
    made = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    stand.emu.set_now(MID_JULY)
    phases = stand.raw.v1.subscription_schedules.retrieve(made.schedule.id).to_dict()["phases"]
    return made.schedule.id, phases


def _phase_params(raw: dict[str, Any], **changes: Any) -> dict[str, Any]:
    sent: dict[str, Any] = {
        "start_date": raw["start_date"], "end_date": raw["end_date"],
        "items": [{"price": i["price"], "quantity": i["quantity"]} for i in raw["items"]],
    }
    sent.update(changes)
    return sent


def test_update_moving_the_current_phase_start_is_refused(stand: Stand) -> None:
    schedule_id, phases = _started_schedule(stand)
    moved = _phase_params(phases[1], start_date=phases[1]["start_date"] + 86400)
    mapped = _refusal(lambda: stand.raw.v1.subscription_schedules.update(
        schedule_id, params={"phases": [moved]}))
    assert mapped.request_id
    current = stand.gateway.retrieve_schedule(schedule_id)
    assert current.current_phase_start == JUN


def test_update_changing_a_past_phase_is_refused(stand: Stand) -> None:
    schedule_id, phases = _started_schedule(stand)
    past = _phase_params(phases[0], items=[{"price": stand.price_b, "quantity": 9}])
    _refusal(lambda: stand.raw.v1.subscription_schedules.update(
        schedule_id, params={"phases": [past, _phase_params(phases[1])]}))


def test_gateway_update_of_started_schedule_is_accepted(stand: Stand) -> None:
    schedule_id, _ = _started_schedule(stand)
    replace = discounted_plan(stand, quantity=7, fingerprint="fp-2")
    result = stand.gateway.update_schedule(replace, schedule_id=schedule_id,
                                           op_key=key_for(replace))
    assert result.schedule.current_phase_start == JUN
    assert result.schedule.phases[-1].items[0].quantity == 7


def test_refused_api_key_is_an_authentication_error_without_the_key(stand: Stand) -> None:
    account = StripeAccountSettings(name="bad", api_base=stand.emu.url)
    secret = "sk_live_should_never_show_up"
    gateway = StripeGateway.from_settings(account, SecretStr(secret),
                                          retry=RetryPolicy.no_wait())
    with pytest.raises(AuthenticationError) as refused:
        gateway.retrieve_schedule("sub_sched_x")
    assert secret not in str(refused.value)
    assert gateway.stats.retries == 0
