"""Entitlement features, product features and a customer's active entitlements.

Theory of operation (Stripe Billing entitlements):

* a **feature** has a ``lookup_key`` unique among *active* features; archiving it
  (``active=false``) frees the key for a new feature. An archived feature cannot be
  edited or unarchived; the list leaves archived features out unless ``archived=true``.
* a **product feature** attaches one active feature to one product, at most once; it is
  detached with ``DELETE``.
* a customer's **active entitlements** are derived, never stored: for every schedule of
  the customer that is ``active`` now, the current phase's prices lead to their
  products, whose attached features (still active) the customer is entitled to, each
  once, named ``ent_test_<feature id suffix>`` so repeated reads agree.

Ids carry Stripe's test-mode prefixes (``feat_test_``, ``ent_test_``).
"""

from __future__ import annotations

from sf_stripe_sync.sandbox.stripe_emulator.errors import ApiError, invalid, missing_ref
from sf_stripe_sync.sandbox.stripe_emulator.resources import schedules
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    apply_metadata,
    base_object,
    paginate,
)
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

FEATURE = "entitlements.feature"
PRODUCT_FEATURE = "product_feature"
MAX_LOOKUP_KEY = 80


def _active_with_key(ctx: Context, key: str) -> JSON | None:
    return next((f for f in ctx.all(FEATURE) if f["active"] and f["lookup_key"] == key), None)


def create_feature(ctx: Context) -> JSON:
    key = str(ctx.params["lookup_key"])
    if not key or len(key) > MAX_LOOKUP_KEY:
        raise invalid(f"Invalid lookup_key: must be 1 to {MAX_LOOKUP_KEY} characters",
                      param="lookup_key")
    taken = _active_with_key(ctx, key)
    if taken is not None:
        raise invalid(f"A feature with the lookup key '{key}' already exists "
                      f"({taken['id']}).", param="lookup_key",
                      code="resource_already_exists")
    obj = base_object(ctx, FEATURE, ctx.new_id(FEATURE))
    obj.pop("created")  # Stripe's feature object has no created timestamp
    obj.update({"active": True, "lookup_key": key, "name": str(ctx.params["name"]),
                "metadata": apply_metadata({}, ctx.params.get("metadata"))})
    return ctx.save(FEATURE, obj)


def retrieve_feature(ctx: Context) -> JSON:
    return ctx.require(FEATURE)


def update_feature(ctx: Context) -> JSON:
    obj = ctx.require(FEATURE)
    if not obj["active"]:
        raise invalid(f"The feature {obj['id']} is archived and cannot be updated.",
                      param="active")
    if "name" in ctx.params:
        obj["name"] = str(ctx.params["name"])
    if "metadata" in ctx.params:
        obj["metadata"] = apply_metadata(obj["metadata"], ctx.params["metadata"])
    if ctx.params.get("active") is False:
        obj["active"] = False
    return ctx.save(FEATURE, obj)


def list_features(ctx: Context) -> JSON:
    archived = bool(ctx.params.get("archived", False))
    objects = [f for f in ctx.all(FEATURE) if f["active"] is not archived]
    if ctx.params.get("lookup_key"):
        objects = [f for f in objects if f["lookup_key"] == ctx.params["lookup_key"]]
    return paginate(objects, ctx.params, "/v1/entitlements/features")


# product features ------------------------------------------------------------------------

def _product_id(ctx: Context) -> str:
    product = ctx.find("product", ctx.path_id)
    if product is None:
        raise ApiError(404, f"No such product: '{ctx.path_id}'", param="product",
                       code="resource_missing")
    return str(product["id"])


def attach_feature(ctx: Context) -> JSON:
    product_id = _product_id(ctx)
    feature_id = str(ctx.params["entitlement_feature"])
    feature = ctx.find(FEATURE, feature_id)
    if feature is None:
        raise missing_ref("feature", feature_id, param="entitlement_feature")
    if not feature["active"]:
        raise invalid(f"The feature {feature_id} is archived and cannot be attached to a "
                      "product.", param="entitlement_feature")
    for existing in ctx.all(PRODUCT_FEATURE):
        if existing["product"] == product_id and existing["entitlement_feature"]["id"] == \
                feature_id:
            raise invalid(f"The feature {feature_id} is already attached to product "
                          f"{product_id}.", param="entitlement_feature",
                          code="resource_already_exists")
    obj = base_object(ctx, PRODUCT_FEATURE, ctx.new_id(PRODUCT_FEATURE))
    obj.pop("created")
    obj.update({"entitlement_feature": dict(feature), "product": product_id})
    return _feature_view(ctx, ctx.save(PRODUCT_FEATURE, obj))


def _feature_view(ctx: Context, attached: JSON) -> JSON:
    """A product feature as Stripe shows it: its feature as it is now (name or active may
    have moved), and without the product it is stored under (not a field of the object)."""
    current = ctx.find(FEATURE, attached["entitlement_feature"]["id"])
    view = {k: v for k, v in attached.items() if k != "product"}
    if current is not None:
        view["entitlement_feature"] = dict(current)
    return view


def list_product_features(ctx: Context) -> JSON:
    product_id = _product_id(ctx)
    found = [_feature_view(ctx, pf) for pf in ctx.all(PRODUCT_FEATURE)
             if pf["product"] == product_id]
    return paginate(found, ctx.params, f"/v1/products/{product_id}/features")


def detach_feature(ctx: Context) -> JSON:
    """``DELETE /v1/products/{product}/features/{id}``: the path id is ``product/features/id``."""
    product_id, _, attachment_id = ctx.path_id.partition("/features/")
    found = ctx.find(PRODUCT_FEATURE, attachment_id)
    if found is None or found["product"] != product_id:
        raise ApiError(404, f"No such product feature: '{attachment_id}'", param="id",
                       code="resource_missing")
    ctx.store.delete(ctx.account, PRODUCT_FEATURE, attachment_id)
    return {"id": attachment_id, "object": PRODUCT_FEATURE, "deleted": True}


# active entitlements -------------------------------------------------------------------------

def _current_prices(ctx: Context, customer: str) -> list[str]:
    prices: list[str] = []
    for schedule in ctx.all("subscription_schedule"):
        if schedule["customer"] != customer:
            continue
        schedules.refresh(ctx, schedule)
        if schedule["status"] != "active":
            continue
        for phase in schedule["phases"]:
            if phase["start_date"] <= ctx.now < phase["end_date"]:
                prices.extend(str(item["price"]) for item in phase["items"])
    return prices


def entitlements_of(ctx: Context, customer: str) -> list[JSON]:
    products = {str((ctx.find("price", p) or {}).get("product")) for p in
                _current_prices(ctx, customer)}
    seen: dict[str, JSON] = {}
    for attached in ctx.all(PRODUCT_FEATURE):
        if attached["product"] not in products:
            continue
        feature = ctx.find(FEATURE, attached["entitlement_feature"]["id"])
        if feature is None or not feature["active"] or feature["id"] in seen:
            continue
        seen[feature["id"]] = {
            "id": "ent_" + feature["id"].split("_", 1)[-1], "object":
            "entitlements.active_entitlement", "feature": feature["id"], "livemode": False,
            "lookup_key": feature["lookup_key"]}
    return list(seen.values())


def list_active_entitlements(ctx: Context) -> JSON:
    customer = str(ctx.params["customer"])
    if ctx.find("customer", customer) is None:
        raise missing_ref("customer", customer, param="customer")
    found = sorted(entitlements_of(ctx, customer), key=lambda e: e["lookup_key"],
                   reverse=True)
    return paginate(found, ctx.params, "/v1/entitlements/active_entitlements")
