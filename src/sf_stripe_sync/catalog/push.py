"""Salesforce -> Stripe catalog: a Stripe Product per Product2, a Stripe Price per entry.

Theory of operation (get-or-create, ids written back):

* **product**: the Product2's ``Stripe_Product_Id__c`` names it; else a product carrying
  ``metadata.salesforce_product2_id`` is searched for (a create whose write-back was
  lost); else one is created. A product whose name, active flag or description differ
  from the Product2 is updated; one that matches is left alone (no request).
* **price**: the PricebookEntry's ``Stripe_Price_Id__c`` names it. Stripe prices are
  immutable, so when the entry's unit price, currency or the product's billing
  frequency no longer match, a **new** price is made, the entry is pointed at it and the
  old one is deactivated (``active=false``; running subscriptions keep it). Without an id
  an active price of the product carrying ``metadata.salesforce_pricebook_entry_id`` and
  billing the same is reused; else one is created (recurring, licensed usage).

Every write carries an idempotency key derived from the Stripe account, the record and
the desired values (``core.keys``), so a retry or a rerun of an unchanged catalog
replays instead of making a second object, and a rerun after success sends nothing.
Ids are written back to Salesforce in batches at ``flush``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from stripe.params import (
    PriceCreateParams,
    PriceListParams,
    ProductCreateParams,
    ProductUpdateParams,
)

from sf_stripe_sync.catalog.mapping import (
    META_CUSTOM,
    META_ENTRY,
    META_PRODUCT2,
    DesiredPrice,
    DesiredProduct,
    desired_price,
    desired_product,
    price_matches,
    product_matches,
)
from sf_stripe_sync.catalog.options import CatalogOptions
from sf_stripe_sync.catalog.salesforce_catalog import Record, SalesforceCatalog
from sf_stripe_sync.catalog.stripe_api import as_dict
from sf_stripe_sync.core.keys import operation_key
from sf_stripe_sync.errors import (
    ApiLimitExceeded,
    AuthenticationError,
    ConfigError,
    IdempotencyConflict,
    TerminalError,
)
from sf_stripe_sync.stripe.session import StripeSession

log = logging.getLogger(__name__)
STOPPING = (ConfigError, AuthenticationError, ApiLimitExceeded, IdempotencyConflict)
"""Failures that are about the setup, not one record: the whole push stops on them."""


@dataclass
class PushReport:
    products_created: list[str] = field(default_factory=list)
    products_updated: list[str] = field(default_factory=list)
    prices_created: list[str] = field(default_factory=list)
    prices_deactivated: list[str] = field(default_factory=list)
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class CatalogPush:
    def __init__(self, salesforce: SalesforceCatalog, stripe: StripeSession,
                 options: CatalogOptions) -> None:
        self.sf = salesforce
        self.stripe = stripe
        self.options = options
        self.report = PushReport()
        self._products: dict[str, str] = {}
        self._pending: dict[str, dict[str, Record]] = {"Product2": {}, "PricebookEntry": {}}

    # ------------------------------------------------------------------ keys

    def _key(self, operation: str, record_id: str, fingerprint: str = "") -> str:
        return operation_key(self.stripe.account_name, f"catalog-{operation}", record_id,
                             fingerprint)

    # ------------------------------------------------------------------ products

    def ensure_product(self, record: Record) -> str:
        """The Stripe product id of a Product2, creating or updating it as needed."""
        desired = desired_product(record)
        cached = self._products.get(desired.product2_id)
        if cached is not None:
            return cached
        known = record.get(self.sf.fields.product_stripe_id)
        current = self._retrieve_product(str(known)) if known else None
        if current is None:
            current = self._find_product(desired)
        if current is None:
            product_id = self._create_product(desired)
        else:
            product_id = str(current["id"])
            if product_matches(current, desired):
                self.report.unchanged += 1
            else:
                self._update_product(product_id, desired)
        if known != product_id:
            self._write_back("Product2", desired.product2_id,
                             {self.sf.fields.product_stripe_id: product_id})
        self._products[desired.product2_id] = product_id
        return product_id

    def _retrieve_product(self, product_id: str) -> dict[str, Any] | None:
        try:
            return as_dict(self.stripe.call(
                "products.retrieve", lambda: self.stripe.client.v1.products.retrieve(product_id)))
        except TerminalError as exc:
            if exc.code == "resource_missing":
                log.warning("Stripe product %s named in Salesforce does not exist; looking "
                            "for it by metadata", product_id)
                return None
            raise

    def _find_product(self, desired: DesiredProduct) -> dict[str, Any] | None:
        query = f"metadata['{META_PRODUCT2}']:'{desired.product2_id}'"
        found = self.stripe.call("products.search", lambda: self.stripe.client.v1.products.search(
            params={"query": query, "limit": 1}))
        return as_dict(found.data[0]) if found.data else None

    def _create_product(self, desired: DesiredProduct) -> str:
        params: ProductCreateParams = {"name": desired.name, "active": desired.active,
                                       "metadata": desired.metadata}
        if desired.description:
            params["description"] = desired.description
        key = self._key("product", desired.product2_id, desired.fingerprint())
        created = self.stripe.call("products.create", lambda: self.stripe.client.v1.products.create(
            params=params, options=self.stripe.options(key)), kind="write", key=key)
        self.report.products_created.append(created.id)
        return str(created.id)

    def _update_product(self, product_id: str, desired: DesiredProduct) -> None:
        params: ProductUpdateParams = {"name": desired.name, "active": desired.active,
                                       "description": desired.description or "",
                                       "metadata": desired.metadata}
        key = self._key("product-update", product_id, desired.fingerprint())
        self.stripe.call("products.update", lambda: self.stripe.client.v1.products.update(
            product_id, params=params, options=self.stripe.options(key)), kind="write", key=key)
        self.report.products_updated.append(product_id)

    # ------------------------------------------------------------------ prices

    def ensure_price(self, entry: Record, product: Record) -> str:
        """The Stripe price id of a PricebookEntry; a changed entry gets a new price."""
        options = self.options
        desired = desired_price(entry, product, fields=options.fields,
                                catalog=options.catalog,
                                default_currency=options.default_currency)
        product_id = self.ensure_product(product)
        known = entry.get(options.fields.pricebook_entry_price)
        current = self._retrieve_price(str(known)) if known else None
        if current is not None and price_matches(current, desired, product_id):
            if not current.get("active"):
                self._set_price_active(str(current["id"]), True, desired.fingerprint())
            else:
                self.report.unchanged += 1
            return str(current["id"])
        price_id = self._find_price(desired, product_id) or self._create_price(desired,
                                                                               product_id)
        if current is not None and current.get("active"):
            self._set_price_active(str(current["id"]), False, price_id)
            self.report.prices_deactivated.append(str(current["id"]))
        self._write_back("PricebookEntry", desired.entry_id,
                         {options.fields.pricebook_entry_price: price_id})
        return price_id

    def _retrieve_price(self, price_id: str) -> dict[str, Any] | None:
        try:
            return as_dict(self.stripe.call(
                "prices.retrieve", lambda: self.stripe.client.v1.prices.retrieve(price_id)))
        except TerminalError as exc:
            if exc.code == "resource_missing":
                return None
            raise

    def _find_price(self, desired: DesiredPrice, product_id: str) -> str | None:
        starting_after: str | None = None
        while True:
            params: PriceListParams = {"product": product_id, "active": True, "limit": 100}
            if starting_after:
                params["starting_after"] = starting_after
            page = self.stripe.call("prices.list", partial(self.stripe.client.v1.prices.list,
                                                           params=params))
            for price in page.data:
                raw = as_dict(price)
                metadata = raw.get("metadata") or {}
                if metadata.get(META_ENTRY) == desired.entry_id and \
                        metadata.get(META_CUSTOM) != "true" and \
                        price_matches(raw, desired, product_id):
                    self.report.unchanged += 1
                    return str(raw["id"])
            if not page.has_more or not page.data:
                return None
            starting_after = page.data[-1].id

    def _create_price(self, desired: DesiredPrice, product_id: str) -> str:
        params: PriceCreateParams = {
            "product": product_id, "currency": desired.currency,
            "unit_amount": desired.unit_amount, "metadata": desired.metadata,
        }
        if desired.interval is not None:  # a One-Time product's price does not recur
            params["recurring"] = {"interval": desired.interval,
                                   "interval_count": desired.interval_count,
                                   "usage_type": "licensed"}
        key = self._key("price", desired.entry_id, desired.fingerprint())
        created = as_dict(self.stripe.call(
            "prices.create", lambda: self.stripe.client.v1.prices.create(
                params=params, options=self.stripe.options(key)), kind="write", key=key))
        if not created.get("active"):
            # A replayed create of a price made (and retired) before: bring it back.
            self._set_price_active(str(created["id"]), True, desired.fingerprint())
        self.report.prices_created.append(str(created["id"]))
        return str(created["id"])

    def _set_price_active(self, price_id: str, active: bool, because: str) -> None:
        """Retire a price (``because``: its replacement) or bring one back (the entry's
        desired fingerprint), under a key that a rerun of the same change replays."""
        key = self._key("price-active" if active else "price-inactive", price_id, because)
        self.stripe.call("prices.update", lambda: self.stripe.client.v1.prices.update(
            price_id, params={"active": active}, options=self.stripe.options(key)),
            kind="write", key=key)

    # ------------------------------------------------------------------ write-back

    def _write_back(self, sobject: str, record_id: str, values: Record) -> None:
        self._pending[sobject].setdefault(record_id, {"Id": record_id}).update(values)

    def flush(self) -> None:
        """Write the Stripe ids gathered so far back to Salesforce."""
        for sobject in ("Product2", "PricebookEntry"):
            records = list(self._pending[sobject].values())
            self._pending[sobject].clear()
            self.sf.update(sobject, records)

    # ------------------------------------------------------------------ whole catalog

    def push(self, product_ids: Sequence[str] | None = None) -> PushReport:
        """Every Product2 (or the given ones) and its active PricebookEntries."""
        products = {str(p["Id"]): p for p in self.sf.products(product_ids)}
        entries = self.sf.entries(product_ids=list(products)) if products else []
        entries_of: dict[str, list[Record]] = {}
        for entry in entries:
            entries_of.setdefault(str(entry.get("Product2Id")), []).append(entry)
        try:
            for product_id, product in products.items():
                try:
                    self.ensure_product(product)
                    for entry in entries_of.get(product_id, []):
                        if entry.get("IsActive") is not False:
                            self.ensure_price(entry, product)
                except TerminalError as exc:
                    if isinstance(exc, STOPPING):
                        raise
                    self.report.errors.append(str(exc))
        finally:
            self.flush()
        return self.report

