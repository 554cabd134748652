"""Overlapping order lines -> linear, gap-free Stripe phases (DESIGN 2, steps 1-7).

Theory of operation: one sweep over the sorted cut points (every start and end). An
*active set* holds the lines covering the current segment, bucketed by Stripe price and
by *link group* (lines chained through ``original_item_id``, found with union-find).
At each cut only the lines starting or ending there are added or removed, and only
the prices they touch are re-evaluated:

* linked lines of one price add their quantities (a change or reduction line);
  the net must be positive, zero means the item leaves the segment (a full reduction);
* unlinked lines of one price must carry the same quantity (then one phase item lists
  them all) else ``quantity_conflict``; their item discounts must agree. Within a
  linked chain the deepest change line that sets an item discount decides it;
* every active line must agree on each phase property, tracked per property as
  value -> lines, so a conflict names two lines and the property;
* an empty segment between non-empty ones is a ``gap``; more than
  ``max_items_per_phase`` items is ``too_many_items``.

Adjacent segments with the same billing content (prices, quantities, discounts,
properties) merge into one phase whose items list the ids of both. The cost is
O(n log n) for the sort plus, per cut, the size of the touched price buckets and the
phase's item count (bounded by the item limit): no segment rescans all lines.
Lines are sorted first, so the result does not depend on input order. All errors are
collected (deduplicated); a result with errors carries no schedule.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.models import (
    ConsolidationResult,
    DesiredSchedule,
    Discount,
    OrderLine,
    Phase,
    PhaseItem,
    PhaseProperties,
)

ORDER_ITEM_METADATA_KEY = "salesforce_order_item_id"
PROPERTY_NAMES = (
    "currency", "collection_method", "days_until_due", "default_payment_method", "discount",
)


@dataclass(frozen=True, slots=True)
class Span:
    """One line as the sweep sees it: a price and quantity over ``[start, end)``.

    ``ids`` are the Salesforce OrderItem ids it stands for (empty for an item that
    exists only in Stripe). ``inherit_properties``: a ``None`` property of this span
    has no opinion and takes the value of the spans it overlaps (used by the amend
    overlay so a new order without a discount keeps the schedule's coupon).
    """

    ids: tuple[str, ...]
    price: str
    quantity: int
    start: datetime
    end: datetime | None
    properties: PhaseProperties
    discount: Discount | None = None
    original_item_id: str | None = None
    order_id: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)
    inherit_properties: bool = False


def span_from_line(line: OrderLine) -> Span:
    return Span(ids=(line.id,), price=line.price_id, quantity=line.quantity,
                start=line.start, end=line.end, properties=line.properties,
                discount=line.discount, original_item_id=line.original_item_id,
                order_id=line.order_id, metadata=line.metadata)


def _when(start: datetime, end: datetime | None) -> str:
    return f"[{start.date()}, {end.date() if end else 'open'})"


class _Issues:
    """Issues in first-found order, deduplicated by code, field and records."""

    def __init__(self, order_id: str | None) -> None:
        self.order_id = order_id
        self.found: dict[tuple[Any, ...], OrderIssue] = {}

    def seen(self, code: IssueCode, field_name: str | None, ids: Iterable[str]) -> bool:
        return (code, field_name, tuple(sorted(set(ids)))) in self.found

    def add(self, code: IssueCode, message: str, ids: Iterable[str],
            field_name: str | None = None) -> None:
        key_ids = tuple(sorted(set(ids)))
        key = (code, field_name, key_ids)
        if key not in self.found:
            self.found[key] = OrderIssue(code=code, message=message, order_id=self.order_id,
                                         order_item_ids=key_ids, field=field_name)


@dataclass(slots=True)
class _Entry:
    """What one price contributes to the current segment."""

    price: str
    quantity: int
    discount: Discount | None
    ids: tuple[str, ...]
    metadata: dict[str, str]
    billing: tuple[str, int, Discount | None] = field(init=False)
    item: PhaseItem = field(init=False)

    def __post_init__(self) -> None:
        self.billing = (self.price, self.quantity, self.discount)
        self.item = PhaseItem(price=self.price, quantity=self.quantity,
                              order_item_ids=self.ids, discount=self.discount,
                              metadata=self.metadata)


def _merged(price: str, quantity: int, discount: Discount | None,
            sources: Sequence[tuple[tuple[str, ...], Mapping[str, str]]]) -> _Entry:
    """One entry for several sources (ids, metadata): ids united, first metadata wins."""
    ids = tuple(sorted({i for source_ids, _ in sources for i in source_ids}))
    metadata: dict[str, str] = {}
    for _, source_metadata in sorted(sources, key=lambda source: source[0]):
        for key, value in source_metadata.items():
            metadata.setdefault(key, value)
    if ids:
        metadata[ORDER_ITEM_METADATA_KEY] = ",".join(ids)
    return _Entry(price, quantity, discount, ids, metadata)


def _entry(price: str, quantity: int, discount: Discount | None,
           spans: Sequence[Span]) -> _Entry:
    if len(spans) == 1 and len(spans[0].ids) <= 1:
        metadata = dict(spans[0].metadata)
        if spans[0].ids:
            metadata[ORDER_ITEM_METADATA_KEY] = spans[0].ids[0]
        return _Entry(price, quantity, discount, spans[0].ids, metadata)
    return _merged(price, quantity, discount, [(s.ids, s.metadata) for s in spans])


def _show(value: object) -> str:
    return repr(value.as_json()) if isinstance(value, Discount) else repr(value)


@dataclass(slots=True)
class _Segment:
    start: datetime
    end: datetime | None
    entries: list[_Entry]
    properties: PhaseProperties | None
    failed: bool
    active_ids: tuple[str, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        found = {i for e in self.entries for i in e.ids}
        return tuple(sorted(found or set(self.active_ids)))


class _ActiveSet:
    """The lines covering the current segment, with per-price and per-property indexes."""

    def __init__(self, spans: Sequence[Span], groups: Sequence[int], depths: Sequence[int],
                 issues: _Issues) -> None:
        self.spans, self.groups, self.depths, self.issues = spans, groups, depths, issues
        self.values = [tuple(getattr(s.properties, n) for n in PROPERTY_NAMES) for s in spans]
        self.by_price: dict[str, dict[int, dict[int, None]]] = {}
        self.dirty: set[str] = set()
        self.entries: dict[str, _Entry] = {}
        self.failed_prices: set[str] = set()
        self.members: list[dict[Any, dict[int, None]]] = [{} for _ in PROPERTY_NAMES]
        self.properties_cache: dict[tuple[Any, ...], PhaseProperties] = {}
        self.agreed: tuple[PhaseProperties | None, bool] = (None, True)
        self.properties_changed = False
        self.size = 0
        uniform = len(set(self.values)) <= 1 and not any(s.inherit_properties for s in spans)
        self.track_properties = not uniform
        self.uniform_properties = spans[0].properties if uniform and spans else None

    def add(self, i: int) -> None:
        span = self.spans[i]
        self.by_price.setdefault(span.price, {}).setdefault(self.groups[i], {})[i] = None
        self.dirty.add(span.price)
        self.size += 1
        if not self.track_properties:
            return
        for k, value in enumerate(self.values[i]):
            if value is None and span.inherit_properties:
                continue
            holders = self.members[k].get(value)
            if holders is None:
                self.members[k][value] = {i: None}
                self.properties_changed = True
            else:
                holders[i] = None

    def remove(self, i: int) -> None:
        span = self.spans[i]
        bucket = self.by_price[span.price]
        group = bucket[self.groups[i]]
        del group[i]
        if not group:
            del bucket[self.groups[i]]
            if not bucket:
                del self.by_price[span.price]
        self.dirty.add(span.price)
        self.size -= 1
        if not self.track_properties:
            return
        for k, value in enumerate(self.values[i]):
            holders = self.members[k].get(value)
            if holders is not None and i in holders:
                del holders[i]
                if not holders:
                    del self.members[k][value]
                    self.properties_changed = True

    def segment(self, start: datetime, end: datetime | None) -> _Segment:
        for price in sorted(self.dirty):
            self._evaluate(price, start, end)
        self.dirty.clear()
        if not self.track_properties:
            self.agreed = (self.uniform_properties if self.size else None, True)
        elif self.properties_changed:
            self.agreed = self._properties(start, end)
            self.properties_changed = False
        properties, agreed = self.agreed
        entries = [self.entries[p] for p in sorted(self.entries)]
        failed = bool(self.failed_prices) or not agreed
        active_ids: tuple[str, ...] = ()
        if not entries:
            active_ids = tuple(i for g in self.by_price.values() for m in g.values()
                               for s in m for i in self.spans[s].ids)
        return _Segment(start, end, entries, properties, failed, active_ids)

    def _evaluate(self, price: str, start: datetime, end: datetime | None) -> None:
        self.entries.pop(price, None)
        self.failed_prices.discard(price)
        bucket = self.by_price.get(price)
        if not bucket:
            return
        spans = self.spans
        if len(bucket) == 1:
            (members,) = bucket.values()
            if len(members) == 1:
                (i,) = members
                span = spans[i]
                if span.quantity > 0:
                    self.entries[price] = _entry(price, span.quantity, span.discount, [span])
                    return
        survivors: list[tuple[int, Discount | None, list[Span]]] = []
        failed = False
        for members in bucket.values():
            group = [spans[i] for i in members]
            quantity = sum(s.quantity for s in group)
            ids = sorted({x for s in group for x in s.ids})
            if quantity < 0:
                failed = True
                self.issues.add(IssueCode.INVALID_QUANTITY,
                                f"price {price}: quantity nets to {quantity} over "
                                f"{_when(start, end)} (items {', '.join(ids)})", ids, "Quantity")
            elif quantity > 0:
                discount, ok = self._group_discount(price, list(members), ids)
                failed = failed or not ok
                survivors.append((quantity, discount, group))
        if len(survivors) > 1:
            ids = sorted({x for _, _, g in survivors for s in g for x in s.ids})
            if len({q for q, _, _ in survivors}) > 1:
                failed = True
                amounts = ", ".join(sorted(
                    f"{'+'.join(sorted(x for s in g for x in s.ids))}: {q}"
                    for q, _, g in survivors))
                self.issues.add(IssueCode.QUANTITY_CONFLICT,
                                f"price {price} appears with different quantities over "
                                f"{_when(start, end)} in unlinked items ({amounts})", ids)
            elif len({d for _, d, _ in survivors}) > 1:
                failed = True
                self.issues.add(IssueCode.PROPERTY_CONFLICT,
                                f"items {', '.join(ids)} share price {price} over "
                                f"{_when(start, end)} but not the item discount", ids, "discount")
        if failed:
            self.failed_prices.add(price)
        elif survivors:
            quantity, discount, _ = survivors[0]
            self.entries[price] = _entry(price, quantity, discount,
                                         [s for _, _, g in survivors for s in g])

    def _group_discount(self, price: str, members: list[int],
                        ids: list[str]) -> tuple[Discount | None, bool]:
        """The deepest change line's discount wins; two at one depth must agree."""
        best_depth, best = -1, set()
        for i in members:
            discount = self.spans[i].discount
            if discount is None:
                continue
            if self.depths[i] > best_depth:
                best_depth, best = self.depths[i], {discount}
            elif self.depths[i] == best_depth:
                best.add(discount)
        if len(best) > 1:
            self.issues.add(IssueCode.PROPERTY_CONFLICT,
                            f"linked items {', '.join(ids)} of price {price} carry different "
                            "item discounts at the same change level", ids, "discount")
            return None, False
        return (next(iter(best)) if best else None), True

    def _properties(self, start: datetime,
                    end: datetime | None) -> tuple[PhaseProperties | None, bool]:
        """The segment's phase properties (None when nothing is active), and agreement."""
        chosen: list[Any] = []
        ok = True
        for k, name in enumerate(PROPERTY_NAMES):
            holders = self.members[k]
            if len(holders) > 1:
                ok = False
                (va, ha), (vb, hb) = list(holders.items())[:2]
                a, b = self.spans[next(iter(ha))], self.spans[next(iter(hb))]
                ids = (*a.ids, *b.ids)
                if not self.issues.seen(IssueCode.PROPERTY_CONFLICT, name, ids):
                    self.issues.add(
                        IssueCode.PROPERTY_CONFLICT,
                        f"{name} differs over {_when(start, end)}: "
                        f"{'/'.join(a.ids) or a.price} has {_show(va)}, "
                        f"{'/'.join(b.ids) or b.price} has {_show(vb)}", ids, name)
            chosen.append(next(iter(holders)) if holders else None)
        if not ok or chosen[0] is None:
            return None, ok
        key = tuple(chosen)
        cached = self.properties_cache.get(key)
        if cached is None:
            cached = PhaseProperties(**dict(zip(PROPERTY_NAMES, key, strict=True)))
            self.properties_cache[key] = cached
        return cached, True


class _PhaseBuilder:
    """Turns the stream of segments into merged phases and reports gaps and limits."""

    def __init__(self, max_items: int, barriers: Collection[datetime], issues: _Issues) -> None:
        self.max_items, self.issues = max_items, issues
        self.barriers = frozenset(barriers)
        self.phases: list[Phase] = []
        self.run: list[_Segment] = []
        self.run_signature: Any = None
        self.previous: _Segment | None = None
        self.gap_start: datetime | None = None
        self.failed = False
        self.over_limit = False

    def push(self, segment: _Segment) -> None:
        if not segment.entries and not segment.failed:
            if self.previous is not None and self.gap_start is None:
                self.gap_start = segment.start
            self._close()
            return
        if self.gap_start is not None and self.previous is not None:
            ids = (*self.previous.ids, *segment.ids)
            self.issues.add(IssueCode.GAP,
                            f"nothing is billed over [{self.gap_start.date()}, "
                            f"{segment.start.date()}): items {', '.join(self.previous.ids)} "
                            f"end before items {', '.join(segment.ids)} start", ids)
            self.failed = True
        self.gap_start = None
        self.previous = segment
        too_many = len(segment.entries) > self.max_items
        if too_many and not self.over_limit:
            self.issues.add(IssueCode.TOO_MANY_ITEMS,
                            f"{len(segment.entries)} items over "
                            f"{_when(segment.start, segment.end)}; Stripe allows "
                            f"{self.max_items} per phase", segment.ids)
        self.over_limit = too_many
        if segment.failed or too_many:
            self.failed = True
        if self.failed:
            self._close()
            return
        signature = (segment.properties, tuple([e.billing for e in segment.entries]))
        if (self.run and signature == self.run_signature
                and not (self.barriers and segment.start in self.barriers)):
            self.run.append(segment)
            return
        self._close()
        self.run, self.run_signature = [segment], signature

    def finish(self) -> None:
        self._close()

    def _close(self) -> None:
        run, self.run = self.run, []
        if not run or self.failed:
            return
        first = run[0]
        if first.properties is None:  # only empty segments lack properties
            return
        items = tuple([
            column[0].item if all(e is column[0] for e in column)
            else _merged(column[0].price, column[0].quantity, column[0].discount,
                         [(e.ids, e.metadata) for e in column]).item
            for column in zip(*(s.entries for s in run), strict=True)
        ])
        self.phases.append(Phase(start=first.start, end=run[-1].end,
                                 properties=first.properties, items=items))


def _sort_key(span: Span) -> tuple[Any, ...]:
    return (span.start, span.end is None, span.end or span.start, span.price, span.ids,
            span.quantity, span.original_item_id or "")


def _tie_key(span: Span) -> tuple[str, ...]:
    return (repr(span.discount), repr(span.properties), repr(sorted(span.metadata.items())),
            repr(span.inherit_properties), span.order_id or "")


def _ordered(spans: Sequence[Span]) -> list[Span]:
    """A total order independent of input order (ties broken by the remaining fields)."""
    keys = [_sort_key(s) for s in spans]
    if len(set(keys)) < len(keys):
        keys = [(k, _tie_key(s)) for k, s in zip(keys, spans, strict=True)]
    return [spans[i] for i in sorted(range(len(spans)), key=keys.__getitem__)]


def _link(spans: Sequence[Span]) -> tuple[list[int], list[int]]:
    """Union-find over ``original_item_id`` links: (group per span, chain depth per span)."""
    parent = list(range(len(spans)))
    if all(s.original_item_id is None for s in spans):
        return parent, [0] * len(spans)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    holders: dict[str, list[int]] = {}
    for i, span in enumerate(spans):
        for item_id in span.ids:
            holders.setdefault(item_id, []).append(i)
    originals: dict[str, str] = {}
    for i, span in enumerate(spans):
        if span.original_item_id is None:
            continue
        for item_id in span.ids:
            originals.setdefault(item_id, span.original_item_id)
        for j in holders.get(span.original_item_id, ()):
            a, b = find(i), find(j)
            if a != b:
                parent[max(a, b)] = min(a, b)
    depth_of: dict[str, int] = {}

    def depth(item_id: str) -> int:
        chain: list[str] = []
        current: str | None = item_id
        while current is not None and current not in depth_of and current not in chain:
            chain.append(current)
            current = originals.get(current) if current in holders else None
        base = depth_of.get(current, -1) if current is not None else -1
        for offset, link in enumerate(reversed(chain), start=1):
            depth_of[link] = base + offset
        return depth_of[item_id]

    depths = [max((depth(x) for x in s.ids), default=0) for s in spans]
    return [find(i) for i in range(len(spans))], depths


def consolidate_spans(spans: Sequence[Span], *, max_items_per_phase: int = 20,
                      barriers: Collection[datetime] = ()) -> ConsolidationResult:
    """Consolidate spans; ``barriers`` are instants where segments must not merge."""
    order_ids = {s.order_id for s in spans}
    issues = _Issues(order_ids.pop() if len(order_ids) == 1 else None)
    valid: list[Span] = []
    for span in spans:
        if span.end is not None and span.end <= span.start:
            issues.add(IssueCode.INVALID_DATES,
                       f"items {', '.join(span.ids)}: period {_when(span.start, span.end)} "
                       "is empty or ends before it starts", span.ids, "EndDate")
        else:
            valid.append(span)
    ordered = _ordered(valid)
    groups, depths = _link(ordered)
    active = _ActiveSet(ordered, groups, depths, issues)
    builder = _PhaseBuilder(max_items_per_phase, barriers, issues)
    starts = [s.start for s in ordered]
    ends = sorted((s.end, i) for i, s in enumerate(ordered) if s.end is not None)
    cuts = sorted({*starts, *(end for end, _ in ends)})
    next_start = next_end = 0
    for position, cut in enumerate(cuts):
        while next_end < len(ends) and ends[next_end][0] <= cut:
            active.remove(ends[next_end][1])
            next_end += 1
        while next_start < len(starts) and starts[next_start] <= cut:
            active.add(next_start)
            next_start += 1
        segment_end = cuts[position + 1] if position + 1 < len(cuts) else None
        if segment_end is None and active.size == 0:
            break
        builder.push(active.segment(cut, segment_end))
    builder.finish()
    found = tuple(issues.found.values())
    if builder.failed or any(i.is_error for i in found):
        return ConsolidationResult(schedule=None, issues=found)
    phases = tuple(builder.phases)
    open_ended = bool(phases) and phases[-1].end is None
    return ConsolidationResult(
        schedule=DesiredSchedule(phases=phases, end_behavior="release" if open_ended
                                 else "cancel"),
        issues=found)


def consolidate(lines: Sequence[OrderLine], *, max_items_per_phase: int = 20
                ) -> ConsolidationResult:
    """DESIGN 2 "Consolidation into linear phases" over one order's (or contract's) lines."""
    return consolidate_spans([span_from_line(line) for line in lines],
                             max_items_per_phase=max_items_per_phase)
