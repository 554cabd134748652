"""The Stripe write requests a plan will make, computed without sending anything.

Theory of operation: a saved plan (``sync --dry-run --out``) lists, per order, the exact
writes the executor and the gateway will send for it, built by the very functions the
gateway sends with (``stripe.params``), under the very idempotency keys
(``executor.op_key_for``, ``core.keys``) and with the very coupon ids
(``coupons.coupon_id_for``). Reads (customer search, the schedule read before an
update) are not listed: they change nothing.

What a plan cannot know before it runs is said, not guessed: an order whose Account has
no Stripe customer id yet lists the customer creation with ``"when": "no customer is
found by search"`` and names the customer in the schedule as ``<customer of ACCOUNT>``;
a create is listed as a create although the executor would update a schedule of the
contract found in Stripe by then (its guard against duplicates); a custom price is
listed with ``"when": "no price has lookup_key ..."`` and named ``<price LOOKUP_KEY>``.
"""

from __future__ import annotations

from typing import Any

from sf_stripe_sync.core.keys import child_key, customer_key
from sf_stripe_sync.core.models import OperationKind, OrderPlan
from sf_stripe_sync.stripe import params as build
from sf_stripe_sync.stripe.convert import RemoteSchedule
from sf_stripe_sync.stripe.coupons import coupon_id_for
from sf_stripe_sync.stripe.discounts import IndexedPhase, coupon_params, discount_slots
from sf_stripe_sync.stripe.prices import create_params as price_create_params
from sf_stripe_sync.stripe.prices import custom_price_key

Request = dict[str, Any]
SCHEDULES = "/v1/subscription_schedules"


def _request(path: str, key: str, params: Any, **extra: Any) -> Request:
    return {"method": "POST", "path": path, "idempotency_key": key,
            "params": dict(params), **extra}


def customer_placeholder(account_id: str | None) -> str:
    return f"<customer of {account_id}>"


def planned_requests(
    plan: OrderPlan,
    *,
    account_name: str,
    op_key: str,
    current: RemoteSchedule | None,
    proration_behavior: build.ProrationBehavior,
    customer_name: str | None = None,
) -> list[Request]:
    """The writes ``executor.apply_plan`` will send for ``plan``, in order."""
    if plan.operation is OperationKind.CANCEL:
        if current is not None and current.is_finished:
            return []
        path = f"{SCHEDULES}/{plan.schedule_id}/cancel"
        return [_request(path, op_key, build.cancel_params(invoice_now=plan.invoice_now,
                                                           prorate=plan.prorate))]
    if plan.operation not in (OperationKind.CREATE, OperationKind.AMEND, OperationKind.REPLACE):
        return []
    requests = _customer_requests(plan, account_name, customer_name)
    schedule = build.desired_schedule(plan)
    if plan.schedule_id is None:
        phases = list(enumerate(schedule.phases))
    elif current is None:
        return [*requests, _request(f"{SCHEDULES}/{plan.schedule_id}", op_key, {},
                                    when="the schedule was not read: its body is unknown")]
    elif current.fingerprint == plan.fingerprint and not plan.drift:
        return requests  # the executor finds it applied and sends nothing
    else:
        phases = build.phases_to_send(plan, current)
    coupons = _coupon_requests(plan, phases, account_name, op_key, requests)
    prices = _price_requests(phases, account_name, requests)
    if plan.schedule_id is None or current is None:
        customer = plan.customer_id or (
            customer_placeholder(plan.account_id) if plan.account_id else "")
        body = build.create_params(plan, customer_id=customer, coupons=coupons, prices=prices)
        requests.append(_request(SCHEDULES, op_key, body))
    else:
        body_update = build.update_params(plan, current=current, coupons=coupons,
                                          proration_behavior=proration_behavior,
                                          prices=prices)
        requests.append(_request(f"{SCHEDULES}/{plan.schedule_id}", op_key, body_update))
    return requests


def _customer_requests(plan: OrderPlan, account_name: str, customer_name: str | None
                       ) -> list[Request]:
    """The customer's creation, when the Account has no Stripe customer id yet."""
    if plan.customer_id or not plan.account_id:
        return []
    create = build.customer_create_params(
        account_id=plan.account_id, name=customer_name,
        metadata={})
    return [_request("/v1/customers", customer_key(account_name, plan.account_id), create,
                     when="no customer is found by search")]


def _coupon_requests(plan: OrderPlan, phases: list[IndexedPhase], account_name: str,
                     op_key: str, requests: list[Request]) -> dict[str, str]:
    """Slot -> coupon id; each coupon's creation appended to ``requests``."""
    coupons: dict[str, str] = {}
    for slot in discount_slots(phases):
        coupon = coupon_params(plan, slot)
        coupon["id"] = coupon_id_for(account_name, plan, slot.slot, coupon)
        coupons[slot.slot] = coupon["id"]
        requests.append(_request("/v1/coupons", child_key(op_key, f"coupon:{slot.slot}"),
                                 coupon))
    return coupons


def _price_requests(phases: list[IndexedPhase], account_name: str,
                    requests: list[Request]) -> dict[str, str]:
    """Lookup key -> placeholder; each custom price's creation appended to ``requests``."""
    prices: dict[str, str] = {}
    for spec in build.custom_prices(phases):
        prices[spec.lookup_key] = f"<price {spec.lookup_key}>"
        requests.append(_request("/v1/prices", custom_price_key(account_name, spec.lookup_key),
                                 price_create_params(spec),
                                 when=f"no price has lookup_key {spec.lookup_key}"))
    return prices
