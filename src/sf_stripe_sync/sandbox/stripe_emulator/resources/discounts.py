"""Coupons on an invoice: which apply to which line, and how much each takes off.

Theory of operation: every invoice line produced by a schedule carries the coupons in
force for it (``item_coupons``: the phase item's or add_invoice_item's own discounts;
``phase_coupons``: the phase's discounts, which reach only ``discountable`` lines).
Item coupons come off first, from each line's amount; phase coupons then come off what
is left. A ``percent_off`` coupon takes that share of each line it reaches (rounded half
up to the minor unit); an ``amount_off`` coupon (in the invoice's currency) takes its
amount once per invoice from the lines it reaches together, never more than they hold,
shared among them in proportion (the last line takes the rounding remainder).
Credit lines (negative prorations) are reduced by percent coupons the same way, so a
credit gives back what was really paid.

A coupon's ``duration`` counts from the first invoice it reached on this subscription
(``coupon_first``): ``forever`` always, ``once`` on that invoice only, ``repeating`` on
invoices issued before ``duration_in_months`` months have passed. The engine's coupons
are ``forever`` and single-use (``max_redemptions = 1``): redemption is the schedule's
business (once per schedule), and the phase bounds them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from sf_stripe_sync.sandbox.stripe_emulator.resources.common import Context
from sf_stripe_sync.sandbox.stripe_emulator.resources.phases import add_interval
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON


@dataclass
class Applied:
    per_line: list[list[JSON]] = field(default_factory=list)
    totals: list[JSON] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(int(t["amount"]) for t in self.totals)


def discount_id(subscription: str, coupon: str) -> str:
    digest = hashlib.sha256(f"{subscription}:{coupon}".encode()).hexdigest()[:24]
    return f"di_{digest}"


def _in_force(coupon: JSON, billing: JSON, now: int) -> bool:
    first = billing.setdefault("coupon_first", {}).setdefault(coupon["id"], now)
    duration = coupon.get("duration") or "forever"
    if duration == "once":
        return bool(now == first)
    if duration == "repeating":
        months = int(coupon.get("duration_in_months") or 0)
        return now < add_interval(int(first), "month", months)
    return True


def _percent_of(amount: int, percent: Decimal) -> int:
    return int((Decimal(amount) * percent / 100).quantize(Decimal(1), ROUND_HALF_UP))


def _take(coupon: JSON, indexes: list[int], left: list[int], currency: str) -> list[int]:
    """What ``coupon`` takes from each of the lines ``indexes`` (amounts ``left``)."""
    if coupon.get("percent_off") is not None:
        percent = Decimal(str(coupon["percent_off"]))
        return [_percent_of(left[i], percent) for i in indexes]
    if (coupon.get("currency") or "").lower() != currency:
        return [0 for _ in indexes]
    pool = sum(max(0, left[i]) for i in indexes)
    cap = min(int(coupon.get("amount_off") or 0), pool)
    taken: list[int] = []
    remaining = cap
    positive = [i for i in indexes if left[i] > 0]
    for i in indexes:
        if left[i] <= 0 or pool == 0:
            taken.append(0)
            continue
        share = remaining if i == positive[-1] else cap * left[i] // pool
        remaining -= share
        taken.append(share)
    return taken


def apply(ctx: Context, specs: list[JSON], billing: JSON) -> Applied:
    """The discount amounts of each line and of the invoice, per coupon."""
    left = [int(s["amount"]) for s in specs]
    applied = Applied(per_line=[[] for _ in specs])
    totals: dict[str, int] = {}
    for level in ("item_coupons", "phase_coupons"):
        order: list[str] = []
        for spec in specs:
            for coupon_id in spec.get(level) or []:
                if coupon_id not in order:
                    order.append(coupon_id)
        for coupon_id in order:
            coupon = ctx.find("coupon", coupon_id)
            if coupon is None or not _in_force(coupon, billing, ctx.now):
                continue
            indexes = [i for i, s in enumerate(specs) if coupon_id in (s.get(level) or [])
                       and (level == "item_coupons" or s.get("discountable", True))]
            ident = discount_id(str(billing["subscription"]), coupon_id)
            for i, amount in zip(indexes, _take(coupon, indexes, left, billing["currency"]),
                                 strict=True):
                if amount:
                    left[i] -= amount
                    applied.per_line[i].append({"amount": amount, "discount": ident})
                    totals[ident] = totals.get(ident, 0) + amount
    applied.totals = [{"amount": amount, "discount": ident} for ident, amount in totals.items()]
    return applied
