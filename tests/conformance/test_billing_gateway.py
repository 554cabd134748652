"""``ports.BillingGateway``: the in-memory fake and the real gateway on the Stripe emulator
behave the same for every operation the engine uses."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from sf_stripe_sync.core.keys import operation_key
from sf_stripe_sync.core.models import (
    CustomPrice,
    DesiredSchedule,
    Discount,
    OperationKind,
    OrderPlan,
    Phase,
    PhaseItem,
    PhaseProperties,
)
from sf_stripe_sync.errors import IdempotencyConflict, TerminalError
from tests.conformance.conftest import Billing

JAN = datetime(2025, 1, 1, tzinfo=UTC)
JUN = datetime(2025, 6, 1, tzinfo=UTC)
NEXT_JAN = datetime(2026, 1, 1, tzinfo=UTC)


def plan(quantity: int = 2, *, fingerprint: str = "fp-1", contract_key: str = "800C1",
         price: str = "price_A", discount: Discount | None = None,
         operation: OperationKind = OperationKind.CREATE) -> OrderPlan:
    phases = (
        Phase(start=JAN, end=JUN, items=(PhaseItem(price=price, quantity=quantity,
                                                   order_item_ids=("802a",)),),
              properties=PhaseProperties(currency="usd", discount=discount)),
        Phase(start=JUN, end=NEXT_JAN, items=(
            PhaseItem(price=price, quantity=quantity, order_item_ids=("802a",)),
            PhaseItem(price="price_B", quantity=1, order_item_ids=("802b",))),
              properties=PhaseProperties(currency="usd")),
    )
    return OrderPlan.model_validate({
        "order_id": "801O1", "contract_key": contract_key, "operation": operation,
        "stripe_account": "default", "fingerprint": fingerprint,
        "schedule": DesiredSchedule(phases=phases, end_behavior="cancel"),
        "metadata": {"salesforce_order_id": "801O1"},
    })


def key(p: OrderPlan) -> str:
    return operation_key("default", p.operation.value, p.contract_key, p.fingerprint)


def customer(billing: Billing, account_id: str = "001A") -> str:
    made, _ = billing.run().ensure_customer(account_id=account_id, name="Acme",
                                            known_customer_id=None, metadata={})
    return made


def test_a_known_customer_id_is_taken_as_is(billing: Billing) -> None:
    assert billing.run().ensure_customer(account_id="001A", name="Acme",
                                         known_customer_id="cus_known",
                                         metadata={}) == ("cus_known", False)


def test_a_customer_is_created_once_and_found_by_its_account_in_the_next_run(
        billing: Billing) -> None:
    made, created = billing.run().ensure_customer(account_id="001A", name="Acme",
                                                  known_customer_id=None, metadata={})
    assert created
    assert billing.run().ensure_customer(account_id="001A", name="Acme",
                                         known_customer_id=None, metadata={}) == (made, False)
    other, created_other = billing.run().ensure_customer(
        account_id="001B", name="Other", known_customer_id=None, metadata={})
    assert created_other and other != made


def test_a_created_schedule_carries_the_plan_and_is_found_by_its_contract(
        billing: Billing) -> None:
    cus = customer(billing)
    p = plan()
    result = billing.run().create_schedule(p, customer_id=cus, op_key=key(p))
    made = result.schedule
    assert made.customer == cus and made.status == "not_started" and not made.is_finished
    assert made.fingerprint == "fp-1" and made.contract_key == "800C1"
    assert [(i.price, i.quantity, i.order_item_ids) for i in made.phases[1].items] == [
        ("price_A", 2, ("802a",)), ("price_B", 1, ("802b",))]
    assert [(ph.start, ph.end) for ph in made.phases] == [(JAN, JUN), (JUN, NEXT_JAN)]
    assert result.writes == 1 and len(result.request_ids) == 1
    found = billing.run().find_schedule(customer_id=cus, contract_key="800C1")
    assert found is not None and found.id == made.id
    assert billing.run().retrieve_schedule(made.id).phases == made.phases
    assert billing.run().find_schedule(customer_id=cus, contract_key="800OTHER") is None


def test_a_create_sent_again_with_its_key_makes_nothing_new(billing: Billing) -> None:
    cus = customer(billing)
    p = plan()
    first = billing.run().create_schedule(p, customer_id=cus, op_key=key(p))
    again = billing.run().create_schedule(p, customer_id=cus, op_key=key(p))
    assert again.schedule.id == first.schedule.id


def test_a_key_reused_for_another_body_is_an_idempotency_conflict(billing: Billing) -> None:
    cus = customer(billing)
    p = plan()
    billing.run().create_schedule(p, customer_id=cus, op_key=key(p))
    with pytest.raises(IdempotencyConflict):
        billing.run().create_schedule(plan(5), customer_id=cus, op_key=key(p))


def test_a_discount_is_sent_as_a_coupon_and_read_back_as_its_id(billing: Billing) -> None:
    cus = customer(billing)
    p = plan(discount=Discount(percent_off=Decimal("10")))
    result = billing.run().create_schedule(p, customer_id=cus, op_key=key(p))
    discount = result.schedule.phases[0].properties.discount
    assert discount is not None and discount.coupon and discount.percent_off is None
    assert result.writes == 2  # the coupon, then the schedule


def test_an_update_replaces_the_phases_and_the_fingerprint(billing: Billing) -> None:
    cus = customer(billing)
    p = plan()
    made = billing.run().create_schedule(p, customer_id=cus, op_key=key(p)).schedule
    amended = plan(5, fingerprint="fp-2", operation=OperationKind.AMEND)
    result = billing.run().update_schedule(amended, schedule_id=made.id, op_key=key(amended))
    assert result.schedule.id == made.id
    now = billing.run().retrieve_schedule(made.id)
    assert now.fingerprint == "fp-2"
    assert [i.quantity for i in now.phases[0].items] == [5]


def cancel_of(p: OrderPlan, schedule_id: str) -> OrderPlan:
    return p.model_copy(update={"operation": OperationKind.CANCEL, "schedule_id": schedule_id})


def test_a_cancel_finishes_the_schedule_and_a_second_cancel_sends_no_write(
        billing: Billing) -> None:
    cus = customer(billing)
    p = plan()
    made = billing.run().create_schedule(p, customer_id=cus, op_key=key(p)).schedule
    result = billing.run().cancel_schedule(cancel_of(p, made.id), op_key="cancel-1")
    assert result.schedule.status == "canceled" and result.request_ids
    assert result.schedule.is_finished and billing.run().retrieve_schedule(made.id).is_finished
    assert billing.run().find_schedule(customer_id=cus, contract_key="800C1") is None
    again = billing.run().cancel_schedule(cancel_of(p, made.id), op_key="cancel-2")
    assert again.schedule.status == "canceled" and again.request_ids == ()
    amended = plan(5, fingerprint="fp-2", operation=OperationKind.AMEND)
    with pytest.raises(TerminalError):
        billing.run().update_schedule(amended, schedule_id=made.id, op_key=key(amended))


def test_unknown_ids_and_prices_are_terminal_resource_missing(billing: Billing) -> None:
    with pytest.raises(TerminalError) as missing:
        billing.run().retrieve_schedule("sub_sched_nope")
    assert missing.value.code == "resource_missing"
    cus = customer(billing)
    p = plan(price="price_nope")
    with pytest.raises(TerminalError) as no_price:
        billing.run().create_schedule(p, customer_id=cus, op_key=key(p))
    assert no_price.value.code == "resource_missing"


def test_price_facts_tell_what_each_price_bills_and_which_are_missing(
        billing: Billing) -> None:
    catalog = billing.run().price_facts(["price_A", "price_nope"])
    facts = catalog.prices["price_A"]
    assert (facts.currency, facts.unit_amount, facts.interval) == ("usd", 1000, "month")
    assert catalog.missing == frozenset({"price_nope"})


def test_a_custom_price_is_made_once_by_its_lookup_key(billing: Billing) -> None:
    cus = customer(billing)
    spec = CustomPrice(lookup_key="sfss:prod_widget:usd:month:1:850", list_price="price_A",
                       product="prod_widget", currency="usd", unit_amount=850,
                       interval="month")
    p = plan().model_copy(update={"schedule": DesiredSchedule(phases=(
        Phase(start=JAN, end=JUN, items=(PhaseItem(price=spec.lookup_key, quantity=1,
                                                   custom_price=spec),),
              properties=PhaseProperties(currency="usd")),), end_behavior="cancel")})
    made = billing.run().create_schedule(p, customer_id=cus, op_key=key(p)).schedule
    (price_id,) = [i.price for i in made.phases[0].items]
    assert price_id != spec.lookup_key
    assert billing.run().price_facts([price_id]).prices[price_id].unit_amount == 850
    other = p.model_copy(update={"contract_key": "800C2", "fingerprint": "fp-9"})
    again = billing.run().create_schedule(other, customer_id=cus, op_key=key(other)).schedule
    assert [i.price for i in again.phases[0].items] == [price_id]
