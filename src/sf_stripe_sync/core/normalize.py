"""Raw Salesforce records (``OrderBundle``) -> a validated ``Order`` with ``OrderLine`` s.

Theory of operation (DESIGN 2): every value the rest of the engine relies on is read
and checked here, once: the Order's own values in this module, each OrderItem in
``core.order_lines``, every problem collected by ``core.record_check``. Dates become
UTC instants (``core.dates``), a missing ServiceDate / EndDate falls back to the
Order's, and ``end_date_inclusive`` moves an inclusive end one day later so every
period is half-open ``[start, end)``. Quantities must be whole numbers; prices resolve
from the OrderItem, then the PricebookEntry; collection settings from the OrderItem,
then the Order; discounts through ``core.discounts``. Bad data never raises: each
problem becomes an ``OrderIssue`` naming the record and field, checking goes on so
*all* problems are reported at once, and a line with any problem is left out of
``Order.lines``. Only an Order without an Id is unusable (``None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sf_stripe_sync.core.dates import parse_sf_datetime
from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.models import Order, OrderBundle
from sf_stripe_sync.core.money import currency_exponent, rounded_minor_units
from sf_stripe_sync.core.order_lines import OrderContext, order_lines
from sf_stripe_sync.core.record_check import RecordCheck, mapped_metadata, text
from sf_stripe_sync.core.rules import FieldMap, SyncRules


def _last_modified(order: Mapping[str, Any], check: RecordCheck) -> datetime | None:
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


def _currency(order: Mapping[str, Any], fields: FieldMap, rules: SyncRules,
              check: RecordCheck) -> str:
    raw = text(order.get(fields.currency))
    currency = (raw or rules.default_currency).lower()
    if currency_exponent(currency) is None:
        check.add(IssueCode.INVALID_CURRENCY,
                  f"Order {check.order_id}: unknown currency {currency!r} "
                  f"({fields.currency if raw else 'default_currency'})",
                  field=fields.currency if raw else None)
    return currency


def normalize_order(
    bundle: OrderBundle, *, fields: FieldMap, rules: SyncRules
) -> tuple[Order | None, tuple[OrderIssue, ...]]:
    """The order and *every* problem found in it; ``None`` only when it has no Id."""
    order = bundle.order
    order_id = text(order.get("Id"))
    if order_id is None:
        return None, (OrderIssue(code=IssueCode.INVALID_RECORD,
                                 message="Order record has no Id", field="Id"),)
    check = RecordCheck(order_id, (rules.service_dates_from, rules.service_dates_until))
    currency = _currency(order, fields, rules, check)
    ctx = OrderContext(bundle, fields, rules, check, currency)

    account_id = text(order.get("AccountId"))
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
    lines = order_lines(bundle, ctx, check)
    if not bundle.items and text(order.get("Status")) == rules.activated_status:
        check.add(IssueCode.INVALID_RECORD,
                  f"Order {order_id}: activated without OrderItems; nothing to bill",
                  field="OrderItem")
    result = Order(
        id=order_id,
        status=text(order.get("Status")) or "",
        currency=currency,
        account_id=account_id,
        contract_id=text(order.get("ContractId")),
        order_number=text(order.get("OrderNumber")),
        account_name=text(account.get("Name")) if account else None,
        customer_id=text(account.get(fields.account_customer)) if account else None,
        schedule_id=text(order.get(fields.order_schedule)),
        contract_schedule_id=(text(contract.get(fields.contract_schedule))
                              if contract else None),
        stripe_account=text(order.get(fields.order_stripe_account)),
        effective_date=ctx.effective,
        end_date=order_end,
        discount=ctx.discount,
        lines=tuple(lines),
        total_amount=rounded_minor_units(order.get("TotalAmount"), currency),
        last_modified=last_modified,
        sync_status=text(order.get(fields.sync_status)),
        metadata=mapped_metadata(order, rules, check, f"Order {order_id}"),
    )
    return result, tuple(check.issues)

