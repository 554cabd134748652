"""What each order line bills: its Stripe price facts, its kind, and custom prices.

Theory of operation (DESIGN 2, "Prices, amounts and charges"). The engine reads the
facts of every Stripe price the lines point at (``PriceCatalog``; the offline preview
falls back to the PricebookEntry's ``UnitPrice`` and the Product2's billing frequency)
and ``price_order`` decides, per line, purely:

* its kind: **one-time** when the Product2 billing frequency is ``One-Time`` or the
  price has no ``recurring``; **metered** when ``recurring.usage_type`` is metered;
  else **recurring**. One-time lines move to ``Order.one_time_lines`` (they become
  ``add_invoice_items``, never phase items).
* what one unit bills: with ``unit_price_basis = "billing_period"`` (default) the
  line's ``UnitPrice``; when that differs from the price's ``unit_amount`` (or a
  one-time product points at a recurring price) the line bills through a
  ``CustomPrice`` on the same product, currency and recurrence, whose ``lookup_key``
  derives from exactly those and the amount, so one (product, currency, recurrence,
  amount) is one Stripe Price whoever makes it. The line's ``price_id`` becomes that
  key (consolidation then keeps negotiated and list lines apart) and ``list_price_id``
  keeps the price it pointed at. With ``"stripe_price"`` the price is billed as is and a
  differing ``UnitPrice`` is an ``amount_mismatch`` warning.

Problems: a price the source could not find is ``missing_price``; a price in another
currency than the order is ``invalid_currency``; a metered line with a quantity other
than 1 is warned about (``metered_quantity``): usage, not quantity, decides its bill.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import lru_cache

from sf_stripe_sync.core.evolve import evolve
from sf_stripe_sync.core.issues import IssueCode, OrderIssue, warning
from sf_stripe_sync.core.models import (
    ChargeKind,
    CustomPrice,
    Order,
    OrderLine,
    Phase,
    PriceCatalog,
    PriceFacts,
)
from sf_stripe_sync.core.money import from_minor_units
from sf_stripe_sync.core.rules import SyncRules

LOOKUP_KEY_PREFIX = "sfss"
MAX_LOOKUP_KEY = 200
"""Stripe's limit on a price's lookup_key length."""

FREQUENCIES: dict[str, tuple[str, int]] = {
    "daily": ("day", 1), "weekly": ("week", 1), "monthly": ("month", 1),
    "quarterly": ("month", 3), "semiannual": ("month", 6), "annual": ("year", 1),
    "yearly": ("year", 1),
}
"""Product2 billing frequencies the offline fallback knows (the catalog's defaults)."""


def custom_lookup_key(*, product: str | None, currency: str, interval: str | None,
                      interval_count: int, usage_type: str, meter: str | None,
                      unit_amount: int) -> str:
    """``sfss:prod_A:usd:month-1:750`` (``once`` for one-time, ``:metered[:meter]``)."""
    recurrence = "once" if interval is None else f"{interval}-{interval_count}"
    if interval is not None and usage_type == "metered":
        recurrence += ":metered" + (f":{meter}" if meter else "")
    key = f"{LOOKUP_KEY_PREFIX}:{product or '-'}:{currency}:{recurrence}:{unit_amount}"
    if len(key) <= MAX_LOOKUP_KEY:
        return key
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:40]
    return f"{LOOKUP_KEY_PREFIX}:h:{digest}"


def fallback_facts(line: OrderLine, currency: str) -> PriceFacts | None:
    """Facts from Salesforce alone: the PricebookEntry UnitPrice as the list price and the
    Product2 frequency as the recurrence (unknown frequency: monthly)."""
    if line.list_unit_price is None:
        return None
    return _fallback(line.price_id, currency, line.list_unit_price, line.stripe_product,
                     line.billing_frequency)


@lru_cache(maxsize=1024)
def _fallback(price_id: str, currency: str, unit_amount: int, product: str | None,
              billing_frequency: str | None) -> PriceFacts:
    """(Cached: a catalog's few entries and products price every line of a run.)"""
    frequency = (billing_frequency or "monthly").strip().lower()
    interval: str | None
    interval, count = FREQUENCIES.get(frequency, ("month", 1))
    if frequency.replace("-", "").replace("_", "") in ("onetime", "once"):
        interval, count = None, 1
    return PriceFacts(id=price_id, currency=currency, unit_amount=unit_amount,
                      product=product, interval=interval, interval_count=count)


