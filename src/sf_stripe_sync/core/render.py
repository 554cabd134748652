"""Rendering plans for people: the preview JSON (DESIGN 3) and the text pieces.

Theory of operation: ``preview_document`` is the one place that turns ``OrderPlan``
values into the preview JSON contract; the text pieces below (dates, items, money,
discounts, billing) are what the terminal table (``render_terminal``) and the HTML
page (``render_html``) show, so both show the same values. Records are shown by id; an
optional ``labels`` map (built by ``display_names`` from the raw bundles) adds the names
people know (account, order, product) beside the ids without changing the contract keys.
Drawing itself (rich, HTML) lives outside the core.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sf_stripe_sync.core.dates import iso_z
from sf_stripe_sync.core.issues import OrderIssue
from sf_stripe_sync.core.metadata_keys import META_CONTRACT_ID
from sf_stripe_sync.core.models import (
    Discount,
    OneTimeItem,
    OrderBundle,
    OrderPlan,
    Phase,
    PhaseItem,
)
from sf_stripe_sync.core.money import from_minor_units
from sf_stripe_sync.core.money_text import (
    format_money,
    item_money,
    once_money,
    per_interval,
)
from sf_stripe_sync.core.rules import FieldMap

Labels = Mapping[str, str]


# --------------------------------------------------------------------------- names


def display_names(bundles: Sequence[OrderBundle], *, fields: FieldMap) -> dict[str, str]:
    """Record id (and Stripe price id) -> the name people know it by."""
    names: dict[str, str] = {}

    def put(key: object, value: object) -> None:
        if isinstance(key, str) and key and isinstance(value, str) and value:
            names.setdefault(key, value)

    for bundle in bundles:
        order = bundle.order
        put(order.get("Id"), order.get("Name") or order.get("OrderNumber"))
        if bundle.account is not None:
            put(bundle.account.get("Id"), bundle.account.get("Name"))
        if bundle.contract is not None:
            put(bundle.contract.get("Id"),
                bundle.contract.get("Name") or bundle.contract.get("ContractNumber"))
        for item in bundle.items:
            entry = bundle.pricebook_entries.get(str(item.get("PricebookEntryId")), {})
            product_id = item.get("Product2Id") or entry.get("Product2Id")
            product = bundle.products.get(str(product_id), {})
            name = product.get("Name") or entry.get("Name")
            put(item.get("Id"), name)
            put(item.get(fields.order_item_price) or entry.get(fields.pricebook_entry_price), name)
    return names


# --------------------------------------------------------------------------- JSON


def discount_json(discount: Discount | None) -> dict[str, Any] | None:
    return discount.as_json() if discount is not None else None


def issue_json(issue: OrderIssue) -> dict[str, Any]:
    data: dict[str, Any] = {
        "code": issue.code.value,
        "message": issue.message,
        "order_item_ids": list(issue.order_item_ids),
    }
    if issue.record_ids:
        data["record_ids"] = list(issue.record_ids)
    if issue.field:
        data["field"] = issue.field
    return data


def shown_price(item: PhaseItem | OneTimeItem) -> str:
    """The price a reader knows an item by: a custom price's list price, else its own."""
    return item.custom_price.list_price if item.custom_price is not None else item.price


def _item_json(item: PhaseItem, labels: Labels) -> dict[str, Any]:
    custom = item.custom_price
    data: dict[str, Any] = {
        "price": item.price,
        "quantity": None if item.metered else item.quantity,
        "order_item_ids": list(item.order_item_ids),
        "discount": discount_json(item.discount),
        "unit_amount": item.unit_amount,
        "amount": item.amount,
        "interval": item.interval,
        "interval_count": item.interval_count,
        "custom_price": custom is not None,
        "metered": item.metered,
    }
    if custom is not None:
        data["list_price"] = custom.list_price
        data["lookup_key"] = custom.lookup_key
    name = labels.get(shown_price(item))
    if name:
        data["product_name"] = name
    return data


