"""OrderItems -> ``OrderLine`` s: each item's quantity, dates, price, money and billing.

Theory of operation (DESIGN 2): ``OrderContext`` holds the Order-level values every
line falls back to (EffectiveDate / EndDate, the order discount, the default payment
method). Per item: a missing ServiceDate / EndDate falls back to the Order's and
``end_date_inclusive`` moves an inclusive end one day later (half-open periods);
quantities must be whole numbers; the Stripe price resolves from the OrderItem, then
the PricebookEntry; collection settings from the OrderItem, then the Order; discounts
through ``core.discounts``; a plain-text property declared on ``PhaseProperties``
(``StripePhaseParam``) from its FieldMap field, generically. A line with any problem
is reported through the ``RecordCheck`` and left out; a duplicated or foreign item is
refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sf_stripe_sync.core.dates import ONE_DAY
from sf_stripe_sync.core.discounts import discount_from_record
from sf_stripe_sync.core.issues import IssueCode
from sf_stripe_sync.core.models import (
    PLAIN_PHASE_PARAMS,
    CollectionMethod,
    OrderBundle,
    OrderLine,
    PhaseProperties,
)
from sf_stripe_sync.core.money import (
    currency_exponent,
    decimal_from_json,
    rounded_minor_units,
    to_minor_units,
)
from sf_stripe_sync.core.record_check import RecordCheck, mapped_metadata, text
from sf_stripe_sync.core.rules import FieldMap, SyncRules, field_read

COLLECTION_METHODS: tuple[CollectionMethod, ...] = ("charge_automatically", "send_invoice")


class OrderContext:
    """The Order-level values every line falls back to."""

    def __init__(self, bundle: OrderBundle, fields: FieldMap, rules: SyncRules,
                 check: RecordCheck, currency: str) -> None:
        order = bundle.order
        self.bundle = bundle
        self.fields = fields
        self.rules = rules
        self.currency = currency
        where = f"Order {check.order_id}"
        self.effective, self.effective_ok = check.date(order, "EffectiveDate", where)
        self.end_raw, self.end_ok = check.date(order, "EndDate", where)
        self.discount, issues = discount_from_record(
            order, fields=fields, currency=currency, sobject="Order",
            record_id=check.order_id, order_id=check.order_id)
        check.issues.extend(issues)
        self.payment_method: str | None = None
        if fields.default_payment_method:
            for source in (bundle.contract, bundle.account):
                if source and text(source.get(fields.default_payment_method)):
                    self.payment_method = text(source.get(fields.default_payment_method))
                    break
        self._properties: dict[tuple[Any, ...], PhaseProperties] = {}

    def properties(self, method: CollectionMethod, days: int | None,
                   plain: dict[str, Any]) -> PhaseProperties:
        """A line's phase properties: one object per distinct value, shared by the lines."""
        key = (method, days, *plain.items())
        found = self._properties.get(key)
        if found is None:
            found = self._properties[key] = PhaseProperties(
                currency=self.currency, collection_method=method, days_until_due=days,
                default_payment_method=self.payment_method, discount=self.discount, **plain)
        return found

    def shifted(self, end: datetime | None) -> datetime | None:
        if end is None or not self.rules.end_date_inclusive:
            return end
        return end + ONE_DAY


def _collection(item: Mapping[str, Any], item_id: str, ctx: OrderContext,
                check: RecordCheck) -> tuple[CollectionMethod, int | None, bool]:
    fields, order = ctx.fields, ctx.bundle.order
    where = f"OrderItem {item_id}"
    ok = True
    method_raw = text(item.get(fields.collection_method)) or text(
        order.get(fields.collection_method))
    method: CollectionMethod = "charge_automatically"
    if method_raw is not None:
        if method_raw in COLLECTION_METHODS:
            method = "send_invoice" if method_raw == "send_invoice" else "charge_automatically"
        else:
            ok = False
            check.add(IssueCode.INVALID_RECORD,
                      f"{where}: {fields.collection_method} must be one of "
                      f"{', '.join(COLLECTION_METHODS)}, got {method_raw!r}",
                      item_id=item_id, field=fields.collection_method)
    days_raw = item.get(fields.days_until_due)
    if days_raw is None:
        days_raw = order.get(fields.days_until_due)
    days: int | None = None
    if days_raw is not None:
        days = check.whole_number(days_raw)
        if days is None or days < 0:
            ok = False
            days = None
            check.add(IssueCode.INVALID_RECORD,
                      f"{where}: {fields.days_until_due} must be a whole number of days, "
                      f"got {days_raw!r}", item_id=item_id, field=fields.days_until_due)
    if method == "send_invoice" and days is None and ok:
        ok = False
        check.add(IssueCode.INVALID_RECORD,
                  f"{where}: collection method send_invoice needs {fields.days_until_due} "
                  f"on the OrderItem or the Order", item_id=item_id,
                  field=fields.days_until_due)
    if method == "charge_automatically":
        days = None  # Stripe takes days_until_due only for send_invoice
    return method, days, ok


