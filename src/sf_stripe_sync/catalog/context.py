"""What every catalog step needs, taken from an open ``runtime.Runtime``.

Theory of operation: ``open_runtime`` already logged in to Salesforce (or started the
local org) and pointed the Stripe accounts at Stripe (or the emulator). The catalog
reuses that connection and writer for Salesforce and builds its own SDK client per
Stripe account (``stripe_api.open_stripe``), cached for the life of the context.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sf_stripe_sync.catalog.memory import CatalogMemory
from sf_stripe_sync.catalog.salesforce_catalog import SalesforceCatalog
from sf_stripe_sync.catalog.stripe_api import StripeCalls, open_stripe
from sf_stripe_sync.config import Settings
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.runtime import Runtime
from sf_stripe_sync.salesforce.source import SalesforceOrderSource
from sf_stripe_sync.salesforce.writer import SalesforceWriteBack
from sf_stripe_sync.state.store import StateStore


@dataclass
class CatalogContext:
    settings: Settings
    salesforce: SalesforceCatalog
    store: StateStore
    memory: CatalogMemory
    _clients: dict[str, StripeCalls] = field(default_factory=dict)

    def stripe(self, account_name: str | None = None) -> StripeCalls:
        account = self.settings.stripe_account(account_name)
        client = self._clients.get(account.name)
        if client is None:
            client = open_stripe(self.settings, account)
            self._clients[account.name] = client
        return client


def catalog_context(rt: Runtime) -> CatalogContext:
    if not isinstance(rt.source, SalesforceOrderSource) or not isinstance(
            rt.writer, SalesforceWriteBack):
        raise ConfigError("the catalog needs a Salesforce connection (a real org or "
                          "--salesforce-sandbox)")
    settings = rt.settings
    salesforce = SalesforceCatalog(rt.source.conn, rt.writer, fields=settings.fields,
                                   catalog=settings.catalog, portal=settings.portal)
    return CatalogContext(settings=settings, salesforce=salesforce, store=rt.store,
                          memory=CatalogMemory.in_dir(settings.state_dir))
