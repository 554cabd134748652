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

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sf_stripe_sync.core.issues import IssueCode
from sf_stripe_sync.core.models import (
    ConsolidationResult,
    DesiredSchedule,
    OrderLine,
    Phase,
)
from sf_stripe_sync.core.segments import (
    ORDER_ITEM_METADATA_KEY,
    ActiveSet,
    IssueLog,
    Segment,
    Span,
    merged_entry,
    span_from_line,
    when,
)

__all__ = [
    "ORDER_ITEM_METADATA_KEY",
    "Span",
    "consolidate",
    "consolidate_spans",
    "span_from_line",
]


class _PhaseBuilder:
    """Turns the stream of segments into merged phases and reports gaps and limits."""

    def __init__(self, max_items: int, barriers: Collection[datetime], issues: IssueLog) -> None:
        self.max_items, self.issues = max_items, issues
        self.barriers = frozenset(barriers)
        self.phases: list[Phase] = []
        self.run: list[Segment] = []
        self.run_signature: Any = None
        self.previous: Segment | None = None
        self.gap_start: datetime | None = None
        self.failed = False
        self.over_limit = False

    def push(self, segment: Segment) -> None:
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
                            f"{when(segment.start, segment.end)}; Stripe allows "
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
        if len(run) == 1:
            items = tuple([e.item for e in first.entries])
        else:
            items = tuple([
                column[0].item if all(e is column[0] for e in column)
                else merged_entry(column[0].price, column[0].quantity, column[0].discount,
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
    issues = IssueLog(order_ids.pop() if len(order_ids) == 1 else None)
    valid: list[Span] = []
    for span in spans:
        if span.end is not None and span.end <= span.start:
            issues.add(IssueCode.INVALID_DATES,
                       f"items {', '.join(span.ids)}: period {when(span.start, span.end)} "
                       "is empty or ends before it starts", span.ids, "EndDate")
        else:
            valid.append(span)
    ordered = _ordered(valid)
    groups, depths = _link(ordered)
    active = ActiveSet(ordered, groups, depths, issues)
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
