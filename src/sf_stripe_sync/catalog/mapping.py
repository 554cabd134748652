"""Pure translation between Salesforce catalog records and Stripe products and prices.

Theory of operation: no I/O here. A Product2 record becomes a ``DesiredProduct`` (name,
active, description, ``salesforce_product2_id`` metadata); a PricebookEntry with its
Product2 becomes a ``DesiredPrice`` (unit amount in minor units of the entry's
currency, recurring interval and count from the Product2's billing frequency field,
licensed usage). ``*_matches`` decide whether what Stripe holds is already what
Salesforce wants: Stripe prices are immutable, so a price that does not match is
replaced by a new one, never edited. The reverse direction (``unit_price_of``,
``frequency_of``) turns a Stripe price back into PricebookEntry / Product2 values.
Bad data raises ``CatalogDataError`` naming the record and field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from sf_stripe_sync.catalog.settings import CatalogSettings, Interval
from sf_stripe_sync.core.limits import (
    FEATURE_NAME_MAX,
    PRODUCT_DESCRIPTION_MAX,
    PRODUCT_NAME_MAX,
    fit_text,
)
from sf_stripe_sync.core.metadata_keys import META_CUSTOM_PRICE, META_PRICEBOOK_ENTRY_ID
from sf_stripe_sync.core.money import currency_exponent, decimal_from_json, to_minor_units
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.errors import TerminalError

META_PRODUCT2 = "salesforce_product2_id"
META_ENTRY = META_PRICEBOOK_ENTRY_ID
META_CUSTOM = META_CUSTOM_PRICE
"""Set to "true" on the Prices the sync makes for negotiated amounts (never list prices)."""
FEATURE_SEPARATOR = ";"


class CatalogDataError(TerminalError):
    """A Salesforce catalog record cannot become a Stripe object as it is."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_record")


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class DesiredProduct:
    product2_id: str
    name: str
    active: bool
    description: str | None

    @property
    def metadata(self) -> dict[str, str]:
        return {META_PRODUCT2: self.product2_id}

    def fingerprint(self) -> str:
        return _digest(asdict(self))


@dataclass(frozen=True)
class DesiredPrice:
    entry_id: str
    product2_id: str
    unit_amount: int
    currency: str
    interval: Interval | None
    """None for a one-time price (Product2 frequency ``One-Time``)."""
    interval_count: int

    @property
    def metadata(self) -> dict[str, str]:
        return {META_ENTRY: self.entry_id, META_PRODUCT2: self.product2_id}

    def fingerprint(self) -> str:
        return _digest(asdict(self))


