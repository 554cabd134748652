"""Seed catalogs: fixed objects loaded at start (``--seed FILE`` or a dict).

Theory of operation: a seed is ``{"customers": [...], "products": [...], "prices": [...],
"coupons": [...], "payment_methods": [...], "test_clocks": [...], "meters": [...]}``
with objects in Stripe's own shape and
fixed ids; fields left out get Stripe's defaults, so a seed can stay as short as
``{"id": "price_A", "product": "prod_A", "currency": "usd", "unit_amount": 1000,
"recurring": {"interval": "month"}}``.
``"accounts": {"acct_...": {same shape}}`` seeds connected accounts. Seeding never
overwrites an object that already exists (a state file loaded first wins).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.resources.catalog import new_product
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import Context, base_object
from sf_stripe_sync.sandbox.stripe_emulator.resources.customers import new_customer
from sf_stripe_sync.sandbox.stripe_emulator.resources.meters import new_meter
from sf_stripe_sync.sandbox.stripe_emulator.resources.payment_methods import new_payment_method
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON, PLATFORM, ObjectStore

SEED_KINDS = {"customers": "customer", "products": "product", "prices": "price",
              "coupons": "coupon", "payment_methods": "payment_method",
              "test_clocks": "test_helpers.test_clock", "meters": "billing.meter"}


class SeedError(ValueError):
    """The seed document is not usable."""


def load_seed(seed: dict[str, Any] | Path | str | None) -> JSON:
    if seed is None:
        return {}
    if isinstance(seed, dict):
        return seed
    try:
        data = json.loads(Path(seed).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SeedError(f"cannot read seed file {seed}: {exc}") from exc
    if not isinstance(data, dict):
        raise SeedError(f"seed file {seed} must hold a JSON object")
    return data


def _price_defaults(ctx: Context, obj: JSON) -> JSON:
    base = base_object(ctx, "price", obj["id"])
    recurring = obj.get("recurring")
    base.update({
        "active": True, "billing_scheme": "per_unit", "currency": "usd",
        "custom_unit_amount": None, "lookup_key": None, "metadata": {}, "nickname": None,
        "product": None, "recurring": None, "tax_behavior": "unspecified", "tiers_mode": None,
        "transform_quantity": None, "type": "recurring" if recurring else "one_time",
        "unit_amount": None,
        "unit_amount_decimal": None if obj.get("unit_amount") is None
        else str(obj["unit_amount"]),
    })
    if isinstance(recurring, dict):
        obj = {**obj, "recurring": {"interval_count": 1, "usage_type": "licensed",
                                    "meter": None, "trial_period_days": None, **recurring}}
    return {**base, **obj}


def _coupon_defaults(ctx: Context, obj: JSON) -> JSON:
    base = base_object(ctx, "coupon", obj["id"])
    base.update({
        "amount_off": None, "currency": None, "duration": "forever",
        "duration_in_months": None, "max_redemptions": None, "metadata": {}, "name": None,
        "percent_off": None, "redeem_by": None, "times_redeemed": 0, "valid": True,
    })
    return {**base, **obj}


def _complete(ctx: Context, kind: str, obj: JSON) -> JSON:
    if kind == "customer":
        return {**new_customer(ctx, obj["id"]), **obj}
    if kind == "product":
        return {**new_product(ctx, obj["id"], {}), **obj}
    if kind == "price":
        return _price_defaults(ctx, obj)
    if kind == "test_helpers.test_clock":
        return {**base_object(ctx, kind, obj["id"]), "deletes_after": ctx.now + 30 * 86_400,
                "frozen_time": ctx.now, "name": None, "status": "ready",
                "status_details": {}, **obj}
    if kind == "billing.meter":
        return {**new_meter(ctx, obj["id"], obj), **obj}
    if kind == "payment_method":
        return {**new_payment_method(ctx, obj["id"], str(obj.get("type") or "card")), **obj}
    return _coupon_defaults(ctx, obj)


def _apply_partition(store: ObjectStore, account: str, data: JSON, now: int) -> None:
    unknown = sorted(set(data) - set(SEED_KINDS) - {"accounts"})
    if unknown:
        raise SeedError(f"unknown seed section(s): {', '.join(unknown)}")
    ctx = Context(store, account, now, {})
    for section in ("meters", "products", "prices", "test_clocks", "customers", "coupons",
                    "payment_methods"):
        kind = SEED_KINDS[section]
        for raw in data.get(section, []):
            if not isinstance(raw, dict) or not raw.get("id"):
                raise SeedError(f"every object in '{section}' needs an 'id'")
            if store.get(account, kind, str(raw["id"])) is None:
                store.put(account, kind, _complete(ctx, kind, dict(raw)))


def apply_seed(store: ObjectStore, seed: JSON, now: int) -> None:
    _apply_partition(store, PLATFORM, {k: v for k, v in seed.items() if k != "accounts"}, now)
    for account, data in dict(seed.get("accounts", {})).items():
        _apply_partition(store, str(account), dict(data), now)
