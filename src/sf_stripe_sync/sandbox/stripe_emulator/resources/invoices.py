"""Invoices: what a subscription's billing issues, paid or not, readable through the SDK.

Theory of operation: ``issue`` turns the lines one billing moment produced (see
``billing_clock``) into an invoice in the pinned API version's shape (the subscription
under ``parent.subscription_details``, each line's price under ``pricing``), then
finalizes it and collects it at once. Stripe finalizes a renewal about an hour after
drafting it; the emulator does it in the same instant, keeping the order of the events:
``invoice.created`` (draft), ``invoice.finalized`` (open), then ``invoice.paid`` and
``invoice.payment_succeeded``, or ``invoice.payment_failed``.

Amounts, in the currency's minor units: ``subtotal`` is the sum of the lines;
discounts come off per line (``discounts.apply``); ``total`` = subtotal - discounts;
the customer's ``balance`` (negative: credit) is applied, so ``amount_due`` =
max(0, total + balance) and what is left becomes the new balance (a credit note of
prorations is carried to the next invoice, as Stripe does).

Collection: ``send_invoice`` leaves it ``open`` with a ``due_date``; ``charge_automatically``
charges the default payment method (the phase's, else the schedule's, else the
customer's ``invoice_settings``): none at all, or a card that declines (test card
``...0341``, e.g. ``pm_card_chargeCustomerFail``), leaves it ``open`` with one attempt
and ``invoice.payment_failed``; otherwise, or when nothing is due, it is ``paid``.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.errors import invalid
from sf_stripe_sync.sandbox.stripe_emulator.resources import discounts, events, subscriptions
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    base_object,
    paginate,
)
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

KIND = "invoice"
DECLINING_LAST4 = "0341"
_DAY = 86_400


def _line(ctx: Context, invoice_id: str, spec: JSON, subscription: str,
          discount_amounts: list[JSON]) -> JSON:
    item_line = spec["kind"] == "subscription"
    parent: JSON = {"invoice_item_details": None, "subscription_item_details": None,
                    "type": "subscription_item_details" if item_line
                    else "invoice_item_details"}
    details = {"invoice_item": None if item_line else ctx.store.new_id("ii"),
               "proration": bool(spec.get("proration")), "proration_details": {
                   "credited_items": None}, "subscription": subscription}
    if item_line:
        details["subscription_item"] = spec.get("subscription_item")
        parent["subscription_item_details"] = details
    else:
        parent["invoice_item_details"] = details
    return {
        "id": ctx.store.new_id("il"), "object": "line_item", "amount": spec["amount"],
        "currency": spec["currency"], "description": spec.get("description"),
        "discount_amounts": discount_amounts, "discountable": spec.get("discountable", True),
        "discounts": [], "invoice": invoice_id, "livemode": False,
        "metadata": dict(spec.get("metadata") or {}), "parent": parent,
        "period": dict(spec["period"]), "pretax_credit_amounts": [],
        "pricing": {"price_details": {"price": spec["price"], "product": spec["product"]},
                    "type": "price_details",
                    "unit_amount_decimal": spec.get("unit_amount_decimal")},
        "quantity": spec.get("quantity"),
        "quantity_decimal": None if spec.get("quantity") is None else str(spec["quantity"]),
        "subscription": subscription, "subtotal": spec["amount"], "taxes": [],
    }


def _payment_method(ctx: Context, billing: JSON) -> JSON | None:
    customer = ctx.find("customer", str(billing["customer"])) or {}
    named = (billing.get("default_payment_method")
             or (customer.get("invoice_settings") or {}).get("default_payment_method"))
    return ctx.find("payment_method", str(named)) if named else None


def _collect(ctx: Context, invoice: JSON, billing: JSON) -> bool:
    """Settle the finalized invoice; True when it ends up paid."""
    if invoice["amount_due"] == 0 or invoice["collection_method"] == "send_invoice":
        if invoice["amount_due"] == 0:
            _mark_paid(invoice, ctx.now)
        return bool(invoice["status"] == "paid")
    invoice["attempted"], invoice["attempt_count"] = True, invoice["attempt_count"] + 1
    method = _payment_method(ctx, billing)
    declines = method is None or (method.get("card") or {}).get("last4") == DECLINING_LAST4
    if declines:
        invoice["next_payment_attempt"] = None
        return False
    _mark_paid(invoice, ctx.now)
    return True


def _mark_paid(invoice: JSON, now: int) -> None:
    invoice["amount_paid"], invoice["amount_remaining"] = invoice["amount_due"], 0
    invoice["status"] = "paid"
    invoice["status_transitions"]["paid_at"] = now


def _number(ctx: Context, customer_id: str) -> str | None:
    customer = ctx.find("customer", customer_id)
    if customer is None:
        return None
    sequence = int(customer.get("next_invoice_sequence") or 1)
    customer["next_invoice_sequence"] = sequence + 1
    ctx.save("customer", customer)
    return f"{customer.get('invoice_prefix') or 'INV'}-{sequence:04d}"


def _apply_balance(ctx: Context, customer_id: str, total: int) -> tuple[int, int, int]:
    """(starting balance, ending balance, amount due) once the customer's balance is used."""
    customer = ctx.find("customer", customer_id)
    starting = int((customer or {}).get("balance") or 0)
    owed = total + starting
    ending = min(0, owed)
    if customer is not None:
        customer["balance"] = ending
        ctx.save("customer", customer)
    return starting, ending, max(0, owed)


