"""The engine hook that resolves a missing price through the catalog push.

Theory of operation: with ``rules.create_missing_prices`` on, the engine hands each
order bundle to ``MissingPriceResolver`` before normalizing it. Items whose price
resolves already (the OrderItem's price field, else its PricebookEntry's) are left
alone; for the others the PricebookEntry and its Product2 are read fresh from
Salesforce and ``CatalogPush.ensure_price`` gets or creates the Stripe product and
price, writing both ids back. The bundle returned carries the new price ids on its
entries, so the order plans as if Salesforce had held them all along; the next read
finds them in Salesforce. Calls are serialised (the engine may work on several
contracts at once; one entry must not get two prices). A bundle with nothing missing
costs no call at all; an entry that cannot be priced (no Product2, a bad UnitPrice or
frequency) is left missing, so the order still fails with ``missing_price``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sf_stripe_sync.catalog.push import CatalogPush
from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.errors import ConfigError, TerminalError

log = logging.getLogger(__name__)


def _text(value: object) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def missing_entry_ids(bundle: OrderBundle, fields: FieldMap) -> list[str]:
    """PricebookEntries of items that have no Stripe price on the item nor the entry."""
    wanted: list[str] = []
    for item in bundle.items:
        if _text(item.get(fields.order_item_price)):
            continue
        entry_id = _text(item.get("PricebookEntryId"))
        if entry_id is None:
            continue
        entry = bundle.pricebook_entries.get(entry_id) or {}
        if not _text(entry.get(fields.pricebook_entry_price)):
            wanted.append(entry_id)
    return list(dict.fromkeys(wanted))


class MissingPriceResolver:
    """``bundle -> bundle`` with every resolvable missing price made in Stripe."""

    def __init__(self, push_for: Callable[[str | None], CatalogPush], fields: FieldMap) -> None:
        self._push_for = push_for
        self.fields = fields
        self.resolved: dict[str, str] = {}
        """PricebookEntry id -> the price made or found for it, this run."""
        self.problems: dict[str, str] = {}
        self._lock = threading.Lock()

    def __call__(self, bundle: OrderBundle) -> OrderBundle:
        if not missing_entry_ids(bundle, self.fields):
            return bundle
        with self._lock:  # the engine may plan several contracts at once
            return self._filled(bundle)

    def _filled(self, bundle: OrderBundle) -> OrderBundle:
        missing = [e for e in missing_entry_ids(bundle, self.fields)
                   if e not in self.problems]
        if not missing:
            return bundle
        account = _text(bundle.order.get(self.fields.order_stripe_account))
        found = {e: p for e, p in self.resolved.items() if e in missing}
        todo = [e for e in missing if e not in found]
        if todo:
            found.update(self._resolve(account, todo))
        if not found:
            return bundle
        entries = dict(bundle.pricebook_entries)
        for entry_id, price_id in found.items():
            entries[entry_id] = {**entries.get(entry_id, {"Id": entry_id}),
                                 self.fields.pricebook_entry_price: price_id}
        return bundle.model_copy(update={"pricebook_entries": entries})

    def _resolve(self, account: str | None, entry_ids: list[str]) -> dict[str, str]:
        push = self._push_for(account)
        entries = push.sf.entries(ids=entry_ids)
        products = {str(p["Id"]): p for p in push.sf.products(
            [str(e.get("Product2Id")) for e in entries if e.get("Product2Id")])}
        made: dict[str, str] = {}
        try:
            for entry in entries:
                entry_id = str(entry["Id"])
                product = products.get(str(entry.get("Product2Id")))
                if product is None:
                    self.problems[entry_id] = "its Product2 was not found"
                    continue
                try:
                    made[entry_id] = push.ensure_price(entry, product)
                except ConfigError:
                    raise
                except TerminalError as exc:
                    log.warning("PricebookEntry %s: no Stripe price made: %s", entry_id, exc)
                    self.problems[entry_id] = str(exc)
        finally:
            push.flush()
        self.resolved.update(made)
        return made
