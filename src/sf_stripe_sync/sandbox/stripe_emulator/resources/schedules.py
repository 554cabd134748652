"""Subscription schedules: create, retrieve, update, cancel, release, list.

Theory of operation: a schedule's ``status`` follows the emulator clock and is brought
up to date (``refresh``) whenever the schedule is read or written:
``not_started`` while the first phase lies ahead; ``active`` while a phase covers now
(``current_phase`` gives its bounds and a ``sub_`` subscription exists from then on);
once the last phase has ended, ``completed`` with ``end_behavior=cancel`` or
``released`` otherwise (the subscription carries on without the schedule). ``cancel``
and ``release`` end it at once. Only ``not_started`` and ``active`` schedules can be
updated, canceled or released.

Update rules for a schedule that has started: past phases may be left out; a past phase
that is sent must be unchanged; the first phase that has not ended must be the current
phase with its ``start_date`` unchanged. A ``default_payment_method`` (schedule default
or per phase) must be a payment method saved to the schedule's customer. Coupons are
redeemed once per schedule: resending a coupon the schedule already uses costs nothing,
a new one must still be valid.

A schedule of a customer on a test clock lives in the clock's time (``test_clocks``):
"now", its status and its ``test_clock`` come from the clock, and it is billed as that
time passes (``billing_clock``, brought up to date before every read or write). Events:
``subscription_schedule.created`` / ``updated`` / ``canceled`` / ``released`` /
``completed``.
"""

from __future__ import annotations

import copy
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.errors import invalid, missing_param
from sf_stripe_sync.sandbox.stripe_emulator.resources import (
    billing_clock,
    coupons,
    events,
    payment_methods,
    subscriptions,
    test_clocks,
)
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    apply_metadata,
    base_object,
    paginate,
)
from sf_stripe_sync.sandbox.stripe_emulator.resources.invoices import at
from sf_stripe_sync.sandbox.stripe_emulator.resources.phases import (
    billing_content,
    build_phases,
    coupons_with_params,
    timestamp,
)
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

KIND = "subscription_schedule"
_OPEN = ("not_started", "active")


def _ensure_subscription(ctx: Context, schedule: JSON) -> str:
    return str(subscriptions.start(ctx, schedule)["id"])


def _end_subscription(ctx: Context, sub_id: str | None, canceled: bool) -> None:
    subscriptions.end(ctx, sub_id, canceled=canceled)


def refresh(ctx: Context, schedule: JSON) -> JSON:
    ctx = test_clocks.frame(ctx, str(schedule["customer"]))
    billing_clock.settle(ctx, schedule)
    if schedule["status"] not in _OPEN:
        schedule["current_phase"] = None
        return schedule
    phases, now = schedule["phases"], ctx.now
    if now < phases[0]["start_date"]:
        schedule["status"], schedule["current_phase"] = "not_started", None
        return schedule
    sub_id = _ensure_subscription(ctx, schedule)
    last_end = phases[-1]["end_date"]
    if now >= last_end:
        schedule["current_phase"] = None
        ended = at(ctx, last_end)
        if schedule["end_behavior"] == "cancel":
            schedule["status"], schedule["completed_at"] = "completed", last_end
            _end_subscription(ended, sub_id, canceled=True)
        else:
            schedule["status"], schedule["released_at"] = "released", last_end
            schedule["released_subscription"], schedule["subscription"] = sub_id, None
            _end_subscription(ended, sub_id, canceled=False)
        events.record(ended, f"subscription_schedule.{schedule['status']}", schedule)
        return schedule
    current = next(p for p in phases if p["start_date"] <= now < p["end_date"])
    previous = {"status": schedule["status"], "current_phase": schedule["current_phase"]}
    schedule["status"] = "active"
    schedule["current_phase"] = {"start_date": current["start_date"],
                                 "end_date": current["end_date"]}
    changed = {k: v for k, v in previous.items() if schedule[k] != v}
    if changed:  # it started, or moved to its next phase
        events.record(at(ctx, current["start_date"]), "subscription_schedule.updated",
                      schedule, changed)
    return schedule


def _redeem_new_coupons(ctx: Context, schedule_id: str, phases: list[JSON]) -> None:
    """Check every coupon the schedule does not hold yet, then redeem them all."""
    held = set(ctx.store.redeemed_by(ctx.account, schedule_id))
    fresh: dict[str, JSON] = {}
    for coupon_id, param in coupons_with_params(phases):
        if coupon_id in held or coupon_id in fresh:
            continue
        fresh[coupon_id] = coupons.check_redeemable(ctx, coupon_id, param)
    for coupon in fresh.values():
        coupons.redeem(ctx, coupon, schedule_id)


