"""The few settings the catalog steps read, built once at the edge from ``Settings``.

Theory of operation: ``CatalogPush``, ``CatalogPull`` and ``EntitlementSync`` take a
``CatalogOptions`` (the field map, the ``[catalog]`` section and the default currency)
instead of the whole configuration, so what a step can depend on is visible in its
signature and a test builds one in a line. ``CatalogOptions.of`` is called where the
configuration is at hand (``catalog.context``); the Stripe account, its key, its rate
limit and its retries reach the steps as the account's ``StripeSession`` instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from sf_stripe_sync.catalog.settings import CatalogSettings
from sf_stripe_sync.config import Settings
from sf_stripe_sync.core.rules import FieldMap


@dataclass(frozen=True)
class CatalogOptions:
    """What the catalog steps read of the configuration."""

    fields: FieldMap
    """Salesforce field names (the Stripe id fields on Product2 and PricebookEntry ...)."""
    catalog: CatalogSettings
    """The ``[catalog]`` section: billing frequencies, feature fields, event page size."""
    default_currency: str
    """The currency of a PricebookEntry that names none (``rules.default_currency``)."""

    @classmethod
    def of(cls, settings: Settings) -> CatalogOptions:
        return cls(fields=settings.fields, catalog=settings.catalog,
                   default_currency=settings.rules.default_currency)
