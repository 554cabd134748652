"""Customers: create, retrieve, update, delete, list (``email`` filter) and search.

Theory of operation: a customer is stored in Stripe's shape with its plain fields;
fields the emulator has no behaviour for (address, shipping, tax...) are stored as given
so they round-trip. Search understands ``metadata['key']:'value'`` and friends
(see ``search``). A customer created with ``test_clock`` lives in that clock's time
(``test_clocks``); the clock cannot be changed afterwards.
"""

from __future__ import annotations

from sf_stripe_sync.sandbox.stripe_emulator.resources import test_clocks
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    apply_metadata,
    base_object,
    paginate,
    set_fields,
)
from sf_stripe_sync.sandbox.stripe_emulator.resources.search import search_result
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

KIND = "customer"
_PLAIN = ("name", "email", "description", "phone", "address", "shipping", "preferred_locales",
          "invoice_prefix", "tax_exempt", "balance", "next_invoice_sequence")


def new_customer(ctx: Context, object_id: str) -> JSON:
    obj = base_object(ctx, KIND, object_id)
    obj.update({
        "address": None, "balance": 0, "business_name": None, "currency": None,
        "customer_account": None, "default_source": None, "individual_name": None,
        "delinquent": False, "description": None, "discount": None, "email": None,
        "invoice_prefix": object_id[-8:].upper(),
        "invoice_settings": {"custom_fields": None, "default_payment_method": None,
                             "footer": None, "rendering_options": None},
        "metadata": {}, "name": None, "next_invoice_sequence": 1, "phone": None,
        "preferred_locales": [], "shipping": None, "tax_exempt": "none", "test_clock": None,
    })
    return obj


def create(ctx: Context) -> JSON:
    obj = new_customer(ctx, ctx.new_id(KIND))
    if ctx.params.get("test_clock"):
        test_clocks.check_room(ctx, str(ctx.params["test_clock"]))
        obj["test_clock"] = str(ctx.params["test_clock"])
    set_fields(obj, ctx.params, _PLAIN)
    obj["metadata"] = apply_metadata({}, ctx.params.get("metadata"))
    if isinstance(ctx.params.get("invoice_settings"), dict):
        obj["invoice_settings"].update(ctx.params["invoice_settings"])
    return ctx.save(KIND, obj)


def retrieve(ctx: Context) -> JSON:
    return ctx.require(KIND)


def update(ctx: Context) -> JSON:
    obj = ctx.require(KIND)
    set_fields(obj, ctx.params, _PLAIN)
    if "metadata" in ctx.params:
        obj["metadata"] = apply_metadata(obj["metadata"], ctx.params["metadata"])
    if isinstance(ctx.params.get("invoice_settings"), dict):
        obj["invoice_settings"].update(ctx.params["invoice_settings"])
    return ctx.save(KIND, obj)


def delete(ctx: Context) -> JSON:
    obj = ctx.require(KIND)
    ctx.store.delete(ctx.account, KIND, obj["id"])
    return {"id": obj["id"], "object": KIND, "deleted": True}


def list_all(ctx: Context) -> JSON:
    objects = ctx.all(KIND)
    if ctx.params.get("email"):
        objects = [o for o in objects if o.get("email") == ctx.params["email"]]
    return paginate(objects, ctx.params, "/v1/customers")


def search(ctx: Context) -> JSON:
    return search_result(ctx.searchable(KIND), ctx.params, "/v1/customers/search")
