"""Request parameters built from plans: what Stripe is asked to do, key by key."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from sf_stripe_sync.core.models import (
    CustomPrice,
    DesiredSchedule,
    Discount,
    OneTimeItem,
    OperationKind,
    OrderPlan,
    Phase,
    PhaseItem,
    PhaseProperties,
)
from sf_stripe_sync.errors import ConfigError, TerminalError
from sf_stripe_sync.stripe import discounts
from sf_stripe_sync.stripe import params as build
from sf_stripe_sync.stripe.convert import RemoteSchedule

JAN = datetime(2025, 1, 1, tzinfo=UTC)
JUN = datetime(2025, 6, 1, tzinfo=UTC)
NEXT_JAN = datetime(2026, 1, 1, tzinfo=UTC)


def _phase(start: datetime, end: datetime | None, *items: PhaseItem,
           discount: Discount | None = None, collection: str = "charge_automatically",
           days: int | None = None) -> Phase:
    props = PhaseProperties.model_validate(
        {"currency": "usd", "collection_method": collection, "days_until_due": days,
         "discount": discount})
    return Phase(start=start, end=end, properties=props, items=items)


def _plan(*phases: Phase, end_behavior: str = "cancel", start_now: bool = False) -> OrderPlan:
    return OrderPlan.model_validate({
        "order_id": "801A", "contract_key": "800C", "operation": OperationKind.CREATE,
        "stripe_account": "default", "fingerprint": "fp1", "start_now": start_now,
        "schedule": DesiredSchedule.model_validate(
            {"phases": phases, "end_behavior": end_behavior}),
        "metadata": {"salesforce_contract_id": "800C"},
    })


ITEM_A = PhaseItem(price="price_A", quantity=2, order_item_ids=("802a",))
ITEM_B = PhaseItem(price="price_B", quantity=1, order_item_ids=("802b", "802c"),
                   discount=Discount(amount_off=550, currency="usd"))


def _two_phase_plan(**kwargs: Any) -> OrderPlan:
    return _plan(
        _phase(JAN, JUN, ITEM_A, discount=Discount(percent_off=Decimal("12.5"))),
        _phase(JUN, NEXT_JAN, ITEM_A, ITEM_B, collection="send_invoice", days=30),
        **kwargs,
    )


def _coupons_for(plan: OrderPlan) -> dict[str, str]:
    assert plan.schedule is not None
    slots = discounts.discount_slots(list(enumerate(plan.schedule.phases)))
    return {s.slot: f"co_{n}" for n, s in enumerate(slots)}


def test_discount_slots_name_phase_and_item_discounts_stably() -> None:
    plan = _two_phase_plan()
    assert plan.schedule is not None
    slots = discounts.discount_slots(list(enumerate(plan.schedule.phases)))
    again = discounts.discount_slots(list(enumerate(_two_phase_plan().schedule.phases)))  # type: ignore[union-attr]
    assert [s.slot for s in slots] == ["p0", "p1:price_B:802b,802c"]
    assert [s.slot for s in again] == [s.slot for s in slots]


def test_existing_coupon_needs_no_new_coupon_and_is_passed_as_is() -> None:
    plan = _plan(_phase(JAN, JUN, ITEM_A, discount=Discount(coupon="co_existing")))
    assert plan.schedule is not None
    assert discounts.discount_slots(list(enumerate(plan.schedule.phases))) == []
    sent = build.create_params(plan, customer_id="cus_1", coupons={})
    assert sent["phases"][0]["discounts"] == [{"coupon": "co_existing"}]


def test_coupon_is_single_use_forever_and_amount_off_carries_currency() -> None:
    plan = _two_phase_plan()
    assert plan.schedule is not None
    percent_slot, amount_slot = discounts.discount_slots(list(enumerate(plan.schedule.phases)))
    percent = discounts.coupon_params(plan, percent_slot)
    amount = discounts.coupon_params(plan, amount_slot)
    for coupon in (percent, amount):
        assert coupon["max_redemptions"] == 1
        assert coupon["duration"] == "forever"
        assert coupon["metadata"]["salesforce_order_id"] == "801A"
    assert percent["percent_off"] == 12.5
    assert "currency" not in percent
    assert (amount["amount_off"], amount["currency"]) == (550, "usd")
    assert amount["metadata"]["salesforce_order_item_id"] == "802b,802c"


def test_create_starts_at_plan_start_with_end_dates_and_phase_properties() -> None:
    plan = _two_phase_plan()
    sent = build.create_params(plan, customer_id="cus_1", coupons=_coupons_for(plan))
    assert sent["customer"] == "cus_1"
    assert sent["start_date"] == int(JAN.timestamp())
    assert sent["end_behavior"] == "cancel"
    first, second = sent["phases"]
    assert first["end_date"] == int(JUN.timestamp())
    assert second["end_date"] == int(NEXT_JAN.timestamp())
    assert first["discounts"] == [{"coupon": "co_0"}]
    assert "invoice_settings" not in first
    assert second["collection_method"] == "send_invoice"
    assert second["invoice_settings"] == {"days_until_due": 30}
    assert second["items"][1]["discounts"] == [{"coupon": "co_1"}]
    assert second["items"][1]["metadata"] == {"salesforce_order_item_id": "802b,802c"}
    assert sent["metadata"] == {"salesforce_contract_id": "800C", "salesforce_order_id": "801A",
                                "salesforce_contract_key": "800C", "sf_sync_fingerprint": "fp1"}


def test_create_never_sends_price_data() -> None:
    plan = _two_phase_plan()
    sent = build.create_params(plan, customer_id="cus_1", coupons=_coupons_for(plan))
    for phase in sent["phases"]:
        for item in phase["items"]:
            assert "price_data" not in item
            assert item["price"].startswith("price_")


def test_create_with_start_now_sends_now() -> None:
    plan = _two_phase_plan(start_now=True)
    sent = build.create_params(plan, customer_id="cus_1", coupons=_coupons_for(plan))
    assert sent["start_date"] == "now"


def test_open_last_phase_has_no_end_date() -> None:
    plan = _plan(_phase(JAN, JUN, ITEM_A), _phase(JUN, None, ITEM_A), end_behavior="release")
    sent = build.create_params(plan, customer_id="cus_1", coupons={})
    assert "end_date" in sent["phases"][0]
    assert "end_date" not in sent["phases"][1]
    assert sent["end_behavior"] == "release"


def test_open_phase_before_the_last_is_refused() -> None:
    plan = _plan(_phase(JAN, None, ITEM_A), _phase(JUN, NEXT_JAN, ITEM_A))
    with pytest.raises(TerminalError) as refused:
        build.create_params(plan, customer_id="cus_1", coupons={})
    assert refused.value.code == "invalid_plan"


def _current(start: datetime | None) -> RemoteSchedule:
    return RemoteSchedule(id="sub_sched_1", customer="cus_1",
                          status="active" if start else "not_started",
                          end_behavior="cancel", current_phase_start=start)


def test_update_drops_ended_phases_and_keeps_current_phase_start() -> None:
    plan = _two_phase_plan()
    current_start = datetime(2025, 6, 1, tzinfo=UTC)
    coupons = _coupons_for(plan)
    sent = build.update_params(plan, current=_current(current_start), coupons=coupons,
                               proration_behavior="none")
    assert len(sent["phases"]) == 1
    assert sent["phases"][0]["start_date"] == int(current_start.timestamp())
    assert sent["phases"][0]["end_date"] == int(NEXT_JAN.timestamp())
    assert sent["proration_behavior"] == "none"
    assert sent["end_behavior"] == "cancel"


def test_update_first_phase_keeps_stripe_start_even_when_plan_starts_earlier() -> None:
    plan = _two_phase_plan()
    stripe_start = datetime(2025, 3, 15, tzinfo=UTC)
    sent = build.update_params(plan, current=_current(stripe_start), coupons=_coupons_for(plan),
                               proration_behavior="create_prorations")
    assert len(sent["phases"]) == 2
    assert sent["phases"][0]["start_date"] == int(stripe_start.timestamp())
    assert "start_date" not in sent["phases"][1]


def test_update_of_schedule_not_started_sends_every_phase_from_plan_start() -> None:
    plan = _two_phase_plan()
    sent = build.update_params(plan, current=_current(None), coupons=_coupons_for(plan),
                               proration_behavior="create_prorations")
    assert len(sent["phases"]) == 2
    assert sent["phases"][0]["start_date"] == int(JAN.timestamp())


def test_update_makes_coupons_only_for_phases_it_sends() -> None:
    plan = _two_phase_plan()
    sent_phases = build.phases_to_send(plan, _current(JUN))
    assert [s.slot for s in discounts.discount_slots(sent_phases)] == ["p1:price_B:802b,802c"]


def test_update_when_every_phase_has_ended_is_refused() -> None:
    plan = _plan(_phase(JAN, JUN, ITEM_A))
    with pytest.raises(TerminalError):
        build.update_params(plan, current=_current(NEXT_JAN), coupons={},
                            proration_behavior="none")


def test_plan_without_schedule_is_refused() -> None:
    plan = OrderPlan(order_id="801A", contract_key="800C", operation=OperationKind.CREATE,
                     stripe_account="default")
    with pytest.raises(TerminalError):
        build.create_params(plan, customer_id="cus_1", coupons={})


def test_customer_search_query_escapes_quotes() -> None:
    query = build.customer_search_params("001'x")["query"]
    assert query == "metadata['salesforce_account_id']:'001\\'x'"


def test_customer_create_links_back_to_the_account() -> None:
    sent = build.customer_create_params(account_id="001A", name="Acme", metadata={"k": "v"})
    assert sent["metadata"] == {"k": "v", "salesforce_account_id": "001A"}
    assert sent["name"] == "Acme"


def test_proration_behavior_outside_stripe_values_is_a_config_error() -> None:
    assert build.proration_behavior("none") == "none"
    with pytest.raises(ConfigError):
        build.proration_behavior("prorate_please")


def _custom(amount: int, interval: str | None = "month") -> CustomPrice:
    key = f"sfss:prod_A:usd:{'month-1' if interval else 'once'}:{amount}"
    return CustomPrice(lookup_key=key, list_price="price_A", product="prod_A", currency="usd",
                       unit_amount=amount, interval=interval)


def test_custom_prices_are_sent_by_their_stripe_id_and_metered_items_without_quantity(
) -> None:
    negotiated = PhaseItem(price="sfss:prod_A:usd:month-1:750", quantity=2,
                           custom_price=_custom(750))
    usage = PhaseItem(price="price_usage", quantity=1, metered=True)
    setup = OneTimeItem(price="sfss:prod_A:usd:once:5000", quantity=1, service_date=JAN,
                        order_item_ids=("802s",), custom_price=_custom(5000, None))
    phase = _phase(JAN, NEXT_JAN, negotiated, usage).model_copy(
        update={"one_time_items": (setup,)})
    plan = _plan(phase)
    prices = {"sfss:prod_A:usd:month-1:750": "price_750",
              "sfss:prod_A:usd:once:5000": "price_setup_5000"}

    assert [p.lookup_key for p in build.custom_prices(list(enumerate([phase])))] == [
        "sfss:prod_A:usd:month-1:750", "sfss:prod_A:usd:once:5000"]
    sent = build.create_params(plan, customer_id="cus_1", coupons={}, prices=prices)
    (sent_phase,) = sent["phases"]
    items = sent_phase["items"]
    assert items[0]["price"] == "price_750" and items[0]["quantity"] == 2
    assert items[1]["price"] == "price_usage" and "quantity" not in items[1]
    assert sent_phase["add_invoice_items"] == [{
        "price": "price_setup_5000", "quantity": 1, "discountable": False,
        "metadata": {"salesforce_order_item_id": "802s"}}]
    current = RemoteSchedule(id="sub_sched_1", customer="cus_1", status="active",
                             end_behavior="cancel")
    update = build.update_params(plan, current=current, coupons={}, prices=prices,
                                 proration_behavior="create_prorations")
    assert update["phases"][0]["add_invoice_items"][0]["price"] == "price_setup_5000"
    assert "quantity" not in update["phases"][0]["items"][1]


def test_a_discounted_one_time_charge_gets_its_own_coupon_slot() -> None:
    setup = OneTimeItem(price="price_setup", quantity=1, service_date=JAN,
                        order_item_ids=("802s",), discount=Discount(amount_off=100,
                                                                    currency="usd"))
    phase = _phase(JAN, NEXT_JAN, ITEM_A).model_copy(update={"one_time_items": (setup,)})
    (slot,) = discounts.discount_slots([(0, phase)])
    assert slot.slot == "p0:once:price_setup:802s"
    sent = build.create_params(_plan(phase), customer_id="cus_1",
                               coupons={slot.slot: "co_1"})
    assert sent["phases"][0]["add_invoice_items"][0]["discounts"] == [{"coupon": "co_1"}]
