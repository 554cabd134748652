"""Salesforce catalog records -> desired Stripe products and prices, and back."""

from __future__ import annotations

from decimal import Decimal

import pytest

from sf_stripe_sync.catalog.mapping import (
    CatalogDataError,
    desired_price,
    desired_product,
    feature_name,
    features_of,
    frequency_of,
    price_matches,
    unit_price_of,
)
from sf_stripe_sync.catalog.settings import CatalogSettings
from sf_stripe_sync.core.rules import FieldMap

FIELDS = FieldMap()
CATALOG = CatalogSettings()
PRODUCT = {"Id": "01t000000000001AAA", "Name": "Platform", "IsActive": True,
           "Billing_Frequency__c": "Quarterly"}


def _entry(amount: object, currency: str = "USD") -> dict[str, object]:
    return {"Id": "01u000000000001AAA", "UnitPrice": amount, "CurrencyIsoCode": currency}


def _price(entry: dict[str, object], product: dict[str, object] = PRODUCT) -> object:
    return desired_price(entry, product, fields=FIELDS, catalog=CATALOG, default_currency="usd")


@pytest.mark.parametrize(("amount", "currency", "minor"), [
    (Decimal("12.50"), "USD", 1250), (1500, "JPY", 1500), (Decimal("1.234"), "KWD", 1234),
    (0, "EUR", 0),
])
def test_unit_price_becomes_minor_units_of_the_entry_currency(
        amount: object, currency: str, minor: int) -> None:
    price = desired_price(_entry(amount, currency), PRODUCT, fields=FIELDS, catalog=CATALOG,
                          default_currency="usd")
    assert price.unit_amount == minor and price.currency == currency.lower()


def test_billing_frequency_field_sets_interval_and_count() -> None:
    price = desired_price(_entry(10), PRODUCT, fields=FIELDS, catalog=CATALOG,
                          default_currency="usd")
    assert (price.interval, price.interval_count) == ("month", 3)
    annual = {**PRODUCT, "Billing_Frequency__c": "annual"}
    price = desired_price(_entry(10), annual, fields=FIELDS, catalog=CATALOG,
                          default_currency="usd")
    assert (price.interval, price.interval_count) == ("year", 1)


def test_a_blank_frequency_uses_the_default_and_an_unknown_one_is_refused() -> None:
    blank = {**PRODUCT, "Billing_Frequency__c": None}
    price = desired_price(_entry(10), blank, fields=FIELDS, catalog=CATALOG,
                          default_currency="usd")
    assert (price.interval, price.interval_count) == ("month", 1)
    with pytest.raises(CatalogDataError, match="Fortnightly"):
        desired_price(_entry(10), {**PRODUCT, "Billing_Frequency__c": "Fortnightly"},
                      fields=FIELDS, catalog=CATALOG, default_currency="usd")


def test_an_amount_finer_than_the_currency_allows_is_refused() -> None:
    with pytest.raises(CatalogDataError, match="01u000000000001AAA"):
        desired_price(_entry(Decimal("10.5"), "JPY"), PRODUCT, fields=FIELDS, catalog=CATALOG,
                      default_currency="usd")


def test_a_product_needs_a_name() -> None:
    with pytest.raises(CatalogDataError, match="Name"):
        desired_product({"Id": "01t000000000001AAA", "Name": "  "})
    assert desired_product({"Id": "01t000000000001AAA", "Name": "A", "IsActive": False}
                           ).active is False


def test_a_price_matches_only_when_amount_currency_product_and_interval_agree() -> None:
    desired = desired_price(_entry(10), PRODUCT, fields=FIELDS, catalog=CATALOG,
                            default_currency="usd")
    stripe_price = {"unit_amount": 1000, "currency": "usd", "product": "prod_A",
                    "recurring": {"interval": "month", "interval_count": 3,
                                  "usage_type": "licensed"}}
    assert price_matches(stripe_price, desired, "prod_A")
    assert not price_matches({**stripe_price, "unit_amount": 1001}, desired, "prod_A")
    assert not price_matches(stripe_price, desired, "prod_B")
    assert not price_matches({**stripe_price, "recurring": {"interval": "month"}}, desired,
                             "prod_A")


def test_stripe_amounts_come_back_as_major_units() -> None:
    assert unit_price_of({"unit_amount": 1250, "currency": "usd"}) == Decimal("12.50")
    assert unit_price_of({"unit_amount": 1500, "currency": "jpy"}) == Decimal(1500)
    with pytest.raises(CatalogDataError):
        unit_price_of({"id": "price_tiered", "unit_amount": None, "currency": "usd"})


def test_recurring_intervals_map_back_to_configured_frequencies() -> None:
    assert frequency_of("month", 3, CATALOG) == "Quarterly"
    assert frequency_of("day", 2, CATALOG) is None


def test_feature_field_is_split_trimmed_and_deduplicated() -> None:
    product = {"Stripe_Features__c": " sso;api_access;;sso "}
    assert features_of(product, "Stripe_Features__c") == ("api_access", "sso")
    assert features_of({}, "Stripe_Features__c") == ()


def test_feature_names_come_from_config_else_the_key() -> None:
    assert feature_name("sso", {"sso": "Single sign-on"}) == "Single sign-on"
    assert feature_name("api_access", {}) == "Api access"