def _default_settings(params: Any) -> JSON:
    given = params if isinstance(params, dict) else {}
    invoice = given.get("invoice_settings") or {}
    return {
        "application_fee_percent": given.get("application_fee_percent"),
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None,
                          **(given.get("automatic_tax") or {})},
        "billing_cycle_anchor": given.get("billing_cycle_anchor", "automatic"),
        "billing_thresholds": None,
        "collection_method": given.get("collection_method", "charge_automatically"),
        "default_payment_method": given.get("default_payment_method"),
        "description": given.get("description") or None,
        "invoice_settings": {"account_tax_ids": None, "custom_fields": None,
                             "days_until_due": invoice.get("days_until_due"),
                             "description": None, "footer": None,
                             "issuer": invoice.get("issuer") or {"type": "self"}},
        "on_behalf_of": given.get("on_behalf_of") or None,
        "transfer_data": None,
    }


def create(ctx: Context) -> JSON:
    params = ctx.params
    if "from_subscription" in params:
        raise invalid("from_subscription is not supported by the emulator.",
                      param="from_subscription")
    if not params.get("customer"):
        raise missing_param("customer")
    if ctx.find("customer", str(params["customer"])) is None:
        raise invalid(f"No such customer: '{params['customer']}'", param="customer",
                      code="resource_missing")
    if "phases" not in params:
        raise missing_param("phases")
    ctx = test_clocks.frame(ctx, str(params["customer"]))
    payment_methods.check_schedule_payment_methods(ctx, str(params["customer"]), params)
    start = timestamp(params.get("start_date", "now"), ctx.now)
    phases = build_phases(ctx, params["phases"], start)
    schedule_id = ctx.new_id(KIND)
    _redeem_new_coupons(ctx, schedule_id, phases)
    schedule = base_object(ctx, KIND, schedule_id)
    schedule.update({
        "application": None,
        "billing_mode": {"flexible": None, "type": "classic", "updated_at": None,
                         **(params.get("billing_mode") or {})},
        "canceled_at": None, "completed_at": None, "current_phase": None,
        "customer": params["customer"], "customer_account": None,
        "default_settings": _default_settings(params.get("default_settings")),
        "end_behavior": params.get("end_behavior", "release"),
        "metadata": apply_metadata({}, params.get("metadata")), "pause_schedules": [],
        "phases": phases,
        "released_at": None, "released_subscription": None, "status": "not_started",
        "subscription": None,
        "test_clock": (ctx.find("customer", str(params["customer"])) or {}).get("test_clock"),
    })
    events.record(ctx, "subscription_schedule.created", schedule)
    return ctx.save(KIND, refresh(ctx, schedule))


def retrieve(ctx: Context) -> JSON:
    return ctx.save(KIND, refresh(ctx, ctx.require(KIND)))


def _require_open(ctx: Context, verb: str) -> tuple[Context, JSON]:
    """The schedule named by the path, and ``ctx`` in its customer's time."""
    schedule = refresh(ctx, ctx.require(KIND))
    if schedule["status"] not in _OPEN:
        done = {"update": "updated", "cancel": "canceled", "release": "released"}[verb]
        raise invalid(f"You cannot {verb} a subscription schedule that is currently in the "
                      f"`{schedule['status']}` status. It must be in `not_started` or "
                      f"`active` to be {done}.")
    return test_clocks.frame(ctx, str(schedule["customer"])), schedule


def _merge_started(ctx: Context, schedule: JSON, sent: list[JSON]) -> list[JSON]:
    """Apply the started-schedule rules; return the schedule's full new phase list."""
    now, stored = ctx.now, schedule["phases"]
    current = schedule["current_phase"]
    stored_by_start = {p["start_date"]: p for p in stored}
    first_open = next((i for i, p in enumerate(sent) if p["end_date"] > now), None)
    for index, phase in enumerate(sent[:first_open] if first_open is not None else sent):
        old = stored_by_start.get(phase["start_date"])
        if old is None or billing_content(old) != billing_content(phase):
            raise invalid("You cannot modify a phase that has already ended: "
                          f"phases[{index}] ended at {phase['end_date']}.",
                          param=f"phases[{index}]")
    if first_open is None or sent[first_open]["start_date"] > now:
        raise invalid("The phases must include the current phase, starting at "
                      f"{current['start_date']}.", param="phases")
    if sent[first_open]["start_date"] != current["start_date"]:
        raise invalid("You cannot change the start_date of the current phase: it must stay "
                      f"{current['start_date']}.", param=f"phases[{first_open}][start_date]")
    kept = [p for p in stored if p["end_date"] <= sent[0]["start_date"]]
    return kept + sent