def _digest(values: Mapping[str, Any]) -> str:
    text = json.dumps(values, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def desired_product(record: Mapping[str, Any]) -> DesiredProduct:
    product_id = _text(record.get("Id"))
    if product_id is None:
        raise CatalogDataError("a Product2 record has no Id")
    name = _text(record.get("Name"))
    if name is None:
        raise CatalogDataError(f"Product2 {product_id}: Name is empty; Stripe needs a name")
    description = _text(record.get("Description"))
    return DesiredProduct(product2_id=product_id, name=fit_text(name, PRODUCT_NAME_MAX),
                          active=record.get("IsActive") is not False,
                          description=description and fit_text(description,
                                                               PRODUCT_DESCRIPTION_MAX))


def product_matches(stripe_product: Mapping[str, Any], desired: DesiredProduct) -> bool:
    metadata = stripe_product.get("metadata") or {}
    return (stripe_product.get("name") == desired.name
            and bool(stripe_product.get("active")) == desired.active
            and _text(stripe_product.get("description")) == desired.description
            and metadata.get(META_PRODUCT2) == desired.product2_id)


def billing_frequency(product: Mapping[str, Any], catalog: CatalogSettings
                      ) -> tuple[Interval | None, int]:
    """``(interval, interval_count)`` from the Product2's billing frequency field;
    ``(None, 1)`` for ``catalog.one_time_frequency`` (a one-time charge)."""
    field = catalog.billing_frequency_field
    raw = _text(product.get(field)) or catalog.default_frequency
    if raw is None:
        raise CatalogDataError(f"Product2 {product.get('Id')}: {field} is empty and no "
                               "default_frequency is configured")
    if raw.lower() == catalog.one_time_frequency.lower():
        return None, 1
    for name, frequency in catalog.frequencies.items():
        if name.lower() == raw.lower():
            return frequency.interval, frequency.interval_count
    raise CatalogDataError(f"Product2 {product.get('Id')}: {field} {raw!r} is not one of "
                           f"the configured frequencies {sorted(catalog.frequencies)}")


def frequency_of(interval: str, interval_count: int, catalog: CatalogSettings) -> str | None:
    """The configured frequency name of a Stripe recurring interval, if there is one."""
    for name, frequency in catalog.frequencies.items():
        if frequency.interval == interval and frequency.interval_count == interval_count:
            return name
    return None


def desired_price(entry: Mapping[str, Any], product: Mapping[str, Any], *,
                  fields: FieldMap, catalog: CatalogSettings,
                  default_currency: str) -> DesiredPrice:
    entry_id = _text(entry.get("Id"))
    if entry_id is None:
        raise CatalogDataError("a PricebookEntry record has no Id")
    currency = (_text(entry.get(fields.currency)) or default_currency).lower()
    if currency_exponent(currency) is None:
        raise CatalogDataError(f"PricebookEntry {entry_id}: unknown currency {currency!r}")
    raw = entry.get("UnitPrice")
    try:
        amount = to_minor_units(decimal_from_json(raw), currency)
    except ValueError as exc:
        raise CatalogDataError(f"PricebookEntry {entry_id}: UnitPrice {raw!r} is not an "
                               f"amount in {currency.upper()} ({exc})") from exc
    if amount < 0:
        raise CatalogDataError(f"PricebookEntry {entry_id}: UnitPrice must not be negative")
    interval, count = billing_frequency(product, catalog)
    return DesiredPrice(entry_id=entry_id, product2_id=str(product.get("Id")),
                        unit_amount=amount, currency=currency, interval=interval,
                        interval_count=count)


def price_matches(stripe_price: Mapping[str, Any], desired: DesiredPrice,
                  product_id: str) -> bool:
    """Whether a Stripe price bills exactly what the entry asks (activity aside)."""
    recurring = stripe_price.get("recurring") or {}
    return (stripe_price.get("unit_amount") == desired.unit_amount
            and str(stripe_price.get("currency") or "").lower() == desired.currency
            and stripe_price.get("product") == product_id
            and recurring.get("interval") == desired.interval
            and int(recurring.get("interval_count") or 1) == desired.interval_count
            # a usage price is never turned into a licensed one: Salesforce cannot say
            # how usage is metered, so the price made in Stripe stays the truth
            and (recurring.get("usage_type") or "licensed") in ("licensed", "metered"))


def unit_price_of(stripe_price: Mapping[str, Any]) -> Decimal:
    """A Stripe price's unit amount as a PricebookEntry UnitPrice (major units)."""
    currency = str(stripe_price.get("currency") or "").lower()
    exponent = currency_exponent(currency)
    if exponent is None:
        raise CatalogDataError(f"price {stripe_price.get('id')}: unknown currency {currency!r}")
    raw = stripe_price.get("unit_amount_decimal")
    if stripe_price.get("unit_amount") is not None:
        raw = stripe_price["unit_amount"]
    if raw is None:
        raise CatalogDataError(f"price {stripe_price.get('id')} has no unit amount (tiered or "
                               "customer-chosen prices have no PricebookEntry equivalent)")
    return decimal_from_json(raw).scaleb(-exponent)


def same_amount(salesforce_value: object, wanted: Decimal) -> bool:
    try:
        return decimal_from_json(salesforce_value) == wanted
    except ValueError:
        return False


def features_of(product: Mapping[str, Any], field: str) -> tuple[str, ...]:
    """The feature lookup keys of a Product2's multi-select field, sorted and unique."""
    raw = _text(product.get(field))
    if raw is None:
        return ()
    return tuple(sorted({part.strip() for part in raw.split(FEATURE_SEPARATOR)
                         if part.strip()}))


def feature_name(lookup_key: str, names: Mapping[str, str]) -> str:
    """The configured name of a feature, else its lookup key made readable."""
    configured = names.get(lookup_key)
    if configured:
        return fit_text(configured, FEATURE_NAME_MAX)
    readable = lookup_key.replace("_", " ").replace("-", " ").strip().capitalize()
    return fit_text(readable or lookup_key, FEATURE_NAME_MAX)
