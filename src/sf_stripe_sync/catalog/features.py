"""Which entitlement features each phase of a plan carries, for the preview.

Theory of operation: a configurable Product2 field (``catalog.features_field``) lists
each product's feature lookup keys (``mapping.features_of``). ``FeatureLookup`` learns
the OrderItems of the bundles it is given, once: item id -> its product's features,
each product's field parsed once. ``keys_for(plan)`` then costs one dict lookup per
phase item, so a preview of N orders is linear in N (building the map from every
bundle for every plan made it quadratic). Pure: no Stripe, no I/O; the preview imports
it without loading the Stripe SDK.
"""

from __future__ import annotations

from collections.abc import Iterable

from sf_stripe_sync.catalog.mapping import features_of
from sf_stripe_sync.core.models import OrderBundle, OrderPlan


class FeatureLookup:
    """Which feature lookup keys each OrderItem's product carries, built once per preview.

    One pass over the bundles maps every OrderItem id to its product's features (parsed
    once per product); ``keys_for`` then costs a dict lookup per phase item, so a preview
    of N orders is linear in N (building the map per plan made it quadratic)."""

    def __init__(self, features_field: str) -> None:
        self.features_field = features_field
        self._of_item: dict[str, tuple[str, ...]] = {}
        self._of_product: dict[str, tuple[str, ...]] = {}

    def add(self, bundles: Iterable[OrderBundle]) -> FeatureLookup:
        """Learn the items of ``bundles`` (an item already known keeps its features)."""
        for bundle in bundles:
            for raw in bundle.items:
                item_id = str(raw.get("Id"))
                if item_id in self._of_item:
                    continue
                product_id = raw.get("Product2Id") or (bundle.pricebook_entries.get(
                    str(raw.get("PricebookEntryId"))) or {}).get("Product2Id")
                product = bundle.products.get(str(product_id)) if product_id else None
                if product is None:
                    continue
                features = self._of_product.get(str(product_id))
                if features is None:
                    features = features_of(product, self.features_field)
                    self._of_product[str(product_id)] = features
                self._of_item[item_id] = features
        return self

    def keys_for(self, plan: OrderPlan) -> list[list[str]]:
        """For each phase of the plan, the feature lookup keys its items' products carry."""
        result: list[list[str]] = []
        for phase in plan.schedule.phases if plan.schedule else ():
            keys: set[str] = set()
            for item in phase.items:
                for item_id in item.order_item_ids:
                    keys.update(self._of_item.get(item_id, ()))
            result.append(sorted(keys))
        return result