def update(ctx: Context) -> JSON:
    ctx, schedule = _require_open(ctx, "update")
    before = copy.deepcopy(schedule)
    params = ctx.params
    payment_methods.check_schedule_payment_methods(ctx, str(schedule["customer"]), params)
    if "phases" in params:
        sent = build_phases(ctx, params["phases"], None)
        if schedule["status"] == "active":
            sent = _merge_started(ctx, schedule, sent)
        _redeem_new_coupons(ctx, schedule["id"], sent)
        schedule["phases"] = sent
    if "end_behavior" in params:
        schedule["end_behavior"] = params["end_behavior"]
    if "metadata" in params:
        schedule["metadata"] = apply_metadata(schedule["metadata"], params["metadata"])
    if "default_settings" in params:
        merged = {**schedule["default_settings"], **params["default_settings"]}
        schedule["default_settings"] = _default_settings(merged)
    billing_clock.schedule_changed(ctx, schedule)
    changed = {k: v for k, v in before.items() if schedule.get(k) != v}
    if changed:
        events.record(ctx, "subscription_schedule.updated", schedule, changed)
    return ctx.save(KIND, refresh(ctx, schedule))


def cancel(ctx: Context) -> JSON:
    ctx, schedule = _require_open(ctx, "cancel")
    billing_clock.stop(ctx, schedule, invoice_now=bool(ctx.params.get("invoice_now", False)),
                       prorate=bool(ctx.params.get("prorate", True)), release=False)
    schedule["status"], schedule["canceled_at"] = "canceled", ctx.now
    schedule["current_phase"] = None
    _end_subscription(ctx, schedule["subscription"], canceled=True)
    events.record(ctx, "subscription_schedule.canceled", schedule)
    return ctx.save(KIND, schedule)


def release(ctx: Context) -> JSON:
    ctx, schedule = _require_open(ctx, "release")
    billing_clock.stop(ctx, schedule, invoice_now=False, prorate=False, release=True)
    schedule["status"], schedule["released_at"] = "released", ctx.now
    schedule["released_subscription"] = schedule["subscription"]
    _end_subscription(ctx, schedule["subscription"], canceled=False)
    schedule["subscription"], schedule["current_phase"] = None, None
    events.record(ctx, "subscription_schedule.released", schedule)
    return ctx.save(KIND, schedule)


_COMPARISONS = {
    "gt": lambda a, b: a > b, "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b, "lte": lambda a, b: a <= b,
}


def _in_range(value: Any, bounds: Any) -> bool:
    if not isinstance(bounds, dict):
        return bool(value == bounds)
    if value is None:
        return False
    return all(_COMPARISONS[op](value, int(limit)) for op, limit in bounds.items()
               if op in _COMPARISONS)


def list_all(ctx: Context) -> JSON:
    objects = [refresh(ctx, s) for s in ctx.all(KIND)]
    params = ctx.params
    if params.get("customer"):
        objects = [s for s in objects if s["customer"] == params["customer"]]
    if "scheduled" in params:
        objects = [s for s in objects if (s["status"] == "not_started") == params["scheduled"]]
    for field in ("created", "canceled_at", "completed_at", "released_at"):
        if field in params:
            objects = [s for s in objects if _in_range(s.get(field), params[field])]
    return paginate(objects, params, "/v1/subscription_schedules")


@test_clocks.on_advance
def _clock_moved(ctx: Context, clock: JSON, frozen_time: int) -> None:
    """Bring every schedule of the clock's customers up to its new time."""
    del frozen_time
    for schedule in ctx.all(KIND):
        if schedule.get("test_clock") == clock["id"]:
            ctx.save(KIND, refresh(ctx, schedule))


def refresh_all(ctx: Context) -> None:
    """Bring every schedule of the account up to its time (billing included)."""
    for schedule in ctx.all(KIND):
        ctx.save(KIND, refresh(ctx, schedule))
