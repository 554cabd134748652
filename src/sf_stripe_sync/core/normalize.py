"""Raw Salesforce records (``OrderBundle``) -> a validated ``Order`` with ``OrderLine`` s.

Theory of operation (DESIGN 2): every value the rest of the engine relies on is read
and checked here, once. Dates become UTC instants (``core.dates``), a missing
ServiceDate / EndDate falls back to the Order's, and ``end_date_inclusive`` moves an
inclusive end one day later so every period is half-open ``[start, end)``. Quantities
must be whole numbers; prices resolve from the OrderItem, then the PricebookEntry;
collection settings from the OrderItem, then the Order; discounts through
``core.discounts``. Bad data never raises: each problem becomes an ``OrderIssue`` naming
the record and field, checking goes on so *all* problems are reported at once, and a
line with any problem is left out of ``Order.lines``. Only an Order without an Id is
unusable (``None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sf_stripe_sync.core.dates import ONE_DAY, parse_sf_date_or_datetime, parse_sf_datetime
from sf_stripe_sync.core.discounts import discount_from_record
from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.limits import METADATA_VALUE_MAX, fit_metadata_value
from sf_stripe_sync.core.models import (
    CollectionMethod,
    Order,
    OrderBundle,
    OrderLine,
    PhaseProperties,
    freeze_metadata,
)
from sf_stripe_sync.core.money import (
    currency_exponent,
    decimal_from_json,
    rounded_minor_units,
    to_minor_units,
)
from sf_stripe_sync.core.rules import FieldMap, SyncRules

COLLECTION_METHODS: tuple[CollectionMethod, ...] = ("charge_automatically", "send_invoice")


def _text(value: object) -> str | None:
    """A non-empty string value, or None for null / blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


