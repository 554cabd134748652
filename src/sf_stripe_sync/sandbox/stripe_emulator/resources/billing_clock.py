"""A schedule's billing as its time passes: periods, prorations, one-time charges, invoices.

Theory of operation: a schedule is billed when its customer is on a test clock (or, with
``bill_without_test_clock``, in the emulator's own time). ``settle`` walks the schedule's
timeline from where it stopped (a hidden ``billing_state`` record per schedule) up to
its customer's "now", one *moment* at a time: the end of the current billing period, a
phase boundary, the schedule's end. At each moment, as Stripe bills a schedule
(``proration_behavior=create_prorations``, classic billing mode):

* The subscription starts with the first phase; its billing cycle anchor is that start.
  Every period (the items' recurring interval, counted from the anchor, so a month from
  Jan 31 ends Feb 28 then Mar 31) is invoiced at its start: licensed items bill
  ``unit_amount x quantity``; metered items bill their usage in arrears when the period
  closes (the emulator records no meter events: a zero line).
* A phase that starts on a period boundary just changes what the next periods bill.
  One that starts mid-period with different billing content (prices, quantities,
  coupons) prorates by time: a credit for the old items' unused time and a charge for
  the new items' remaining time, ``(period_end - t) / (period_end - period_start)`` of
  a period, carried to the next invoice. ``proration_behavior=none`` skips them;
  ``always_invoice`` invoices them at once. ``billing_cycle_anchor=phase_start``, or a
  change of interval, resets the anchor to the phase start: the old period's unused
  time is credited and a new period is invoiced at once. By default the anchor stays.
* A phase's ``add_invoice_items`` join the first invoice issued once the phase began.
* With ``end_behavior=cancel`` the subscription is set to cancel at the last phase's end,
  so a last period cut short by it bills that part of a period (prorated by time); at the
  end anything pending is invoiced and the subscription is canceled. With ``release`` it
  goes on billing the last phase's items after the schedule lets go of it.
* Canceling a schedule (``stop``) credits the unused time when ``prorate`` (default) and
  invoices it at once with ``invoice_now``; releasing it lets the subscription go on.

Invoices are issued by ``invoices.issue``; their outcome moves the subscription between
``active`` and ``past_due`` (a failed charge at once; a sent invoice once its due date
passes unpaid, with ``invoice.overdue``). Amounts round half up to the currency's minor unit.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.resources import events, invoices, subscriptions
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import Context
from sf_stripe_sync.sandbox.stripe_emulator.resources.invoices import at
from sf_stripe_sync.sandbox.stripe_emulator.resources.phases import add_interval
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

STATE = "billing_state"
_OPEN = ("not_started", "active")


def billable(ctx: Context, schedule: JSON) -> bool:
    return bool(schedule.get("test_clock")) or ctx.store.bill_without_test_clock


# content: what a phase bills ------------------------------------------------------------

def _coupons(discounts: list[JSON]) -> list[str]:
    return [str(d["coupon"]) for d in discounts if d.get("coupon")]


def _template(ctx: Context, price_id: str, quantity: int | None, item_coupons: list[str],
              phase_coupons: list[str], kind: str) -> JSON:
    price = ctx.find("price", price_id) or {}
    recurring = price.get("recurring") or {}
    product = ctx.find("product", str(price.get("product"))) or {}
    return {"price": price_id, "product": price.get("product"),
            "name": product.get("name") or price.get("product"),
            "currency": price.get("currency"),
            "unit_amount_decimal": price.get("unit_amount_decimal") or "0",
            "quantity": quantity, "metered": recurring.get("usage_type") == "metered",
            "item_coupons": item_coupons, "phase_coupons": phase_coupons, "kind": kind}


def _content(ctx: Context, schedule: JSON, phase: JSON) -> JSON:
    phase_coupons = _coupons(phase["discounts"])
    items = [_template(ctx, i["price"], i["quantity"], _coupons(i["discounts"]),
                       phase_coupons, "subscription") for i in phase["items"]]
    first = ctx.find("price", phase["items"][0]["price"]) or {}
    recurring = first.get("recurring") or {"interval": "month", "interval_count": 1}
    settings = schedule["default_settings"]
    invoice_settings = phase.get("invoice_settings") or settings.get("invoice_settings") or {}
    return {
        "items": items, "currency": phase["currency"],
        "interval": [recurring["interval"], int(recurring.get("interval_count", 1))],
        "collection_method": phase.get("collection_method") or settings["collection_method"],
        "days_until_due": invoice_settings.get("days_until_due"),
        "default_payment_method": (phase.get("default_payment_method")
                                   or settings.get("default_payment_method")),
    }


def _key(content: JSON) -> Any:
    return [(i["price"], i["quantity"], i["item_coupons"], i["phase_coupons"])
            for i in content["items"]]


# lines --------------------------------------------------------------------------------

def _amount(template: JSON, share: Fraction) -> int:
    whole = Decimal(template["unit_amount_decimal"]) * int(template["quantity"] or 0)
    exact = whole * share.numerator / share.denominator
    return int(exact.quantize(Decimal(1), ROUND_HALF_UP))


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%d %b %Y")


def _spec(template: JSON, amount: int, quantity: int | None, period: tuple[int, int],
          description: str, *, proration: bool = False) -> JSON:
    return {**template, "amount": amount, "quantity": quantity, "proration": proration,
            "period": {"start": period[0], "end": period[1]}, "description": description}


def _charges(content: JSON, period: tuple[int, int], share: Fraction) -> list[JSON]:
    return [_spec(t, _amount(t, share), t["quantity"], period,
                  f"{t['quantity']} × {t['name']}")
            for t in content["items"] if not t["metered"]]


def _usage(content: JSON | None, period: tuple[int, int]) -> list[JSON]:
    if content is None or period[0] == period[1]:
        return []
    return [_spec(t, 0, 0, period, f"Usage of {t['name']}")
            for t in content["items"] if t["metered"]]


def _prorations(old: JSON, new: JSON | None, state: JSON, t: int) -> list[JSON]:
    start, end = state["period"]
    share = Fraction(end - t, end - start)
    lines = [_spec(tpl, -_amount(tpl, share), tpl["quantity"], (t, end),
                   f"Unused time on {tpl['quantity']} × {tpl['name']} after {_day(t)}",
                   proration=True)
             for tpl in old["items"] if not tpl["metered"]]
    if new is not None:
        lines += [_spec(tpl, _amount(tpl, share), tpl["quantity"], (t, end),
                        f"Remaining time on {tpl['quantity']} × {tpl['name']} after {_day(t)}",
                        proration=True)
                  for tpl in new["items"] if not tpl["metered"]]
    return lines


def _one_time(ctx: Context, phase: JSON, t: int) -> list[JSON]:
    phase_coupons = _coupons(phase["discounts"])
    lines = []
    for added in phase["add_invoice_items"]:
        tpl = _template(ctx, added["price"], added["quantity"], _coupons(added["discounts"]),
                        phase_coupons, "invoice_item")
        tpl["discountable"] = added["discountable"]
        lines.append(_spec(tpl, _amount(tpl, Fraction(1)), added["quantity"], (t, t),
                           f"{added['quantity']} × {tpl['name']}"))
    return lines


# the walk -------------------------------------------------------------------------------

def _governed(schedule: JSON, state: JSON) -> bool:
    """Whether the schedule's phases still drive the subscription (not released)."""
    del schedule
    return not state["released"]


