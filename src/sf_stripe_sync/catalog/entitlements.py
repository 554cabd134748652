"""Entitlement features from a Product2 field, attached to match; active entitlements.

Theory of operation (Stripe Billing entitlements): a configurable Product2 field (a
multi-select picklist, ``Stripe_Features__c`` by default) lists each product's feature
lookup keys. ``EntitlementSync.sync`` makes Stripe agree:

* **features**: an active feature per lookup key, named from ``catalog.feature_names``
  (else the key made readable). An active feature with the key is reused (and renamed
  when the configured name changed); otherwise one is created. A lookup key is unique
  among *active* features only, so an archived feature's key may be taken by a new
  feature; the archived feature itself is never edited, unarchived or detached.
* **product features**: features listed in Salesforce but not attached are attached;
  attached active features no longer listed are detached. The product comes from the
  catalog push (get-or-create), so features can be synced before any price exists.

``entitled_lookup_keys`` gives, for each phase of a plan, the features its items'
products carry (``features.FeatureLookup``, which the preview builds once for all its
plans); ``active_entitlements`` reads what Stripe says a customer is entitled to right now.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from stripe.params import ProductFeatureListParams
from stripe.params.entitlements import FeatureListParams

from sf_stripe_sync.catalog.features import FeatureLookup
from sf_stripe_sync.catalog.mapping import CatalogDataError, feature_name, features_of
from sf_stripe_sync.catalog.push import STOPPING, CatalogPush
from sf_stripe_sync.catalog.stripe_api import as_dict
from sf_stripe_sync.core.keys import operation_key
from sf_stripe_sync.core.limits import FEATURE_LOOKUP_KEY_MAX
from sf_stripe_sync.core.models import OrderBundle, OrderPlan
from sf_stripe_sync.errors import TerminalError
from sf_stripe_sync.stripe.session import StripeSession

log = logging.getLogger(__name__)


@dataclass
class EntitlementReport:
    features_created: list[str] = field(default_factory=list)
    features_renamed: list[str] = field(default_factory=list)
    attached: list[str] = field(default_factory=list)
    detached: list[str] = field(default_factory=list)
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class EntitlementSync:
    def __init__(self, push: CatalogPush) -> None:
        self.push = push
        self.stripe: StripeSession = push.stripe
        self.catalog = push.options.catalog
        self.report = EntitlementReport()
        self._active: dict[str, dict[str, Any]] | None = None

    def _key(self, operation: str, record: str, fingerprint: str = "") -> str:
        return operation_key(self.stripe.account_name, f"entitlements-{operation}", record,
                             fingerprint)

    # ------------------------------------------------------------------ features

    def _list(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: FeatureListParams = {"limit": 100}
        while True:
            page = self.stripe.call("entitlements.features.list", partial(
                self.stripe.client.v1.entitlements.features.list, params=params.copy()))
            found.extend(as_dict(f) for f in page.data)
            if not page.has_more or not page.data:
                return found
            params["starting_after"] = page.data[-1].id

    def active_features(self) -> dict[str, dict[str, Any]]:
        """Active features by lookup key (archived ones are not listed by Stripe)."""
        if self._active is None:
            self._active = {str(f["lookup_key"]): f for f in self._list() if f.get("active")}
        return self._active

    def ensure_feature(self, lookup_key: str) -> str:
        name = feature_name(lookup_key, self.catalog.feature_names)
        current = self.active_features().get(lookup_key)
        if current is not None:
            if current.get("name") != name:
                key = self._key("rename", str(current["id"]), name)
                self.stripe.call("entitlements.features.update", lambda: (
                    self.stripe.client.v1.entitlements.features.update(
                        str(current["id"]), params={"name": name},
                        options=self.stripe.options(key))), kind="write", key=key)
                current["name"] = name
                self.report.features_renamed.append(lookup_key)
            return str(current["id"])
        key = self._key("feature", lookup_key, name)
        created = as_dict(self.stripe.call("entitlements.features.create", lambda: (
            self.stripe.client.v1.entitlements.features.create(
                params={"lookup_key": lookup_key, "name": name,
                        "metadata": {"managed_by": "sf-stripe-sync"}},
                options=self.stripe.options(key))), kind="write", key=key))
        if not created.get("active"):
            # A replayed create of a feature archived since: its key is free for a new one.
            key = self._key("feature", lookup_key, f"{name}:after:{created['id']}")
            created = as_dict(self.stripe.call("entitlements.features.create", lambda: (
                self.stripe.client.v1.entitlements.features.create(
                    params={"lookup_key": lookup_key, "name": name},
                    options=self.stripe.options(key))), kind="write", key=key))
        self.active_features()[lookup_key] = created
        self.report.features_created.append(lookup_key)
        return str(created["id"])

    # ------------------------------------------------------------------ product features

    def _attached(self, product_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: ProductFeatureListParams = {"limit": 100}
        while True:
            page = self.stripe.call("products.features.list", partial(
                self.stripe.client.v1.products.features.list, product_id,
                params=dict(params)))  # type: ignore[arg-type]
            found.extend(as_dict(f) for f in page.data)
            if not page.has_more or not page.data:
                return found
            params["starting_after"] = page.data[-1].id

    def sync_product(self, product: Mapping[str, Any]) -> None:
        wanted = features_of(product, self.catalog.features_field)
        too_long = [k for k in wanted if len(k) > FEATURE_LOOKUP_KEY_MAX]
        if too_long:  # refused before anything is written for this product
            raise CatalogDataError(
                f"Product2 {product.get('Id')}: feature {too_long[0]!r} is {len(too_long[0])} "
                f"characters; Stripe's lookup_key holds at most {FEATURE_LOOKUP_KEY_MAX}")
        product_id = self.push.ensure_product(dict(product))
        attached = self._attached(product_id)
        have: dict[str, dict[str, Any]] = {}
        for attachment in attached:
            feature = attachment.get("entitlement_feature") or {}
            if not feature.get("active"):
                continue  # an archived feature is left alone, attachment and all
            have[str(feature.get("lookup_key"))] = attachment
        for lookup_key in wanted:
            if lookup_key in have:
                self.report.unchanged += 1
                continue
            feature_id = self.ensure_feature(lookup_key)
            key = self._key("attach", product_id, feature_id)
            self.stripe.call("products.features.create", partial(
                self.stripe.client.v1.products.features.create, product_id,
                params={"entitlement_feature": feature_id}, options=self.stripe.options(key)),
                kind="write", key=key)
            self.report.attached.append(f"{product_id}:{lookup_key}")
        for lookup_key, attachment in have.items():
            if lookup_key in wanted:
                continue
            self.stripe.call("products.features.delete", partial(
                self.stripe.client.v1.products.features.delete, product_id,
                str(attachment["id"])), kind="write")
            self.report.detached.append(f"{product_id}:{lookup_key}")

    def sync(self, product_ids: Sequence[str] | None = None) -> EntitlementReport:
        try:
            for product in self.push.sf.products(product_ids):
                try:
                    self.sync_product(product)
                except TerminalError as exc:
                    if isinstance(exc, STOPPING):
                        raise
                    self.report.errors.append(str(exc))
        finally:
            self.push.flush()
        return self.report


def active_entitlements(stripe: StripeSession, customer_id: str) -> list[dict[str, Any]]:
    """What Stripe says the customer is entitled to now, by lookup key."""
    found: list[dict[str, Any]] = []
    starting_after: str | None = None
    while True:
        params: dict[str, Any] = {"customer": customer_id, "limit": 100}
        if starting_after:
            params["starting_after"] = starting_after
        page = stripe.call("entitlements.active_entitlements.list", partial(
            stripe.client.v1.entitlements.active_entitlements.list,
            params=params))  # type: ignore[arg-type]
        found.extend(as_dict(e) for e in page.data)
        if not page.has_more or not page.data:
            return sorted(found, key=lambda e: str(e.get("lookup_key")))
        starting_after = page.data[-1].id


def entitled_lookup_keys(plan: OrderPlan, bundles: Sequence[OrderBundle],
                         features_field: str) -> list[list[str]]:
    """For each phase of one plan, the feature lookup keys its items' products carry
    (for many plans, build one ``FeatureLookup`` and ask it for each)."""
    return FeatureLookup(features_field).add(bundles).keys_for(plan)