class _Checker:
    """Collects the issues of one order while its records are read."""

    def __init__(self, order_id: str, window: tuple[date, date] | None = None) -> None:
        self.order_id = order_id
        self.issues: list[OrderIssue] = []
        self.window = window

    def add(
        self,
        code: IssueCode,
        message: str,
        *,
        item_id: str | None = None,
        record_ids: tuple[str, ...] = (),
        field: str | None = None,
    ) -> None:
        self.issues.append(
            OrderIssue(
                code=code,
                message=message,
                order_id=self.order_id,
                order_item_ids=(item_id,) if item_id else (),
                record_ids=record_ids,
                field=field,
            )
        )

    def date(
        self, record: Mapping[str, Any], field: str, where: str, item_id: str | None = None
    ) -> tuple[datetime | None, bool]:
        """(parsed value or None, ok). A blank field is ``(None, True)``."""
        raw = record.get(field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None, True
        try:
            parsed = parse_sf_date_or_datetime(raw)
        except ValueError:
            self.add(IssueCode.INVALID_DATES, f"{where}: {field} is not a date ({raw!r})",
                     item_id=item_id, field=field)
            return None, False
        if self.window and not self.window[0] <= parsed.date() < self.window[1]:
            self.add(IssueCode.INVALID_DATES,
                     f"{where}: {field} {parsed.date()} is outside the accepted dates "
                     f"{self.window[0]} to {self.window[1]} (rules.service_dates_from, "
                     "rules.service_dates_until)", item_id=item_id, field=field)
            return None, False
        return parsed, True

    def whole_number(self, raw: object) -> int | None:
        """A whole number (2.0 is 2), else None."""
        if raw is None or isinstance(raw, bool):
            return None
        try:
            value = decimal_from_json(raw)
        except ValueError:
            return None
        if value != value.to_integral_value():
            return None
        return int(value)


def _last_modified(order: Mapping[str, Any], check: _Checker) -> datetime | None:
    stamps: list[datetime] = []
    for field in ("LastModifiedDate", "SystemModstamp"):
        raw = order.get(field)
        if raw is None:
            continue
        try:
            stamps.append(parse_sf_datetime(raw))
        except ValueError:
            check.add(IssueCode.INVALID_DATES,
                      f"Order {check.order_id}: {field} is not a datetime ({raw!r})",
                      field=field)
    return max(stamps) if stamps else None


def _metadata(record: Mapping[str, Any], rules: SyncRules, check: _Checker, where: str,
              item_id: str | None = None) -> dict[str, str]:
    """The mapped fields, each value fitted to Stripe's 500 characters (or refused)."""
    values = freeze_metadata({key: record.get(field) for field, key in rules.metadata_map.items()
                              if field in record})
    fields = {key: field for field, key in rules.metadata_map.items()}
    for key, value in values.items():
        if len(value) <= METADATA_VALUE_MAX:
            continue
        if rules.metadata_overflow == "refuse":
            check.add(IssueCode.INVALID_RECORD,
                      f"{where}: {fields[key]} is {len(value)} characters; Stripe metadata "
                      f"({key}) holds at most {METADATA_VALUE_MAX}", item_id=item_id,
                      field=fields[key])
        values[key] = fit_metadata_value(value)
    return values


def _currency(order: Mapping[str, Any], fields: FieldMap, rules: SyncRules,
              check: _Checker) -> str:
    raw = _text(order.get(fields.currency))
    currency = (raw or rules.default_currency).lower()
    if currency_exponent(currency) is None:
        check.add(IssueCode.INVALID_CURRENCY,
                  f"Order {check.order_id}: unknown currency {currency!r} "
                  f"({fields.currency if raw else 'default_currency'})",
                  field=fields.currency if raw else None)
    return currency


class _OrderContext:
    """The Order-level values every line falls back to."""

    def __init__(self, bundle: OrderBundle, fields: FieldMap, rules: SyncRules,
                 check: _Checker, currency: str) -> None:
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
                if source and _text(source.get(fields.default_payment_method)):
                    self.payment_method = _text(source.get(fields.default_payment_method))
                    break

    def shifted(self, end: datetime | None) -> datetime | None:
        if end is None or not self.rules.end_date_inclusive:
            return end
        return end + ONE_DAY


def _collection(item: Mapping[str, Any], item_id: str, ctx: _OrderContext,
                check: _Checker) -> tuple[CollectionMethod, int | None, bool]:
    fields, order = ctx.fields, ctx.bundle.order
    where = f"OrderItem {item_id}"
    ok = True
    method_raw = _text(item.get(fields.collection_method)) or _text(
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
              check: _Checker) -> int | None:
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


def _price(item: Mapping[str, Any], item_id: str, ctx: _OrderContext,
           check: _Checker) -> str | None:
    price = _text(item.get(ctx.fields.order_item_price))
    entry_id = _text(item.get("PricebookEntryId"))
    if price is None and entry_id is not None:
        entry = ctx.bundle.pricebook_entries.get(entry_id) or {}
        price = _text(entry.get(ctx.fields.pricebook_entry_price))
    if price is None:
        check.add(IssueCode.MISSING_PRICE,
                  f"OrderItem {item_id}: no Stripe price in {ctx.fields.order_item_price} "
                  f"nor on PricebookEntry {entry_id or '(none)'} "
                  f"({ctx.fields.pricebook_entry_price})",
                  item_id=item_id, record_ids=(entry_id,) if entry_id else (),
                  field=ctx.fields.order_item_price)
    return price


def _unit_price(item: Mapping[str, Any], item_id: str, ctx: _OrderContext,
                check: _Checker) -> int | None:
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


def _line_money(item: Mapping[str, Any], ctx: _OrderContext) -> dict[str, Any]:
    """What the line says of money besides UnitPrice: TotalPrice, the entry's list
    price, the product's billing frequency and Stripe product (all optional)."""
    entry = ctx.bundle.pricebook_entries.get(_text(item.get("PricebookEntryId")) or "") or {}
    product_id = _text(item.get("Product2Id")) or _text(entry.get("Product2Id"))
    product = ctx.bundle.products.get(product_id or "") or {}
    frequency_field = ctx.fields.product_billing_frequency
    return {
        "total_price": rounded_minor_units(item.get("TotalPrice"), ctx.currency),
        "list_unit_price": rounded_minor_units(entry.get("UnitPrice"), ctx.currency),
        "billing_frequency": _text(product.get(frequency_field)) if frequency_field else None,
        "stripe_product": _text(product.get(ctx.fields.product_stripe_id)),
    }


def _line(item: Mapping[str, Any], item_id: str, ctx: _OrderContext,
          check: _Checker) -> OrderLine | None:
    before = len(check.issues)
    where = f"OrderItem {item_id}"
    original = _text(item.get("OriginalOrderItemId"))
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
    metadata = _metadata(item, ctx.rules, check, where, item_id)
    if len(check.issues) > before or quantity is None or price is None or start is None:
        return None
    entry_id = _text(item.get("PricebookEntryId"))
    entry = ctx.bundle.pricebook_entries.get(entry_id or "") or {}
    return OrderLine(
        id=item_id,
        order_id=check.order_id,
        price_id=price,
        quantity=quantity,
        start=start,
        end=end,
        properties=PhaseProperties(
            currency=ctx.currency,
            collection_method=method,
            days_until_due=days,
            default_payment_method=ctx.payment_method,
            discount=ctx.discount,
        ),
        original_item_id=original,
        product_id=_text(item.get("Product2Id")) or _text(entry.get("Product2Id")),
        pricebook_entry_id=entry_id,
        discount=item_discount,
        metadata=metadata,
        unit_price=unit_price,
        **_line_money(item, ctx),
    )


def _lines(bundle: OrderBundle, ctx: _OrderContext, check: _Checker) -> list[OrderLine]:
    lines: list[OrderLine] = []
    seen: set[str] = set()
    reported_duplicates: set[str] = set()
    for position, item in enumerate(bundle.items):
        item_id = _text(item.get("Id"))
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
        parent = _text(item.get("OrderId"))
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


def normalize_order(
    bundle: OrderBundle, *, fields: FieldMap, rules: SyncRules
) -> tuple[Order | None, tuple[OrderIssue, ...]]:
    """The order and *every* problem found in it; ``None`` only when it has no Id."""
    order = bundle.order
    order_id = _text(order.get("Id"))
    if order_id is None:
        return None, (OrderIssue(code=IssueCode.INVALID_RECORD,
                                 message="Order record has no Id", field="Id"),)
    check = _Checker(order_id, (rules.service_dates_from, rules.service_dates_until))
    currency = _currency(order, fields, rules, check)
    ctx = _OrderContext(bundle, fields, rules, check, currency)

    account_id = _text(order.get("AccountId"))
    account = bundle.account
    if account_id is None or account is None:
        check.add(IssueCode.MISSING_CUSTOMER,
                  f"Order {order_id}: " + ("has no AccountId" if account_id is None
                                           else f"Account {account_id} was not found"),
                  record_ids=(account_id,) if account_id else (), field="AccountId")
    contract = bundle.contract
    order_end = ctx.shifted(ctx.end_raw)
    if ctx.effective and order_end and order_end <= ctx.effective:
        check.add(IssueCode.INVALID_DATES,
                  f"Order {order_id}: EndDate ({order_end.date()}) is not after "
                  f"EffectiveDate ({ctx.effective.date()})", field="EndDate")
    last_modified = _last_modified(order, check)
    lines = _lines(bundle, ctx, check)
    if not bundle.items and _text(order.get("Status")) == rules.activated_status:
        check.add(IssueCode.INVALID_RECORD,
                  f"Order {order_id}: activated without OrderItems; nothing to bill",
                  field="OrderItem")
    result = Order(
        id=order_id,
        status=_text(order.get("Status")) or "",
        currency=currency,
        account_id=account_id,
        contract_id=_text(order.get("ContractId")),
        order_number=_text(order.get("OrderNumber")),
        account_name=_text(account.get("Name")) if account else None,
        customer_id=_text(account.get(fields.account_customer)) if account else None,
        schedule_id=_text(order.get(fields.order_schedule)),
        contract_schedule_id=(_text(contract.get(fields.contract_schedule))
                              if contract else None),
        stripe_account=_text(order.get(fields.order_stripe_account)),
        effective_date=ctx.effective,
        end_date=order_end,
        discount=ctx.discount,
        lines=tuple(lines),
        total_amount=rounded_minor_units(order.get("TotalAmount"), currency),
        last_modified=last_modified,
        sync_status=_text(order.get(fields.sync_status)),
        metadata=_metadata(order, rules, check, f"Order {order_id}"),
    )
    return result, tuple(check.issues)