MAX_QUANTITY = 1_000_000_000
"""A sanity bound on one item's quantity: far above any real seat or unit count, and
inside the 32-bit integers billing systems commonly store quantities in."""


def _quantity(item: Mapping[str, Any], item_id: str, original: str | None,
              check: RecordCheck) -> int | None:
    raw = item.get("Quantity")
    quantity = check.whole_number(raw)
    problem = None
    if quantity is None:
        problem = f"Quantity must be a whole number, got {raw!r}"
    elif quantity == 0:
        problem = "Quantity must not be zero"
    elif abs(quantity) > MAX_QUANTITY:
        problem = (f"Quantity {quantity} is beyond {MAX_QUANTITY:,}: no real subscription "
                   "bills that many units (a typo or a unit mix-up)")
    elif quantity < 0 and original is None:
        problem = (f"Quantity {quantity} is negative but the item has no "
                   "OriginalOrderItemId (only reduction lines may be negative)")
    if problem:
        check.add(IssueCode.INVALID_QUANTITY, f"OrderItem {item_id}: {problem}",
                  item_id=item_id, field="Quantity")
        return None
    return quantity


def _price(item: Mapping[str, Any], item_id: str, ctx: OrderContext,
           check: RecordCheck) -> str | None:
    price = text(item.get(ctx.fields.order_item_price))
    entry_id = text(item.get("PricebookEntryId"))
    if price is None and entry_id is not None:
        entry = ctx.bundle.pricebook_entries.get(entry_id) or {}
        price = text(entry.get(ctx.fields.pricebook_entry_price))
    if price is None:
        check.add(IssueCode.MISSING_PRICE,
                  f"OrderItem {item_id}: no Stripe price in {ctx.fields.order_item_price} "
                  f"nor on PricebookEntry {entry_id or '(none)'} "
                  f"({ctx.fields.pricebook_entry_price})",
                  item_id=item_id, record_ids=(entry_id,) if entry_id else (),
                  field=ctx.fields.order_item_price)
    return price


def _unit_price(item: Mapping[str, Any], item_id: str, ctx: OrderContext,
                check: RecordCheck) -> int | None:
    """``UnitPrice`` in minor units; missing, negative or over-precise -> invalid_record."""
    raw = item.get("UnitPrice")
    problem = None
    amount: int | None = None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        problem = "UnitPrice is missing: the price sold per unit is what Stripe bills"
    else:
        try:
            amount = to_minor_units(decimal_from_json(raw), ctx.currency)
        except ValueError as exc:
            problem = f"UnitPrice {raw!r} is not an amount in {ctx.currency.upper()} ({exc})"
        else:
            if amount < 0:
                problem, amount = f"UnitPrice {raw!r} must not be negative", None
    if problem is not None:
        if currency_exponent(ctx.currency) is not None:  # else invalid_currency said it
            check.add(IssueCode.INVALID_RECORD, f"OrderItem {item_id}: {problem}",
                      item_id=item_id, field="UnitPrice")
        return None
    return amount


def _line_money(item: Mapping[str, Any], ctx: OrderContext) -> dict[str, Any]:
    """What the line says of money besides UnitPrice: TotalPrice, the entry's list
    price, the product's billing frequency and Stripe product (all optional)."""
    entry = ctx.bundle.pricebook_entries.get(text(item.get("PricebookEntryId")) or "") or {}
    product_id = text(item.get("Product2Id")) or text(entry.get("Product2Id"))
    product = ctx.bundle.products.get(product_id or "") or {}
    frequency_field = ctx.fields.product_billing_frequency
    return {
        "total_price": rounded_minor_units(item.get("TotalPrice"), ctx.currency),
        "list_unit_price": rounded_minor_units(entry.get("UnitPrice"), ctx.currency),
        "billing_frequency": text(product.get(frequency_field)) if frequency_field else None,
        "stripe_product": text(product.get(ctx.fields.product_stripe_id)),
    }


