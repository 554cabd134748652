"""Invariants of consolidation, checked on generated orders (DESIGN 2, steps 1-7).

A deliberately naive reference oracle (scan every line for every segment) states the
rules a second time; the sweep in ``core.consolidate`` must agree with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sf_stripe_sync.core.consolidate import consolidate
from sf_stripe_sync.core.models import ConsolidationResult, OrderLine, Phase, PhaseProperties

T0 = datetime(2025, 1, 1, tzinfo=UTC)
CHARGE = PhaseProperties(currency="usd")
INVOICE = PhaseProperties(currency="usd", collection_method="send_invoice", days_until_due=30)
PRICES = ("price_a", "price_b", "price_c")


def at(offset: int) -> datetime:
    return T0 + timedelta(days=30 * offset)


@st.composite
def orders(draw: st.DrawFn, *, links: bool = True, mixed_properties: bool = True,
           ) -> list[OrderLine]:
    count = draw(st.integers(min_value=1, max_value=7))
    lines: list[OrderLine] = []
    for n in range(count):
        start = draw(st.integers(min_value=0, max_value=10))
        length = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=6)))
        original: str | None = None
        quantity = draw(st.sampled_from([1, 1, 1, 2]))
        price = draw(st.sampled_from(PRICES))
        if links and lines and draw(st.integers(0, 2)) == 0:
            target = draw(st.sampled_from(lines))
            original, price = target.id, target.price_id
            quantity = draw(st.sampled_from([-2, -1, -1, 1, 2]))
        props = INVOICE if mixed_properties and draw(st.integers(0, 15)) == 0 else CHARGE
        lines.append(OrderLine(
            id=f"I{n}", order_id="801O", price_id=price, quantity=quantity,
            start=at(start), end=None if length is None else at(start + length),
            properties=props, original_item_id=original))
    return lines


# ----------------------------------------------------------------------------- oracle


def _roots(lines: Sequence[OrderLine]) -> dict[str, str]:
    parent = {line.id: line.id for line in lines}

    def find(x: str) -> str:
        while parent[x] != x:
            x = parent[x]
        return x

    for line in lines:
        if line.original_item_id in parent:
            a, b = find(line.id), find(line.original_item_id)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {x: find(x) for x in parent}


def oracle(lines: Sequence[OrderLine]) -> tuple[set[str], list[tuple[Any, ...]]]:
    """(error codes, segments as (start, end, properties, {price: quantity}))."""
    roots = _roots(lines)
    cuts = sorted({x.start for x in lines} | {x.end for x in lines if x.end is not None})
    bounds: list[tuple[datetime, datetime | None]] = list(pairwise(cuts))
    if any(x.end is None for x in lines):
        bounds.append((cuts[-1], None))
    codes: set[str] = set()
    segments: list[tuple[Any, ...]] = []
    states: list[str] = []
    for start, end in bounds:
        active = [x for x in lines if x.start <= start
                  and (x.end is None or (end is not None and x.end >= end))]
        bad = len({x.properties for x in active}) > 1
        if bad:
            codes.add("property_conflict")
        content: dict[str, int] = {}
        for price in {x.price_id for x in active}:
            nets: dict[str, int] = {}
            for x in active:
                if x.price_id == price:
                    nets[roots[x.id]] = nets.get(roots[x.id], 0) + x.quantity
            if any(q < 0 for q in nets.values()):
                codes.add("invalid_quantity")
                bad = True
            positive = {q for q in nets.values() if q > 0}
            if len(positive) > 1:
                codes.add("quantity_conflict")
                bad = True
            elif positive:
                content[price] = positive.pop()
        states.append("bad" if bad else "full" if content else "empty")
        props = active[0].properties if active else None
        segments.append((start, end, props, content))
    filled = [i for i, s in enumerate(states) if s != "empty"]
    if filled and any(s == "empty" for s in states[filled[0]:filled[-1]]):
        codes.add("gap")
    return codes, [seg for seg, s in zip(segments, states, strict=True) if s == "full"]


def billing(phase: Phase) -> dict[str, int]:
    return {i.price: i.quantity for i in phase.items}


def error_codes(result: ConsolidationResult) -> set[str]:
    return {i.code.value for i in result.issues if i.is_error}


def covers(phase: Phase, start: datetime, end: datetime | None) -> bool:
    return phase.start <= start and (phase.end is None or (end is not None and end <= phase.end))


# ----------------------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(orders())
def test_an_error_is_reported_exactly_when_the_oracle_finds_a_gap_or_conflict(
    lines: list[OrderLine],
) -> None:
    result = consolidate(lines)
    expected, _ = oracle(lines)
    assert error_codes(result) == expected
    assert (result.schedule is None) == bool(expected)


@settings(max_examples=200, deadline=None)
@given(orders())
def test_phases_are_contiguous_never_overlap_and_match_the_oracle(
    lines: list[OrderLine],
) -> None:
    result = consolidate(lines)
    if result.schedule is None:
        return
    phases = result.schedule.phases
    for before, after in pairwise(phases):
        assert before.end == after.start
    assert all(p.end is None or p.start < p.end for p in phases)
    assert all(p.end is not None for p in phases[:-1])
    _, segments = oracle(lines)
    for start, end, props, content in segments:
        holders = [p for p in phases if covers(p, start, end)]
        assert len(holders) == 1
        assert billing(holders[0]) == content
        assert holders[0].properties == props
    if segments:
        assert phases[0].start == segments[0][0]
        assert phases[-1].end == segments[-1][1]
    assert result.schedule.end_behavior == ("release" if phases and phases[-1].end is None
                                            else "cancel")


@settings(max_examples=200, deadline=None)
@given(orders(links=False, mixed_properties=False))
def test_without_errors_phases_cover_exactly_the_item_periods_and_list_their_items(
    lines: list[OrderLine],
) -> None:
    result = consolidate(lines)
    if result.schedule is None:
        return
    phases = result.schedule.phases
    first = min(x.start for x in lines)
    last = None if any(x.end is None for x in lines) else max(
        x.end for x in lines if x.end is not None)
    assert (phases[0].start, phases[-1].end) == (first, last)
    for phase in phases:
        overlapping = {x.id for x in lines if x.start < (phase.end or datetime.max.replace(
            tzinfo=UTC)) and (x.end is None or x.end > phase.start)}
        listed = {i for item in phase.items for i in item.order_item_ids}
        assert listed == overlapping
        for item in phase.items:
            assert item.metadata["salesforce_order_item_id"] == ",".join(item.order_item_ids)
            assert list(item.order_item_ids) == sorted(item.order_item_ids)
        assert [i.price for i in phase.items] == sorted(i.price for i in phase.items)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_result_is_independent_of_input_order(data: st.DataObject) -> None:
    lines = data.draw(orders())
    shuffled = data.draw(st.permutations(lines))
    assert consolidate(shuffled) == consolidate(lines)


@settings(max_examples=200, deadline=None)
@given(orders())
def test_consolidating_the_results_own_items_gives_the_same_phases(
    lines: list[OrderLine],
) -> None:
    result = consolidate(lines)
    if result.schedule is None:
        return
    again_lines = [
        OrderLine(id=f"{n}:{item.price}", order_id="801O", price_id=item.price,
                  quantity=item.quantity, start=phase.start, end=phase.end,
                  properties=phase.properties, discount=item.discount)
        for n, phase in enumerate(result.schedule.phases) for item in phase.items
    ]
    again = consolidate(again_lines)
    assert again.schedule is not None

    def shape(phases: Sequence[Phase]) -> list[tuple[Any, ...]]:
        return [(p.start, p.end, p.properties, billing(p)) for p in phases]

    assert shape(again.schedule.phases) == shape(result.schedule.phases)
    assert again.schedule.end_behavior == result.schedule.end_behavior


@st.composite
def amendments(draw: st.DrawFn) -> tuple[list[OrderLine], list[OrderLine]]:
    """An original order whose unlinked lines all have their own price, and a change order
    adding new prices or changing / reducing the original's lines."""
    count = draw(st.integers(min_value=1, max_value=5))
    original: list[OrderLine] = []
    for n in range(count):
        start = draw(st.integers(min_value=0, max_value=6))
        length = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=6)))
        original.append(OrderLine(
            id=f"O{n}", order_id="801O", price_id=f"price_{n}",
            quantity=draw(st.integers(min_value=1, max_value=3)), start=at(start),
            end=None if length is None else at(start + length), properties=CHARGE))
    changes: list[OrderLine] = []
    for n in range(draw(st.integers(min_value=1, max_value=3))):
        start = draw(st.integers(min_value=0, max_value=10))
        length = draw(st.one_of(st.none(), st.integers(min_value=1, max_value=6)))
        target = draw(st.one_of(st.none(), st.sampled_from(original)))
        changes.append(OrderLine(
            id=f"C{n}", order_id="801C",
            price_id=target.price_id if target else f"price_new_{n}",
            quantity=draw(st.sampled_from([-2, -1, 1, 2])) if target else 1,
            start=at(start), end=None if length is None else at(start + length),
            properties=CHARGE, original_item_id=target.id if target else None))
    return original, changes


@settings(max_examples=200, deadline=None)
@given(amendments())
def test_amending_a_consolidated_schedule_equals_consolidating_both_orders(
    orders_pair: tuple[list[OrderLine], list[OrderLine]],
) -> None:
    from sf_stripe_sync.core.amend import overlay

    original, changes = orders_pair
    base = consolidate(original)
    assume(base.schedule is not None)
    assert base.schedule is not None
    amended = overlay(base.schedule.phases, changes)
    together = consolidate(original + changes)
    assert error_codes(amended) == error_codes(together)
    if together.schedule is None or amended.schedule is None:
        return

    def timeline(phases: Sequence[Phase]) -> list[list[Any]]:
        """Billing over time; the amend may keep a base boundary the create would merge."""
        merged: list[list[Any]] = []
        for p in phases:
            ids = {i for item in p.items for i in item.order_item_ids}
            if merged and merged[-1][2:4] == [p.properties, billing(p)]:
                merged[-1][1] = p.end
                merged[-1][4] |= ids
            else:
                merged.append([p.start, p.end, p.properties, billing(p), ids])
        return merged

    assert timeline(amended.schedule.phases) == timeline(together.schedule.phases)
    assert amended.schedule.end_behavior == together.schedule.end_behavior
