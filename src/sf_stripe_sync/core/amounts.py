"""The money of a plan: item and phase amounts, one-time charges, and order totals.

Theory of operation (DESIGN 2, "Prices, amounts and charges"); pure, integer minor
units, ``Decimal`` only inside a computation, rounding half away from zero once per
computed piece.

* ``attach_one_time``: each one-time line becomes a ``OneTimeItem`` of the phase that
  holds its service date (a date before the first phase goes to the first phase, after
  the last to the last). It never changes a phase's bounds.
* ``price_schedule``: each phase item gets ``unit_amount`` (the negotiated amount of
  its custom price, else the price's ``unit_amount``), ``amount`` (unit x quantity minus
  the item discount; a percentage is rounded, an amount off is capped at the amount),
  ``interval`` / ``interval_count`` and ``metered``; each phase its
  ``recurring_amount`` (per interval, after the phase discount; None when an amount is
  unknown or the items bill at different intervals). Metered items bill on usage and
  count as no amount.
* ``billing_total``: what a bounded schedule bills over its term, walked as Stripe
  bills it (``core.term``: periods from the anchor, prorations at mid-period phase
  changes, a last period cut by the end, one-time charges once); ``None`` when
  open-ended or when any non-metered amount is unknown.
* ``order_totals``: ``salesforce_total`` (``Order.TotalAmount``, else the sum of the
  lines' ``TotalPrice``) compared with what the plan bills for the order's own lines,
  on the basis ``rules.salesforce_total_basis``: ``billing_period`` (one interval of
  each recurring line, one-time lines once) or ``term`` (each line over its service
  period, prorated). The engine's discount fields are not part of Salesforce's totals,
  so the comparison is made before them; a metered line counts as Salesforce has it. A
  difference beyond one minor unit per line is the ``amount_mismatch`` warning, naming
  the basis and the lines whose ``TotalPrice`` disagrees.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from sf_stripe_sync.core.evolve import evolve
from sf_stripe_sync.core.issues import IssueCode, OrderIssue, warning
from sf_stripe_sync.core.models import (
    CustomPrice,
    DesiredSchedule,
    Discount,
    OneTimeItem,
    Order,
    OrderLine,
    Phase,
    PhaseItem,
    PriceCatalog,
)
from sf_stripe_sync.core.money import from_minor_units, round_half_up
from sf_stripe_sync.core.pricing import custom_spec
from sf_stripe_sync.core.term import add_interval, term_total

HUNDRED = Decimal(100)


# --------------------------------------------------------------------------- calendar


def periods(anchor: datetime, interval: str, count: int, start: datetime,
            end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The billing periods ``[a, b)`` (from ``anchor``) that overlap ``[start, end)``."""
    k = 0
    low = anchor
    while low < end:
        high = add_interval(anchor, interval, count * (k + 1))
        if high > start:
            yield low, high
        k += 1
        low = high


def time_fraction(period: tuple[datetime, datetime], start: datetime,
                  end: datetime) -> Decimal:
    """The share of ``period`` that ``[start, end)`` covers, by seconds."""
    low, high = period
    covered = (min(high, end) - max(low, start)).total_seconds()
    return Decimal(str(covered)) / Decimal(str((high - low).total_seconds()))


def prorated(amount: int, fraction: Decimal) -> int:
    return amount if fraction == 1 else round_half_up(Decimal(amount) * fraction)


# --------------------------------------------------------------------------- discounts


def discounted(amount: int, discount: Discount | None) -> int:
    """``amount`` after a percent-off or amount-off discount (never below zero)."""
    if discount is None or discount.coupon is not None:
        return amount
    if discount.percent_off is not None:
        return amount - round_half_up(Decimal(amount) * discount.percent_off / HUNDRED)
    if discount.amount_off is not None:
        return max(0, amount - discount.amount_off)
    return amount


# --------------------------------------------------------------------------- one-time


def one_time_item(line: OrderLine) -> OneTimeItem:
    unit = line.unit_amount
    amount = None if unit is None else discounted(unit * line.quantity, line.discount)
    return OneTimeItem(price=line.price_id, quantity=line.quantity, service_date=line.start,
                       order_item_ids=(line.id,), discount=line.discount,
                       custom_price=line.custom_price, unit_amount=unit, amount=amount)


def _phase_for(phases: Sequence[Phase], moment: datetime) -> int:
    for index, phase in enumerate(phases):
        if phase.end is None or moment < phase.end:
            return index
    return len(phases) - 1


def attach_one_time(schedule: DesiredSchedule, items: Sequence[OneTimeItem]
                    ) -> DesiredSchedule:
    """Each item joins the phase holding its service date (see the module docstring)."""
    if not items or not schedule.phases:
        return schedule
    phases = list(schedule.phases)
    for item in sorted(items, key=lambda i: (i.service_date, i.order_item_ids, i.price)):
        index = _phase_for(phases, item.service_date)
        phase = phases[index]
        if any(set(o.order_item_ids) & set(item.order_item_ids) for o in phase.one_time_items):
            continue  # already there (Stripe's copy of the same line)
        phases[index] = evolve(phase, {"one_time_items": (*phase.one_time_items, item)})
    return evolve(schedule, {"phases": tuple(phases)})


# --------------------------------------------------------------------------- phases


