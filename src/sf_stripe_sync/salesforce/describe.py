"""Which fields to read from each sObject, checked against the org's describe.

Theory of operation: ``wanted_fields`` lists, per sObject, the standard fields the
normalizer reads plus every field the configurable ``FieldMap`` names, on the sObjects
its ``ReadOn`` declaration gives (a new mapped field is selected with no edit here), each
marked required or optional. ``resolve_fields`` checks that list against the describe
(fetched once per connection by ``SalesforceConnection.fields_of``, all six sObjects in
one ``composite/batch`` call):

* a required field the org lacks is a ``ConfigError`` naming the object, the field and
  the setting that names it (``fields.order_item_price`` ...), with a hint when only
  the letter case differs;
* an optional field the org lacks (``CurrencyIsoCode`` in a single-currency org, the
  discount fields, collection method, days until due, default payment method,
  ``OriginalOrderItemId``, the Order's Stripe account field ...) is simply not read,
  so the normalizer falls back to its defaults.

``rules.metadata_map`` fields are read from the Order and/or the OrderItem, wherever
they exist; one that exists on neither is a ``ConfigError``. Every name is checked to be
a plain identifier before it goes near a query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sf_stripe_sync.core.rules import FieldMap, SyncRules, field_reads
from sf_stripe_sync.errors import ConfigError

ORDER = "Order"
ORDER_ITEM = "OrderItem"
ACCOUNT = "Account"
CONTRACT = "Contract"
PRICEBOOK_ENTRY = "PricebookEntry"
PRODUCT = "Product2"
SOBJECTS = (ORDER, ORDER_ITEM, ACCOUNT, CONTRACT, PRICEBOOK_ENTRY, PRODUCT)

_IDENTIFIER = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}$")

# (field, required) of the standard fields read from each object.
_STANDARD: dict[str, tuple[tuple[str, bool], ...]] = {
    ORDER: (
        ("Id", True), ("Status", True), ("AccountId", True), ("EffectiveDate", True),
        ("OrderNumber", False), ("Name", False), ("StatusCode", False), ("ContractId", False),
        ("Pricebook2Id", False), ("EndDate", False), ("Type", False),
        ("TotalAmount", False), ("LastModifiedDate", False), ("SystemModstamp", False),
    ),
    ORDER_ITEM: (
        ("Id", True), ("OrderId", True), ("Quantity", True), ("PricebookEntryId", False),
        ("Product2Id", False), ("UnitPrice", False), ("ServiceDate", False),
        ("EndDate", False), ("OriginalOrderItemId", False), ("OrderItemNumber", False),
        ("TotalPrice", False), ("LastModifiedDate", False), ("SystemModstamp", False),
    ),
    ACCOUNT: (("Id", True), ("Name", False)),
    CONTRACT: (
        ("Id", True), ("ContractNumber", False), ("AccountId", False),
        ("StartDate", False), ("EndDate", False), ("Status", False),
    ),
    PRICEBOOK_ENTRY: (
        ("Id", True), ("Product2Id", False), ("Pricebook2Id", False),
        ("UnitPrice", False), ("IsActive", False),
    ),
    PRODUCT: (("Id", True), ("Name", False), ("ProductCode", False), ("IsActive", False)),
}


@dataclass(frozen=True)
class WantedField:
    sobject: str
    name: str
    required: bool
    setting: str | None = None
    """The configuration key that names this field, for error messages."""


@dataclass(frozen=True)
class FieldSelection:
    """The fields actually read from each sObject (all known to exist in the org)."""

    order: tuple[str, ...]
    item: tuple[str, ...]
    account: tuple[str, ...]
    contract: tuple[str, ...]
    pricebook_entry: tuple[str, ...]
    product: tuple[str, ...]


def check_identifier(name: str, what: str) -> str:
    """``name`` if it is a plain Salesforce API name, else a ``ConfigError``."""
    if not _IDENTIFIER.match(name):
        raise ConfigError(f"{what} {name!r} is not a valid Salesforce API name")
    return name


def wanted_fields(
    fields: FieldMap,
    rules: SyncRules,
    extra_fields: Mapping[str, Sequence[str]] | None = None,
) -> list[WantedField]:
    """Every field the reader would like, standard and configured."""
    wanted = [
        WantedField(sobject, name, required)
        for sobject, pairs in _STANDARD.items()
        for name, required in pairs
    ]

    for setting, read in field_reads():  # each FieldMap field where it declares it is read
        name = getattr(fields, setting)
        required = read.required or bool(read.required_when
                                          and getattr(rules, read.required_when))
        if name:
            wanted.extend(WantedField(sobject, name, required, f"fields.{setting}")
                          for sobject in read.sobjects)
    for sobject, names in (extra_fields or {}).items():
        wanted.extend(WantedField(sobject, name, False, "extra_fields") for name in names)
    return wanted


def resolve_fields(
    fields: FieldMap,
    rules: SyncRules,
    available: Callable[[str], frozenset[str]],
    extra_fields: Mapping[str, Sequence[str]] | None = None,
) -> FieldSelection:
    """The fields to read, checked against ``available(sobject)`` (the describe)."""
    chosen: dict[str, list[str]] = {sobject: [] for sobject in SOBJECTS}
    for want in wanted_fields(fields, rules, extra_fields):
        if want.sobject not in chosen:
            raise ConfigError(f"extra_fields names an unknown sObject {want.sobject!r}")
        check_identifier(want.name, want.setting or f"{want.sobject} field")
        present = available(want.sobject)
        if want.name in present:
            if want.name not in chosen[want.sobject]:
                chosen[want.sobject].append(want.name)
        elif want.required:
            raise _missing(want, present)
    for name in rules.metadata_map:
        check_identifier(name, "rules.metadata_map field")
        homes = [s for s in (ORDER, ORDER_ITEM) if name in available(s)]
        if not homes:
            raise ConfigError(
                f"rules.metadata_map names {name}, which neither Order nor OrderItem has "
                f"in this Salesforce org"
            )
        for sobject in homes:
            if name not in chosen[sobject]:
                chosen[sobject].append(name)
    return FieldSelection(
        order=tuple(chosen[ORDER]),
        item=tuple(chosen[ORDER_ITEM]),
        account=tuple(chosen[ACCOUNT]),
        contract=tuple(chosen[CONTRACT]),
        pricebook_entry=tuple(chosen[PRICEBOOK_ENTRY]),
        product=tuple(chosen[PRODUCT]),
    )


def _missing(want: WantedField, present: frozenset[str]) -> ConfigError:
    by_case = {name.lower(): name for name in present}
    hint = ""
    if want.name.lower() in by_case:
        hint = f" (the org spells it {by_case[want.name.lower()]}; field names must match)"
    named_by = f", named by {want.setting}," if want.setting else ""
    return ConfigError(
        f"required field {want.sobject}.{want.name}{named_by} does not exist in this "
        f"Salesforce org{hint}: create it or change the configuration",
        code="missing_field",
        param=f"{want.sobject}.{want.name}",
    )