def _next_moment(schedule: JSON, state: JSON) -> int:
    moments = [int(state["period"][1])]
    if _governed(schedule, state):
        moments += [p["start_date"] for p in schedule["phases"]
                    if p["start_date"] > state["cursor"]]
        last_end = schedule["phases"][-1]["end_date"]
        if last_end > state["cursor"]:
            moments.append(last_end)
    moments += [int(due) for due, _ in state.get("due", []) if due > state["cursor"]]
    return min(moments)


def _phase_starting(schedule: JSON, state: JSON, t: int) -> JSON | None:
    if not _governed(schedule, state):
        return None
    for phase in schedule["phases"]:
        if phase["start_date"] == t and (state["phase_start"] is None
                                         or t > state["phase_start"]):
            return dict(phase)
    return None


def _enter_phase(ctx: Context, schedule: JSON, state: JSON, phase: JSON, t: int) -> bool:
    """Make ``phase`` the one billed from ``t``; True when the anchor resets."""
    old, new = state["content"], _content(ctx, schedule, phase)
    reset = old is not None and (phase.get("billing_cycle_anchor") == "phase_start"
                                 or new["interval"] != old["interval"])
    mid = old is not None and t < state["period"][1]
    if mid and phase["proration_behavior"] != "none" and _key(new) != _key(old):
        state["pending"] += _prorations(old, None if reset else new, state, t)
    if phase["start_date"] not in state["added"]:
        state["added"].append(phase["start_date"])
        state["pending"] += _one_time(ctx, phase, t)
    state["content"], state["phase_start"] = new, phase["start_date"]
    return reset