def _priced_item(item: PhaseItem, lines: Mapping[str, OrderLine],
                 catalog: PriceCatalog, specs: Mapping[str, CustomPrice]) -> PhaseItem:
    line = next((lines[i] for i in item.order_item_ids
                 if i in lines and lines[i].price_id == item.price), None)
    update: dict[str, object] = {}
    spec = item.custom_price or specs.get(item.price)
    if line is not None:
        update = {"unit_amount": line.unit_amount, "interval": line.interval,
                  "interval_count": line.interval_count, "metered": line.charge == "metered",
                  "custom_price": line.custom_price}
    elif spec is not None:  # one of our custom prices, on an item Stripe has
        update = {"unit_amount": spec.unit_amount, "interval": spec.interval,
                  "interval_count": spec.interval_count if spec.interval else None,
                  "metered": spec.usage_type == "metered", "custom_price": spec}
    elif item.price in catalog.prices:
        facts = catalog.prices[item.price]
        update = {"unit_amount": facts.unit_amount, "interval": facts.interval,
                  "interval_count": facts.interval_count if facts.interval else None,
                  "metered": facts.usage_type == "metered"}
    unit = update.get("unit_amount", item.unit_amount)
    if isinstance(unit, int) and not update.get("metered", item.metered):
        update["amount"] = discounted(unit * item.quantity, item.discount)
    return evolve(item, update)


def _priced_once(item: OneTimeItem, catalog: PriceCatalog) -> OneTimeItem:
    """A one-time charge read back from Stripe: its amount from the price it names."""
    if item.amount is not None:
        return item
    facts = catalog.prices.get(item.price)
    unit = item.custom_price.unit_amount if item.custom_price is not None else (
        facts.unit_amount if facts is not None else None)
    if unit is None:
        return item
    return evolve(item, {"unit_amount": unit,
                         "amount": discounted(unit * item.quantity, item.discount)})


def _recurring_amount(items: Sequence[PhaseItem], discount: Discount | None) -> int | None:
    licensed = [i for i in items if not i.metered]
    if any(i.amount is None for i in licensed):
        return None
    if len({(i.interval, i.interval_count) for i in licensed}) > 1:
        return None
    return discounted(sum(i.amount or 0 for i in licensed), discount)


def price_schedule(schedule: DesiredSchedule, lines: Sequence[OrderLine],
                   catalog: PriceCatalog) -> DesiredSchedule:
    """Money on every item and phase (see the module docstring)."""
    by_id = {line.id: line for line in lines}
    specs = {s.lookup_key: s for f in catalog.prices.values() if (s := custom_spec(f))}
    phases = []
    for phase in schedule.phases:
        items = tuple(_priced_item(i, by_id, catalog, specs) for i in phase.items)
        once = tuple(_priced_once(o, catalog) for o in phase.one_time_items)
        phases.append(evolve(phase, {
            "items": items, "one_time_items": once,
            "recurring_amount": _recurring_amount(items, phase.discount)}))
    return evolve(schedule, {"phases": tuple(phases)})


def billing_total(schedule: DesiredSchedule | None) -> int | None:
    """Everything a bounded schedule bills (``core.term``); None when open-ended."""
    return term_total(schedule)


# --------------------------------------------------------------------------- totals


def salesforce_total(order: Order) -> int | None:
    if order.total_amount is not None:
        return order.total_amount
    lines = (*order.lines, *order.one_time_lines)
    known = [line.total_price for line in lines if line.total_price is not None]
    return sum(known) if known and len(known) == len(lines) else None


def _line_value(line: OrderLine, basis: str) -> int | None:
    """What the plan bills for one line on ``basis`` (metered: Salesforce's own)."""
    if line.unit_amount is None:
        return None
    if line.charge == "metered":
        return line.total_price if line.total_price is not None else (
            line.unit_amount * line.quantity)
    amount = line.unit_amount * line.quantity
    if line.charge == "one_time" or basis == "billing_period":
        return amount
    if line.end is None or line.interval is None:
        return None
    return sum(prorated(amount, time_fraction(p, line.start, line.end))
               for p in periods(line.start, line.interval, line.interval_count or 1,
                                line.start, line.end))


def _money(amount: int, currency: str) -> str:
    try:
        return f"{from_minor_units(amount, currency)} {currency.upper()}"
    except ValueError:
        return f"{amount} minor units"


def order_totals(order: Order, basis: str) -> tuple[int | None, list[OrderIssue]]:
    """(salesforce_total, [amount_mismatch warning]) for one priced order."""
    total = salesforce_total(order)
    lines = (*order.lines, *order.one_time_lines)
    if total is None or basis == "off" or not lines:
        return total, []
    values = {line.id: _line_value(line, basis) for line in lines}
    if any(v is None for v in values.values()):
        return total, []
    expected = sum(v or 0 for v in values.values())
    if abs(expected - total) <= len(lines):
        return total, []
    named = tuple(sorted(line.id for line in lines if line.total_price is not None
                         and abs((values[line.id] or 0) - line.total_price) > 1))
    currency = order.currency
    return total, [warning(
        IssueCode.AMOUNT_MISMATCH,
        f"Salesforce's total is {_money(total, currency)} but the plan bills "
        f"{_money(expected, currency)} for this order's lines "
        f"(salesforce_total_basis = {basis})",
        order_id=order.id, order_item_ids=named or tuple(sorted(v for v in values)))]
