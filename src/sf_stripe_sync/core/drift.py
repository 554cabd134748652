"""Drift: where Stripe's current and future phases differ from the desired schedule.

Theory of operation (DESIGN 2, Operations: "the preview shows drift"). ``schedule_drift``
lines up Stripe's live phases (those not ended by ``as_of``) with the desired ones by
position and compares everything the engine sets, field by field:

* per phase: ``start``, ``end``, every ``PhaseProperties`` field (``currency``,
  ``collection_method``, ``days_until_due``, ``default_payment_method``, the phase
  ``discount``...) and the phase ``metadata`` keys the engine writes (keys Stripe-side
  users added are theirs, not drift);
* per item, matched by price: an item on one side only (``item``), ``quantity``, the
  item ``discount``, the OrderItem ids it stands for (``order_item_ids``) and the item
  ``metadata`` keys the engine writes;
* a phase on one side only (``phase``).

Discounts: Stripe holds a coupon where the plan holds the value of a coupon still to
make, so a desired discount and a Stripe coupon count as the same; a discount on one
side only is drift. Each difference is a ``DriftChange`` (phase number from 1, field,
Stripe's value, Salesforce's value, as display strings); ``drift_issue`` sums them up as
one ``drift`` warning for the places that show warnings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sf_stripe_sync.core.dates import iso_z
from sf_stripe_sync.core.issues import IssueCode, OrderIssue, warning
from sf_stripe_sync.core.metadata_keys import META_ORDER_ITEM_IDS
from sf_stripe_sync.core.models import Discount, DriftChange, Phase, PhaseItem, PhaseProperties

MAX_DRIFT_DETAILS = 5


def _when(moment: datetime | None) -> str:
    return iso_z(moment) if moment is not None else "open"


def _discount(discount: Discount | None) -> str | None:
    if discount is None:
        return None
    if discount.coupon is not None:
        return f"coupon {discount.coupon}"
    data = discount.as_json()
    if "percent_off" in data:
        return f"{data['percent_off']}% off"
    return f"{data['amount_off']} {data.get('currency') or ''} off".replace("  ", " ")


def _text(value: object) -> str | None:
    return None if value is None else str(value)


ORDER_ITEM_METADATA_KEY = META_ORDER_ITEM_IDS
"""Compared as ``order_item_ids`` (Stripe's copy is read into that field)."""


def _owned(have: Mapping[str, str], want: Mapping[str, str]) -> tuple[str | None, str | None]:
    """The engine's metadata keys (those it wants) as Stripe has them and as wanted."""
    want = {k: v for k, v in want.items() if k != ORDER_ITEM_METADATA_KEY}
    keys = sorted(want)
    theirs = {k: have[k] for k in keys if k in have}
    if theirs == dict(want):
        return None, None
    return _pairs(theirs), _pairs(want)


def _pairs(values: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={values[k]}" for k in sorted(values)) or "none"


class _Diff:
    def __init__(self) -> None:
        self.changes: list[DriftChange] = []

    def add(self, phase: int, field: str, stripe: str | None, salesforce: str | None) -> None:
        if stripe != salesforce:
            self.changes.append(DriftChange(phase=phase, field=field, stripe=stripe,
                                            salesforce=salesforce))

    def discount(self, phase: int, field: str, have: Discount | None,
                 want: Discount | None) -> None:
        if have is not None and want is not None and (have.coupon is None) != (
                want.coupon is None):
            return  # a coupon and the value of a coupon still to make: not comparable
        self.add(phase, field, _discount(have), _discount(want))

    def phase(self, number: int, have: Phase, want: Phase) -> None:
        self.add(number, "start", _when(have.start), _when(want.start))
        self.add(number, "end", _when(have.end), _when(want.end))
        mine, theirs = want.properties, have.properties
        for name in PhaseProperties.model_fields:  # every phase property, in order
            if name == "discount":
                self.discount(number, name, theirs.discount, mine.discount)
            elif name == "currency":
                self.add(number, name, theirs.currency.lower(), mine.currency.lower())
            else:
                self.add(number, name, _text(getattr(theirs, name)), _text(getattr(mine, name)))
        stripe_meta, wanted_meta = _owned(have.metadata, want.metadata)
        self.add(number, "metadata", stripe_meta, wanted_meta)
        self.items(number, have.items, want.items)

    def items(self, number: int, have: Sequence[PhaseItem], want: Sequence[PhaseItem]) -> None:
        theirs = {i.price: i for i in have}
        mine = {i.price: i for i in want}
        for price in sorted(set(theirs) | set(mine)):
            a, b = theirs.get(price), mine.get(price)
            if a is None or b is None:
                self.add(number, f"item {price}", _item(a), _item(b))
                continue
            self.add(number, f"item {price} quantity", str(a.quantity), str(b.quantity))
            self.discount(number, f"item {price} discount", a.discount, b.discount)
            self.add(number, f"item {price} order_item_ids",
                     ",".join(sorted(a.order_item_ids)) or None,
                     ",".join(sorted(b.order_item_ids)) or None)
            stripe_meta, wanted_meta = _owned(a.metadata, b.metadata)
            self.add(number, f"item {price} metadata", stripe_meta, wanted_meta)


def _item(item: PhaseItem | None) -> str | None:
    return None if item is None else f"{item.price} x{item.quantity}"


def _phase_text(phase: Phase | None) -> str | None:
    if phase is None:
        return None
    items = ", ".join(f"{i.price} x{i.quantity}" for i in sorted(phase.items,
                                                                  key=lambda i: i.price))
    return f"[{_when(phase.start)}, {_when(phase.end)}) {items}"


def live_phases(remote: Sequence[Phase], as_of: datetime) -> list[Phase]:
    """Stripe's phases that have not ended by ``as_of`` (current and future)."""
    return [p for p in remote if p.end is None or p.end > as_of]


def schedule_drift(
    remote: Sequence[Phase], desired: Sequence[Phase], *, as_of: datetime
) -> tuple[DriftChange, ...]:
    """Every difference between Stripe's live phases and the desired phases."""
    live = live_phases(remote, as_of)
    diff = _Diff()
    for index in range(max(len(live), len(desired))):
        have = live[index] if index < len(live) else None
        want = desired[index] if index < len(desired) else None
        if have is None or want is None:
            diff.add(index + 1, "phase", _phase_text(have), _phase_text(want))
        else:
            diff.phase(index + 1, have, want)
    return tuple(diff.changes)


def change_text(change: DriftChange) -> str:
    return (f"phase {change.phase} {change.field}: Stripe has {change.stripe or 'nothing'}, "
            f"Salesforce wants {change.salesforce or 'nothing'}")


def drift_issue(changes: Sequence[DriftChange], *, order_id: str) -> OrderIssue:
    """One ``drift`` warning summing up ``changes`` (the first few in full)."""
    shown = "; ".join(change_text(c) for c in changes[:MAX_DRIFT_DETAILS])
    hidden = len(changes) - MAX_DRIFT_DETAILS
    more = f" (+{hidden} more)" if hidden > 0 else ""
    return warning(IssueCode.DRIFT, f"Stripe differs from Salesforce: {shown}{more}",
                   order_id=order_id)