def _period_end(state: JSON, t: int) -> int:
    interval, count = state["content"]["interval"]
    while True:
        state["k"] += 1
        end = add_interval(state["anchor"], interval, count * state["k"])
        if end > t:
            return end


def _billing(schedule: JSON, state: JSON, sub: JSON) -> JSON:
    content = state["content"]
    return {"customer": schedule["customer"], "subscription": sub["id"],
            "currency": content["currency"], "collection_method": content["collection_method"],
            "days_until_due": content["days_until_due"],
            "default_payment_method": content["default_payment_method"],
            "metadata": sub.get("metadata") or {}, "coupon_first": state["coupon_first"]}


def _invoice(ctx: Context, schedule: JSON, state: JSON, lines: list[JSON],
             period: tuple[int, int], reason: str) -> None:
    sub = ctx.find("subscription", str(state["subscription"])) or subscriptions.start(
        ctx, schedule)
    before = copy.deepcopy(sub)
    if state["content"] is not None:
        subscriptions.set_items(ctx, sub, [{"price": t["price"], "quantity": t["quantity"]}
                                           for t in state["content"]["items"]],
                                (state["period"][0], state["period"][1]))
        known = {i["price"]["id"]: i["id"] for i in sub["items"]["data"]}
        for line in lines:
            line["subscription_item"] = known.get(line["price"])
    invoice = invoices.issue(ctx, _billing(schedule, state, sub), lines, period, reason)
    sub["latest_invoice"] = invoice["id"]
    if invoice["status"] == "paid" and sub["status"] == "past_due":
        sub["status"] = "active"
    elif invoice["status"] == "open" and invoice["collection_method"] == "charge_automatically":
        sub["status"] = "past_due"
    elif invoice["status"] == "open" and invoice["due_date"] is not None:
        state.setdefault("due", []).append([invoice["due_date"], invoice["id"]])
    sub["collection_method"] = invoice["collection_method"]
    sub["currency"] = invoice["currency"]
    subscriptions.changed(ctx, sub, before)


def _overdue(ctx: Context, state: JSON, t: int) -> None:
    """A sent invoice still open at its due date makes the subscription ``past_due``."""
    due, state["due"] = ([d for d in state.get("due", []) if d[0] <= t],
                         [d for d in state.get("due", []) if d[0] > t])
    for _, invoice_id in due:
        invoice = ctx.find("invoice", str(invoice_id))
        sub = ctx.find("subscription", str(state["subscription"]))
        if invoice is None or invoice["status"] != "open" or sub is None:
            continue
        events.record(ctx, "invoice.overdue", invoice)
        before = copy.deepcopy(sub)
        if sub["status"] == "active":
            sub["status"] = "past_due"
        subscriptions.changed(ctx, sub, before)


def _new_period(ctx: Context, schedule: JSON, state: JSON, t: int, carried: list[JSON],
                reset: bool) -> None:
    first = state["period"][0] == state["period"][1]
    previous = int(state["period"][0])
    if reset:
        state["anchor"], state["k"] = t, 0
    full_end = _period_end(state, t)
    end = full_end
    last_end = schedule["phases"][-1]["end_date"]
    if _governed(schedule, state) and schedule["end_behavior"] == "cancel":
        end = min(end, last_end)
    state["period"] = [t, end]
    charges = _charges(state["content"], (t, end), Fraction(end - t, full_end - t))
    lines, state["pending"] = carried + state["pending"] + charges, []
    reason = "subscription_create" if first else (
        "subscription_update" if reset else "subscription_cycle")
    _invoice(ctx, schedule, state, lines, (t, t) if first else (previous, t), reason)