def _plain_properties(item: Mapping[str, Any], ctx: OrderContext) -> dict[str, Any]:
    """Each declared plain-text phase property (``StripePhaseParam``): the first value
    of its FieldMap field on the sObjects the field's ``ReadOn`` names, in that order."""
    out: dict[str, Any] = {}
    for name, param in PLAIN_PHASE_PARAMS:
        setting, read = getattr(ctx.fields, param.field), field_read(param.field)
        if not setting or read is None:
            continue
        bundle = ctx.bundle
        records = {"OrderItem": item, "Order": bundle.order, "Contract": bundle.contract,
                   "Account": bundle.account}
        values = (text((records.get(sobject) or {}).get(setting)) for sobject in read.sobjects)
        out[name] = next((value for value in values if value is not None), None)
    return out


def _line(item: Mapping[str, Any], item_id: str, ctx: OrderContext,
          check: RecordCheck) -> OrderLine | None:
    before = len(check.issues)
    where = f"OrderItem {item_id}"
    original = text(item.get("OriginalOrderItemId"))
    quantity = _quantity(item, item_id, original, check)
    service, service_ok = check.date(item, "ServiceDate", where, item_id)
    end_raw, end_ok = check.date(item, "EndDate", where, item_id)
    start = service if service is not None else ctx.effective
    if start is None and service_ok and ctx.effective_ok:
        check.add(IssueCode.INVALID_DATES,
                  f"{where}: no ServiceDate and the Order has no EffectiveDate",
                  item_id=item_id, field="ServiceDate")
    end = ctx.shifted(end_raw if end_raw is not None else ctx.end_raw)
    if end_ok and start and end and end <= start:
        check.add(IssueCode.INVALID_DATES,
                  f"{where}: service ends ({end.date()}) at or before it starts "
                  f"({start.date()}); the period must not be empty",
                  item_id=item_id, field="EndDate")
    price = _price(item, item_id, ctx, check)
    unit_price = _unit_price(item, item_id, ctx, check)
    method, days, _ = _collection(item, item_id, ctx, check)
    item_discount, issues = discount_from_record(
        item, fields=ctx.fields, currency=ctx.currency, sobject="OrderItem",
        record_id=item_id, order_id=check.order_id)
    check.issues.extend(issues)
    metadata = mapped_metadata(item, ctx.rules, check, where, item_id)
    if len(check.issues) > before or quantity is None or price is None or start is None:
        return None
    entry_id = text(item.get("PricebookEntryId"))
    entry = ctx.bundle.pricebook_entries.get(entry_id or "") or {}
    return OrderLine(
        id=item_id,
        order_id=check.order_id,
        price_id=price,
        quantity=quantity,
        start=start,
        end=end,
        properties=ctx.properties(method, days, _plain_properties(item, ctx)),
        original_item_id=original,
        product_id=text(item.get("Product2Id")) or text(entry.get("Product2Id")),
        pricebook_entry_id=entry_id,
        discount=item_discount,
        metadata=metadata,
        unit_price=unit_price,
        **_line_money(item, ctx),
    )


def order_lines(bundle: OrderBundle, ctx: OrderContext, check: RecordCheck) -> list[OrderLine]:
    lines: list[OrderLine] = []
    seen: set[str] = set()
    reported_duplicates: set[str] = set()
    for position, item in enumerate(bundle.items):
        item_id = text(item.get("Id"))
        if item_id is None:
            check.add(IssueCode.INVALID_RECORD,
                      f"Order {check.order_id}: OrderItem #{position + 1} has no Id", field="Id")
            continue
        if item_id in seen:
            if item_id not in reported_duplicates:
                reported_duplicates.add(item_id)
                check.add(IssueCode.INVALID_RECORD,
                          f"OrderItem {item_id} appears more than once in Order "
                          f"{check.order_id}", item_id=item_id, field="Id")
            continue
        seen.add(item_id)
        parent = text(item.get("OrderId"))
        if parent is not None and parent != check.order_id:
            check.add(IssueCode.INVALID_RECORD,
                      f"OrderItem {item_id} belongs to Order {parent}, not {check.order_id}",
                      item_id=item_id, record_ids=(parent,), field="OrderId")
            continue
        line = _line(item, item_id, ctx, check)
        if line is not None:
            lines.append(line)
    if reported_duplicates:
        lines = [line for line in lines if line.id not in reported_duplicates]
    return lines
