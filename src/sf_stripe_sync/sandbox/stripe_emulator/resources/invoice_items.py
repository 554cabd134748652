"""A phase's ``add_invoice_items``: one-time charges billed on the phase's first invoice.

Theory of operation (what Stripe enforces, as the emulator reproduces it): a phase may
carry up to 20 ``add_invoice_items``, each naming exactly one of ``price`` (an existing,
active, ``type=one_time`` price: a recurring one is refused) or ``price_data``
(``currency``, ``product`` and ``unit_amount`` or ``unit_amount_decimal``, from which an
inline one-time price is made, inactive, as Stripe does for inline prices). ``quantity``
defaults to 1 and may not be negative; the price's currency must be the phase's.
``discountable`` defaults to true (phase discounts then reduce it) and ``discounts``
hold coupons as phase items do. Stored, an entry has Stripe's shape: ``price`` is the
price id, ``period`` the ``{start: {type}, end: {type}}`` defaults.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.errors import invalid
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    base_object,
    usable_price,
)
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

MAX_ADD_INVOICE_ITEMS = 20
DiscountParser = Any  # (ctx, value, path) -> list[JSON], see phases._discounts


def _inline_price(ctx: Context, data: JSON, path: str) -> JSON:
    product = str(data.get("product") or "")
    if ctx.find("product", product) is None:
        raise invalid(f"No such product: '{product}'", param=f"{path}[product]",
                      code="resource_missing")
    if ("unit_amount" in data) == ("unit_amount_decimal" in data):
        raise invalid("You must pass exactly one of unit_amount or unit_amount_decimal.",
                      param=f"{path}[unit_amount]")
    if "unit_amount" in data:
        amount: int | None = int(data["unit_amount"])
        decimal = str(amount)
    else:
        exact = Decimal(data["unit_amount_decimal"])
        amount = int(exact) if exact == exact.to_integral_value() else None
        decimal = format(exact.normalize(), "f")
    price = base_object(ctx, "price", ctx.new_id("price"))
    price.update({
        "active": False, "billing_scheme": "per_unit",
        "currency": str(data["currency"]).lower(), "custom_unit_amount": None,
        "lookup_key": None, "metadata": {}, "nickname": None, "product": product,
        "recurring": None, "tax_behavior": data.get("tax_behavior", "unspecified"),
        "tiers_mode": None, "transform_quantity": None, "type": "one_time",
        "unit_amount": amount, "unit_amount_decimal": decimal,
    })
    return ctx.save("price", price)


def _price(ctx: Context, raw: JSON, path: str) -> JSON:
    if ("price" in raw) == ("price_data" in raw):
        raise invalid("You must pass exactly one of price or price_data.",
                      param=f"{path}[price]")
    if "price_data" in raw:
        return _inline_price(ctx, raw["price_data"], f"{path}[price_data]")
    return usable_price(ctx, str(raw["price"]), f"{path}[price]", "one_time")


def build(ctx: Context, raw_items: Any, currency: str, path: str,
          discounts: DiscountParser) -> list[JSON]:
    """The stored ``add_invoice_items`` of one phase (``path`` is ``phases[i]``)."""
    if raw_items in (None, ""):
        return []
    if len(raw_items) > MAX_ADD_INVOICE_ITEMS:
        raise invalid(f"A phase can have at most {MAX_ADD_INVOICE_ITEMS} add_invoice_items; "
                      f"{len(raw_items)} were given.", param=f"{path}[add_invoice_items]")
    result: list[JSON] = []
    for index, raw in enumerate(raw_items):
        where = f"{path}[add_invoice_items][{index}]"
        price = _price(ctx, raw, where)
        if price["currency"] != currency:
            raise invalid(f"The price specified ({price['id']}) has a currency "
                          f"({price['currency']}) that does not match the currency of the "
                          f"phase ({currency}).", param=f"{where}[price]")
        quantity = int(raw.get("quantity", 1))
        if quantity < 0:
            raise invalid("Invalid quantity: must be a non-negative integer.",
                          param=f"{where}[quantity]")
        result.append({
            "discountable": bool(raw.get("discountable", True)),
            "discounts": discounts(ctx, raw.get("discounts"), f"{where}[discounts]"),
            "metadata": dict(raw.get("metadata") or {}),
            "period": {"end": {"type": "min_item_period_end"},
                       "start": {"type": "max_item_period_start"}},
            "price": price["id"], "quantity": quantity,
            "tax_rates": list(raw.get("tax_rates") or []),
        })
    return result
