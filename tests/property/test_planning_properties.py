"""Invariants of planning (DESIGN 2, Operations), checked on generated contracts.

Each example is a contract of one to three orders (recurring lines over monthly dates,
reductions linked to earlier items, one-time fees, order and item discounts, both
collection methods) and an ``as_of``. "Applying" a plan is simulated the way Stripe keeps it:
the phases sent become a subscription schedule JSON (discounts as coupons, OrderItem
ids in item metadata, an open last phase given an end date, the fingerprint in the
schedule's metadata) which ``stripe.convert.schedule_from_stripe`` reads back, exactly
as the engine reads a schedule before planning an amend, a replace or a noop.

``PLANNING_EXAMPLES`` (default 40) sets the number of examples per property.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sf_stripe_sync.core.issues import IssueCode
from sf_stripe_sync.core.models import (
    Discount,
    OperationKind,
    Order,
    OrderLine,
    OrderPlan,
    Phase,
    PhaseProperties,
)
from sf_stripe_sync.core.plan import KnownState, plan_order
from sf_stripe_sync.core.rules import SyncRules
from sf_stripe_sync.stripe.convert import (
    FINISHED_STATUSES,
    META_FINGERPRINT,
    RemoteSchedule,
    order_item_ids_metadata,
    schedule_from_stripe,
)

EXAMPLES = int(os.environ.get("PLANNING_EXAMPLES", "40"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

T0 = datetime(2026, 1, 1, tzinfo=UTC)
PRICES = ("price_a", "price_b", "price_c")
SCHEDULE_ID = "sub_sched_1"
CONTRACT = "800C"
PROPERTY_CHOICES = (
    PhaseProperties(currency="usd"),
    PhaseProperties(currency="usd", collection_method="send_invoice", days_until_due=30),
    PhaseProperties(currency="usd", discount=Discount(percent_off=Decimal(5))),
)
ITEM_DISCOUNTS = (None, None, None, Discount(percent_off=Decimal(10)),
                  Discount(amount_off=500, currency="usd"))


def month(offset: int) -> datetime:
    """The first of a month, ``offset`` months after January 2026."""
    return datetime(2026 + offset // 12, offset % 12 + 1, 1, tzinfo=UTC)


def plan(order: Order, contract: Sequence[Order], known: KnownState, as_of: datetime, *,
         rules: SyncRules | None = None, cancel: bool = False) -> OrderPlan:
    siblings = [o for o in contract if o.id != order.id]
    return plan_order(order, contract_orders=siblings, known=known, rules=rules or SyncRules(),
                      as_of=as_of, stripe_account="default", cancel_requested=cancel)


# ----------------------------------------------------------------------------- generation


@st.composite
def contracts(draw: st.DrawFn, min_orders: int = 1) -> list[Order]:
    """One to three activated orders of one contract, in activation order, some with a
    one-time fee.

    With ``min_orders`` of 2 the last order is an amendment: its lines start later."""
    props = draw(st.sampled_from(PROPERTY_CHOICES))
    orders: list[Order] = []
    earlier: list[OrderLine] = []
    count = draw(st.integers(min_value=min_orders, max_value=3))
    for o in range(count):
        order_id = f"801{o}"
        lines: list[OrderLine] = []
        first = 2 if min_orders > 1 and o == count - 1 else 0
        for n in range(draw(st.integers(min_value=1, max_value=3))):
            start = draw(st.integers(min_value=first, max_value=first + 8))
            length = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=6)))
            price = draw(st.sampled_from(PRICES))
            quantity = draw(st.sampled_from([1, 1, 2, 3]))
            original = None
            if earlier and draw(st.integers(min_value=0, max_value=3)) == 0:
                target = draw(st.sampled_from(earlier))
                original, price = target.id, target.price_id
                quantity = draw(st.sampled_from([-1, 1, 2]))
            lines.append(OrderLine(
                id=f"802{o}{n}", order_id=order_id, price_id=price, quantity=quantity,
                start=month(start), end=None if length is None else month(start + length),
                properties=props, original_item_id=original,
                discount=draw(st.sampled_from(ITEM_DISCOUNTS))))
        if draw(st.integers(min_value=0, max_value=3)) == 0:  # a one-time fee
            lines.append(OrderLine(
                id=f"802{o}F", order_id=order_id, price_id="price_fee", quantity=1,
                start=month(draw(st.integers(min_value=first, max_value=first + 8))), end=None,
                properties=props, billing_frequency="One-Time",
                discount=draw(st.sampled_from(ITEM_DISCOUNTS))))
        earlier += [line for line in lines if line.billing_frequency is None]
        orders.append(Order(id=order_id, status="Activated", currency="usd",
                            account_id="001A", contract_id=CONTRACT, lines=tuple(lines)))
    return orders


def as_of_dates() -> st.SearchStrategy[datetime]:
    """Mid-month instants from before the first line to after most lines ended."""
    return st.integers(min_value=-1, max_value=16).map(
        lambda m: month(max(m, 0)) + timedelta(days=14) if m >= 0 else T0 - timedelta(days=20))


# ----------------------------------------------------------------------------- Stripe


def coupon(discount: Discount | None) -> list[dict[str, Any]]:
    """The coupon Stripe holds for a discount (made once per discount value)."""
    if discount is None:
        return []
    if discount.coupon is not None:
        return [{"coupon": discount.coupon}]
    text = repr(sorted(discount.as_json().items()))
    return [{"coupon": "co_" + hashlib.sha256(text.encode()).hexdigest()[:12]}]


def phase_json(phase: Phase, *, fill_end: bool) -> dict[str, Any]:
    props = phase.properties
    end = phase.end if phase.end is not None else (
        phase.start + timedelta(days=31) if fill_end else None)
    data: dict[str, Any] = {
        "start_date": int(phase.start.timestamp()),
        "end_date": int(end.timestamp()) if end is not None else None,
        "currency": props.currency,
        "collection_method": props.collection_method,
        "invoice_settings": ({"days_until_due": props.days_until_due}
                             if props.days_until_due is not None else None),
        "default_payment_method": props.default_payment_method,
        "discounts": coupon(props.discount),
        "metadata": dict(phase.metadata),
        "items": [{"price": i.price, "quantity": i.quantity,
                   "metadata": {**i.metadata, **order_item_ids_metadata(i.order_item_ids)},
                   "discounts": coupon(i.discount)} for i in phase.items],
        "add_invoice_items": [
            {"price": o.price, "quantity": o.quantity,
             "metadata": order_item_ids_metadata(o.order_item_ids),
             "discounts": coupon(o.discount)} for o in phase.one_time_items],
    }
    return data


def stripe_has(phases: Sequence[Phase], end_behavior: str, fingerprint: str, *,
               at: datetime, status: str | None = None) -> RemoteSchedule:
    """The schedule as Stripe returns it at ``at`` after being sent ``phases``."""
    current = next((p for p in phases if p.start <= at and (p.end is None or p.end > at)),
                   None)
    if status is None:
        ended = phases[-1].end is not None and phases[-1].end <= at
        status = ("completed" if ended else "active" if current is not None
                  else "not_started")
    data = {
        "id": SCHEDULE_ID, "customer": "cus_1", "status": status,
        "end_behavior": end_behavior,
        "metadata": {META_FINGERPRINT: fingerprint},
        "current_phase": ({"start_date": int(current.start.timestamp()),
                           "end_date": int(current.end.timestamp()) if current.end else None}
                          if current is not None else None),
        "phases": [phase_json(p, fill_end=n == len(phases) - 1)
                   for n, p in enumerate(phases)],
    }
    return schedule_from_stripe(data)


def known_from(remote: RemoteSchedule, applied: OrderPlan, applied_orders: set[str]
               ) -> KnownState:
    """What the engine knows after applying ``applied`` and reading Stripe back."""
    return KnownState(schedule_id=remote.id, applied_fingerprint=applied.fingerprint,
                      applied_order_ids=frozenset(applied_orders),
                      remote_phases=remote.phases, remote_finished=remote.is_finished,
                      current_phase_start=remote.current_phase_start)


def applied(result: OrderPlan, at: datetime) -> RemoteSchedule:
    assert result.schedule is not None
    return stripe_has(result.schedule.phases, result.schedule.end_behavior,
                      result.fingerprint, at=at)


def billing_view(phase: Phase) -> tuple[Any, ...]:
    """What a phase bills from its start, without its end or the amounts shown."""
    items = tuple(sorted((i.price, i.quantity, coupon(i.discount) != []) for i in phase.items))
    return (phase.start, phase.properties.collection_method,
            phase.properties.days_until_due, phase.properties.discount is not None, items)


def kept(phase: Phase, sent: Sequence[Phase]) -> bool:
    """``phase`` is sent as it was, or extended by a later phase billing the same."""
    return any(billing_view(p) == billing_view(phase) and (
        p.end is None or (phase.end is not None and p.end >= phase.end)) for p in sent)


def creates(contract: list[Order], as_of: datetime) -> OrderPlan | None:
    """The create of the whole contract, when it makes a schedule to send."""
    first = plan(contract[0], contract, KnownState(), as_of)
    return first if first.operation is OperationKind.CREATE else None


# ----------------------------------------------------------------------------- properties


@PROPERTY
@given(contracts(), as_of_dates(), st.booleans())
def test_with_no_schedule_known_the_plan_is_a_create_unless_it_fails_or_has_ended(
    contract: list[Order], as_of: datetime, backdate: bool,
) -> None:
    rules = SyncRules(backdate=backdate)
    result = plan(contract[-1], contract, KnownState(), as_of, rules=rules)
    if result.errors:
        assert result.operation is OperationKind.FAIL
    elif result.operation is OperationKind.SKIP:
        assert [w.code for w in result.warnings] == [IssueCode.ALREADY_ENDED]
    else:
        assert result.operation is OperationKind.CREATE
        assert set(result.covers_order_ids) == {o.id for o in contract}
        assert result.schedule is not None and result.schedule.start is not None
        if backdate:
            assert not result.start_now
        else:  # a past start is moved to now, a future one kept
            assert result.start_now == (result.schedule.start == as_of)
            assert result.schedule.start >= as_of


@PROPERTY
@given(contracts(), as_of_dates(), st.integers(min_value=0, max_value=90), st.booleans())
def test_replanning_from_the_schedule_read_back_is_a_noop_with_the_same_fingerprint(
    contract: list[Order], as_of: datetime, days_later: int, backdate: bool,
) -> None:
    rules = SyncRules(backdate=backdate)
    first = plan(contract[0], contract, KnownState(), as_of, rules=rules)
    if first.operation is not OperationKind.CREATE:
        return
    later = as_of + timedelta(days=days_later)
    remote = applied(first, later)
    known = known_from(remote, first, {*first.covers_order_ids, contract[0].id})
    for order in contract:
        again = plan(order, contract, known, later, rules=rules)
        if again.operation is OperationKind.SKIP:  # the schedule ended in the meantime
            assert IssueCode.ALREADY_ENDED in {w.code for w in again.warnings}
            continue
        assert again.fingerprint == first.fingerprint
        assert again.operation is OperationKind.NOOP
        assert again.drift == ()


@PROPERTY
@given(contracts(min_orders=2), as_of_dates(), st.integers(min_value=0, max_value=60))
def test_a_new_order_on_a_known_schedule_is_an_amend_that_keeps_the_past(
    contract: list[Order], as_of: datetime, days_later: int,
) -> None:
    before, new = contract[:-1], contract[-1]
    first = creates(before, as_of)
    if first is None:
        return
    later = as_of + timedelta(days=days_later)
    remote = applied(first, later)
    known = known_from(remote, first, {o.id for o in before})
    amend = plan(new, contract, known, later)
    if amend.errors:
        assert amend.operation is OperationKind.FAIL
        return
    if amend.operation is OperationKind.SKIP:
        assert IssueCode.ALREADY_ENDED in {w.code for w in amend.warnings}
        return
    assert amend.operation in (OperationKind.AMEND, OperationKind.NOOP)
    assert (amend.operation is OperationKind.NOOP) == (amend.fingerprint == first.fingerprint)
    whole = plan(new, contract, KnownState(), later)
    if not whole.errors:  # fingerprinted as the contract's Salesforce-side desired state
        assert amend.fingerprint == whole.fingerprint
    assert amend.schedule is not None and amend.schedule.phases
    phases = amend.schedule.phases
    assert all(p.end is None or p.end > later for p in phases), "an ended phase is sent"
    start = remote.current_phase_start
    if start is not None and start <= later:
        assert phases[0].start == start, "the current phase's start moved"
    live = [p for p in remote.phases if p.end is None or p.end > later]
    first_change = min(line.start for line in new.lines)
    untouched = [p for p in live if p.end is not None and p.end <= first_change]
    assert all(kept(p, phases) for p in untouched), "a phase before the change changed"


@PROPERTY
@given(contracts(min_orders=2), as_of_dates(), st.integers(min_value=0, max_value=60))
def test_replanning_after_an_amend_is_applied_is_a_noop_for_every_order(
    contract: list[Order], as_of: datetime, days_later: int,
) -> None:
    first = creates(contract[:-1], as_of)
    if first is None:
        return
    later = as_of + timedelta(days=days_later)
    known = known_from(applied(first, later), first, {o.id for o in contract[:-1]})
    amend = plan(contract[-1], contract, known, later)
    if amend.operation is not OperationKind.AMEND:
        return
    if plan(contract[0], contract, KnownState(), later).errors:
        # The orders conflict where Stripe's phases have passed (the amend only sees the
        # current and future ones): every later plan of the contract fails on it.
        return
    remote = applied(amend, later)
    after = known_from(remote, amend, {*amend.covers_order_ids})
    for order in contract:
        again = plan(order, contract, after, later)
        assert again.operation is OperationKind.NOOP
        assert again.fingerprint == amend.fingerprint
    # The amend replayed after its write-back was lost: the engine takes the applied
    # fingerprint from the schedule's metadata, and the orders folded in are the old ones.
    lost = after.model_copy(update={"applied_fingerprint": remote.fingerprint,
                                    "applied_order_ids": known.applied_order_ids})
    replay = plan(contract[-1], contract, lost, later)
    assert replay.operation is OperationKind.NOOP
    assert replay.fingerprint == amend.fingerprint


@PROPERTY
@given(contracts(), as_of_dates(), st.sampled_from(["report", "overwrite", "keep"]), st.data())
def test_a_changed_order_already_applied_is_a_replace_unless_drift_is_kept(
    contract: list[Order], as_of: datetime, on_drift: str, data: st.DataObject,
) -> None:
    first = creates(contract, as_of)
    if first is None:
        return
    remote = applied(first, as_of)
    known = known_from(remote, first, {o.id for o in contract})
    target = data.draw(st.sampled_from(contract))
    line = data.draw(st.sampled_from(target.lines))
    bumped = line.model_copy(update={"quantity": line.quantity + 7})
    changed = target.model_copy(update={"lines": tuple(
        bumped if x.id == line.id else x for x in target.lines)})
    edited = [changed if o.id == target.id else o for o in contract]
    result = plan(changed, edited, known, as_of, rules=SyncRules(on_drift=on_drift))
    if result.errors:
        assert result.operation is OperationKind.FAIL
    elif IssueCode.ALREADY_ENDED in {w.code for w in result.warnings}:
        assert result.operation is OperationKind.SKIP
    else:
        assert result.fingerprint != first.fingerprint
        assert result.drift is not None  # Stripe's phases were read: drift is known
        kept = on_drift == "keep" and bool(result.drift)  # Stripe's differences are kept
        assert result.operation is (OperationKind.SKIP if kept else OperationKind.REPLACE)


@PROPERTY
@given(contracts(), as_of_dates(), st.sampled_from([None, *sorted(FINISHED_STATUSES)]),
       st.booleans())
def test_cancel_is_chosen_exactly_when_asked_and_is_a_noop_once_done(
    contract: list[Order], as_of: datetime, status: str | None, by_status: bool,
) -> None:
    order = contract[0]
    subject = order.model_copy(update={"status": "Cancelled"}) if by_status else order
    cancel = not by_status
    nothing = plan(subject, contract, KnownState(), as_of, cancel=cancel)
    assert nothing.operation is OperationKind.FAIL
    assert [e.code for e in nothing.errors] == [IssueCode.INVALID_RECORD]
    known = KnownState(schedule_id=SCHEDULE_ID, remote_finished=status is not None,
                       applied_order_ids=frozenset(o.id for o in contract))
    result = plan(subject, contract, known, as_of, cancel=cancel)
    assert result.operation is (OperationKind.NOOP if status else OperationKind.CANCEL)
    assert result.fingerprint
    done = known.model_copy(update={"applied_fingerprint": result.fingerprint})
    assert plan(subject, contract, done, as_of, cancel=cancel).operation is OperationKind.NOOP
    if not by_status:  # the same order not asked to cancel plans its schedule instead
        assert plan(order, contract, known, as_of).operation is not OperationKind.CANCEL


@PROPERTY
@given(contracts(), as_of_dates(), st.randoms(use_true_random=False))
def test_fingerprint_and_operation_do_not_depend_on_the_order_of_lines_orders_or_items(
    contract: list[Order], as_of: datetime, rnd: Any,
) -> None:
    def shuffled() -> list[Order]:
        orders = [o.model_copy(update={"lines": tuple(rnd.sample(o.lines, len(o.lines)))})
                  for o in contract]
        return rnd.sample(orders, len(orders))

    reference = plan(contract[0], contract, KnownState(), as_of)
    other = shuffled()
    subject = next(o for o in other if o.id == contract[0].id)
    again = plan(subject, other, KnownState(), as_of)
    assert again.operation is reference.operation
    assert again.fingerprint == reference.fingerprint
    if reference.operation is not OperationKind.CREATE or len(contract) < 2:
        return
    first = creates(contract[:-1], as_of)
    if first is None:
        return
    known = known_from(applied(first, as_of), first, {o.id for o in contract[:-1]})
    amend = plan(contract[-1], contract, known, as_of)
    other = shuffled()
    subject = next(o for o in other if o.id == contract[-1].id)
    assert known.remote_phases is not None
    stripe_order = known.model_copy(update={"remote_phases": tuple(  # Stripe's item order
        p.model_copy(update={"items": tuple(rnd.sample(p.items, len(p.items)))})
        for p in known.remote_phases)})
    again = plan(subject, other, stripe_order, as_of)
    assert again.operation is amend.operation
    assert again.fingerprint == amend.fingerprint
