"""Subscriptions: the ``sub_`` objects schedules start, readable and listable.

Theory of operation: a schedule makes its subscription when its first phase starts
(``start``) and ends it when it is canceled or completes (``end``); the schedule's
billing (``billing_clock``) sets its items (``set_items``: one ``si_`` item per price,
kept across phases while the price stays), its current period on every item (as API
versions since basil carry it), ``latest_invoice`` and ``status``: ``active`` while
invoices get paid, ``past_due`` after a failed payment, ``canceled`` once ended. Each
change is an event: ``customer.subscription.created`` / ``updated`` (with
``previous_attributes``) / ``deleted``. ``list_all`` leaves canceled subscriptions out
unless ``status`` asks for them, as Stripe does.
"""

from __future__ import annotations

import copy

from sf_stripe_sync.sandbox.stripe_emulator.resources import events
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    base_object,
    paginate,
)
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

KIND = "subscription"
_ITEM_FIELDS = ("items", "status", "latest_invoice", "cancel_at", "canceled_at", "ended_at",
                "schedule", "collection_method", "default_payment_method", "currency")


def start(ctx: Context, schedule: JSON) -> JSON:
    """The schedule's subscription, made (and announced) when it starts."""
    if schedule.get("subscription"):
        found = ctx.find(KIND, str(schedule["subscription"]))
        if found is not None:
            return found
    first = schedule["phases"][0]
    sub = base_object(ctx, KIND, ctx.new_id(KIND))
    settings = schedule["default_settings"]
    sub.update({
        "application": None, "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": first["start_date"], "billing_cycle_anchor_config": None,
        "billing_mode": schedule.get("billing_mode") or {"type": "classic"},
        "billing_schedules": [], "billing_thresholds": None, "cancel_at": None,
        "cancel_at_period_end": False,
        "canceled_at": None,
        "cancellation_details": {"comment": None, "feedback": None,
                                 "feedback_option": None, "reason": None},
        "collection_method": first.get("collection_method") or settings["collection_method"],
        "created": first["start_date"], "currency": first["currency"],
        "customer": schedule["customer"], "customer_account": None, "days_until_due": None,
        "default_payment_method": None, "default_source": None, "default_tax_rates": [],
        "description": None, "discounts": [], "ended_at": None,
        "invoice_settings": {"account_tax_ids": None, "custom_fields": None,
                             "description": None, "footer": None, "issuer": {"type": "self"}},
        "items": {"object": "list", "data": [], "has_more": False, "total_count": 0,
                  "url": "/v1/subscription_items"},
        "latest_invoice": None, "managed_payments": None,
        "metadata": dict(schedule.get("metadata") or {}),
        "next_pending_invoice_item_invoice": None, "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": {"payment_method_options": None, "payment_method_types": None,
                             "save_default_payment_method": "off"},
        "pending_invoice_item_interval": None, "pending_setup_intent": None,
        "pending_update": None, "presentment_details": None, "schedule": schedule["id"],
        "start_date": first["start_date"], "status": "active", "status_details": None,
        "test_clock": schedule.get("test_clock"), "transfer_data": None, "trial_end": None,
        "trial_settings": {"end_behavior": {"billing_cycle_anchor": None,
                                            "missing_payment_method": "create_invoice"}},
        "trial_start": None,
    })
    ctx.save(KIND, sub)
    schedule["subscription"] = sub["id"]
    events.record(ctx, "customer.subscription.created", sub)
    return sub


def _item(ctx: Context, sub: JSON, line: JSON, period: tuple[int, int],
          known: dict[str, str]) -> JSON:
    price = ctx.find("price", str(line["price"])) or {"id": line["price"]}
    recurring = price.get("recurring") or {}
    plan = {"id": price["id"], "object": "plan", "active": price.get("active", True),
            "amount": price.get("unit_amount"),
            "amount_decimal": price.get("unit_amount_decimal"),
            "billing_scheme": "per_unit", "created": price.get("created", sub["created"]),
            "currency": price.get("currency"), "interval": recurring.get("interval"),
            "interval_count": recurring.get("interval_count", 1), "livemode": False,
            "metadata": dict(price.get("metadata") or {}), "meter": recurring.get("meter"),
            "nickname": price.get("nickname"), "product": price.get("product"),
            "tiers": None, "tiers_mode": None, "transform_usage": None, "trial_period_days": None,
            "usage_type": recurring.get("usage_type", "licensed")}
    return {
        "id": known.get(price["id"]) or ctx.store.new_id("si"), "object": "subscription_item",
        "billed_until": period[1], "billing_thresholds": None, "created": sub["created"],
        "current_period_end": period[1], "current_period_start": period[0],
        "current_trial": None,
        "discounts": [], "metadata": {}, "plan": plan, "price": copy.deepcopy(price),
        "quantity": line.get("quantity"), "subscription": sub["id"], "tax_rates": [],
    }


def set_items(ctx: Context, sub: JSON, lines: list[JSON], period: tuple[int, int]) -> None:
    """The subscription's items for ``lines`` (price, quantity) over ``period``."""
    known = {i["price"]["id"]: i["id"] for i in sub["items"]["data"]}
    data = [_item(ctx, sub, line, period, known) for line in lines]
    sub["items"] = {"object": "list", "data": data, "has_more": False,
                    "total_count": len(data), "url": f"/v1/subscription_items?subscription="
                    f"{sub['id']}"}


def changed(ctx: Context, sub: JSON, before: JSON) -> None:
    """Save ``sub`` and announce what changed since ``before`` (nothing: no event)."""
    previous = {k: before.get(k) for k in _ITEM_FIELDS if before.get(k) != sub.get(k)}
    ctx.save(KIND, sub)
    if previous:
        events.record(ctx, "customer.subscription.updated", sub, previous)


def end(ctx: Context, sub_id: str | None, *, canceled: bool) -> None:
    """The schedule let go of its subscription: canceled with it, or released to go on."""
    sub = ctx.find(KIND, sub_id) if sub_id else None
    if sub is None:
        return
    before = copy.deepcopy(sub)
    sub["schedule"] = None
    if canceled and sub["status"] != "canceled":
        sub["status"], sub["canceled_at"], sub["ended_at"] = "canceled", ctx.now, ctx.now
        ctx.save(KIND, sub)
        events.record(ctx, "customer.subscription.deleted", sub)
        return
    changed(ctx, sub, before)


def retrieve(ctx: Context) -> JSON:
    return ctx.require(KIND)


def list_all(ctx: Context) -> JSON:
    params = ctx.params
    objects = ctx.all(KIND)
    status = str(params.get("status") or "")
    if status == "ended":
        objects = [s for s in objects if s["status"] in ("canceled", "incomplete_expired")]
    elif status and status != "all":
        objects = [s for s in objects if s["status"] == status]
    elif not status:
        objects = [s for s in objects if s["status"] != "canceled"]
    for field in ("customer", "test_clock", "collection_method"):
        if params.get(field):
            objects = [s for s in objects if s.get(field) == params[field]]
    if params.get("price"):
        objects = [s for s in objects
                   if any(i["price"]["id"] == params["price"] for i in s["items"]["data"])]
    return paginate(objects, params, "/v1/subscriptions")
