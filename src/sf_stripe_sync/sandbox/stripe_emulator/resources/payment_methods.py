"""Payment methods: create, retrieve, attach to / detach from a customer, list a customer's.

Theory of operation: the emulator takes no card numbers. A payment method is created
with a ``type`` (``card`` and ``amazon_pay`` are typical, e.g. as a SetupIntent would
leave them) and, optionally, its ``customer``; ``attach`` sets the customer (one already
attached elsewhere is refused, as Stripe does), ``detach`` clears it. Seeds may hold
payment methods already attached (``"payment_methods"``). ``attached_to`` is what other
resources ask when a ``default_payment_method`` names one. Attaching one of Stripe's
test payment methods (``pm_card_visa``, ``pm_card_chargeCustomerFail``) makes a new
card for the customer, as Stripe does; the second attaches but declines every charge.
"""

from __future__ import annotations

import copy

from sf_stripe_sync.sandbox.stripe_emulator.errors import invalid, missing_ref
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    apply_metadata,
    base_object,
    paginate,
)
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

KIND = "payment_method"
TEST_CARDS = {"pm_card_visa": "4242", "pm_card_chargeCustomerFail": "0341"}


_BILLING_DETAILS: JSON = {
    "address": {"city": None, "country": None, "line1": None, "line2": None,
                "postal_code": None, "state": None},
    "email": None, "name": None, "phone": None, "tax_id": None}
# Stripe's 4242 test card (tok_visa / pm_card_visa) as the pinned API version shows it.
_CARD: JSON = {
    "brand": "visa", "checks": {"address_line1_check": None,
                                "address_postal_code_check": None, "cvc_check": None},
    "country": "US", "description": None, "display_brand": "visa", "exp_month": 12,
    "exp_year": 2034, "funding": "credit", "generated_from": None, "iin": None,
    "issuer": None, "last4": "4242", "networks": {"available": ["visa"], "preferred": None},
    "regulated_status": "unregulated", "three_d_secure_usage": {"supported": True},
    "wallet": None}


def new_payment_method(ctx: Context, object_id: str, method_type: str) -> JSON:
    obj = base_object(ctx, KIND, object_id)
    obj.update({"allow_redisplay": "unspecified", "billing_details": _BILLING_DETAILS,
                "customer": None, "customer_account": None, "metadata": {},
                "type": method_type, method_type: {}})
    if method_type == "card":
        obj["card"] = {**_CARD, "fingerprint": ctx.store.random_suffix(16)}
    return copy.deepcopy(obj)


def create(ctx: Context) -> JSON:
    method_type = str(ctx.params.get("type") or "")
    if not method_type:
        raise invalid("Missing required param: type.", param="type", code="parameter_missing")
    obj = new_payment_method(ctx, ctx.new_id(KIND), method_type)
    obj["metadata"] = apply_metadata({}, ctx.params.get("metadata"))
    if ctx.params.get("customer"):
        _check_customer(ctx, str(ctx.params["customer"]))
        obj["customer"] = str(ctx.params["customer"])
    return ctx.save(KIND, obj)


def _check_customer(ctx: Context, customer: str) -> None:
    if ctx.find("customer", customer) is None:
        raise missing_ref("customer", customer, param="customer")


def retrieve(ctx: Context) -> JSON:
    return ctx.require(KIND)


def attach(ctx: Context) -> JSON:
    if ctx.path_id in TEST_CARDS and ctx.find(KIND, ctx.path_id) is None:
        obj = new_payment_method(ctx, ctx.new_id(KIND), "card")
        obj["card"]["last4"] = TEST_CARDS[ctx.path_id]
    else:
        obj = ctx.require(KIND)
    customer = str(ctx.params.get("customer") or "")
    if not customer:
        raise invalid("Missing required param: customer.", param="customer",
                      code="parameter_missing")
    _check_customer(ctx, customer)
    if obj["customer"] not in (None, customer):
        raise invalid(f"The payment method {obj['id']} is already attached to another "
                      "customer.", param="customer")
    obj["customer"] = customer
    return ctx.save(KIND, obj)


def detach(ctx: Context) -> JSON:
    obj = ctx.require(KIND)
    if obj["customer"] is None:
        raise invalid(f"The payment method {obj['id']} is not attached to a customer.")
    obj["customer"] = None
    return ctx.save(KIND, obj)


def list_for_customer(ctx: Context) -> JSON:
    _check_customer(ctx, ctx.path_id)
    found = [p for p in ctx.all(KIND) if p["customer"] == ctx.path_id]
    if ctx.params.get("type"):
        found = [p for p in found if p["type"] == ctx.params["type"]]
    return paginate(found, ctx.params, f"/v1/customers/{ctx.path_id}/payment_methods")


def attached_to(ctx: Context, payment_method: str, customer: str) -> bool:
    found = ctx.find(KIND, payment_method)
    return found is not None and found["customer"] == customer


def check_schedule_payment_methods(ctx: Context, customer: str, params: JSON) -> None:
    """A schedule's ``default_payment_method`` s must be saved to its customer, as Stripe
    requires (a payment method another customer saved, or none at all, is refused)."""
    settings = params.get("default_settings")
    named: list[tuple[str, object]] = []
    if isinstance(settings, dict):
        named.append(("default_settings[default_payment_method]",
                      settings.get("default_payment_method")))
    for index, phase in enumerate(params.get("phases") or []):
        if isinstance(phase, dict):
            named.append((f"phases[{index}][default_payment_method]",
                          phase.get("default_payment_method")))
    for param, value in named:
        if not value:
            continue
        if ctx.find(KIND, str(value)) is None:
            raise missing_ref("PaymentMethod", str(value), param=param)
        if not attached_to(ctx, str(value), customer):
            raise invalid(f"The customer does not have a payment method with the ID {value}. "
                          "The payment method must be attached to the customer.", param=param)