def _once_json(item: OneTimeItem, labels: Labels) -> dict[str, Any]:
    custom = item.custom_price
    data: dict[str, Any] = {
        "price": item.price, "quantity": item.quantity, "unit_amount": item.unit_amount,
        "amount": item.amount, "order_item_ids": list(item.order_item_ids),
        "custom_price": custom is not None, "discount": discount_json(item.discount),
    }
    if custom is not None:
        data["list_price"] = custom.list_price
    name = labels.get(shown_price(item))
    if name:
        data["product_name"] = name
    return data


def _phase_json(phase: Phase, labels: Labels) -> dict[str, Any]:
    props = phase.properties
    return {
        "start": iso_z(phase.start),
        "end": iso_z(phase.end) if phase.end is not None else None,
        "collection_method": props.collection_method,
        "days_until_due": props.days_until_due,
        "currency": props.currency,
        "discount": discount_json(props.discount),
        "items": [_item_json(i, labels) for i in phase.items],
        "recurring_amount": phase.recurring_amount,
        "one_time_items": [_once_json(o, labels) for o in phase.one_time_items],
    }


def plan_json(plan: OrderPlan, labels: Labels | None = None) -> dict[str, Any]:
    names = labels or {}
    schedule = plan.schedule
    phases = list(schedule.phases) if schedule is not None else []
    data: dict[str, Any] = {
        "order_id": plan.order_id,
        "operation": plan.operation.value,
        "end_behavior": schedule.end_behavior if schedule is not None else None,
        "phases": [_phase_json(p, names) for p in phases],
        "warnings": [issue_json(i) for i in plan.warnings],
        "errors": [issue_json(i) for i in plan.errors],
        "contract_id": plan.metadata.get(META_CONTRACT_ID, plan.contract_key),
        "account_id": plan.account_id,
        "customer_id": plan.customer_id,
        "schedule_id": plan.schedule_id,
        "stripe_account": plan.stripe_account,
        "currency": plan.currency or (phases[0].properties.currency if phases else None),
        "billing_total": plan.billing_total,
        "salesforce_total": plan.salesforce_total,
        "start_now": plan.start_now,
        "fingerprint": plan.fingerprint or None,
        "drift": [c.as_json() for c in plan.drift] if plan.drift is not None else None,
    }
    if plan.order_id in names:
        data["order_name"] = names[plan.order_id]
    if plan.account_id and plan.account_id in names:
        data["account_name"] = names[plan.account_id]
    return data


def preview_document(plans: Sequence[OrderPlan], labels: Labels | None = None) -> dict[str, Any]:
    """DESIGN 3's preview JSON for the plans, in the order given."""
    return {"orders": [plan_json(p, labels) for p in plans]}


# --------------------------------------------------------------------------- text


def when_text(moment: datetime | None) -> str:
    """``2027-01-01`` for a midnight UTC instant, else the full ``...Z`` form; ``open``."""
    if moment is None:
        return "open"
    text = iso_z(moment)
    return text[:10] if text.endswith("T00:00:00Z") else text


def discount_text(discount: Discount | None) -> str:
    if discount is None:
        return ""
    if discount.coupon is not None:
        return f"coupon {discount.coupon}"
    if discount.amount_off is not None:
        currency = discount.currency or ""
        try:
            amount = str(from_minor_units(discount.amount_off, currency))
        except ValueError:
            amount = f"{discount.amount_off} minor units"
        return f"{amount} {currency.upper()} off"
    return f"{discount.as_json()['percent_off']}% off"


def item_text(item: PhaseItem, labels: Labels) -> str:
    shown = shown_price(item)
    name = f" ({labels[shown]})" if shown in labels else ""
    extra = f", {discount_text(item.discount)}" if item.discount is not None else ""
    quantity = " on usage" if item.metered else f" x {item.quantity}"
    return f"{shown}{name}{quantity}{extra}"


def once_text(item: OneTimeItem, labels: Labels) -> str:
    shown = shown_price(item)
    name = f" ({labels[shown]})" if shown in labels else ""
    return f"+ once: {shown}{name} x {item.quantity}"


