"""Stripe -> Salesforce catalog: products and prices made or changed in Stripe.

Theory of operation: ``CatalogPull.pull`` reads Stripe's events list for
``product.created|updated`` and ``price.created|updated`` after a cursor stored in the
state directory, oldest first, a page at a time (``event_pages``: forward from the
cursor, or every retained event on a first run or once the cursor's event expired).
The cursor moves after each applied page, so a crash re-applies at most one page, and
applying is idempotent. A webhook delivers one event to ``apply_event`` the same way.

Applying compares before it writes (get-or-create matched by the Stripe id fields):

* a product becomes the Product2 whose ``Stripe_Product_Id__c`` holds its id (or whose
  Id its ``salesforce_product2_id`` metadata names, when the push that made it lost its
  write-back), else a new Product2; name, active flag and description follow Stripe.
* a price becomes the standard price book's PricebookEntry whose ``Stripe_Price_Id__c``
  holds its id (or the one its metadata names); else the product's standard entry in
  that currency is pointed at it (Salesforce allows one per product and currency);
  else a new entry. An archived price nobody points at is ignored; an entry whose
  price was archived in Stripe is deactivated.

Loop guard: the engine's own pushes come back as events too, but then Salesforce
already holds exactly those values, so nothing is written and nothing bounces back.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from sf_stripe_sync.catalog.event_pages import EventPages
from sf_stripe_sync.catalog.mapping import (
    META_CUSTOM,
    META_ENTRY,
    META_PRODUCT2,
    frequency_of,
    same_amount,
    unit_price_of,
)
from sf_stripe_sync.catalog.memory import CatalogMemory
from sf_stripe_sync.catalog.options import CatalogOptions
from sf_stripe_sync.catalog.salesforce_catalog import Record, SalesforceCatalog
from sf_stripe_sync.catalog.stripe_api import as_dict
from sf_stripe_sync.errors import TerminalError
from sf_stripe_sync.stripe.session import StripeSession

log = logging.getLogger(__name__)

EVENT_TYPES = ("product.created", "product.updated", "price.created", "price.updated")
CURSOR_KIND = "catalog_events"


@dataclass
class PullReport:
    events: int = 0
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    ignored: int = 0
    cursor: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _text(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


class CatalogPull:
    def __init__(self, salesforce: SalesforceCatalog, stripe: StripeSession,
                 options: CatalogOptions, memory: CatalogMemory | None = None) -> None:
        self.sf = salesforce
        self.stripe = stripe
        self.options = options
        self.memory = memory or CatalogMemory(None)
        self.report = PullReport()

    # ------------------------------------------------------------------ cursor

    def _pages(self) -> EventPages:
        return EventPages(self.stripe, self.memory, kind=CURSOR_KIND, types=EVENT_TYPES,
                          page_size=self.options.catalog.event_page_size)

    def cursor(self) -> str | None:
        return self._pages().cursor()

    def pull(self) -> PullReport:
        pages = self._pages()
        self.report.cursor = pages.cursor()
        for events in pages.pages():
            for event in events:
                self.apply_event(event)
            if events:
                pages.save(str(events[-1]["id"]))
                self.report.cursor = str(events[-1]["id"])
        return self.report

    # ------------------------------------------------------------------ applying

    def apply_event(self, event: dict[str, Any]) -> str:
        """Apply one event (from the list or a webhook); returns what happened."""
        self.report.events += 1
        kind = str(event.get("type") or "")
        obj = (event.get("data") or {}).get("object") or {}
        if kind.startswith("product."):
            return self.apply_product(obj)
        if kind.startswith("price."):
            return self.apply_price(obj)
        self.report.ignored += 1
        return "ignored"

    def apply_product(self, product: dict[str, Any]) -> str:
        record, wanted = self._product_record(product)
        if record is None:
            return "created"
        changes = {k: v for k, v in wanted.items() if record.get(k) != v}
        return self._update("Product2", record, changes)

    def _product_record(self, product: dict[str, Any]) -> tuple[Record | None, Record]:
        """(None, new record) when a Product2 was created, else (record, wanted values)."""
        f = self.options.fields
        stripe_id = str(product["id"])
        wanted: Record = {"Name": _text(product.get("name")) or stripe_id,
                          "IsActive": bool(product.get("active")),
                          f.product_stripe_id: stripe_id}
        if self.sf.has_field("Product2", "Description"):
            wanted["Description"] = _text(product.get("description"))
        record = self.sf.product_by_stripe_id(stripe_id)
        named = _text((product.get("metadata") or {}).get(META_PRODUCT2))
        if record is None and named:
            found = self.sf.products([named])
            record = found[0] if found else None
        if record is None:
            new_id = self.sf.insert("Product2", wanted)
            self.report.created.append(f"Product2 {new_id}")
            return None, {"Id": new_id, **wanted}
        return record, wanted

    def apply_price(self, price: dict[str, Any]) -> str:
        f = self.options.fields
        price_id = str(price["id"])
        if (price.get("metadata") or {}).get(META_CUSTOM) == "true":
            # A negotiated amount the sync billed one order line at: not a list price.
            self.report.ignored += 1
            return "ignored"
        entry = self.sf.entry_by_stripe_price(price_id)
        named = _text((price.get("metadata") or {}).get(META_ENTRY))
        if entry is None and named:
            found = self.sf.entries(ids=[named])
            entry = found[0] if found else None
        active = bool(price.get("active"))
        try:
            unit_price = unit_price_of(price)
        except TerminalError as exc:
            log.warning("price %s left out of Salesforce: %s", price_id, exc)
            self.report.ignored += 1
            return "ignored"
        if entry is None and not active:
            self.report.ignored += 1
            return "ignored"
        product = self._ensure_product(str(price.get("product")), price)
        currency = str(price.get("currency") or "").lower()
        if entry is None:
            entry = self.sf.standard_entry(str(product["Id"]), currency)
            if entry is not None and not active:
                self.report.ignored += 1
                return "ignored"
        wanted: Record = {"UnitPrice": unit_price, "IsActive": active,
                          f.pricebook_entry_price: price_id}
        if entry is None:
            record: Record = {"Pricebook2Id": self.sf.standard_pricebook_id(),
                              "Product2Id": product["Id"], **wanted}
            if self.sf.has_field("PricebookEntry", f.currency):
                record[f.currency] = currency.upper()
            new_id = self.sf.insert("PricebookEntry", record)
            self.report.created.append(f"PricebookEntry {new_id}")
            return "created"
        changes = {k: v for k, v in wanted.items() if not _same(entry.get(k), v)}
        return self._update("PricebookEntry", entry, changes)

    def _ensure_product(self, stripe_product_id: str, price: dict[str, Any]) -> Record:
        """The Product2 of a price's product, pulled from Stripe when Salesforce lacks it."""
        record = self.sf.product_by_stripe_id(stripe_product_id)
        if record is None:
            product = as_dict(self.stripe.call(
                "products.retrieve",
                lambda: self.stripe.client.v1.products.retrieve(stripe_product_id)))
            self.apply_product(product)
            record = self.sf.product_by_stripe_id(stripe_product_id)
            if record is None:
                raise TerminalError(f"Product2 for Stripe product {stripe_product_id} was "
                                    "not found after it was created", code="write_failed")
        if not _text((price.get("metadata") or {}).get(META_ENTRY)):
            # A price born in Stripe tells a Product2 with a blank frequency how often it
            # recurs; one the push made came from Salesforce, which stays the source.
            self._set_frequency(record, price)
        return record

    def _set_frequency(self, record: Record, price: dict[str, Any]) -> None:
        field_name = self.options.catalog.billing_frequency_field
        recurring = price.get("recurring") or {}
        if not recurring or _text(record.get(field_name)) or not self.sf.has_field(
                "Product2", field_name):
            return
        name = frequency_of(str(recurring.get("interval")),
                            int(recurring.get("interval_count") or 1), self.options.catalog)
        if name is not None:
            self._update("Product2", record, {field_name: name})

    def _update(self, sobject: str, record: Record, changes: Record) -> str:
        if not changes:
            self.report.unchanged += 1
            return "unchanged"
        log.info("%s %s follows Stripe: %s", sobject, record["Id"], sorted(changes))
        self.sf.update(sobject, [{"Id": record["Id"], **changes}])
        record.update(changes)
        self.report.updated.append(f"{sobject} {record['Id']}")
        return "updated"


def _same(current: object, wanted: object) -> bool:
    if isinstance(wanted, bool) or wanted is None or isinstance(wanted, str):
        return current == wanted
    return same_amount(current, wanted)  # type: ignore[arg-type]
