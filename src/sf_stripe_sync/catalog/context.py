"""What every catalog step needs, taken from an open ``runtime.Runtime``.

Theory of operation: ``open_runtime`` already logged in to Salesforce (or started the
local org) and opened the Stripe accounts (or pointed them at the emulator). The
catalog reuses that connection and writer for Salesforce, and each Stripe account's one
session (``Runtime.stripe_session``), the one the sync gateway sends through: one rate
limiter, one retry policy, one error mapping per account. ``options`` is the narrow
slice of the configuration the catalog steps read (``options.CatalogOptions``).
``price_resolver_for`` gives the sync engine (command, ``serve``, queue workers) its
missing-price hook, a ``CatalogPush`` on the same context.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sf_stripe_sync.catalog.memory import CatalogMemory
from sf_stripe_sync.catalog.options import CatalogOptions
from sf_stripe_sync.catalog.push import CatalogPush
from sf_stripe_sync.catalog.resolver import MissingPriceResolver
from sf_stripe_sync.catalog.salesforce_catalog import SalesforceCatalog
from sf_stripe_sync.config import Settings, StripeAccountSettings
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.runtime import Runtime
from sf_stripe_sync.salesforce.source import SalesforceOrderSource
from sf_stripe_sync.salesforce.writer import SalesforceWriteBack
from sf_stripe_sync.state.store import StateStore
from sf_stripe_sync.stripe.session import StripeSession


@dataclass
class CatalogContext:
    settings: Settings
    salesforce: SalesforceCatalog
    store: StateStore
    memory: CatalogMemory
    sessions: Callable[[StripeAccountSettings], StripeSession]

    @property
    def options(self) -> CatalogOptions:
        return CatalogOptions.of(self.settings)

    def stripe(self, account_name: str | None = None) -> StripeSession:
        """The named (else the default) Stripe account's session."""
        return self.sessions(self.settings.stripe_account(account_name))


def catalog_context(rt: Runtime) -> CatalogContext:
    if not isinstance(rt.source, SalesforceOrderSource) or not isinstance(
            rt.writer, SalesforceWriteBack):
        raise ConfigError("the catalog needs a Salesforce connection (a real org or "
                          "--salesforce-sandbox)")
    if rt.stripe_session is None:
        raise ConfigError("the catalog needs the runtime's Stripe accounts")
    settings = rt.settings
    salesforce = SalesforceCatalog(rt.source.conn, rt.writer, fields=settings.fields,
                                   catalog=settings.catalog, portal=settings.portal)
    return CatalogContext(settings=settings, salesforce=salesforce, store=rt.store,
                          memory=CatalogMemory.in_dir(settings.state_dir),
                          sessions=rt.stripe_session)


def make_push(ctx: CatalogContext, account: str | None) -> CatalogPush:
    return CatalogPush(ctx.salesforce, ctx.stripe(account), ctx.options)


def price_resolver_for(rt: Runtime) -> MissingPriceResolver | None:
    """The engine's missing-price hook, when ``rules.create_missing_prices`` is on."""
    if not rt.settings.rules.create_missing_prices:
        return None
    ctx = catalog_context(rt)
    return MissingPriceResolver(lambda account: make_push(ctx, account), rt.settings.fields)