def _kind(line: OrderLine, facts: PriceFacts, rules: SyncRules) -> ChargeKind:
    frequency = (line.billing_frequency or "").strip().lower()
    if frequency == rules.one_time_frequency.strip().lower() or not facts.recurring:
        return "one_time"
    return "metered" if facts.usage_type == "metered" else "recurring"


def _money(amount: int, currency: str) -> str:
    try:
        return f"{from_minor_units(amount, currency)} {currency.upper()}"
    except ValueError:
        return f"{amount} minor units"


class _Pricer:
    def __init__(self, order: Order, catalog: PriceCatalog, rules: SyncRules) -> None:
        self.order, self.catalog, self.rules = order, catalog, rules
        self.issues: list[OrderIssue] = []

    def problem(self, code: IssueCode, line: OrderLine, message: str) -> None:
        self.issues.append(OrderIssue(code=code, message=f"OrderItem {line.id}: {message}",
                                      order_id=self.order.id, order_item_ids=(line.id,),
                                      field="UnitPrice" if code is IssueCode.INVALID_RECORD
                                      else None))

    def facts(self, line: OrderLine) -> PriceFacts | None:
        """The price's facts; None after reporting a problem (or when nothing is known:
        see ``unknown``)."""
        known = self.catalog.prices.get(line.price_id)
        if known is None and line.price_id in self.catalog.missing:
            self.problem(IssueCode.MISSING_PRICE, line,
                         f"Stripe price {line.price_id} cannot be read (it does not exist "
                         "in this Stripe account)")
            return None
        if known is None:
            return fallback_facts(line, self.order.currency)
        if known.currency.lower() != self.order.currency:
            self.problem(IssueCode.INVALID_CURRENCY, line,
                         f"Stripe price {line.price_id} is in {known.currency.upper()}, the "
                         f"order in {self.order.currency.upper()}")
            return None
        return known

    def unknown(self, line: OrderLine) -> OrderLine:
        """Nothing known of the price (hand-made input, offline without an entry price):
        billed as it points, kind from the product, amounts unknown."""
        frequency = (line.billing_frequency or "").strip().lower()
        once = frequency == self.rules.one_time_frequency.strip().lower()
        return evolve(line, {"charge": "one_time" if once else "recurring",
                             "unit_amount": line.unit_price})

    def price(self, line: OrderLine) -> OrderLine | None:
        if line.price_id not in self.catalog.prices and line.price_id not in \
                self.catalog.missing and line.list_unit_price is None:
            return self.unknown(line)
        facts = self.facts(line)
        if facts is None:
            return None
        kind = _kind(line, facts, self.rules)
        interval = facts.interval if kind != "one_time" else None
        count = facts.interval_count if interval is not None else None
        unit = line.unit_price
        same_recurrence = (kind == "one_time") == (not facts.recurring)
        differs = unit is not None and (unit != facts.unit_amount or not same_recurrence)
        update: dict[str, object] = {"charge": kind, "interval": interval,
                                     "interval_count": count, "unit_amount": unit}
        if kind == "metered" and line.quantity != 1:
            self.issues.append(warning(
                IssueCode.METERED_QUANTITY,
                f"OrderItem {line.id}: quantity {line.quantity} on a usage-based price "
                f"({line.price_id}) is ignored; usage decides what is billed",
                order_id=self.order.id, order_item_ids=(line.id,), field="Quantity"))
        if not differs or unit is None:
            return evolve(line, update)
        if self.rules.unit_price_basis == "stripe_price" and same_recurrence:
            listed = facts.unit_amount
            self.issues.append(warning(
                IssueCode.AMOUNT_MISMATCH,
                f"OrderItem {line.id}: sold at {_money(unit, self.order.currency)} a unit, "
                f"billed at {line.price_id}'s "
                f"{_money(listed, self.order.currency) if listed is not None else 'amount'} "
                "(unit_price_basis = stripe_price)",
                order_id=self.order.id, order_item_ids=(line.id,), field="UnitPrice"))
            return evolve(line, {**update, "unit_amount": listed})
        custom = CustomPrice(
            lookup_key=custom_lookup_key(
                product=facts.product, currency=self.order.currency, interval=interval,
                interval_count=count or 1, usage_type=facts.usage_type, meter=facts.meter,
                unit_amount=unit),
            list_price=line.price_id, product=facts.product, currency=self.order.currency,
            unit_amount=unit, interval=interval, interval_count=count or 1,
            usage_type=facts.usage_type if interval else "licensed",
            meter=facts.meter if interval else None,
            pricebook_entry_id=line.pricebook_entry_id)
        return evolve(line, {**update, "price_id": custom.lookup_key,
                             "list_price_id": line.price_id,
                             "custom_price": custom})


