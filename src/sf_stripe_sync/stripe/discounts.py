"""Discounts in a schedule's params: which need a coupon made, its slot, its params.

Theory of operation: a ``Discount`` with ``percent_off`` / ``amount_off`` needs a new
single-use coupon; ``discount_slots`` names each one by a *slot* that is stable for a
given plan (``p{phase}`` for a phase discount, ``p{phase}:{price}:{item ids}`` for an
item discount, ``p{phase}:once:{price}:{item ids}`` for a one-time charge's), and the
gateway makes the coupon under ``child_key(op_key, "coupon:" + slot)``
(``stripe.coupons``). A ``Discount(coupon=id)`` (read back from Stripe) is passed on as
is. ``coupon_id`` gives the id a discount is sent with in a schedule's params.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stripe.params import CouponCreateParams

from sf_stripe_sync.core.models import Discount, OneTimeItem, OrderPlan, Phase, PhaseItem
from sf_stripe_sync.errors import TerminalError
from sf_stripe_sync.stripe.convert import (
    ITEM_ID_SEPARATOR,
    META_CONTRACT_KEY,
    META_ORDER_ID,
    META_SLOT,
    order_item_ids_metadata,
)

IndexedPhase = tuple[int, Phase]
"""A phase with its index in the plan's schedule (the index names its coupon slots)."""


@dataclass(frozen=True)
class DiscountSlot:
    """One discount that needs a coupon made for it, named by a stable slot."""

    slot: str
    discount: Discount
    phase: Phase
    item: PhaseItem | OneTimeItem | None = None


def phase_slot(index: int) -> str:
    return f"p{index}"


def item_slot(index: int, item: PhaseItem) -> str:
    return f"p{index}:{item.price}:{ITEM_ID_SEPARATOR.join(item.order_item_ids)}"


def once_slot(index: int, item: OneTimeItem) -> str:
    return f"p{index}:once:{item.price}:{ITEM_ID_SEPARATOR.join(item.order_item_ids)}"


def needs_coupon(discount: Discount | None) -> bool:
    return discount is not None and discount.coupon is None and (
        discount.percent_off is not None or discount.amount_off is not None
    )


def discount_slots(phases: Sequence[IndexedPhase]) -> list[DiscountSlot]:
    """Every discount of ``phases`` that needs a new coupon, in a stable order."""
    slots: list[DiscountSlot] = []
    for index, phase in phases:
        if needs_coupon(phase.discount):
            assert phase.discount is not None
            slots.append(DiscountSlot(phase_slot(index), phase.discount, phase))
        for item in phase.items:
            if needs_coupon(item.discount):
                assert item.discount is not None
                slots.append(DiscountSlot(item_slot(index, item), item.discount, phase, item))
        for once in phase.one_time_items:
            if needs_coupon(once.discount):
                assert once.discount is not None
                slots.append(DiscountSlot(once_slot(index, once), once.discount, phase, once))
    return slots


def coupon_params(plan: OrderPlan, slot: DiscountSlot) -> CouponCreateParams:
    """A single-use, forever coupon worth exactly ``slot.discount``."""
    discount = slot.discount
    metadata = {
        META_ORDER_ID: plan.order_id,
        META_CONTRACT_KEY: plan.contract_key,
        META_SLOT: slot.slot,
    }
    if slot.item is not None and slot.item.order_item_ids:
        metadata.update(order_item_ids_metadata(slot.item.order_item_ids))
    params: CouponCreateParams = {
        "duration": "forever",
        "max_redemptions": 1,
        "metadata": metadata,
    }
    if discount.amount_off is not None:
        params["amount_off"] = discount.amount_off
        params["currency"] = (discount.currency or slot.phase.properties.currency).lower()
    elif discount.percent_off is not None:
        # A percentage, not money: the SDK types it as float and sends str(value).
        params["percent_off"] = float(discount.percent_off)
    else:
        raise TerminalError(f"order {plan.order_id}: discount in slot {slot.slot} has no value",
                            code="invalid_plan")
    return params


def coupon_id(discount: Discount | None, slot: str, coupons: Mapping[str, str]) -> str | None:
    """The coupon a discount refers to: the existing one, or the one made for its slot."""
    if discount is None:
        return None
    if discount.coupon is not None:
        return discount.coupon
    return coupons[slot]
