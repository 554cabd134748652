"""Each gateway operation end to end against the local Stripe emulator, with its cost."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from test_gateway_support import (
    API_KEY,
    APR,
    BEFORE_JAN,
    JAN,
    JUN,
    NEXT_JAN,
    SEED,
    Stand,
    cancel_of,
    discounted_plan,
    item,
    key_for,
    phase,
    plan,
    stand,
)

from sf_stripe_sync.config import StripeAccountSettings
from sf_stripe_sync.core.models import Discount, OperationKind
from sf_stripe_sync.errors import IdempotencyConflict, TerminalError
from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator
from sf_stripe_sync.stripe.gateway import StripeGateway
from sf_stripe_sync.stripe.retry import RetryPolicy

pytestmark = pytest.mark.integration
__all__ = ["stand"]  # the fixture, imported for pytest


def test_ensure_customer_with_known_id_sends_nothing(stand: Stand) -> None:
    mark = stand.mark()
    assert stand.gateway.ensure_customer(account_id="001A", name="Acme",
                                         known_customer_id="cus_acme",
                                         metadata={}) == ("cus_acme", False)
    assert stand.mark() == mark


def test_ensure_customer_creates_once_then_finds_by_account_metadata(stand: Stand) -> None:
    mark = stand.mark()
    customer, created = stand.gateway.ensure_customer(
        account_id="001NEW", name="Newco", known_customer_id=None,
        metadata={"salesforce_account_name": "Newco"})
    assert created
    sent = stand.emu.requests()[mark:]
    assert [(r["method"], r["path"]) for r in sent] == [("GET", "/v1/customers/search"),
                                                        ("POST", "/v1/customers")]
    assert sent[1]["idempotency_key"]
    again = stand.mark()
    assert stand.gateway.ensure_customer(account_id="001NEW", name="Newco",
                                         known_customer_id=None,
                                         metadata={}) == (customer, False)
    assert len(stand.emu.requests()) == again  # cached for the run: nothing sent
    next_run = StripeGateway.over_client(stand.raw, account_name=stand.gateway.account_name)
    assert next_run.ensure_customer(account_id="001NEW", name="Newco",
                                    known_customer_id=None,
                                    metadata={}) == (customer, False)
    assert len(stand.emu.requests()) == again + 1  # a new run finds it by search
    made = [c for c in stand.emu.objects("customer") if c["id"] == customer]
    assert made[0]["metadata"]["salesforce_account_id"] == "001NEW"


def test_create_with_n_discounts_and_known_customer_costs_n_plus_one_writes(stand: Stand
                                                                           ) -> None:
    p = discounted_plan(stand)
    mark = stand.mark()
    result = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    posts = stand.posts(mark)
    assert [r["path"] for r in posts] == ["/v1/coupons", "/v1/coupons",
                                          "/v1/subscription_schedules"]
    assert len(stand.emu.requests()) == mark + 3  # no reads either
    assert result.writes == 3
    assert len(result.request_ids) == 3
    assert len(result.coupons) == 2


def test_created_schedule_reads_back_as_the_plan(stand: Stand) -> None:
    p = discounted_plan(stand)
    result = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    remote = stand.gateway.retrieve_schedule(result.schedule.id)
    assert remote == result.schedule
    assert remote.contract_key == "800C1"
    assert remote.fingerprint == "fp-1"
    assert p.schedule is not None
    for wanted, got in zip(p.schedule.phases, remote.phases, strict=True):
        assert (got.start, got.end) == (wanted.start, wanted.end)
        assert [(i.price, i.quantity, i.order_item_ids) for i in got.items] == \
            [(i.price, i.quantity, i.order_item_ids) for i in wanted.items]
    phase_coupon = remote.phases[0].discount
    item_coupon = remote.phases[1].items[1].discount
    assert phase_coupon is not None and item_coupon is not None
    assert {phase_coupon.coupon, item_coupon.coupon} == set(result.coupons)


def test_coupons_are_single_use_forever_with_the_discount_value(stand: Stand) -> None:
    p = discounted_plan(stand)
    result = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    made = {c["id"]: c for c in stand.emu.objects("coupon") if c["id"] in result.coupons}
    assert len(made) == 2
    for coupon in made.values():
        assert coupon["max_redemptions"] == 1
        assert coupon["duration"] == "forever"
        assert coupon["metadata"]["salesforce_order_id"] == "801O1"
    by_slot = {c["metadata"]["sf_sync_slot"]: c for c in made.values()}
    assert by_slot["p0"]["percent_off"] == 10
    item_coupon = by_slot["p1:price_B:802b"]
    assert (item_coupon["amount_off"], item_coupon["currency"]) == (550, "usd")
    assert item_coupon["metadata"]["salesforce_order_item_id"] == "802b"


def test_replayed_create_returns_the_same_objects(stand: Stand) -> None:
    p = discounted_plan(stand)
    first = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    second = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    assert second.schedule.id == first.schedule.id
    assert second.coupons == first.coupons
    assert len(stand.emu.objects("subscription_schedule")) == 1
    assert len(stand.emu.objects("coupon")) == 1 + 2  # the seeded one and ours


def test_changed_replay_under_the_same_key_is_refused(stand: Stand) -> None:
    p = discounted_plan(stand)
    stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    changed = discounted_plan(stand, quantity=5)
    with pytest.raises(IdempotencyConflict) as refused:
        stand.gateway.create_schedule(changed, customer_id=stand.customer, op_key=key_for(p))
    assert refused.value.request_id
    assert len(stand.emu.objects("subscription_schedule")) == 1


def test_find_schedule_picks_ours_by_contract_key(stand: Stand) -> None:
    p = discounted_plan(stand)
    made = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    other = plan(phase(JAN, JUN, item(stand.price_b, 1, "802z")), contract_key="800OTHER",
                 fingerprint="fp-other")
    stand.gateway.create_schedule(other, customer_id=stand.customer, op_key=key_for(other))
    found = stand.gateway.find_schedule(customer_id=stand.customer, contract_key="800C1")
    assert found is not None and found.id == made.schedule.id
    assert stand.gateway.find_schedule(customer_id=stand.customer,
                                       contract_key="800NONE") is None


def test_find_schedule_ignores_canceled_schedules(stand: Stand) -> None:
    p = discounted_plan(stand)
    made = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    stand.gateway.cancel_schedule(cancel_of(p, made.schedule.id), op_key="cancel-1")
    assert stand.gateway.find_schedule(customer_id=stand.customer, contract_key="800C1") is None


def test_replace_mid_schedule_drops_ended_phases_and_keeps_current_start(stand: Stand) -> None:
    p = discounted_plan(stand)
    made = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    stand.emu.set_now(int(datetime(2025, 7, 15, tzinfo=UTC).timestamp()))
    replace = discounted_plan(stand, quantity=3, fingerprint="fp-2").model_copy(
        update={"operation": OperationKind.REPLACE})
    mark = stand.mark()
    result = stand.gateway.update_schedule(replace, schedule_id=made.schedule.id,
                                           op_key=key_for(replace))
    sent = stand.emu.requests()[mark:]
    assert [(r["method"], r["path"].split("/")[2]) for r in sent] == [
        ("GET", "subscription_schedules"), ("POST", "coupons"),
        ("POST", "subscription_schedules")]
    update = sent[-1]["params"]
    assert update["proration_behavior"] == "create_prorations"
    assert len(update["phases"]) == 1
    assert int(update["phases"][0]["start_date"]) == int(JUN.timestamp())
    remote = result.schedule
    assert remote.current_phase_start == JUN
    assert [i.quantity for i in remote.phases[-1].items] == [3, 1]
    assert remote.fingerprint == "fp-2"
    assert result.writes == 2


def test_amend_keeps_a_phase_edited_directly_in_stripe(stand: Stand) -> None:
    p = plan(phase(JAN, APR, item(stand.price_a, 1, "802a")),
             phase(APR, NEXT_JAN, item(stand.price_a, 2, "802a")))
    made = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    # Someone adds an existing coupon to the second phase in the Stripe dashboard.
    current = stand.raw.v1.subscription_schedules.retrieve(made.schedule.id)
    edited = current.to_dict()["phases"]
    stand.raw.v1.subscription_schedules.update(made.schedule.id, params={"phases": [
        {"start_date": edited[0]["start_date"], "end_date": edited[0]["end_date"],
         "items": [{"price": stand.price_a, "quantity": 1}]},
        {"end_date": edited[1]["end_date"],
         "items": [{"price": stand.price_a, "quantity": 2}],
         "discounts": [{"coupon": "co_existing"}]},
    ]})
    remote = stand.gateway.retrieve_schedule(made.schedule.id)
    assert remote.phases[1].discount == Discount(coupon="co_existing")
    # The amend overlays a new item on Stripe's phases as read back.
    base = remote.phases[1]
    amended_phase = base.model_copy(update={"items": (*base.items,
                                                      item(stand.price_b, 1, "802new"))})
    amend = plan(remote.phases[0], amended_phase, operation=OperationKind.AMEND,
                 fingerprint="fp-amend")
    mark = stand.mark()
    result = stand.gateway.update_schedule(amend, schedule_id=made.schedule.id,
                                           op_key=key_for(amend), current=remote)
    assert [r["path"] for r in stand.posts(mark)] == [
        f"/v1/subscription_schedules/{made.schedule.id}"]
    assert result.coupons == ()
    assert result.schedule.phases[1].discount == Discount(coupon="co_existing")
    assert [i.price for i in result.schedule.phases[1].items] == [stand.price_a, stand.price_b]


def test_update_of_canceled_schedule_is_refused_without_writing(stand: Stand) -> None:
    p = discounted_plan(stand)
    made = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    stand.gateway.cancel_schedule(cancel_of(p, made.schedule.id), op_key="cancel-1")
    mark = stand.mark()
    with pytest.raises(TerminalError) as refused:
        stand.gateway.update_schedule(p, schedule_id=made.schedule.id, op_key="upd-1")
    assert refused.value.code == "schedule_not_live"
    assert stand.posts(mark) == []


def test_cancel_sends_invoice_now_and_prorate_and_converges(stand: Stand) -> None:
    p = discounted_plan(stand)
    made = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    mark = stand.mark()
    cancel = cancel_of(p, made.schedule.id, invoice_now=True)
    result = stand.gateway.cancel_schedule(cancel, op_key="cancel-1")
    (sent,) = stand.emu.requests()[mark:]
    assert sent["path"].endswith("/cancel")
    assert sent["params"] == {"invoice_now": "true", "prorate": "false"}
    assert result.schedule.status == "canceled"
    assert result.writes == 1
    again = stand.gateway.cancel_schedule(cancel, op_key="cancel-2")
    assert again.schedule.status == "canceled"


def test_stats_count_reads_writes_and_methods(stand: Stand) -> None:
    p = discounted_plan(stand)
    made = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    stand.gateway.retrieve_schedule(made.schedule.id)
    stats = stand.gateway.stats.as_dict()
    assert (stats["reads"], stats["writes"], stats["retries"]) == (1, 3, 0)
    assert stats["by_method"] == {"coupons.create": 2, "subscription_schedules.create": 1,
                                  "subscription_schedules.retrieve": 1}


def test_find_schedule_pages_through_every_schedule_of_the_customer(stand: Stand) -> None:
    ours = discounted_plan(stand)
    made = stand.gateway.create_schedule(ours, customer_id=stand.customer, op_key=key_for(ours))
    for n in range(3):  # newer schedules of other contracts come first in the list
        other = plan(phase(JAN, JUN, item(stand.price_b, 1, f"802x{n}")),
                     contract_key=f"800X{n}", fingerprint=f"fp-x{n}")
        stand.gateway.create_schedule(other, customer_id=stand.customer, op_key=key_for(other))
    stand.gateway.list_page_size = 2
    mark = stand.mark()
    found = stand.gateway.find_schedule(customer_id=stand.customer, contract_key="800C1")
    assert found is not None and found.id == made.schedule.id
    assert len(stand.emu.requests()) == mark + 2


def test_open_ended_release_schedule_reads_back_open(stand: Stand) -> None:
    p = plan(phase(JAN, JUN, item(stand.price_a, 1, "802a")),
             phase(JUN, None, item(stand.price_a, 2, "802a")), end_behavior="release")
    result = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    assert p.schedule is not None
    assert [(ph.start, ph.end) for ph in result.schedule.phases] == \
        [(ph.start, ph.end) for ph in p.schedule.phases]
    assert result.schedule.end_behavior == "release"


def test_rerun_of_an_applied_update_after_the_phase_moved_on_converges(stand: Stand) -> None:
    p = discounted_plan(stand)
    made = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    stand.emu.set_now(int(datetime(2025, 5, 31, 23, tzinfo=UTC).timestamp()))
    replace = discounted_plan(stand, quantity=3, fingerprint="fp-2").model_copy(
        update={"operation": OperationKind.REPLACE})
    stand.gateway.update_schedule(replace, schedule_id=made.schedule.id,
                                  op_key=key_for(replace))
    # A rerun two hours later (the key still known) falls in the next phase, so it
    # drops the ended phase: same key, other body.
    stand.emu.set_now(int(datetime(2025, 6, 1, 1, tzinfo=UTC).timestamp()))
    mark = stand.mark()
    rerun = stand.gateway.update_schedule(replace, schedule_id=made.schedule.id,
                                          op_key=key_for(replace))
    statuses = [(r["method"], r["status"]) for r in stand.emu.requests()[mark:]]
    assert ("POST", 400) in statuses  # Stripe refused the changed body under the old key
    assert rerun.schedule.fingerprint == "fp-2"
    assert rerun.schedule.id == made.schedule.id
    assert rerun.schedule.current_phase_start == JUN
    assert len(stand.emu.objects("coupon")) == 1 + 2 + 2  # seeded, create, replace: no more


def test_update_with_same_key_but_another_plan_is_refused(stand: Stand) -> None:
    p = discounted_plan(stand)
    made = stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=key_for(p))
    first = discounted_plan(stand, quantity=3, fingerprint="fp-2")
    stand.gateway.update_schedule(first, schedule_id=made.schedule.id, op_key="upd-key")
    other = discounted_plan(stand, quantity=4, fingerprint="fp-3")
    with pytest.raises(IdempotencyConflict):
        stand.gateway.update_schedule(other, schedule_id=made.schedule.id, op_key="upd-key")


def test_connected_account_gateway_acts_inside_that_account() -> None:
    seed = {**SEED, "accounts": {"acct_eu": SEED}}
    emu = StripeEmulator(seed=seed, now=BEFORE_JAN)
    emu.start(host="127.0.0.1", port=0)
    try:
        account = StripeAccountSettings(name="eu", api_base=emu.url,
                                        connected_account="acct_eu")
        gateway = StripeGateway.from_settings(account, API_KEY, retry=RetryPolicy.no_wait())
        p = plan(phase(JAN, JUN, item("price_A", 1, "802a")))
        made = gateway.create_schedule(p, customer_id="cus_acme", op_key=key_for(p))
        assert [s["id"] for s in emu.objects("subscription_schedule", account="acct_eu")] == \
            [made.schedule.id]
        assert emu.objects("subscription_schedule") == []
        assert {r["stripe_account"] for r in emu.requests()} == {"acct_eu"}
    finally:
        emu.stop()
