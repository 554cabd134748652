"""``billing status ACCOUNT_ID``: an Account's subscriptions and last invoices, for people.

Theory of operation: the Account's Stripe customer (its ``Stripe_Customer_Id__c``) is
asked for its subscriptions (every status) and its most recent invoices
(``billing_state.invoices_shown``), two reads. The answer is plain data (``as_json``:
amounts in minor units and in the currency's major units, times in UTC) that the command
prints as a table or as JSON.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from sf_stripe_sync.billing_state.records import major_units, next_invoice_at, subscription_of
from sf_stripe_sync.catalog.stripe_api import as_dict
from sf_stripe_sync.core.dates import from_unix, iso_z
from sf_stripe_sync.stripe.session import StripeSession


def _when(seconds: Any) -> str | None:
    return iso_z(from_unix(seconds)) if isinstance(seconds, int) else None


def _money(minor: Any, currency: str) -> str:
    major = major_units(minor, currency)
    return "-" if major is None else f"{major} {currency.upper()}"


def _subscription(sub: dict[str, Any]) -> dict[str, Any]:
    items = (sub.get("items") or {}).get("data") or []
    return {
        "id": sub["id"], "status": sub.get("status"), "schedule": sub.get("schedule"),
        "currency": sub.get("currency"), "start": _when(sub.get("start_date")),
        "next_invoice": _when(next_invoice_at(sub)), "canceled_at": _when(sub.get("canceled_at")),
        "items": [{"price": (i.get("price") or {}).get("id"), "quantity": i.get("quantity")}
                  for i in items],
        "latest_invoice": sub.get("latest_invoice"),
    }


def _invoice(inv: dict[str, Any]) -> dict[str, Any]:
    currency = str(inv.get("currency") or "")
    return {
        "id": inv["id"], "number": inv.get("number"), "status": inv.get("status"),
        "currency": currency, "total": inv.get("total"), "amount_due": inv.get("amount_due"),
        "amount_paid": inv.get("amount_paid"), "amount_remaining": inv.get("amount_remaining"),
        "total_display": _money(inv.get("total"), currency),
        "remaining_display": _money(inv.get("amount_remaining"), currency),
        "created": _when(inv.get("created")), "due_date": _when(inv.get("due_date")),
        "period_start": _when(inv.get("period_start")), "period_end": _when(inv.get("period_end")),
        "subscription": subscription_of(inv), "hosted_invoice_url": inv.get("hosted_invoice_url"),
    }


def billing_status(stripe: StripeSession, account_id: str, customer: str, shown: int
                   ) -> dict[str, Any]:
    v1 = stripe.client.v1
    subs = stripe.call("subscriptions.list", partial(
        v1.subscriptions.list, params={"customer": customer, "status": "all", "limit": 100}))
    invoices = stripe.call("invoices.list", partial(
        v1.invoices.list, params={"customer": customer, "limit": shown}))
    return {"account_id": account_id, "customer": customer,
            "subscriptions": [_subscription(as_dict(s)) for s in subs.data],
            "invoices": [_invoice(as_dict(i)) for i in invoices.data]}


def status_lines(document: dict[str, Any]) -> list[str]:
    lines = [f"Account {document['account_id']} (Stripe customer {document['customer']})"]
    subs = document["subscriptions"]
    lines.append(f"  subscriptions: {len(subs) or 'none'}")
    for sub in subs:
        lines.append(f"    {sub['id']}  {sub['status']:<18} next invoice "
                     f"{sub['next_invoice'] or '-'}  schedule {sub['schedule'] or '-'}")
    invoices = document["invoices"]
    lines.append(f"  last invoices: {len(invoices) or 'none'}")
    for inv in invoices:
        lines.append(f"    {inv['number'] or inv['id']:<16} {inv['status'] or '-':<8} "
                     f"total {inv['total_display']:<14} remaining {inv['remaining_display']:<14}"
                     f" {inv['created'] or '-'}")
    return lines