def _step(ctx: Context, schedule: JSON, state: JSON, t: int) -> None:
    _overdue(ctx, state, t)
    governed = _governed(schedule, state)
    last_end = schedule["phases"][-1]["end_date"]
    closing = t == state["period"][1]
    usage = _usage(state["content"], (state["period"][0], t))
    phase = _phase_starting(schedule, state, t)
    reset = _enter_phase(ctx, schedule, state, phase, t) if phase is not None else False
    state["cursor"] = t
    if governed and t == last_end and phase is None:
        if schedule["end_behavior"] != "cancel":
            state["released"] = True
        else:
            if usage + state["pending"]:
                _invoice(ctx, schedule, state, usage + state["pending"],
                         (state["period"][0], t), "subscription_cycle")
            state["pending"], state["ended"] = [], True
            subscriptions.end(ctx, state["subscription"], canceled=True)
            return
    if closing or reset:
        _new_period(ctx, schedule, state, t, usage, reset)
    elif phase is not None and phase["proration_behavior"] == "always_invoice" \
            and state["pending"]:
        lines, state["pending"] = state["pending"], []
        _invoice(ctx, schedule, state, lines, (state["period"][0], t), "subscription_update")


def _begin(ctx: Context, schedule: JSON) -> JSON:
    start = int(schedule["phases"][0]["start_date"])
    sub = subscriptions.start(at(ctx, start), schedule)
    return {"id": schedule["id"], "subscription": sub["id"], "anchor": start, "k": 0,
            "period": [start, start], "cursor": start - 1, "content": None,
            "phase_start": None, "pending": [], "added": [], "coupon_first": {},
            "ended": False, "released": False}


def settle(ctx: Context, schedule: JSON) -> None:
    """Bill ``schedule`` up to ``ctx.now`` (its customer's time)."""
    if not billable(ctx, schedule):
        return
    state = ctx.find(STATE, schedule["id"])
    if state is None:
        if schedule["status"] not in _OPEN or ctx.now < schedule["phases"][0]["start_date"]:
            return
        state = _begin(ctx, schedule)
    while not state["ended"]:
        moment = _next_moment(schedule, state)
        if moment > ctx.now:
            break
        _step(at(ctx, moment), schedule, state, moment)
    ctx.save(STATE, state)


def schedule_changed(ctx: Context, schedule: JSON) -> None:
    """The current phase's content was changed by an update: prorate from now."""
    state = ctx.find(STATE, schedule["id"]) if billable(ctx, schedule) else None
    if state is None or state["ended"] or not _governed(schedule, state):
        return
    current = next((p for p in schedule["phases"]
                    if p["start_date"] <= ctx.now < p["end_date"]), None)
    if current is None:
        return
    new = _content(ctx, schedule, current)
    old = state["content"]
    if old is not None and _key(new) != _key(old) and ctx.now < state["period"][1] \
            and current["proration_behavior"] != "none":
        state["pending"] += _prorations(old, new, state, ctx.now)
    state["content"], state["phase_start"] = new, current["start_date"]
    if current["start_date"] not in state["added"]:
        state["added"].append(current["start_date"])
        state["pending"] += _one_time(ctx, current, ctx.now)
    state["cursor"] = max(int(state["cursor"]), ctx.now)
    ctx.save(STATE, state)


def stop(ctx: Context, schedule: JSON, *, invoice_now: bool, prorate: bool,
         release: bool) -> None:
    """The schedule is canceled (or released) now: settle what its end owes."""
    state = ctx.find(STATE, schedule["id"]) if billable(ctx, schedule) else None
    if state is None or state["ended"]:
        return
    if release:
        state["released"] = True
        ctx.save(STATE, state)
        return
    t = ctx.now
    if prorate and state["content"] is not None and t < state["period"][1]:
        state["pending"] += _prorations(state["content"], None, state, t)
    lines = _usage(state["content"], (state["period"][0], t)) + state["pending"]
    if invoice_now and lines:
        _invoice(ctx, schedule, state, lines, (state["period"][0], t), "subscription_update")
    state["pending"], state["ended"] = [], True
    ctx.save(STATE, state)
