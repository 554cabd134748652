"""What every resource shares: the request context, lists and pages, metadata, expand.

Theory of operation: a handler receives a ``Context`` (the store partition of the
calling account, the emulator's "now", the validated parameters and the id from the
path) and returns the object as stored. Expansion is applied afterwards on a deep copy,
so stored objects always hold plain ids. Lists are newest first, paged with ``limit``,
``starting_after`` and ``ending_before`` exactly like Stripe's list objects.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.errors import ApiError, invalid, no_such
from sf_stripe_sync.sandbox.stripe_emulator.search_index import SearchIndex
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON, ObjectStore

LABELS = {
    "customer": "customer", "product": "product", "price": "price", "coupon": "coupon",
    "subscription_schedule": "subscription schedule", "subscription": "subscription",
    "event": "event", "entitlements.feature": "feature", "product_feature": "product feature",
    "billing_portal.configuration": "configuration", "billing_portal.session": "session",
    "payment_method": "PaymentMethod", "test_helpers.test_clock": "test clock",
    "invoice": "invoice", "billing.meter": "billing meter",
    "webhook_endpoint": "webhook endpoint",
}
ID_PREFIX = {
    "customer": "cus", "product": "prod", "price": "price",
    "subscription_schedule": "sub_sched", "subscription": "sub",
    "event": "evt", "entitlements.feature": "feat_test", "product_feature": "prodft",
    "billing_portal.configuration": "bpc", "billing_portal.session": "bps",
    "payment_method": "pm", "test_helpers.test_clock": "clock", "invoice": "in",
    "billing.meter": "mtr",
}


@dataclass
class Context:
    store: ObjectStore
    account: str
    now: int
    params: JSON
    path_id: str = ""
    search_index: SearchIndex | None = None

    def new_id(self, kind: str) -> str:
        return self.store.new_id(ID_PREFIX[kind], kind)

    def find(self, kind: str, object_id: str) -> JSON | None:
        return self.store.get(self.account, kind, object_id)

    def require(self, kind: str, object_id: str | None = None) -> JSON:
        """The object named by the path (404 when absent)."""
        object_id = object_id or self.path_id
        found = self.find(kind, object_id)
        if found is None:
            raise no_such(LABELS[kind], object_id)
        return found

    def save(self, kind: str, obj: JSON) -> JSON:
        return self.store.put(self.account, kind, obj)

    def all(self, kind: str) -> list[JSON]:
        return self.store.all(self.account, kind)

    def searchable(self, kind: str) -> list[JSON]:
        """Objects of a kind as the (possibly lagging) search index sees them."""
        found = self.all(kind)
        if self.search_index is None:
            return found
        return self.search_index.view(self.account, kind, found, self.now)


def base_object(ctx: Context, kind: str, object_id: str) -> JSON:
    return {"id": object_id, "object": kind, "created": ctx.now, "livemode": False}


def usable_price(ctx: Context, price_id: str, param: str, price_type: str) -> JSON:
    """The active price ``price_id`` of ``price_type`` (``recurring`` for phase items,
    ``one_time`` for one-time charges), refused as Stripe refuses any other."""
    price = ctx.find("price", price_id)
    if price is None:
        raise invalid(f"No such price: '{price_id}'", param=param, code="resource_missing")
    if not price["active"]:
        raise invalid("The price specified is inactive. This field only accepts active prices.",
                      param=param)
    if price["type"] != price_type:
        raise invalid(f"The price specified is set to `type={price['type']}` but this field "
                      f"only accepts prices with `type={price_type}`.", param=param)
    return price


def apply_metadata(current: dict[str, str] | None, value: Any) -> dict[str, str]:
    """Stripe's metadata update: "" clears all, a key set to "" is removed, others merge."""
    result = dict(current or {})
    if value in ("", None):
        return {} if value == "" else result
    for key, item in dict(value).items():
        if item == "":
            result.pop(key, None)
        else:
            result[key] = str(item)
    if len(result) > 50:  # counted on the object as it would be after the update
        raise invalid(f"Metadata can have up to 50 keys, but you've set {len(result)}.",
                      param="metadata")
    return result


