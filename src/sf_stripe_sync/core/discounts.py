"""Discount fields of an Order or OrderItem, read into one validated ``Discount``.

Theory of operation (DESIGN 2, "Discounts"): a record carries an amount-off field and a
percent-off field (names from ``FieldMap``). Empty or zero means no discount; one
non-zero value becomes a ``Discount``; both non-zero is a ``discount_conflict`` because
the engine cannot know which one sales meant. Percentages must lie in (0, 100]; amounts
must be positive and fit the order currency's minor units. Every problem is returned as
an ``OrderIssue`` naming the record and the field, never raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.models import Discount
from sf_stripe_sync.core.money import currency_exponent, decimal_from_json, to_minor_units
from sf_stripe_sync.core.rules import FieldMap

HUNDRED = Decimal(100)


def _issue(
    code: IssueCode,
    message: str,
    *,
    sobject: str,
    record_id: str,
    order_id: str,
    field: str | None,
) -> OrderIssue:
    item_ids = (record_id,) if sobject == "OrderItem" else ()
    record_ids = () if sobject == "OrderItem" else (record_id,)
    return OrderIssue(
        code=code,
        message=message,
        order_id=order_id,
        order_item_ids=item_ids,
        record_ids=record_ids,
        field=field,
    )


class _DiscountRead:
    """One record's discount fields being read: the problems found so far."""

    def __init__(self, record: Mapping[str, Any], *, sobject: str, record_id: str,
                 order_id: str) -> None:
        self.record = record
        self.sobject, self.record_id, self.order_id = sobject, record_id, order_id
        self.where = f"{sobject} {record_id}"
        self.issues: list[OrderIssue] = []

    def fail(self, code: IssueCode, message: str, field: str | None) -> None:
        self.issues.append(
            _issue(code, message, sobject=self.sobject, record_id=self.record_id,
                   order_id=self.order_id, field=field)
        )

    def read(self, field: str) -> Decimal | None:
        """The field as a number; blank or zero is None (no discount)."""
        raw = self.record.get(field)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            return None
        try:
            value = decimal_from_json(raw)
        except ValueError:
            self.fail(IssueCode.INVALID_RECORD,
                      f"{self.where}: {field} is not a number ({raw!r})", field)
            return None
        return None if value == 0 else value


def discount_from_record(
    record: Mapping[str, Any],
    *,
    fields: FieldMap,
    currency: str,
    sobject: str,
    record_id: str,
    order_id: str,
) -> tuple[Discount | None, list[OrderIssue]]:
    """The record's discount (or None) and the problems found reading it.

    An unknown ``currency`` is left for the caller to report (once, on the Order); an
    amount-off discount then yields no discount and no extra issue.
    """
    reading = _DiscountRead(record, sobject=sobject, record_id=record_id, order_id=order_id)
    amount = reading.read(fields.discount_amount_off)
    percent = reading.read(fields.discount_percent_off)
    if reading.issues:
        return None, reading.issues
    if amount is not None and percent is not None:
        reading.fail(
            IssueCode.DISCOUNT_CONFLICT,
            f"{reading.where}: both {fields.discount_amount_off} ({amount}) and "
            f"{fields.discount_percent_off} ({percent}) are set; keep only one",
            f"{fields.discount_amount_off},{fields.discount_percent_off}",
        )
        return None, reading.issues
    if percent is not None:
        return _percent_off(percent, fields, reading), reading.issues
    if amount is not None:
        return _amount_off(amount, currency, fields, reading), reading.issues
    return None, reading.issues


def _percent_off(percent: Decimal, fields: FieldMap, reading: _DiscountRead) -> Discount | None:
    if not Decimal(0) < percent <= HUNDRED:
        reading.fail(
            IssueCode.INVALID_RECORD,
            f"{reading.where}: {fields.discount_percent_off} must be above 0 and at most "
            f"100, got {percent}",
            fields.discount_percent_off,
        )
        return None
    return Discount(percent_off=percent)


def _amount_off(amount: Decimal, currency: str, fields: FieldMap,
                reading: _DiscountRead) -> Discount | None:
    if amount < 0:
        reading.fail(
            IssueCode.INVALID_RECORD,
            f"{reading.where}: {fields.discount_amount_off} must be positive, got {amount}",
            fields.discount_amount_off,
        )
        return None
    code = currency.strip().lower()
    if currency_exponent(code) is None:
        return None
    try:
        minor = to_minor_units(amount, code)
    except ValueError as exc:
        reading.fail(IssueCode.INVALID_RECORD,
                     f"{reading.where}: {fields.discount_amount_off}: {exc}",
                     fields.discount_amount_off)
        return None
    return Discount(amount_off=minor, currency=code)