def price_order(order: Order, catalog: PriceCatalog, rules: SyncRules
                ) -> tuple[Order, list[OrderIssue]]:
    """The order with its lines priced and one-time lines set apart, and the issues.

    Idempotent: an order already priced (its ``one_time_lines`` set or lines carrying a
    kind) is priced again from its original price ids, so the result is the same."""
    pricer = _Pricer(order, catalog, rules)
    recurring: list[OrderLine] = []
    once: list[OrderLine] = []
    for line in (*order.lines, *order.one_time_lines):
        original = line
        if line.list_price_id is not None:
            original = evolve(line, {"price_id": line.list_price_id,
                                     "list_price_id": None, "custom_price": None})
        priced = pricer.price(original)
        if priced is None:
            continue
        (once if priced.charge == "one_time" else recurring).append(priced)
    priced_order = evolve(order, {"lines": tuple(recurring),
                                  "one_time_lines": tuple(once)})
    return priced_order, pricer.issues


def price_orders(orders: Sequence[Order], catalog: PriceCatalog, rules: SyncRules
                 ) -> tuple[list[Order], list[OrderIssue]]:
    """``price_order`` over several orders (a contract's), issues together."""
    result: list[Order] = []
    issues: list[OrderIssue] = []
    for order in orders:
        priced, found = price_order(order, catalog, rules)
        result.append(priced)
        issues += found
    return result, issues


def price_ids(orders: Sequence[Order]) -> list[str]:
    """Every Stripe price the orders' lines point at (before pricing), sorted."""
    found = {line.list_price_id or line.price_id
             for order in orders for line in (*order.lines, *order.one_time_lines)}
    return sorted(found)


def custom_spec(facts: PriceFacts) -> CustomPrice | None:
    """The ``CustomPrice`` a Stripe price is, when the sync made it (by its lookup key)."""
    key = facts.lookup_key or ""
    if not key.startswith(LOOKUP_KEY_PREFIX + ":") or facts.unit_amount is None:
        return None
    return CustomPrice(lookup_key=key, list_price=facts.list_price or facts.id,
                       product=facts.product, currency=facts.currency,
                       unit_amount=facts.unit_amount, interval=facts.interval,
                       interval_count=facts.interval_count, usage_type=facts.usage_type,
                       meter=facts.meter)


def in_plan_terms(phases: Sequence[Phase], catalog: PriceCatalog) -> tuple[Phase, ...]:
    """Stripe's phases with each custom price named as a plan names it (its lookup key,
    its ``CustomPrice``), so they compare, net and drift like the lines that made them."""
    specs = {pid: custom_spec(f) for pid, f in catalog.prices.items()}
    if not any(specs.values()):
        return tuple(phases)
    out: list[Phase] = []
    for phase in phases:
        items = tuple(
            evolve(i, {"price": spec.lookup_key, "custom_price": spec})
            if (spec := specs.get(i.price)) is not None else i for i in phase.items)
        once = tuple(
            evolve(o, {"price": spec.lookup_key, "custom_price": spec})
            if (spec := specs.get(o.price)) is not None else o for o in phase.one_time_items)
        out.append(evolve(phase, {"items": items, "one_time_items": once}))
    return tuple(out)