def phase_money_lines(phase: Phase) -> list[str]:
    """One amount per item line, per one-time line, then the phase's recurring amount."""
    currency = phase.properties.currency
    lines = [item_money(i, currency) for i in phase.items]
    lines += [once_money(o, currency) for o in phase.one_time_items]
    if phase.recurring_amount is not None:
        first = next((i for i in phase.items if not i.metered), None)
        every = per_interval(first.interval, first.interval_count) if first else ""
        lines.append(f"= {format_money(phase.recurring_amount, currency)}{every}")
    return lines


def phase_item_lines(phase: Phase, labels: Labels) -> list[str]:
    return ([item_text(i, labels) for i in phase.items]
            + [once_text(o, labels) for o in phase.one_time_items])


def billing_text(collection_method: str, days_until_due: int | None) -> str:
    """``charge_automatically`` / ``send_invoice`` in words short enough for 80 columns."""
    if collection_method == "send_invoice":
        return f"invoice, {days_until_due} days" if days_until_due is not None else "invoice"
    return "automatic" if collection_method == "charge_automatically" else collection_method


def billing_details_text(collection_method: str, days_until_due: int | None) -> str:
    """``send_invoice (30 days)``: the collection method as Stripe names it (HTML)."""
    days = f" ({days_until_due} days)" if days_until_due is not None else ""
    return collection_method + days


# --------------------------------------------------------------------------- phase table


@dataclass(frozen=True)
class PhaseColumn:
    """A column of the phase table after ``#``, ``start``, ``end``, items and amounts.

    ``text`` is the cell of a phase (``html_text`` when the page words it otherwise);
    ``terminal_when_set`` / ``html_when_set``: the terminal / the page shows the column
    only when a phase has a value (80 columns stay readable). A value shown per phase is
    added here, once, and both the terminal table and the HTML page show it.
    """

    header: str
    text: Callable[[Phase], str]
    html_text: Callable[[Phase], str] | None = None
    terminal_when_set: bool = False
    html_when_set: bool = False


PHASE_COLUMNS: tuple[PhaseColumn, ...] = (
    PhaseColumn("discount", lambda p: discount_text(p.properties.discount),
                terminal_when_set=True),
    PhaseColumn("billing",
                lambda p: billing_text(p.properties.collection_method,
                                       p.properties.days_until_due),
                html_text=lambda p: billing_details_text(p.properties.collection_method,
                                                         p.properties.days_until_due)),
)
PHASE_HEADERS = ("#", "start", "end", "items x qty", "amount")


@dataclass(frozen=True)
class PhaseRow:
    """One phase as the tables show it: every cell already text."""

    number: str
    start: str
    end: str
    items: list[str]
    amounts: list[str]
    details: list[str]
    """One cell per column of the table's ``columns``."""


@dataclass(frozen=True)
class PhaseTable:
    columns: tuple[PhaseColumn, ...]
    rows: list[PhaseRow]

    @property
    def headers(self) -> tuple[str, ...]:
        return (*PHASE_HEADERS, *(c.header for c in self.columns))


def phase_table(phases: Sequence[Phase], labels: Labels, *, html: bool = False) -> PhaseTable:
    """The phase table of one plan: the terminal's (``html`` false) or the page's."""
    columns = tuple(c for c in PHASE_COLUMNS
                    if not (c.html_when_set if html else c.terminal_when_set)
                    or any(c.text(p) for p in phases))
    rows = [
        PhaseRow(number=str(index), start=when_text(phase.start), end=when_text(phase.end),
                 items=phase_item_lines(phase, labels), amounts=phase_money_lines(phase),
                 details=[(c.html_text or c.text)(phase) if html else c.text(phase)
                          for c in columns])
        for index, phase in enumerate(phases, start=1)
    ]
    return PhaseTable(columns=columns, rows=rows)


def operation_counts(plans: Sequence[OrderPlan]) -> dict[str, int]:
    counts = Counter(p.operation.value for p in plans)
    return dict(sorted(counts.items()))


def ids_suffix(issue: OrderIssue) -> str:
    return f" [{', '.join(issue.order_item_ids)}]" if issue.order_item_ids else ""