def _draft(ctx: Context, billing: JSON, specs: list[JSON], period: tuple[int, int],
           reason: str) -> JSON:
    invoice_id = ctx.new_id(KIND)
    applied = discounts.apply(ctx, specs, billing)
    lines = [_line(ctx, invoice_id, spec, billing["subscription"], amounts)
             for spec, amounts in zip(specs, applied.per_line, strict=True)]
    subtotal = sum(spec["amount"] for spec in specs)
    total = subtotal - applied.total
    customer = ctx.find("customer", str(billing["customer"])) or {}
    invoice = base_object(ctx, KIND, invoice_id)
    invoice.update(_shape(billing, customer, lines, subtotal, total, period, reason))
    invoice["total_discount_amounts"] = applied.totals
    return invoice


def _shape(billing: JSON, customer: JSON, lines: list[JSON], subtotal: int, total: int,
           period: tuple[int, int], reason: str) -> JSON:
    return {
        "account_country": "US", "account_name": None, "account_tax_ids": None,
        "amount_due": 0, "amount_overpaid": 0, "amount_paid": 0, "amount_remaining": 0,
        "amount_paid_off_stripe": 0, "amount_shipping": 0, "application": None,
        "attempt_count": 0, "attempted": False,
        "auto_advance": True,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None,
                          "provider": None, "status": None},
        "automatically_finalizes_at": None, "billing_reason": reason,
        "collection_method": billing["collection_method"], "confirmation_secret": None,
        "currency": billing["currency"], "custom_fields": None,
        "customer": billing["customer"], "customer_account": None,
        "customer_address": customer.get("address"), "customer_email": customer.get("email"),
        "customer_name": customer.get("name"), "customer_phone": customer.get("phone"),
        "customer_shipping": customer.get("shipping"), "customer_tax_exempt": "none",
        "customer_tax_ids": [], "default_payment_method": None, "default_source": None,
        "default_tax_rates": [], "description": None, "discounts": [], "due_date": None,
        "effective_at": None, "ending_balance": None, "footer": None, "from_invoice": None,
        "hosted_invoice_url": None, "invoice_pdf": None, "issuer": {"type": "self"},
        "last_finalization_error": None, "latest_revision": None,
        "lines": {"object": "list", "data": lines, "has_more": False,
                  "total_count": len(lines), "url": "/v1/invoices/lines"},
        "metadata": {}, "next_payment_attempt": None, "number": None, "on_behalf_of": None,
        "parent": {"quote_details": None, "type": "subscription_details",
                   "subscription_details": {"metadata": dict(billing.get("metadata") or {}),
                                            "subscription": billing["subscription"],
                                            "subscription_proration_date": None}},
        "payment_settings": {"default_mandate": None, "payment_method_options": None,
                             "payment_method_types": None},
        "payments": None, "status_details": None, "threshold_reason": None,
        "period_end": period[1], "period_start": period[0],
        "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0,
        "receipt_number": None, "rendering": None, "shipping_cost": None,
        "shipping_details": None, "starting_balance": 0, "statement_descriptor": None,
        "status": "draft",
        "status_transitions": {"finalized_at": None, "marked_uncollectible_at": None,
                               "paid_at": None, "voided_at": None},
        "subtotal": subtotal, "subtotal_excluding_tax": subtotal,
        "test_clock": customer.get("test_clock"), "total": total,
        "total_discount_amounts": [], "total_excluding_tax": total,
        "total_pretax_credit_amounts": [], "total_taxes": [], "webhooks_delivered_at": None,
    }


