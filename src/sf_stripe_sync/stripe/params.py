"""Build Stripe request parameters from core models, as the SDK's own TypedDicts.

Theory of operation: every request body the gateway sends is built here (discounts and
their coupons in ``stripe.discounts``) and typed with ``stripe.params``
(``SubscriptionScheduleCreateParams``, ``CustomerCreateParams`` ...), so ``mypy
--strict`` refuses a misspelled or misplaced parameter. Only existing prices are
referenced (``items[].price``), never ``price_data``: an item billed through a custom
price names it by lookup key in the plan, and ``prices`` (lookup key -> Stripe id, made
by ``stripe.prices``) gives the id to send. A metered item is sent without a quantity;
a phase's one-time charges are its ``add_invoice_items`` (``discountable: false`` unless
the line carries its own discount, so an order discount never reaches a setup fee).

A schedule's phases are built ONCE (``schedule_phases``, from one phase, item and
one-time charge builder each), for a create and an update alike, so a field mapped onto
a phase or an item is added in one place (a plain-text phase property declared with
``StripePhaseParam`` on ``PhaseProperties`` needs no edit here at all); the
operation-specific parts go around them.
Create sends every phase, the first starting at the plan's start (or ``now``). Update
sends the phases that have not ended before the schedule's current phase; the first one
keeps the current phase's start date, because Stripe refuses to move it.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from datetime import datetime
from typing import Literal, TypeVar, cast

from stripe.params import (
    CustomerCreateParams,
    CustomerSearchParams,
    SubscriptionScheduleCancelParams,
    SubscriptionScheduleCreateParams,
    SubscriptionScheduleCreateParamsPhase,
    SubscriptionScheduleCreateParamsPhaseAddInvoiceItem,
    SubscriptionScheduleCreateParamsPhaseItem,
    SubscriptionScheduleListParams,
    SubscriptionScheduleUpdateParams,
    SubscriptionScheduleUpdateParamsPhase,
)

from sf_stripe_sync.core.limits import CUSTOMER_NAME_MAX, fit_text
from sf_stripe_sync.core.models import (
    PLAIN_PHASE_PARAMS,
    CustomPrice,
    DesiredSchedule,
    OneTimeItem,
    OrderPlan,
    Phase,
    PhaseItem,
)
from sf_stripe_sync.errors import ConfigError, TerminalError
from sf_stripe_sync.stripe.convert import (
    ITEM_ID_SEPARATOR,
    META_ACCOUNT_ID,
    META_CONTRACT_KEY,
    META_FINGERPRINT,
    META_ORDER_ID,
    META_ORDER_ITEM_IDS,
    RemoteSchedule,
    order_item_ids_metadata,
)
from sf_stripe_sync.stripe.discounts import (
    IndexedPhase,
    coupon_id,
    item_slot,
    once_slot,
    phase_slot,
)

ProrationBehavior = Literal["create_prorations", "none", "always_invoice"]
PRORATION_BEHAVIORS: tuple[ProrationBehavior, ...] = ("create_prorations", "none",
                                                      "always_invoice")
SentPhase = TypeVar("SentPhase", SubscriptionScheduleCreateParamsPhase,
                    SubscriptionScheduleUpdateParamsPhase)
"""A phase as a create or an update sends it: one builder, type-checked for both."""


def proration_behavior(value: str) -> ProrationBehavior:
    """``value`` checked against the values Stripe accepts (a configuration error otherwise)."""
    for allowed in PRORATION_BEHAVIORS:
        if value == allowed:
            return allowed
    raise ConfigError(f"proration_behavior {value!r} is not one of {list(PRORATION_BEHAVIORS)}")


def unix(value: datetime) -> int:
    return int(value.timestamp())


def desired_schedule(plan: OrderPlan) -> DesiredSchedule:
    if plan.schedule is None or not plan.schedule.phases:
        raise TerminalError(f"order {plan.order_id}: the plan has no phases to send",
                            code="invalid_plan")
    return plan.schedule


def sent_price(price: str, prices: Mapping[str, str]) -> str:
    """The Stripe id to send for a plan's price (a custom price's lookup key mapped)."""
    return prices.get(price, price)


def custom_prices(phases: Sequence[IndexedPhase]) -> list[CustomPrice]:
    """Every custom price the phases bill through, once each, in a stable order."""
    found: dict[str, CustomPrice] = {}
    for _, phase in phases:
        specs = [*(i.custom_price for i in phase.items),
                 *(o.custom_price for o in phase.one_time_items)]
        for spec in specs:
            if spec is not None:
                found.setdefault(spec.lookup_key, spec)
    return [found[k] for k in sorted(found)]


def schedule_metadata(plan: OrderPlan) -> dict[str, str]:
    metadata = dict(plan.metadata)
    metadata.setdefault(META_ORDER_ID, plan.order_id)
    metadata[META_CONTRACT_KEY] = plan.contract_key
    metadata[META_FINGERPRINT] = plan.fingerprint
    return metadata


def item_metadata(item: PhaseItem) -> dict[str, str]:
    metadata = dict(item.metadata)
    if item.order_item_ids:
        metadata.pop(META_ORDER_ITEM_IDS, None)  # the core's joined copy: sent spilled instead
        metadata.update(order_item_ids_metadata(item.order_item_ids))
    return metadata


def default_payment_method(phases: Sequence[Phase]) -> str | None:
    """The schedule-wide ``default_settings.default_payment_method``: the saved payment
    method the orders name (the first phase's; each phase also carries its own)."""
    return phases[0].properties.default_payment_method if phases else None


# --------------------------------------------------------------------------- phases


def _item(index: int, item: PhaseItem, coupons: Mapping[str, str],
          prices: Mapping[str, str]) -> SubscriptionScheduleCreateParamsPhaseItem:
    out: SubscriptionScheduleCreateParamsPhaseItem = {"price": sent_price(item.price, prices)}
    if not item.metered:
        out["quantity"] = item.quantity
    metadata = item_metadata(item)
    if metadata:
        out["metadata"] = metadata
    coupon = coupon_id(item.discount, item_slot(index, item), coupons)
    if coupon is not None:
        out["discounts"] = [{"coupon": coupon}]
    return out


def _once(index: int, item: OneTimeItem, coupons: Mapping[str, str],
          prices: Mapping[str, str]) -> SubscriptionScheduleCreateParamsPhaseAddInvoiceItem:
    out: SubscriptionScheduleCreateParamsPhaseAddInvoiceItem = {
        "price": sent_price(item.price, prices), "quantity": item.quantity}
    if item.order_item_ids:
        out["metadata"] = {META_ORDER_ITEM_IDS: ITEM_ID_SEPARATOR.join(item.order_item_ids)}
    coupon = coupon_id(item.discount, once_slot(index, item), coupons)
    if coupon is not None:
        out["discounts"] = [{"coupon": coupon}]
    else:
        out["discountable"] = False
    return out


def _phase(kind: type[SentPhase], index: int, phase: Phase, coupons: Mapping[str, str],
           prices: Mapping[str, str]) -> SentPhase:
    props = phase.properties
    out = kind(items=[_item(index, item, coupons, prices) for item in phase.items])
    out["collection_method"] = props.collection_method
    out["currency"] = props.currency
    if phase.end is not None:
        out["end_date"] = unix(phase.end)
    if props.collection_method == "send_invoice" and props.days_until_due is not None:
        out["invoice_settings"] = {"days_until_due": props.days_until_due}
    if props.default_payment_method:
        out["default_payment_method"] = props.default_payment_method
    for name, param in PLAIN_PHASE_PARAMS:  # declared keys, checked against kind by a test
        value = getattr(props, name)
        if value:
            cast(MutableMapping[str, object], out)[param.key] = value
    coupon = coupon_id(props.discount, phase_slot(index), coupons)
    if coupon is not None:
        out["discounts"] = [{"coupon": coupon}]
    if phase.metadata:
        out["metadata"] = dict(phase.metadata)
    if phase.one_time_items:
        out["add_invoice_items"] = [_once(index, o, coupons, prices)
                                    for o in phase.one_time_items]
    return out


def schedule_phases(kind: type[SentPhase], plan: OrderPlan, phases: Sequence[IndexedPhase],
                    coupons: Mapping[str, str], prices: Mapping[str, str]) -> list[SentPhase]:
    """The phases as sent, by create and update alike (only the last may be open-ended)."""
    for position, (index, phase) in enumerate(phases):
        if phase.end is None and position != len(phases) - 1:
            raise TerminalError(f"order {plan.order_id}: phase {index} is open-ended but "
                                "is not the last phase", code="invalid_plan")
    return [_phase(kind, index, phase, coupons, prices) for index, phase in phases]


# --------------------------------------------------------------------------- create / update


def create_params(plan: OrderPlan, *, customer_id: str, coupons: Mapping[str, str],
                  prices: Mapping[str, str] | None = None) -> SubscriptionScheduleCreateParams:
    """The whole desired schedule, starting at the plan's start (or now)."""
    schedule = desired_schedule(plan)
    phases = list(enumerate(schedule.phases))
    sent = schedule_phases(SubscriptionScheduleCreateParamsPhase, plan, phases, coupons,
                           prices or {})
    start: int | Literal["now"] = "now" if plan.start_now else unix(schedule.phases[0].start)
    params: SubscriptionScheduleCreateParams = {
        "customer": customer_id,
        "start_date": start,
        "end_behavior": schedule.end_behavior,
        "phases": sent,
        "metadata": schedule_metadata(plan),
    }
    method = default_payment_method(schedule.phases)
    if method:
        params["default_settings"] = {"default_payment_method": method}
    return params


def phases_to_send(plan: OrderPlan, current: RemoteSchedule) -> list[IndexedPhase]:
    """The plan's phases minus those that ended before the schedule's current phase."""
    schedule = desired_schedule(plan)
    phases = list(enumerate(schedule.phases))
    if current.current_phase_start is None:
        return phases
    start = current.current_phase_start
    kept = [(i, p) for i, p in phases if p.end is None or p.end > start]
    if not kept:
        raise TerminalError(f"order {plan.order_id}: every planned phase ended before the "
                            f"current phase of schedule {current.id}", code="invalid_plan")
    return kept


def update_params(plan: OrderPlan, *, current: RemoteSchedule, coupons: Mapping[str, str],
                  proration_behavior: ProrationBehavior,
                  prices: Mapping[str, str] | None = None) -> SubscriptionScheduleUpdateParams:
    """The current and future phases; the first keeps the current phase's start date."""
    schedule = desired_schedule(plan)
    phases = phases_to_send(plan, current)
    sent = schedule_phases(SubscriptionScheduleUpdateParamsPhase, plan, phases, coupons,
                           prices or {})
    first_start: int | Literal["now"]
    if current.current_phase_start is not None:
        first_start = unix(current.current_phase_start)
    elif plan.start_now:
        first_start = "now"
    else:
        first_start = unix(phases[0][1].start)
    sent[0]["start_date"] = first_start
    params: SubscriptionScheduleUpdateParams = {
        "phases": sent,
        "end_behavior": schedule.end_behavior,
        "proration_behavior": proration_behavior,
        "metadata": schedule_metadata(plan),
    }
    method = default_payment_method([phase for _, phase in phases])
    if method:
        params["default_settings"] = {"default_payment_method": method}
    return params


# --------------------------------------------------------------------------- the rest


def cancel_params(*, invoice_now: bool, prorate: bool) -> SubscriptionScheduleCancelParams:
    return {"invoice_now": invoice_now, "prorate": prorate}


def schedule_list_params(customer_id: str, starting_after: str | None = None, *,
                         limit: int = 100) -> SubscriptionScheduleListParams:
    params: SubscriptionScheduleListParams = {"customer": customer_id, "limit": limit}
    if starting_after is not None:
        params["starting_after"] = starting_after
    return params


def _search_literal(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def customer_search_params(account_id: str) -> CustomerSearchParams:
    return {"query": f"metadata['{META_ACCOUNT_ID}']:'{_search_literal(account_id)}'",
            "limit": 1}


def customer_create_params(*, account_id: str, name: str | None, metadata: Mapping[str, str]
                           ) -> CustomerCreateParams:
    params: CustomerCreateParams = {"metadata": {**metadata, META_ACCOUNT_ID: account_id}}
    if name:
        params["name"] = fit_text(name, CUSTOMER_NAME_MAX)  # an Account Name can be longer
    return params