def set_fields(obj: JSON, params: JSON, names: tuple[str, ...]) -> None:
    """Copy plain fields; Stripe's empty string unsets a field to null."""
    for name in names:
        if name in params:
            obj[name] = None if params[name] == "" else params[name]


def paginate(objects_oldest_first: list[JSON], params: JSON, url: str) -> JSON:
    newest_first = list(reversed(objects_oldest_first))
    limit = int(params.get("limit", 10))
    if not 1 <= limit <= 100:
        raise invalid("Invalid limit: must be between 1 and 100", param="limit")
    ids = [o["id"] for o in newest_first]
    if params.get("starting_after"):
        cursor = str(params["starting_after"])
        if cursor not in ids:
            raise ApiError(400, f"No such object: '{cursor}'", param="starting_after",
                           code="resource_missing")
        start = ids.index(cursor) + 1
        page = newest_first[start:start + limit]
        has_more = start + limit < len(newest_first)
    elif params.get("ending_before"):
        cursor = str(params["ending_before"])
        if cursor not in ids:
            raise ApiError(400, f"No such object: '{cursor}'", param="ending_before",
                           code="resource_missing")
        end = ids.index(cursor)
        page = newest_first[max(0, end - limit):end]
        has_more = end - limit > 0
    else:
        page = newest_first[:limit]
        has_more = len(newest_first) > limit
    return {"object": "list", "data": page, "has_more": has_more, "url": url}


# expand -------------------------------------------------------------------------------

EXPANDABLE: dict[str, frozenset[str]] = {
    "customer": frozenset({
        "default_source", "invoice_settings.default_payment_method", "test_clock",
        "sources", "subscriptions", "tax", "tax_ids", "cash_balance", "discount",
        "invoice_credit_balance",
    }),
    "product": frozenset({"default_price", "tax_code"}),
    "price": frozenset({"product", "currency_options", "tiers"}),
    "coupon": frozenset({"applies_to", "currency_options"}),
    "subscription_schedule": frozenset({
        "customer", "customer_account", "subscription", "released_subscription",
        "test_clock", "application", "default_settings.default_payment_method",
        "default_settings.on_behalf_of", "phases.default_payment_method",
        "phases.default_tax_rates", "phases.on_behalf_of", "phases.discounts.coupon",
        "phases.discounts.discount", "phases.discounts.promotion_code",
        "phases.items.price", "phases.items.plan", "phases.items.tax_rates",
        "phases.items.discounts.coupon", "phases.items.discounts.discount",
        "phases.items.discounts.promotion_code", "phases.add_invoice_items.price",
    }),
}
_FIELD_KIND = {"customer": "customer", "coupon": "coupon", "price": "price", "plan": "price",
               "product": "product", "default_price": "price"}


def check_expand(paths: list[str], kind: str, *, listed: bool) -> None:
    allowed = EXPANDABLE.get(kind, frozenset())
    for path in paths:
        inner = path
        if listed:
            if not path.startswith("data."):
                raise invalid(f"This property cannot be expanded ({path}).", param="expand")
            inner = path[len("data."):]
        if len(path.split(".")) > 4:
            raise invalid(f"This property cannot be expanded ({path}): expansions are "
                          "limited to four levels.", param="expand")
        if inner in allowed or any(inner.startswith(a + ".") for a in allowed):
            continue
        raise invalid(f"This property cannot be expanded ({path}).", param="expand")


def _expand_into(node: Any, parts: list[str], resolve: Callable[[str, str], JSON | None]) -> None:
    if isinstance(node, list):
        for element in node:
            _expand_into(element, parts, resolve)
        return
    if not isinstance(node, dict) or not parts or parts[0] not in node:
        return
    head, rest = parts[0], parts[1:]
    if rest:
        _expand_into(node[head], rest, resolve)
        return
    value = node[head]
    if isinstance(value, str) and head in _FIELD_KIND:
        found = resolve(_FIELD_KIND[head], value)
        if found is not None:
            node[head] = copy.deepcopy(found)


def expand(body: JSON, paths: list[str], ctx: Context) -> JSON:
    """A deep copy of ``body`` with the requested ids replaced by their objects."""
    if not paths:
        return body
    result = copy.deepcopy(body)
    for path in sorted(paths, key=lambda p: p.count(".")):
        _expand_into(result, path.split("."), ctx.find)
    return result
