"""Products and prices: create, retrieve, update, list; prices filter by lookup key.

Theory of operation: a product may be created with a fixed ``id`` (as Stripe allows);
a duplicate id is refused. A price needs an existing product (or ``product_data``, which
makes one), a currency and ``unit_amount`` / ``unit_amount_decimal``; ``recurring`` makes
it ``type=recurring`` with ``usage_type`` licensed unless metered; a metered price must
name an existing billing meter (``recurring.meter``), as Stripe requires since basil.
``lookup_key`` is unique per account: taking one that is in use needs ``transfer_lookup_key=true``.
Amounts are integers in minor units; ``unit_amount_decimal`` is a decimal string.
"""

from __future__ import annotations

from decimal import Decimal

from sf_stripe_sync.sandbox.stripe_emulator.errors import ApiError, invalid, missing_param
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    apply_metadata,
    base_object,
    paginate,
    set_fields,
)
from sf_stripe_sync.sandbox.stripe_emulator.resources.search import search_result
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

_PRODUCT_FIELDS = ("name", "description", "active", "unit_label", "url", "statement_descriptor",
                   "tax_code", "images", "shippable")


def new_product(ctx: Context, object_id: str, params: JSON) -> JSON:
    obj = base_object(ctx, "product", object_id)
    obj.update({
        "active": True, "default_price": None, "description": None, "images": [],
        "marketing_features": [], "metadata": {}, "name": None, "package_dimensions": None,
        "shippable": None, "statement_descriptor": None, "tax_code": None,
        "tax_details": None, "type": "service", "unit_label": None, "updated": ctx.now,
        "url": None,
    })
    set_fields(obj, params, _PRODUCT_FIELDS)
    obj["metadata"] = apply_metadata({}, params.get("metadata"))
    return obj


def create_product(ctx: Context) -> JSON:
    product_id = str(ctx.params.get("id") or ctx.new_id("product"))
    if ctx.find("product", product_id) is not None:
        raise ApiError(400, f"Product already exists: {product_id}", param="id",
                       code="resource_already_exists")
    return ctx.save("product", new_product(ctx, product_id, ctx.params))


def retrieve_product(ctx: Context) -> JSON:
    return ctx.require("product")


def update_product(ctx: Context) -> JSON:
    obj = ctx.require("product")
    set_fields(obj, ctx.params, _PRODUCT_FIELDS)
    if "default_price" in ctx.params:
        obj["default_price"] = ctx.params["default_price"] or None
    if "metadata" in ctx.params:
        obj["metadata"] = apply_metadata(obj["metadata"], ctx.params["metadata"])
    obj["updated"] = ctx.now
    return ctx.save("product", obj)


def list_products(ctx: Context) -> JSON:
    objects = ctx.all("product")
    if "active" in ctx.params:
        objects = [o for o in objects if o["active"] == ctx.params["active"]]
    if ctx.params.get("ids"):
        objects = [o for o in objects if o["id"] in ctx.params["ids"]]
    return paginate(objects, ctx.params, "/v1/products")


# prices ------------------------------------------------------------------------------

def _unit_amount(params: JSON) -> tuple[int | None, str | None]:
    if "unit_amount" in params and "unit_amount_decimal" in params:
        raise invalid("You may only specify one of these parameters: unit_amount, "
                      "unit_amount_decimal.", param="unit_amount")
    if "unit_amount" in params:
        amount = int(params["unit_amount"])
        if amount < 0:
            raise invalid("Invalid unit_amount: must be non-negative", param="unit_amount")
        return amount, str(amount)
    if "unit_amount_decimal" in params:
        decimal = Decimal(params["unit_amount_decimal"])
        if decimal < 0:
            raise invalid("Invalid unit_amount_decimal: must be non-negative",
                          param="unit_amount_decimal")
        whole = int(decimal) if decimal == decimal.to_integral_value() else None
        return whole, format(decimal.normalize(), "f")
    if params.get("custom_unit_amount") or params.get("billing_scheme") == "tiered":
        return None, None
    raise invalid("You must pass either unit_amount, unit_amount_decimal or "
                  "custom_unit_amount.", param="unit_amount")


def _claim_lookup_key(ctx: Context, key: str, transfer: bool, owner: str) -> None:
    for other in ctx.all("price"):
        if other.get("lookup_key") == key and other["id"] != owner:
            if not transfer:
                raise invalid(f"A price (`{other['id']}`) already uses that lookup key.",
                              param="lookup_key")
            other["lookup_key"] = None


