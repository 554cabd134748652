"""What a bounded schedule bills over its whole term, walked as Stripe bills it.

Theory of operation (Stripe's classic billing of a subscription schedule with
``proration_behavior = create_prorations``): the subscription starts with the first
phase and its billing cycle anchor is that start. Each billing period (the phase's
interval counted from the anchor, by calendar: a month from Jan 31 ends Feb 28, then
Mar 31) is charged at its start: each licensed item ``unit_amount x quantity``; a last
period cut short by the schedule's end (``end_behavior = cancel``) is charged for the
part it lasts, by time. A phase that starts mid-period credits the old items' unused
time and charges the new items' remaining time, both as shares of the current period
(``(period_end - t) / (period_end - period_start)``); a phase with another interval
resets the anchor (the unused time is credited and a new period starts). Each line is
rounded half up to the minor unit on its own; a percentage discount (the item's, then
the phase's) comes off each line, credits included; an amount-off discount comes off
each period's charge once, never below zero (Stripe takes it once per invoice; invoices
also carry the prorations, so this is the one approximation). One-time charges are
added once each. Metered items bill usage, which no plan knows: they count as zero.

``term_total`` is ``None`` for an open-ended schedule, when an amount is unknown, or
when one phase mixes billing intervals (a subscription bills one interval).
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sf_stripe_sync.core.models import DesiredSchedule, Discount, Phase, PhaseItem
from sf_stripe_sync.core.money import round_half_up

HUNDRED = Decimal(100)


def add_interval(anchor: datetime, interval: str, count: int) -> datetime:
    """``anchor`` moved by ``count`` intervals; months keep the anchor's day, clamped."""
    if interval == "day":
        return anchor + timedelta(days=count)
    if interval == "week":
        return anchor + timedelta(weeks=count)
    if interval not in ("month", "year"):
        raise ValueError(f"unknown interval {interval!r}")
    months = count * (12 if interval == "year" else 1)
    index = anchor.month - 1 + months
    year, month = anchor.year + index // 12, index % 12 + 1
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def _percent(amount: int, discount: Discount | None) -> int:
    if discount is None or discount.percent_off is None:
        return amount
    return amount - round_half_up(Decimal(amount) * discount.percent_off / HUNDRED)


def _share(amount: int, covered: float, whole: float) -> int:
    if covered == whole:
        return amount
    return round_half_up(Decimal(amount) * Decimal(str(covered)) / Decimal(str(whole)))


def _interval(phase: Phase) -> tuple[str, int]:
    """The interval a phase bills by: its first licensed item's, else any item's."""
    first = next((i for i in phase.items if not i.metered and i.interval), None)
    if first is None or first.interval is None:
        first = next((i for i in phase.items if i.interval), None)
    if first is None or first.interval is None:
        return "month", 1
    return first.interval, first.interval_count or 1


@dataclass
class _Walk:
    """The subscription as the walk goes: anchor, current period, what it bills."""

    phases: Sequence[Phase]
    end: datetime
    anchor: datetime
    k: int = 0
    period: tuple[datetime, datetime] = field(init=False)
    phase: Phase | None = None
    total: int = 0
    full: dict[int, int] = field(default_factory=dict)
    """Per phase (by id: the walk holds its phases), what one whole period charges."""
    intervals: dict[int, tuple[str, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.period = (self.anchor, self.anchor)

    def line(self, item: PhaseItem, phase: Phase, covered: float, whole: float,
             sign: int = 1) -> int:
        assert item.unit_amount is not None
        raw = sign * _share(item.unit_amount * item.quantity, covered, whole)
        return _percent(_percent(raw, item.discount), phase.discount)

    def interval(self, phase: Phase) -> tuple[str, int]:
        known = self.intervals.get(id(phase))
        if known is None:
            known = self.intervals[id(phase)] = _interval(phase)
        return known

    def prorate(self, old: Phase, new: Phase | None, t: datetime) -> None:
        start, end = self.period
        covered, whole = (end - t).total_seconds(), (end - start).total_seconds()
        for item in old.items:
            if not item.metered:
                self.total += self.line(item, old, covered, whole, sign=-1)
        if new is None:
            return
        for item in new.items:
            if not item.metered:
                self.total += self.line(item, new, covered, whole)

    def new_period(self, t: datetime, reset: bool) -> None:
        phase = self.phase
        assert phase is not None
        if reset:
            self.anchor, self.k = t, 0
        interval, count = self.interval(phase)
        full = add_interval(self.anchor, interval, count * (self.k + 1))
        while full <= t:
            self.k += 1
            full = add_interval(self.anchor, interval, count * (self.k + 1))
        self.k += 1
        end = min(full, self.end)
        self.period = (t, end)
        covered, whole = (end - t).total_seconds(), (full - t).total_seconds()
        if covered != whole:
            self.total += self.charge(phase, covered, whole)
            return
        known = self.full.get(id(phase))
        if known is None:  # a whole period charges the same every time
            known = self.full[id(phase)] = self.charge(phase, 1.0, 1.0)
        self.total += known

    def charge(self, phase: Phase, covered: float, whole: float) -> int:
        """What ``phase`` charges for ``covered`` seconds of a ``whole``-second period."""
        charge = 0
        for item in phase.items:
            if item.metered:
                continue
            piece = self.line(item, phase, covered, whole)
            if item.discount is not None and item.discount.amount_off:
                piece = max(0, piece - _share(item.discount.amount_off, covered, whole))
            charge += piece
        off = phase.discount.amount_off if phase.discount is not None else None
        if off:
            charge = max(0, charge - _share(off, covered, whole))
        return charge

    def enter(self, phase: Phase, t: datetime) -> bool:
        old = self.phase
        reset = old is not None and self.interval(phase) != self.interval(old)
        if old is not None and t < self.period[1]:
            self.prorate(old, None if reset else phase, t)
        self.phase = phase
        return reset


def term_total(schedule: DesiredSchedule | None) -> int | None:
    """Everything a bounded schedule bills (see the module docstring)."""
    if schedule is None or not schedule.phases or schedule.end is None:
        return None
    phases = schedule.phases
    if any(i.unit_amount is None for p in phases for i in p.items if not i.metered) or any(
            o.amount is None for p in phases for o in p.one_time_items):
        return None
    if any(len({(i.interval, i.interval_count or 1) for i in p.items if not i.metered}) > 1
           for p in phases):
        return None  # Stripe bills one interval per subscription: no total to promise
    walk = _Walk(phases, schedule.end, phases[0].start)
    walk.total = sum(o.amount or 0 for p in phases for o in p.one_time_items)
    starts = {p.start: p for p in phases}
    cursor: datetime | None = None
    while True:
        upcoming = [walk.period[1], schedule.end,
                    *(s for s in starts if cursor is None or s > cursor)]
        t = min(m for m in upcoming if cursor is None or m > cursor)
        closing = t == walk.period[1]
        phase = starts.get(t)
        reset = walk.enter(phase, t) if phase is not None else False
        cursor = t
        if t == schedule.end and phase is None:
            return walk.total
        if closing or reset:
            walk.new_period(t, reset)
