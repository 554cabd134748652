"""Salesforce side of the catalog: Product2, PricebookEntry, Account and Contact records.

Theory of operation: every read is one SOQL query built with ``format_soql`` (values
quoted and escaped; field names checked as API names and kept to those the org's
describe has, so optional fields such as ``CurrencyIsoCode`` or the billing frequency
field are simply left out where the org lacks them, while the Stripe id fields the
catalog cannot work without are a ``ConfigError`` naming object and field). Pages are
followed with ``OrderReader.records``. Writes go through the project's
``SalesforceWriteBack`` (sObject collections); a record that fails is raised as a
``TerminalError`` naming it, so a half-written catalog is never reported as done.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from simple_salesforce.format import format_soql

from sf_stripe_sync.catalog.settings import CatalogSettings, PortalSettings
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.errors import ConfigError, TerminalError
from sf_stripe_sync.salesforce import soql
from sf_stripe_sync.salesforce.auth import SalesforceConnection
from sf_stripe_sync.salesforce.describe import check_identifier
from sf_stripe_sync.salesforce.reader import OrderReader, plain
from sf_stripe_sync.salesforce.writer import SalesforceWriteBack

Record = dict[str, Any]


class SalesforceCatalog:
    def __init__(self, conn: SalesforceConnection, writer: SalesforceWriteBack, *,
                 fields: FieldMap, catalog: CatalogSettings,
                 portal: PortalSettings | None = None) -> None:
        self.conn = conn
        self.writer = writer
        self.fields = fields
        self.catalog = catalog
        self.portal = portal or PortalSettings()
        self._reader = OrderReader(conn)
        self._standard_pricebook: str | None = catalog.standard_pricebook_id

    # ------------------------------------------------------------------ field lists

    def has_field(self, sobject: str, field: str) -> bool:
        return field.lower() in {f.lower() for f in self.conn.fields_of(sobject)}

    def _select(self, sobject: str, required: Sequence[str], optional: Sequence[str]) -> str:
        for name in (*required, *optional):
            check_identifier(name, f"{sobject} field")
        missing = [f for f in required if not self.has_field(sobject, f)]
        if missing:
            raise ConfigError(f"the Salesforce org has no field {sobject}.{missing[0]}; create "
                              "it or name another one in the configuration",
                              code="missing_field")
        present = [f for f in optional if self.has_field(sobject, f)]
        return ", ".join(dict.fromkeys(["Id", *required, *present]))

    def product_fields(self) -> str:
        c = self.catalog
        return self._select("Product2", ["Name", "IsActive", self.fields.product_stripe_id],
                            ["Description", "ProductCode", c.billing_frequency_field,
                             c.features_field])

    def entry_fields(self) -> str:
        return self._select("PricebookEntry",
                            ["Pricebook2Id", "Product2Id", "UnitPrice", "IsActive",
                             self.fields.pricebook_entry_price],
                            [self.fields.currency])

    def _records(self, query: str) -> list[Record]:
        return [plain(r) for r in self._reader.records(query)]

    # ------------------------------------------------------------------ products

    def products(self, ids: Sequence[str] | None = None) -> list[Record]:
        """Product2 records, by id, or every one."""
        select = self.product_fields()
        if ids is None:
            return self._records(f"SELECT {select} FROM Product2 ORDER BY Id")
        found: list[Record] = []
        for chunk in soql.chunked([i for i in ids if soql.is_record_id(i)]):
            found.extend(self._records(format_soql(
                f"SELECT {select} FROM Product2 WHERE Id IN {{}}", chunk)))
        return found

    def product_by_stripe_id(self, stripe_id: str) -> Record | None:
        field = check_identifier(self.fields.product_stripe_id, "Product2 field")
        found = self._records(format_soql(
            f"SELECT {self.product_fields()} FROM Product2 WHERE {field} = {{}} LIMIT 1",
            stripe_id))
        return found[0] if found else None

    # ------------------------------------------------------------------ pricebook entries

    def entries(self, ids: Sequence[str] | None = None,
                product_ids: Sequence[str] | None = None) -> list[Record]:
        """PricebookEntry records by id, by product, or every active one."""
        select = self.entry_fields()
        if ids is None and product_ids is None:
            return self._records(f"SELECT {select} FROM PricebookEntry WHERE IsActive = true "
                                 "ORDER BY Id")
        column, values = ("Id", ids) if ids is not None else ("Product2Id", product_ids)
        found: list[Record] = []
        for chunk in soql.chunked([v for v in values or () if soql.is_record_id(v)]):
            found.extend(self._records(format_soql(
                f"SELECT {select} FROM PricebookEntry WHERE {column} IN {{}}", chunk)))
        return found

    def entry_by_stripe_price(self, price_id: str) -> Record | None:
        field = check_identifier(self.fields.pricebook_entry_price, "PricebookEntry field")
        found = self._records(format_soql(
            f"SELECT {self.entry_fields()} FROM PricebookEntry WHERE {field} = {{}} LIMIT 1",
            price_id))
        return found[0] if found else None

    def standard_entry(self, product2_id: str, currency: str) -> Record | None:
        """The standard pricebook's entry of a product in a currency (Salesforce allows one)."""
        rows = self._records(format_soql(
            f"SELECT {self.entry_fields()} FROM PricebookEntry WHERE Product2Id = {{}} "
            "AND Pricebook2Id = {}", product2_id, self.standard_pricebook_id()))
        if self.has_field("PricebookEntry", self.fields.currency):
            rows = [r for r in rows
                    if str(r.get(self.fields.currency) or "").lower() == currency.lower()]
        return rows[0] if rows else None

    def standard_pricebook_id(self) -> str:
        if self._standard_pricebook is None:
            rows = self._records("SELECT Id FROM Pricebook2 WHERE IsStandard = true LIMIT 1")
            if not rows:
                raise ConfigError("the Salesforce org has no standard price book "
                                  "(Pricebook2 with IsStandard = true); set "
                                  "catalog.standard_pricebook_id", code="missing_record")
            self._standard_pricebook = str(rows[0]["Id"])
        return self._standard_pricebook

    # ------------------------------------------------------------------ accounts, contacts

    def account(self, account_id: str) -> Record | None:
        if not soql.is_record_id(account_id):
            return None
        field = check_identifier(self.fields.account_customer, "Account field")
        rows = self._records(format_soql(
            f"SELECT Id, Name, {field} FROM Account WHERE Id = {{}}", account_id))
        return rows[0] if rows else None

    def contact(self, contact_id: str) -> Record | None:
        if not soql.is_record_id(contact_id):
            return None
        role = check_identifier(self.portal.contact_role_field, "Contact field")
        select = "Id, AccountId" + (f", {role}" if self.has_field("Contact", role) else "")
        rows = self._records(format_soql(f"SELECT {select} FROM Contact WHERE Id = {{}}",
                                         contact_id))
        return rows[0] if rows else None

    # ------------------------------------------------------------------ writes

    def update(self, sobject: str, records: Sequence[Record]) -> None:
        if records:
            self._raise_failures(sobject, records, self.writer.update(sobject, records))

    def insert(self, sobject: str, record: Record) -> str:
        results = self.writer.insert(sobject, [record])
        self._raise_failures(sobject, [record], results)
        if not results[0].id:
            raise TerminalError(f"Salesforce created a {sobject} without answering its Id")
        return results[0].id

    def _raise_failures(self, sobject: str, records: Sequence[Record],
                        results: Iterable[Any]) -> None:
        for record, result in zip(records, results, strict=True):
            if not result.success:
                what = record.get("Id") or "(new record)"
                raise TerminalError(f"Salesforce refused {sobject} {what}: "
                                    f"{'; '.join(result.errors)}", code="write_failed")