def _check_meter(ctx: Context, recurring: JSON) -> None:
    """Since 2025-03-31.basil a metered price must name a billing meter (legacy
    usage-record prices are gone); a licensed price cannot name one."""
    meter = recurring.get("meter")
    if recurring.get("usage_type", "licensed") != "metered":
        if meter:
            raise invalid("A meter can only be set on a price with `usage_type=metered`.",
                          param="recurring[meter]")
        return
    if not meter:
        raise invalid("You must specify a meter when creating a price with "
                      "`usage_type=metered`.", param="recurring[meter]")
    if ctx.find("billing.meter", str(meter)) is None:
        raise invalid(f"No such billing meter: '{meter}'", param="recurring[meter]",
                      code="resource_missing")


def create_price(ctx: Context) -> JSON:
    params = ctx.params
    if "product" in params and "product_data" in params:
        raise invalid("You may only specify one of these parameters: product, product_data.",
                      param="product")
    if "product_data" in params:
        product = ctx.save("product", new_product(ctx, ctx.new_id("product"),
                                                   params["product_data"]))
    elif "product" in params:
        found = ctx.find("product", str(params["product"]))
        if found is None:
            raise invalid(f"No such product: '{params['product']}'", param="product",
                          code="resource_missing")
        product = found
    else:
        raise missing_param("product")
    amount, amount_decimal = _unit_amount(params)
    recurring = params.get("recurring")
    price_id = ctx.new_id("price")
    obj = base_object(ctx, "price", price_id)
    obj.update({
        "active": params.get("active", True), "billing_scheme": params.get(
            "billing_scheme", "per_unit"),
        "currency": str(params["currency"]).lower(), "custom_unit_amount": None,
        "lookup_key": None, "metadata": apply_metadata({}, params.get("metadata")),
        "nickname": params.get("nickname"), "product": product["id"],
        "recurring": None, "tax_behavior": params.get("tax_behavior", "unspecified"),
        "tiers_mode": params.get("tiers_mode"), "transform_quantity": None,
        "type": "one_time", "unit_amount": amount, "unit_amount_decimal": amount_decimal,
    })
    if isinstance(recurring, dict):
        _check_meter(ctx, recurring)
        obj["type"] = "recurring"
        obj["recurring"] = {
            "interval": recurring["interval"],
            "interval_count": int(recurring.get("interval_count", 1)),
            "meter": recurring.get("meter"), "trial_period_days": None,
            "usage_type": recurring.get("usage_type", "licensed"),
        }
    if params.get("lookup_key"):
        _claim_lookup_key(ctx, str(params["lookup_key"]),
                          bool(params.get("transfer_lookup_key")), price_id)
        obj["lookup_key"] = params["lookup_key"]
    return ctx.save("price", obj)


def retrieve_price(ctx: Context) -> JSON:
    return ctx.require("price")


def update_price(ctx: Context) -> JSON:
    obj = ctx.require("price")
    set_fields(obj, ctx.params, ("active", "nickname", "tax_behavior"))
    if "lookup_key" in ctx.params:
        key = ctx.params["lookup_key"]
        if key:
            _claim_lookup_key(ctx, str(key), bool(ctx.params.get("transfer_lookup_key")),
                              obj["id"])
        obj["lookup_key"] = key or None
    if "metadata" in ctx.params:
        obj["metadata"] = apply_metadata(obj["metadata"], ctx.params["metadata"])
    return ctx.save("price", obj)


def list_prices(ctx: Context) -> JSON:
    params = ctx.params
    objects = ctx.all("price")
    if "active" in params:
        objects = [o for o in objects if o["active"] == params["active"]]
    if params.get("currency"):
        objects = [o for o in objects if o["currency"] == str(params["currency"]).lower()]
    if params.get("product"):
        objects = [o for o in objects if o["product"] == params["product"]]
    if params.get("type"):
        objects = [o for o in objects if o["type"] == params["type"]]
    if params.get("lookup_keys"):
        keys = set(params["lookup_keys"])
        objects = [o for o in objects if o.get("lookup_key") in keys]
    recurring = params.get("recurring") or {}
    for field in ("interval", "usage_type", "meter"):
        if recurring.get(field):
            objects = [o for o in objects
                       if (o.get("recurring") or {}).get(field) == recurring[field]]
    return paginate(objects, params, "/v1/prices")


def search_prices(ctx: Context) -> JSON:
    return search_result(ctx.searchable("price"), ctx.params, "/v1/prices/search")


def search_products(ctx: Context) -> JSON:
    return search_result(ctx.searchable("product"), ctx.params, "/v1/products/search")
