"""Stripe billing objects as Salesforce values, and whether Salesforce already holds them.

Theory of operation: pure functions, no I/O. ``invoice_values`` maps a Stripe invoice (as
the pinned API version shapes it: the subscription under
``parent.subscription_details``) to a ``Stripe_Invoice__c`` record: amounts from minor
units to the currency's major units (``Decimal``: 1050 USD -> 10.50, 1050 JPY -> 1050,
1050 KWD -> 1.050), timestamps to UTC datetimes, ``due_date`` to a date.
``schedule_values`` and ``subscription_values`` give the subscription state fields a
Contract and its Order carry: the schedule's status and current phase, the subscription's
id and status and the next invoice date (the end of its items' current period, none once
it has ended). ``differs`` compares what Salesforce holds with what is wanted the way
Salesforce returns values (``...T10:00:00.000+0000`` for ``...T10:00:00Z``, 10.5 for
10.50, null for ""), so a replayed event finds nothing to write.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sf_stripe_sync.billing_state.settings import BillingStateSettings
from sf_stripe_sync.core.dates import from_unix, iso_z
from sf_stripe_sync.core.money import currency_exponent

Values = dict[str, Any]
ENDED = ("canceled", "incomplete_expired")


def _when(seconds: Any) -> str | None:
    return iso_z(from_unix(int(seconds))) if isinstance(seconds, int) else None


def _day(seconds: Any) -> str | None:
    if not isinstance(seconds, int):
        return None
    return from_unix(seconds).date().isoformat()


def major_units(minor: Any, currency: str) -> Decimal | None:
    """1050, 'usd' -> 10.50; an unknown currency keeps two decimals, as most do."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        return None
    exponent = currency_exponent(currency)
    return Decimal(minor).scaleb(-(2 if exponent is None else exponent))


def subscription_of(invoice: Mapping[str, Any]) -> str | None:
    parent = invoice.get("parent") or {}
    details = parent.get("subscription_details") or {}
    found = details.get("subscription") or invoice.get("subscription")
    if isinstance(found, Mapping):
        found = found.get("id")
    return str(found) if found else None


def invoice_values(bs: BillingStateSettings, invoice: Mapping[str, Any]) -> Values:
    """The ``Stripe_Invoice__c`` fields Stripe decides (links are added separately)."""
    currency = str(invoice.get("currency") or "")
    customer = invoice.get("customer")
    if isinstance(customer, Mapping):
        customer = customer.get("id")
    number = invoice.get("number")
    return {
        "Name": str(number or invoice["id"])[:80],
        bs.invoice_id: str(invoice["id"]),
        bs.invoice_number: number,
        bs.invoice_status: invoice.get("status"),
        bs.invoice_currency: currency.upper() or None,
        bs.amount_due: major_units(invoice.get("amount_due"), currency),
        bs.amount_paid: major_units(invoice.get("amount_paid"), currency),
        bs.amount_remaining: major_units(invoice.get("amount_remaining"), currency),
        bs.period_start: _when(invoice.get("period_start")),
        bs.period_end: _when(invoice.get("period_end")),
        bs.due_date: _day(invoice.get("due_date")),
        bs.hosted_invoice_url: invoice.get("hosted_invoice_url"),
        bs.invoice_customer: str(customer) if customer else None,
        bs.invoice_subscription: subscription_of(invoice),
    }


def schedule_values(bs: BillingStateSettings, schedule: Mapping[str, Any]) -> Values:
    current = schedule.get("current_phase") or {}
    subscription = schedule.get("subscription") or schedule.get("released_subscription")
    values: Values = {
        bs.schedule_status: schedule.get("status"),
        bs.phase_start: _when(current.get("start_date")),
        bs.phase_end: _when(current.get("end_date")),
    }
    if subscription:
        values[bs.subscription_id] = str(subscription)
    return values


def next_invoice_at(subscription: Mapping[str, Any]) -> int | None:
    """When the subscription bills next: the end of its items' current period."""
    if subscription.get("status") in ENDED:
        return None
    items = (subscription.get("items") or {}).get("data") or []
    ends = [i["current_period_end"] for i in items
            if isinstance(i.get("current_period_end"), int)]
    cancel_at = subscription.get("cancel_at")
    found = min(ends) if ends else None
    if found is not None and isinstance(cancel_at, int) and found >= cancel_at:
        return None
    return found


def subscription_values(bs: BillingStateSettings, subscription: Mapping[str, Any]) -> Values:
    return {
        bs.subscription_id: str(subscription["id"]),
        bs.subscription_status: subscription.get("status"),
        bs.next_invoice_date: _when(next_invoice_at(subscription)),
    }


def _as_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str) or "T" not in value:
        return None
    text = value.replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and ":" not in text[-5:]:
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except ValueError:
        return None


def _as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def same(held: Any, wanted: Any) -> bool:
    if held in (None, "") or wanted in (None, ""):
        return held in (None, "") and wanted in (None, "")
    held_at, wanted_at = _as_datetime(held), _as_datetime(wanted)
    if held_at is not None and wanted_at is not None:
        return held_at == wanted_at
    if isinstance(wanted, Decimal | int | float) and not isinstance(wanted, bool):
        number = _as_number(held)
        return number is not None and number == _as_number(wanted)
    return str(held) == str(wanted)


def differs(held: Mapping[str, Any] | None, wanted: Mapping[str, Any]) -> Values:
    """The wanted fields whose value Salesforce does not hold yet (all, with no record)."""
    if held is None:
        return dict(wanted)
    lowered = {k.lower(): v for k, v in held.items()}
    return {k: v for k, v in wanted.items() if not same(lowered.get(k.lower()), v)}
