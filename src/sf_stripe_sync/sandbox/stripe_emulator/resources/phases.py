"""Subscription schedule phases: from request parameters to Stripe's phase objects.

Theory of operation (what Stripe enforces, as the emulator reproduces it):

* Phases are contiguous: each phase starts where the previous one ends. On create the
  API computes every start from the schedule's ``start_date`` ("now" or a timestamp,
  past allowed = backdating); on update the first phase must carry ``start_date`` and a
  later phase may carry one only if it equals the previous phase's end.
* A phase ends at its ``end_date``, or after its ``duration`` ({interval,
  interval_count}); sending both is refused. A phase with neither lasts one billing
  period of its longest price interval: Stripe has no open-ended phase, so with
  ``end_behavior=release`` the subscription simply carries on after that last period.
* Items: 1 to 20 per phase, each an existing, active, recurring price (``price_data`` is
  not emulated for items), no price twice, all in the phase currency; ``quantity`` is a
  positive integer, defaults to 1, and is refused for metered prices (Stripe: "Quantity
  should not be specified where usage_type is `metered`").
* One-time charges: ``add_invoice_items`` (see ``invoice_items``), billed on the
  phase's first invoice; a resent past phase is compared without them (they were billed).
* Discounts (phase and item level): ``[{coupon}]``; coupons must exist. Redemption
  (once per schedule) is the schedule's business, see ``schedules``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dateutil.relativedelta import relativedelta

from sf_stripe_sync.sandbox.stripe_emulator.errors import invalid, missing_param
from sf_stripe_sync.sandbox.stripe_emulator.resources import invoice_items
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import Context, usable_price
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

MAX_ITEMS_PER_PHASE = 20
_INTERVAL_ORDER = {"day": 1, "week": 7, "month": 31, "year": 366}


def timestamp(value: Any, now: int) -> int:
    return now if value == "now" else int(value)


def add_interval(start: int, interval: str, count: int) -> int:
    moment = datetime.fromtimestamp(start, tz=UTC)
    step = {
        "day": relativedelta(days=count), "week": relativedelta(weeks=count),
        "month": relativedelta(months=count), "year": relativedelta(years=count),
    }[interval]
    return int((moment + step).timestamp())


def _discounts(ctx: Context, value: Any, path: str) -> list[JSON]:
    if value in (None, ""):
        return []
    result: list[JSON] = []
    for index, entry in enumerate(value):
        where = f"{path}[{index}]"
        given = [k for k in ("coupon", "discount", "promotion_code") if entry.get(k)]
        if len(given) != 1:
            raise invalid("Each discount needs exactly one of coupon, discount or "
                          "promotion_code.", param=where)
        if given[0] == "coupon":
            if ctx.find("coupon", str(entry["coupon"])) is None:
                raise invalid(f"No such coupon: '{entry['coupon']}'", param=f"{where}[coupon]",
                              code="resource_missing")
        else:
            label = "promotion code" if given[0] == "promotion_code" else "discount"
            raise invalid(f"No such {label}: '{entry[given[0]]}'", param=f"{where}[{given[0]}]",
                          code="resource_missing")
        result.append({"coupon": entry["coupon"], "discount": None, "promotion_code": None})
    return result


def _item(ctx: Context, raw: JSON, path: str) -> tuple[JSON, JSON]:
    if "price_data" in raw:
        raise invalid("price_data is not supported by the emulator: create the price first "
                      "and pass its id.", param=f"{path}[price_data]")
    if "price" in raw and "plan" in raw:
        raise invalid("You may only specify one of these parameters: plan, price.",
                      param=f"{path}[price]")
    price_id = str(raw.get("price") or raw.get("plan") or "")
    if not price_id:
        raise missing_param(f"{path}[price]")
    price = usable_price(ctx, price_id, f"{path}[price]", "recurring")
    metered = price["recurring"]["usage_type"] == "metered"
    quantity: int | None = None if metered else 1
    if "quantity" in raw:
        if metered:
            raise invalid("Quantity should not be specified where usage_type is `metered`. "
                          f"Remove quantity from {path}.", param=f"{path}[quantity]")
        quantity = int(raw["quantity"])
        if quantity < 1:
            raise invalid("Invalid quantity: must be a positive integer.",
                          param=f"{path}[quantity]")
    item = {
        "billing_thresholds": None,
        "discounts": _discounts(ctx, raw.get("discounts"), f"{path}[discounts]"),
        "metadata": dict(raw.get("metadata") or {}),
        "plan": price_id, "price": price_id, "quantity": quantity,
        "tax_rates": list(raw.get("tax_rates") or []),
    }
    return item, price


def _items(ctx: Context, raw_phase: JSON, path: str) -> tuple[list[JSON], str, JSON]:
    raw_items = raw_phase.get("items") or []
    if not raw_items:
        raise missing_param(f"{path}[items]")
    if len(raw_items) > MAX_ITEMS_PER_PHASE:
        raise invalid(f"A phase can have at most {MAX_ITEMS_PER_PHASE} items; "
                      f"{len(raw_items)} were given.", param=f"{path}[items]")
    items: list[JSON] = []
    currency = str(raw_phase.get("currency") or "").lower()
    longest: JSON | None = None
    for index, raw in enumerate(raw_items):
        where = f"{path}[items][{index}]"
        item, price = _item(ctx, raw, where)
        if any(i["price"] == item["price"] for i in items):
            raise invalid(f"Cannot add multiple subscription items with the same price: "
                          f"{item['price']}.", param=f"{where}[price]")
        if currency and price["currency"] != currency:
            raise invalid(f"The price specified ({price['id']}) has a currency "
                          f"({price['currency']}) that does not match the currency of the "
                          f"phase ({currency}). All items in a phase must share one currency.",
                          param=f"{where}[price]")
        currency = price["currency"]
        recurring = price["recurring"]
        span = _INTERVAL_ORDER[recurring["interval"]] * int(recurring["interval_count"])
        if longest is None or span > _INTERVAL_ORDER[longest["interval"]] * int(
                longest["interval_count"]):
            longest = recurring
        items.append(item)
    assert longest is not None
    return items, currency, longest


def _end(raw: JSON, start: int, longest: JSON, now: int, path: str) -> int:
    if "end_date" in raw and "duration" in raw:
        raise invalid("You may only specify one of these parameters: duration, end_date.",
                      param=f"{path}[duration]")
    if "end_date" in raw:
        end = timestamp(raw["end_date"], now)
    elif "duration" in raw:
        duration = raw["duration"]
        end = add_interval(start, duration["interval"], int(duration.get("interval_count", 1)))
    else:
        end = add_interval(start, longest["interval"], int(longest["interval_count"]))
    if end <= start:
        raise invalid(f"The phase end_date ({end}) must be after its start_date ({start}).",
                      param=f"{path}[end_date]")
    return end


def _phase(raw: JSON, start: int, end: int, items: list[JSON], currency: str,
           discounts: list[JSON], now: int, add_items: list[JSON]) -> JSON:
    settings = raw.get("invoice_settings")
    return {
        "add_invoice_items": add_items,
        "application_fee_percent": raw.get("application_fee_percent"),
        "automatic_tax": raw.get("automatic_tax"),
        "billing_cycle_anchor": raw.get("billing_cycle_anchor"), "billing_thresholds": None,
        "collection_method": raw.get("collection_method"), "currency": currency,
        "default_payment_method": raw.get("default_payment_method"),
        "default_tax_rates": list(raw.get("default_tax_rates") or []),
        "description": raw.get("description") or None, "discounts": discounts,
        "end_date": end,
        "invoice_settings": None if not settings else {
            "account_tax_ids": settings.get("account_tax_ids") or None,
            "days_until_due": settings.get("days_until_due"), "issuer": settings.get("issuer"),
        },
        "items": items, "metadata": dict(raw.get("metadata") or {}),
        "on_behalf_of": raw.get("on_behalf_of"),
        "proration_behavior": raw.get("proration_behavior", "create_prorations"),
        "start_date": start, "transfer_data": raw.get("transfer_data"),
        "trial": raw.get("trial"),
        "trial_end": timestamp(raw["trial_end"], now) if "trial_end" in raw else None,
    }


def build_phases(ctx: Context, raw_phases: list[JSON], start: int | None) -> list[JSON]:
    """Phase objects for the given parameters. ``start`` is the schedule's start on
    create; on update it is None and the first phase must carry ``start_date``."""
    if not raw_phases:
        raise missing_param("phases")
    phases: list[JSON] = []
    cursor = start
    for index, raw in enumerate(raw_phases):
        path = f"phases[{index}]"
        if "start_date" in raw:
            given = timestamp(raw["start_date"], ctx.now)
            if cursor is not None and given != cursor:
                raise invalid(f"The start_date of {path} ({given}) must equal the end_date "
                              f"of the previous phase ({cursor}).", param=f"{path}[start_date]")
            cursor = given
        if cursor is None:
            raise missing_param(f"{path}[start_date]")
        items, currency, longest = _items(ctx, raw, path)
        end = _end(raw, cursor, longest, ctx.now, path)
        discounts = _discounts(ctx, raw.get("discounts"), f"{path}[discounts]")
        add_items = invoice_items.build(ctx, raw.get("add_invoice_items"), currency, path,
                                        _discounts)
        phases.append(_phase(raw, cursor, end, items, currency, discounts, ctx.now, add_items))
        cursor = end
    return phases


def coupons_with_params(phases: list[JSON]) -> list[tuple[str, str]]:
    """(coupon id, parameter path) for every coupon the phases use, in order."""
    found: list[tuple[str, str]] = []
    for p_index, phase in enumerate(phases):
        for d_index, discount in enumerate(phase["discounts"]):
            found.append((discount["coupon"], f"phases[{p_index}][discounts][{d_index}][coupon]"))
        for i_index, item in enumerate(phase["items"]):
            for d_index, discount in enumerate(item["discounts"]):
                found.append((discount["coupon"], f"phases[{p_index}][items][{i_index}]"
                              f"[discounts][{d_index}][coupon]"))
        for a_index, added in enumerate(phase["add_invoice_items"]):
            for d_index, discount in enumerate(added["discounts"]):
                found.append((discount["coupon"], f"phases[{p_index}][add_invoice_items]"
                              f"[{a_index}][discounts][{d_index}][coupon]"))
    return found


def billing_content(phase: JSON) -> Any:
    """What a phase bills, for comparing a resent past phase with the stored one."""
    return (
        phase["start_date"], phase["end_date"],
        [(i["price"], i["quantity"], [d["coupon"] for d in i["discounts"]])
         for i in phase["items"]],
        [d["coupon"] for d in phase["discounts"]],
    )
