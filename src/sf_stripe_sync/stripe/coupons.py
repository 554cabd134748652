"""The single-use coupons a schedule's discounts need, made once each, whatever happens.

Theory of operation: a ``Discount`` with ``percent_off`` / ``amount_off`` needs a coupon
made for it before the schedule that uses it is written (``discounts.discount_slots``
names each such discount by a slot stable for a given plan). ``make_coupons`` makes one
per slot, each under ``child_key(op_key, "coupon:" + slot)`` and with an id derived from
the contract's desired state and the slot (``coupon_id_for``): a retried write reuses its
key, and a late retry (after Stripe forgot the key) or another order of the contract
sending the same desired state finds the coupon made before (``resource_already_exists``)
and reuses it. One write per slot; one more read when the coupon already exists.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from sf_stripe_sync.core.keys import child_key
from sf_stripe_sync.core.models import OrderPlan
from sf_stripe_sync.errors import IdempotencyConflict, TerminalError
from sf_stripe_sync.stripe.discounts import DiscountSlot, coupon_params
from sf_stripe_sync.stripe.session import Cost, StripeSession


def coupon_id_for(account: str, plan: OrderPlan, slot: str,
                  params: Mapping[str, Any]) -> str:
    """The id a discount slot of a contract's desired state always gets.

    Stripe forgets idempotency keys after about a day; a coupon id is forever. Creating
    the coupon under an id derived from the account, the contract, the plan's
    fingerprint, the slot and the coupon's terms makes a late retry (or another order of
    the same contract sending the same desired state) find the coupon made before
    (Stripe answers ``resource_already_exists``) instead of making a second one. The
    terms are part of the id, so a coupon is only ever reused for the same discount.
    """
    terms = {k: v for k, v in params.items() if k not in ("id", "metadata")}
    text = json.dumps([account, plan.contract_key, plan.fingerprint, slot, terms],
                      sort_keys=True, default=str)
    return "sfss_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def make_coupons(session: StripeSession, plan: OrderPlan, slots: Sequence[DiscountSlot],
                 op_key: str, cost: Cost) -> dict[str, str]:
    """Slot -> coupon id, each coupon made (or found made before) for its slot."""
    coupons: dict[str, str] = {}
    client = session.client
    for slot in slots:
        key = child_key(op_key, f"coupon:{slot.slot}")
        params = coupon_params(plan, slot)
        params["id"] = coupon_id_for(session.account_name, plan, slot.slot, params)
        try:
            coupon = session.call(
                "coupons.create",
                partial(client.v1.coupons.create, params=params, options=session.options(key)),
                kind="write", key=key, cost=cost)
        except TerminalError as exc:
            if exc.code != "resource_already_exists" and not isinstance(
                    exc, IdempotencyConflict):
                raise
            # An earlier try of this very operation made it, and Stripe has forgotten
            # the key since (or another order of the contract sent it with its own
            # metadata): the id derives from the desired state, so it is the same coupon.
            try:
                coupon = session.call("coupons.retrieve",
                                      partial(client.v1.coupons.retrieve, params["id"]))
            except TerminalError:
                raise exc from None  # not this discount's coupon: the refusal stands
        coupons[slot.slot] = coupon.id
    return coupons
