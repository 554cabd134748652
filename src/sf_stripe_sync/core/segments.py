"""The sweep's working state: spans, per-price entries, segments and the active set.

Theory of operation: ``core.consolidate`` walks the sorted cut points of an order's
lines; this module holds what it walks with. A ``Span`` is one line as the sweep sees
it; the ``ActiveSet`` holds the spans covering the current segment, indexed by price
and link group (so linked change lines net and unlinked duplicates are checked) and by
phase property (so a conflict names two lines and the property), and turns them into
the segment's ``Entry`` values. Issues are collected in an ``IssueLog`` so every
problem of an order is reported once. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.metadata_keys import META_ORDER_ITEM_IDS
from sf_stripe_sync.core.models import (
    Discount,
    OrderLine,
    PhaseItem,
    PhaseProperties,
)

ORDER_ITEM_METADATA_KEY = META_ORDER_ITEM_IDS
PROPERTY_NAMES = tuple(PhaseProperties.model_fields)
"""Every phase property the lines of one phase must agree on, in declaration order."""


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


def when(start: datetime, end: datetime | None) -> str:
    return f"[{start.date()}, {end.date() if end else 'open'})"


class IssueLog:
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
class Entry:
    """What one price contributes to the current segment."""

    price: str
    quantity: int
    discount: Discount | None
    ids: tuple[str, ...]
    metadata: dict[str, str]
    billing: tuple[str, int, Discount | None] = field(init=False)
    built: PhaseItem | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.billing = (self.price, self.quantity, self.discount)

    @property
    def item(self) -> PhaseItem:
        """The phase item (made when first asked: most entries merge into another)."""
        if self.built is None:
            self.built = PhaseItem(price=self.price, quantity=self.quantity,
                                   order_item_ids=self.ids, discount=self.discount,
                                   metadata=self.metadata)
        return self.built


def merged_entry(price: str, quantity: int, discount: Discount | None,
            sources: Sequence[tuple[tuple[str, ...], Mapping[str, str]]]) -> Entry:
    """One entry for several sources (ids, metadata): ids united, first metadata wins."""
    ids = tuple(sorted({i for source_ids, _ in sources for i in source_ids}))
    metadata: dict[str, str] = {}
    for _, source_metadata in sorted(sources, key=lambda source: source[0]):
        for key, value in source_metadata.items():
            metadata.setdefault(key, value)
    if ids:
        metadata[ORDER_ITEM_METADATA_KEY] = ",".join(ids)
    return Entry(price, quantity, discount, ids, metadata)


def entry_for(price: str, quantity: int, discount: Discount | None,
           spans: Sequence[Span]) -> Entry:
    if len(spans) == 1 and len(spans[0].ids) <= 1:
        metadata = dict(spans[0].metadata)
        if spans[0].ids:
            metadata[ORDER_ITEM_METADATA_KEY] = spans[0].ids[0]
        return Entry(price, quantity, discount, spans[0].ids, metadata)
    return merged_entry(price, quantity, discount, [(s.ids, s.metadata) for s in spans])


def show(value: object) -> str:
    """A property value as a person reads it: ``none`` for an empty one, no Python quotes."""
    if value is None:
        return "none"
    if isinstance(value, Discount):
        data = value.as_json()
        if "percent_off" in data:
            return f"{data['percent_off']}% off"
        if "amount_off" in data:
            return f"{data['amount_off']} {(data.get('currency') or '').upper()} minor units off"
        return f"coupon {data['coupon']}"
    return str(value)


@dataclass(slots=True)
class Segment:
    start: datetime
    end: datetime | None
    entries: list[Entry]
    properties: PhaseProperties | None
    failed: bool
    active_ids: tuple[str, ...]

    @property
    def ids(self) -> tuple[str, ...]:
        found = {i for e in self.entries for i in e.ids}
        return tuple(sorted(found or set(self.active_ids)))


class ActiveSet:
    """The lines covering the current segment, with per-price and per-property indexes."""

    def __init__(self, spans: Sequence[Span], groups: Sequence[int], depths: Sequence[int],
                 issues: IssueLog) -> None:
        self.spans, self.groups, self.depths, self.issues = spans, groups, depths, issues
        first = spans[0].properties if spans else None
        shared = all(s.properties is first for s in spans)  # (an order's lines share one)
        inherit = any(s.inherit_properties for s in spans)
        # Only compared when the spans may disagree.
        self.values = [] if shared and not inherit else [
            tuple(getattr(s.properties, n) for n in PROPERTY_NAMES) for s in spans]
        self.by_price: dict[str, dict[int, dict[int, None]]] = {}
        self.dirty: set[str] = set()
        self.entries: dict[str, Entry] = {}
        self.failed_prices: set[str] = set()
        self.members: list[dict[Any, dict[int, None]]] = [{} for _ in PROPERTY_NAMES]
        self.properties_cache: dict[tuple[Any, ...], PhaseProperties] = {}
        self.agreed: tuple[PhaseProperties | None, bool] = (None, True)
        self.properties_changed = False
        self.size = 0
        uniform = not inherit and (shared or len(set(self.values)) <= 1)
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

    def segment(self, start: datetime, end: datetime | None) -> Segment:
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
        return Segment(start, end, entries, properties, failed, active_ids)

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
                    self.entries[price] = entry_for(price, span.quantity, span.discount, [span])
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
                                f"{when(start, end)} (items {', '.join(ids)})", ids, "Quantity")
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
                                f"{when(start, end)} in unlinked items ({amounts})", ids)
            elif len({d for _, d, _ in survivors}) > 1:
                failed = True
                self.issues.add(IssueCode.PROPERTY_CONFLICT,
                                f"items {', '.join(ids)} share price {price} over "
                                f"{when(start, end)} but not the item discount", ids, "discount")
        if failed:
            self.failed_prices.add(price)
        elif survivors:
            quantity, discount, _ = survivors[0]
            self.entries[price] = entry_for(price, quantity, discount,
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
                        f"{name} differs over {when(start, end)}: "
                        f"{'/'.join(a.ids) or a.price} has {show(va)}, "
                        f"{'/'.join(b.ids) or b.price} has {show(vb)}", ids, name)
            chosen.append(next(iter(holders)) if holders else None)
        if not ok or chosen[0] is None:
            return None, ok
        key = tuple(chosen)
        cached = self.properties_cache.get(key)
        if cached is None:
            cached = PhaseProperties(**dict(zip(PROPERTY_NAMES, key, strict=True)))
            self.properties_cache[key] = cached
        return cached, True
