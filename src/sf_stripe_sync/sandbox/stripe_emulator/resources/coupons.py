"""Coupons: create, retrieve, update, delete, list, and redemption by schedules.

Theory of operation: exactly one of ``percent_off`` (0 < p <= 100) and ``amount_off``
(which needs ``currency``) is required; ``duration`` is ``forever``, ``once`` or
``repeating`` (which needs ``duration_in_months``). A coupon is ``valid`` until it has
been redeemed ``max_redemptions`` times or ``redeem_by`` has passed. Schedules redeem a
coupon once per schedule (``redeem``); a coupon that is no longer valid is refused with
Stripe's ``coupon_expired`` code.
"""

from __future__ import annotations

from decimal import Decimal

from sf_stripe_sync.sandbox.stripe_emulator.errors import ApiError, invalid, missing_param
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    apply_metadata,
    base_object,
    paginate,
)
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

KIND = "coupon"


def _percent(value: Decimal) -> int | float:
    """Stripe shows percent_off as a JSON number; whole numbers stay integers."""
    return int(value) if value == value.to_integral_value() else float(value)


def create(ctx: Context) -> JSON:
    params = ctx.params
    has_percent, has_amount = "percent_off" in params, "amount_off" in params
    if has_percent == has_amount:
        raise invalid("You must pass exactly one of percent_off or amount_off.",
                      param="percent_off" if has_percent else "amount_off")
    if has_percent and not Decimal(0) < Decimal(params["percent_off"]) <= Decimal(100):
        raise invalid("Invalid percent_off: must be greater than 0 and at most 100.",
                      param="percent_off")
    if has_amount:
        if int(params["amount_off"]) <= 0:
            raise invalid("Invalid amount_off: must be a positive integer.", param="amount_off")
        if not params.get("currency"):
            raise invalid("You must pass currency when passing amount_off.", param="currency")
    duration = params.get("duration", "once")
    if duration == "repeating" and "duration_in_months" not in params:
        raise missing_param("duration_in_months")
    if duration != "repeating" and "duration_in_months" in params:
        raise invalid("duration_in_months can only be set when duration is repeating.",
                      param="duration_in_months")
    max_redemptions = params.get("max_redemptions")
    if max_redemptions is not None and int(max_redemptions) < 1:
        raise invalid("Invalid max_redemptions: must be a positive integer.",
                      param="max_redemptions")
    coupon_id = str(params.get("id") or ctx.store.new_id("", KIND))
    if ctx.find(KIND, coupon_id) is not None:
        raise ApiError(400, "Coupon already exists.", param="id",
                       code="resource_already_exists")
    obj = base_object(ctx, KIND, coupon_id)
    obj.update({
        "amount_off": int(params["amount_off"]) if has_amount else None,
        "currency": str(params["currency"]).lower() if params.get("currency") else None,
        "duration": duration,
        "duration_in_months": params.get("duration_in_months"),
        "max_redemptions": max_redemptions,
        "metadata": apply_metadata({}, params.get("metadata")),
        "name": params.get("name"),
        "percent_off": _percent(Decimal(params["percent_off"])) if has_percent else None,
        "redeem_by": params.get("redeem_by"),
        "times_redeemed": 0,
        "valid": True,
    })
    return ctx.save(KIND, obj)


def refresh_validity(coupon: JSON, now: int) -> JSON:
    exhausted = (coupon["max_redemptions"] is not None
                 and coupon["times_redeemed"] >= coupon["max_redemptions"])
    expired = coupon["redeem_by"] is not None and now > int(coupon["redeem_by"])
    coupon["valid"] = not (exhausted or expired)
    return coupon


def retrieve(ctx: Context) -> JSON:
    return refresh_validity(ctx.require(KIND), ctx.now)


def update(ctx: Context) -> JSON:
    obj = ctx.require(KIND)
    if "name" in ctx.params:
        obj["name"] = ctx.params["name"] or None
    if "metadata" in ctx.params:
        obj["metadata"] = apply_metadata(obj["metadata"], ctx.params["metadata"])
    return ctx.save(KIND, refresh_validity(obj, ctx.now))


def delete(ctx: Context) -> JSON:
    obj = ctx.require(KIND)
    ctx.store.delete(ctx.account, KIND, obj["id"])
    return {"id": obj["id"], "object": KIND, "deleted": True}


def list_all(ctx: Context) -> JSON:
    objects = [refresh_validity(o, ctx.now) for o in ctx.all(KIND)]
    return paginate(objects, ctx.params, "/v1/coupons")


def check_redeemable(ctx: Context, coupon_id: str, param: str) -> JSON:
    coupon = ctx.find(KIND, coupon_id)
    if coupon is None:
        raise invalid(f"No such coupon: '{coupon_id}'", param=param, code="resource_missing")
    refresh_validity(coupon, ctx.now)
    if not coupon["valid"]:
        exhausted = (coupon["max_redemptions"] is not None
                     and coupon["times_redeemed"] >= coupon["max_redemptions"])
        reason = "has reached its max redemptions" if exhausted else "has expired"
        raise invalid(f"Coupon '{coupon_id}' {reason} and is no longer valid.",
                      param=param, code="coupon_expired")
    return coupon


def redeem(ctx: Context, coupon: JSON, schedule_id: str) -> None:
    coupon["times_redeemed"] += 1
    refresh_validity(coupon, ctx.now)
    ctx.store.record_redemption(ctx.account, schedule_id, coupon["id"])
