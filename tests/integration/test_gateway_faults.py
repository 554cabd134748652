"""With 500s, 429s, dropped and lost responses injected, every object exists exactly once."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

import pytest
from test_gateway_support import Stand, discounted_plan, key_for, make_stand, stand

from sf_stripe_sync.core.models import OperationKind
from sf_stripe_sync.errors import TransientError
from sf_stripe_sync.sandbox.stripe_emulator import FaultConfig
from sf_stripe_sync.stripe.retry import RetryPolicy

pytestmark = pytest.mark.integration
__all__ = ["stand"]

SEEDED_COUPONS = 1


def _ours(stand: Stand, kind: str) -> list[str]:
    return [o["id"] for o in stand.emu.objects(kind)
            if o.get("metadata", {}).get("salesforce_contract_key") == "800C1"]


def _keys_by_path(stand: Stand) -> dict[str, set[str]]:
    keys: dict[str, set[str]] = defaultdict(set)
    for request in stand.posts():
        keys[request["path"]].add(request["idempotency_key"])
    return keys


def test_scripted_faults_on_every_write_still_make_each_object_once(stand: Stand) -> None:
    stand.emu.set_faults(FaultConfig(methods=("POST",), script=(
        "error", "none",             # coupon 1: a 500, then fine
        "lost", "none",              # coupon 2: made, answer lost, replayed
        "rate_limit", "lock_timeout", "drop", "lost", "none",  # the schedule
    )))
    p = discounted_plan(stand)
    result = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    assert _ours(stand, "subscription_schedule") == [result.schedule.id]
    assert sorted(_ours(stand, "coupon")) == sorted(result.coupons)
    assert len(stand.emu.objects("coupon")) == SEEDED_COUPONS + 2
    assert stand.gateway.stats.retries == 6
    assert result.writes == 9


def test_retried_writes_reuse_their_idempotency_key(stand: Stand) -> None:
    stand.emu.set_faults(FaultConfig(methods=("POST",),
                                     script=("lost", "none", "none", "error", "lost", "none")))
    p = discounted_plan(stand)
    stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    keys = _keys_by_path(stand)
    assert keys["/v1/subscription_schedules"] == {key_for(p)}
    coupon_posts = [r for r in stand.posts() if r["path"] == "/v1/coupons"]
    assert len(coupon_posts) == 3
    assert len({r["idempotency_key"] for r in coupon_posts}) == 2


def test_lost_schedule_response_converges_on_the_schedule_stripe_made(stand: Stand) -> None:
    stand.emu.set_faults(FaultConfig(methods=("POST",), script=("none", "none", "lost")))
    p = discounted_plan(stand)
    result = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    creates = [r for r in stand.posts() if r["path"] == "/v1/subscription_schedules"]
    assert len(creates) == 2
    assert creates[1]["replayed"]
    assert _ours(stand, "subscription_schedule") == [result.schedule.id]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_faults_converge_to_one_schedule_and_one_coupon_per_discount(seed: int) -> None:
    made = make_stand(retry=RetryPolicy.no_wait(max_attempts=12))
    try:
        made.emu.set_faults(FaultConfig(seed=seed, error_rate=0.15, lock_timeout_rate=0.1,
                                        drop_rate=0.1, lost_response_rate=0.2))
        p = discounted_plan(made)
        customer, _ = made.gateway.ensure_customer(account_id="001F", name="Faulty",
                                                   known_customer_id=None, metadata={})
        first = made.gateway.create_schedule(p, customer_id=customer, op_key=key_for(p))
        rerun = made.gateway.create_schedule(p, customer_id=customer, op_key=key_for(p))
        made.emu.clear_faults()
        assert made.gateway.stats.retries > 0  # the faults really happened
        assert rerun.schedule.id == first.schedule.id
        assert _ours(made, "subscription_schedule") == [first.schedule.id]
        assert len(_ours(made, "coupon")) == 2
        customers = [c for c in made.emu.objects("customer")
                     if c["metadata"].get("salesforce_account_id") == "001F"]
        assert len(customers) == 1
    finally:
        made.emu.stop()


def test_lost_update_response_converges(stand: Stand) -> None:
    p = discounted_plan(stand)
    made = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    stand.emu.set_now(int(datetime(2025, 2, 1, tzinfo=UTC).timestamp()))
    replace = discounted_plan(stand, quantity=4, fingerprint="fp-2").model_copy(
        update={"operation": OperationKind.REPLACE})
    stand.emu.set_faults(FaultConfig(methods=("POST",),
                                     script=("lost", "none", "lost", "none", "lost")))
    result = stand.gateway.update_schedule(replace, schedule_id=made.schedule.id,
                                           op_key=key_for(replace))
    stand.emu.clear_faults()
    assert result.schedule.fingerprint == "fp-2"
    assert [i.quantity for i in result.schedule.phases[0].items] == [4]
    assert len(_ours(stand, "coupon")) == 4  # two per operation, none twice
    assert _ours(stand, "subscription_schedule") == [made.schedule.id]


def test_persistent_outage_gives_up_with_a_transient_error(stand: Stand) -> None:
    stand.emu.set_faults(FaultConfig(error_rate=1.0))
    p = discounted_plan(stand)
    with pytest.raises(TransientError) as failed:
        stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    assert failed.value.request_id
    assert stand.gateway.stats.writes == 9  # max_retries=8 after the first try
    assert _ours(stand, "coupon") == []