def _finalize(ctx: Context, invoice: JSON, billing: JSON) -> None:
    starting, ending, due = _apply_balance(ctx, str(invoice["customer"]), invoice["total"])
    invoice.update({"starting_balance": starting, "ending_balance": ending,
                    "amount_due": due, "amount_remaining": due, "status": "open",
                    "effective_at": ctx.now,
                    "number": _number(ctx, str(invoice["customer"]))})
    invoice["status_transitions"]["finalized_at"] = ctx.now
    invoice["lines"]["url"] = f"/v1/invoices/{invoice['id']}/lines"
    token = f"test_{invoice['id'][3:]}"
    account = ctx.account or "acct_emulator"
    invoice["hosted_invoice_url"] = f"https://invoice.stripe.com/i/{account}/{token}"
    invoice["invoice_pdf"] = f"https://pay.stripe.com/invoice/{account}/{token}/pdf"
    if invoice["collection_method"] == "send_invoice":
        days = int(billing.get("days_until_due") or 0)
        invoice["due_date"] = ctx.now + days * _DAY


def issue(ctx: Context, billing: JSON, specs: list[JSON], period: tuple[int, int],
          reason: str) -> JSON:
    """Draft, finalize and collect one invoice at ``ctx.now``; the events follow suit.

    ``billing`` names the ``customer``, ``subscription``, ``currency``,
    ``collection_method``, ``days_until_due``, ``default_payment_method``, ``metadata``
    and the coupons' first use (``coupon_first``), which ``discounts.apply`` updates.
    """
    invoice = _draft(ctx, billing, specs, period, reason)
    events.record(ctx, "invoice.created", invoice)
    _finalize(ctx, invoice, billing)
    events.record(ctx, "invoice.finalized", invoice)
    if _collect(ctx, invoice, billing):
        events.record(ctx, "invoice.paid", invoice)
        events.record(ctx, "invoice.payment_succeeded", invoice)
    elif invoice["collection_method"] == "charge_automatically":
        events.record(ctx, "invoice.payment_failed", invoice)
    return ctx.save(KIND, invoice)


def at(ctx: Context, moment: int) -> Context:
    """``ctx`` at another instant of the same time frame (what happened when)."""
    return replace(ctx, now=moment)


# API ------------------------------------------------------------------------------------

def retrieve(ctx: Context) -> JSON:
    return ctx.require(KIND)


def list_lines(ctx: Context) -> JSON:
    invoice = ctx.require(KIND)
    return paginate(list(reversed(invoice["lines"]["data"])), ctx.params,
                    f"/v1/invoices/{invoice['id']}/lines")


def _in_range(value: Any, bounds: Any) -> bool:
    if not isinstance(bounds, dict):
        return bool(value == int(bounds))
    if value is None:
        return False
    checks = {"gt": lambda b: value > b, "gte": lambda b: value >= b,
              "lt": lambda b: value < b, "lte": lambda b: value <= b}
    return all(checks[op](int(b)) for op, b in bounds.items() if op in checks)


def list_all(ctx: Context) -> JSON:
    params = ctx.params
    objects = ctx.all(KIND)
    for field in ("customer", "status", "collection_method"):
        if params.get(field):
            objects = [i for i in objects if i.get(field) == params[field]]
    if params.get("subscription"):
        objects = [i for i in objects
                   if i["parent"]["subscription_details"]["subscription"]
                   == params["subscription"]]
    for field in ("created", "due_date"):
        if field in params:
            objects = [i for i in objects if _in_range(i.get(field), params[field])]
    return paginate(objects, params, "/v1/invoices")


def pay(ctx: Context) -> JSON:
    """``POST /v1/invoices/{id}/pay``: try an open invoice again (or mark it paid
    out of band with ``paid_out_of_band``)."""
    invoice = ctx.require(KIND)
    if invoice["status"] != "open":
        raise invalid(f"Invoice is already {invoice['status']}.", code="invoice_not_open")
    before = copy.deepcopy(invoice)
    billing = {"customer": invoice["customer"],
               "default_payment_method": ctx.params.get("payment_method")}
    if ctx.params.get("paid_out_of_band"):
        _mark_paid(invoice, ctx.now)
        invoice["amount_paid"] = 0
    elif not _collect(ctx, invoice, billing):
        ctx.save(KIND, invoice)
        events.record(ctx, "invoice.payment_failed", invoice)
        raise invalid("Your card was declined.", code="card_declined")
    ctx.save(KIND, invoice)
    if before["status"] != invoice["status"]:
        events.record(ctx, "invoice.paid", invoice)
        _back_to_active(ctx, invoice)
    return invoice


def _back_to_active(ctx: Context, invoice: JSON) -> None:
    """Paying a past-due subscription's open invoice makes it active again."""
    sub_id = invoice["parent"]["subscription_details"]["subscription"]
    sub = ctx.find("subscription", str(sub_id)) if sub_id else None
    if sub is None or sub["status"] != "past_due":
        return
    if any(i["status"] == "open" and i["id"] != invoice["id"]
           and i["parent"]["subscription_details"]["subscription"] == sub_id
           for i in ctx.all(KIND)):
        return
    before = copy.deepcopy(sub)
    sub["status"] = "active"
    subscriptions.changed(ctx, sub, before)
