"""The amend overlay: a new order's lines laid over the phases Stripe already has.

Theory of operation (DESIGN 2, Operations, "amend"): the base is the schedule's current
and future phases as Stripe has them. Every item of every base phase becomes a span
over that phase's ``[start, end)`` with its price, quantity, discount (possibly an
existing coupon), the phase's properties and the OrderItem ids recorded in its
``salesforce_order_item_id`` metadata. The new order's lines are added and the whole is
consolidated by the same sweep as a create (``core.consolidate``), so:

* a line whose ``original_item_id`` names an item of the base is linked to it and nets
  against it (a reduction to zero removes the item from that point on);
* an unlinked line of a new price adds an item; of a price already there, it must carry
  the same quantity (else ``quantity_conflict``), exactly as in a create;
* what was edited in Stripe (extra items, coupons, payment method, metadata) survives,
  because it is part of the base; a property a new line leaves empty (order discount,
  default payment method) takes the base phase's value instead of conflicting with it;
* base phases before the first new line stay as they are: their boundaries are
  barriers the merge step never crosses, and each phase keeps its own metadata;
* a line the base already lists (a rerun of the same amend) is not applied twice;
* after the overlay, adjacent phases from the first change on that bill the same
  (prices, quantities, discounts, properties) merge into one (DESIGN rule 5), as in a
  create: a renewal identical to the year before extends that year's phase (and its
  metadata) instead of adding a twin.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sf_stripe_sync.core.consolidate import (
    ORDER_ITEM_METADATA_KEY,
    Span,
    consolidate_spans,
    span_from_line,
)
from sf_stripe_sync.core.models import (
    ConsolidationResult,
    DesiredSchedule,
    OrderLine,
    Phase,
    PhaseItem,
)
from sf_stripe_sync.core.segments import merged_entry


def item_ids(item: PhaseItem) -> tuple[str, ...]:
    """The OrderItem ids a Stripe phase item stands for (its field and its metadata)."""
    listed = item.metadata.get(ORDER_ITEM_METADATA_KEY, "")
    found = {x.strip() for x in listed.split(",") if x.strip()} | set(item.order_item_ids)
    return tuple(sorted(found))


def base_spans(base: Sequence[Phase], order_id: str | None = None) -> list[Span]:
    """One span per item of each base phase, over that phase's period."""
    spans: list[Span] = []
    for phase in base:
        for item in phase.items:
            spans.append(Span(
                ids=item_ids(item),
                price=item.price,
                quantity=item.quantity,
                start=phase.start,
                end=phase.end,
                properties=phase.properties,
                discount=item.discount,
                order_id=order_id,
                metadata={k: v for k, v in item.metadata.items()
                          if k != ORDER_ITEM_METADATA_KEY},
            ))
    return spans


def _end_behavior(phases: Sequence[Phase]) -> DesiredSchedule:
    open_ended = bool(phases) and phases[-1].end is None
    return DesiredSchedule(phases=tuple(phases),
                           end_behavior="release" if open_ended else "cancel")


def _keep_base(phases: Sequence[Phase], base: Sequence[Phase],
               first_change: datetime) -> tuple[Phase, ...]:
    """Base phases untouched by the change come back verbatim; the others keep the
    metadata of the base phase in force at their start."""
    ordered = sorted(base, key=lambda p: p.start)
    starts = [p.start for p in ordered]
    kept: list[Phase] = []
    for phase in phases:
        at = bisect_right(starts, phase.start) - 1
        source = ordered[at] if at >= 0 else None
        if source is None or (source.end is not None and phase.start >= source.end):
            kept.append(phase)
        elif (source.end is not None and phase.end == source.end
              and source.end <= first_change and phase.start == source.start):
            kept.append(source)
        elif source.metadata != phase.metadata:
            kept.append(phase.model_copy(update={"metadata": dict(source.metadata)}))
        else:
            kept.append(phase)
    return tuple(kept)


def overlay(
    base: Sequence[Phase],
    lines: Sequence[OrderLine],
    *,
    max_items_per_phase: int = 20,
) -> ConsolidationResult:
    """The schedule after laying ``lines`` over ``base`` (current and future phases).

    A line whose id the base already lists was laid over before (a rerun of the same
    amend): it is not applied twice.
    """
    spans = base_spans(base)
    applied = {item_id for span in spans for item_id in span.ids}
    lines = [line for line in lines if line.id not in applied]
    if not lines:
        return ConsolidationResult(schedule=_end_behavior(base))
    order_ids = {line.order_id for line in lines}
    order_id = order_ids.pop() if len(order_ids) == 1 else None
    first_change = min(line.start for line in lines)
    barriers: set[datetime] = {
        instant
        for phase in base
        for instant in (phase.start, phase.end)
        if instant is not None and instant <= first_change
    }
    spans = [replace(span, order_id=order_id) for span in spans] + [
        replace(span_from_line(line), inherit_properties=True) for line in lines
    ]
    result = consolidate_spans(spans, max_items_per_phase=max_items_per_phase,
                               barriers=barriers)
    if result.schedule is None or not base:
        return result
    phases = merge_identical(_keep_base(result.schedule.phases, base, first_change),
                             since=first_change)
    return ConsolidationResult(
        schedule=DesiredSchedule(phases=phases, end_behavior=result.schedule.end_behavior),
        issues=result.issues,
    )


def _bills_like(a: Phase, b: Phase) -> bool:
    def billing(phase: Phase) -> list[tuple[str, int, object]]:
        return sorted(((i.price, i.quantity, i.discount) for i in phase.items),
                      key=lambda x: (x[0], x[1]))

    return (a.end == b.start and a.properties == b.properties
            and billing(a) == billing(b) and len({i.price for i in a.items}) == len(a.items))


def _merged(a: Phase, b: Phase) -> Phase:
    theirs = {i.price: i for i in b.items}
    items = []
    for item in a.items:
        other = theirs[item.price]
        entry = merged_entry(item.price, item.quantity, item.discount,
                             [(item_ids(item), _own(item)), (item_ids(other), _own(other))])
        items.append(entry.item)
    return a.model_copy(update={"end": b.end, "items": tuple(items)})


def _own(item: PhaseItem) -> dict[str, str]:
    return {k: v for k, v in item.metadata.items() if k != ORDER_ITEM_METADATA_KEY}


def merge_identical(phases: Sequence[Phase], *, since: datetime) -> tuple[Phase, ...]:
    """Adjacent phases meeting at or after ``since`` that bill the same become one."""
    merged: list[Phase] = []
    for phase in phases:
        if merged and phase.start >= since and _bills_like(merged[-1], phase):
            merged[-1] = _merged(merged[-1], phase)
        else:
            merged.append(phase)
    return tuple(merged)
