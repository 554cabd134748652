"""The org's schema: which sObjects exist, their fields, types and relationships.

Theory of operation: a real org's schema comes from metadata; the local org derives it
from three sources, merged in this order:

1. a fixed list of standard fields per standard object (``STANDARD_FIELDS``) plus the
   system fields every object has (Id, CreatedDate, SystemModstamp, ...);
2. the project's custom fields (``core.rules.FieldMap`` defaults), placed on the object
   each belongs to, and the custom objects ``Sync_Log__c`` and ``Stripe_Invoice__c``
   (with the billing state fields, ``billing_state.settings``), which exist even when
   the snapshot holds none;
3. every field seen in the snapshot's records, with its type inferred from the values.

Relationships follow Salesforce naming: a lookup ``AccountId`` is the relationship
``Account``; a custom lookup ``Order__c`` is ``Order__r``. A lookup's target comes from
the fixed table, else from the key prefix of the ids it holds, else from its name.
Child relationships (``Order.OrderItems``) come from a small standard table plus the
derived custom ones (``Sync_Log__c.Order__c`` gives ``Order.Sync_Logs__r``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sf_stripe_sync.billing_state.settings import BillingStateSettings
from sf_stripe_sync.catalog.settings import CatalogSettings, PortalSettings
from sf_stripe_sync.core.rules import FieldMap

ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
DATE_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_PATTERN = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})$"
)

STANDARD_KEY_PREFIXES: dict[str, str] = {
    "Account": "001",
    "Contract": "800",
    "Order": "801",
    "OrderItem": "802",
    "Product2": "01t",
    "PricebookEntry": "01u",
    "Pricebook2": "01s",
    "User": "005",
    "Contact": "003",
}

# name, type, reference target ("" = none), updateable, createable
_F = tuple[str, str, str, bool, bool]

SYSTEM_FIELDS: tuple[_F, ...] = (
    ("Id", "id", "", False, False),
    ("IsDeleted", "boolean", "", False, False),
    ("CreatedDate", "datetime", "", False, False),
    ("CreatedById", "reference", "User", False, False),
    ("LastModifiedDate", "datetime", "", False, False),
    ("LastModifiedById", "reference", "User", False, False),
    ("SystemModstamp", "datetime", "", False, False),
)

STANDARD_FIELDS: dict[str, tuple[_F, ...]] = {
    "Account": (
        ("Name", "string", "", True, True),
        ("Type", "picklist", "", True, True),
        ("OwnerId", "reference", "User", True, True),
        ("BillingCountry", "string", "", True, True),
    ),
    "Contract": (
        ("AccountId", "reference", "Account", True, True),
        ("Status", "picklist", "", True, True),
        ("StatusCode", "picklist", "", False, False),
        ("StartDate", "date", "", True, True),
        ("EndDate", "date", "", False, False),
        ("ContractTerm", "int", "", True, True),
        ("ContractNumber", "string", "", False, False),
        ("Pricebook2Id", "reference", "Pricebook2", True, True),
        ("OwnerId", "reference", "User", True, True),
    ),
    "Order": (
        ("Name", "string", "", True, True),
        ("AccountId", "reference", "Account", True, True),
        ("ContractId", "reference", "Contract", True, True),
        ("Pricebook2Id", "reference", "Pricebook2", True, True),
        ("OriginalOrderId", "reference", "Order", False, True),
        ("OwnerId", "reference", "User", True, True),
        ("Status", "picklist", "", True, True),
        ("StatusCode", "picklist", "", False, False),
        ("Type", "picklist", "", True, True),
        ("EffectiveDate", "date", "", True, True),
        ("EndDate", "date", "", True, True),
        ("ActivatedDate", "datetime", "", True, True),
        ("OrderNumber", "string", "", False, False),
        ("TotalAmount", "currency", "", False, False),
        ("Description", "textarea", "", True, True),
    ),
    "OrderItem": (
        ("OrderId", "reference", "Order", False, True),
        ("Product2Id", "reference", "Product2", False, True),
        ("PricebookEntryId", "reference", "PricebookEntry", False, True),
        ("OriginalOrderItemId", "reference", "OrderItem", False, True),
        ("Quantity", "double", "", True, True),
        ("UnitPrice", "currency", "", True, True),
        ("ListPrice", "currency", "", False, False),
        ("TotalPrice", "currency", "", False, False),
        ("ServiceDate", "date", "", True, True),
        ("EndDate", "date", "", True, True),
        ("OrderItemNumber", "string", "", False, False),
        ("Description", "string", "", True, True),
    ),
    "PricebookEntry": (
        ("Name", "string", "", False, False),
        ("Pricebook2Id", "reference", "Pricebook2", False, True),
        ("Product2Id", "reference", "Product2", False, True),
        ("UnitPrice", "currency", "", True, True),
        ("IsActive", "boolean", "", True, True),
        ("UseStandardPrice", "boolean", "", True, True),
        ("ProductCode", "string", "", False, False),
    ),
    "Product2": (
        ("Name", "string", "", True, True),
        ("ProductCode", "string", "", True, True),
        ("Description", "textarea", "", True, True),
        ("Family", "picklist", "", True, True),
        ("IsActive", "boolean", "", True, True),
    ),
    "Pricebook2": (
        ("Name", "string", "", True, True),
        ("IsActive", "boolean", "", True, True),
        ("IsStandard", "boolean", "", False, False),
    ),
    "User": (
        ("Name", "string", "", False, False),
        ("Username", "string", "", True, True),
        ("Email", "string", "", True, True),
    ),
}

# (parent, relationship name) -> (child sObject, lookup field on the child)
STANDARD_CHILD_RELATIONSHIPS: dict[tuple[str, str], tuple[str, str]] = {
    ("Order", "OrderItems"): ("OrderItem", "OrderId"),
    ("Account", "Orders"): ("Order", "AccountId"),
    ("Account", "Contracts"): ("Contract", "AccountId"),
    ("Contract", "Orders"): ("Order", "ContractId"),
    ("Product2", "PricebookEntries"): ("PricebookEntry", "Product2Id"),
    ("Pricebook2", "PricebookEntries"): ("PricebookEntry", "Pricebook2Id"),
    ("PricebookEntry", "OrderItems"): ("OrderItem", "PricebookEntryId"),
}


def _project_custom_fields(fm: FieldMap) -> dict[str, list[tuple[str, str, str]]]:
    """The project's custom fields (name, type, reference target) per sObject: the
    same ones ``sfdx/`` deploys to a real org (a test keeps the two in step)."""
    catalog, portal = CatalogSettings(), PortalSettings()
    order_and_item = [
        (fm.collection_method, "picklist", ""),
        (fm.days_until_due, "double", ""),
        (fm.discount_amount_off, "currency", ""),
        (fm.discount_percent_off, "percent", ""),
    ]
    return {
        "Account": [(fm.account_customer, "string", "")],
        "Contract": [(fm.contract_schedule, "string", "")],
        "Order": [
            (fm.order_schedule, "string", ""),
            (fm.order_stripe_account, "string", ""),
            (fm.sync_status, "picklist", ""),
            (fm.sync_error, "textarea", ""),
            (fm.last_synced_at, "datetime", ""),
            *order_and_item,
        ],
        "OrderItem": [(fm.order_item_price, "string", ""), *order_and_item],
        "PricebookEntry": [(fm.pricebook_entry_price, "string", "")],
        "Product2": [(fm.product_stripe_id, "string", ""),
                     (catalog.billing_frequency_field, "picklist", ""),
                     (catalog.features_field, "multipicklist", "")],
        "Contact": [(portal.contact_role_field, "picklist", "")],
        fm.sync_log_object: [
            ("Name", "string", ""),
            (fm.sync_log_order, "reference", "Order"),
            (fm.sync_log_operation, "string", ""),
            (fm.sync_log_status, "string", ""),
            (fm.sync_log_message, "textarea", ""),
            (fm.sync_log_idempotency_key, "string", ""),
            (fm.sync_log_request_id, "string", ""),
            (fm.sync_log_sync_key, "string", ""),
        ],
    }


def _external_ids(fm: FieldMap) -> set[tuple[str, str]]:
    """(sObject, field) of the project's unique external-id fields."""
    bs = BillingStateSettings()
    return {(fm.sync_log_object.lower(), fm.sync_log_sync_key.lower()),
            (bs.invoice_object.lower(), bs.invoice_id.lower())}


def _with_billing_state(found: dict[str, list[tuple[str, str, str]]]
                        ) -> dict[str, list[tuple[str, str, str]]]:
    """Add the billing state fields (Contract, Order) and the invoice object."""
    bs = BillingStateSettings()
    state = [(bs.schedule_status, "picklist", ""), (bs.subscription_id, "string", ""),
             (bs.subscription_status, "picklist", ""), (bs.phase_start, "datetime", ""),
             (bs.phase_end, "datetime", ""), (bs.next_invoice_date, "datetime", "")]
    merged = {name: list(fields) for name, fields in found.items()}
    for sobject in ("Contract", "Order"):
        merged.setdefault(sobject, []).extend(state)
    merged[bs.invoice_object] = [
        ("Name", "string", ""), (bs.invoice_id, "string", ""),
        (bs.invoice_number, "string", ""), (bs.invoice_status, "picklist", ""),
        (bs.invoice_currency, "string", ""), (bs.amount_due, "double", ""),
        (bs.amount_paid, "double", ""), (bs.amount_remaining, "double", ""),
        (bs.period_start, "datetime", ""), (bs.period_end, "datetime", ""),
        (bs.due_date, "date", ""), (bs.hosted_invoice_url, "url", ""),
        (bs.invoice_customer, "string", ""), (bs.invoice_subscription, "string", ""),
        (bs.invoice_schedule, "string", ""), (bs.invoice_account, "reference", "Account"),
        (bs.invoice_contract, "reference", "Contract"),
        (bs.invoice_order, "reference", "Order"),
    ]
    return merged


@dataclass
class FieldSpec:
    name: str
    type: str
    reference_to: str = ""
    updateable: bool = True
    createable: bool = True
    external_id: bool = False
    unique: bool = False

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    @property
    def relationship_name(self) -> str | None:
        if self.type not in ("reference",):
            return None
        if self.custom:
            return self.name[:-3] + "__r"
        if self.name.endswith("Id") and len(self.name) > 2:
            return self.name[:-2]
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.name.removesuffix("__c").replace("_", " "),
            "type": self.type,
            "nillable": self.name != "Id" and self.type != "boolean",
            "updateable": self.updateable,
            "createable": self.createable,
            "custom": self.custom,
            "externalId": self.external_id,
            "unique": self.unique,
            "referenceTo": [self.reference_to] if self.reference_to else [],
            "relationshipName": self.relationship_name,
        }


@dataclass
class ObjectSpec:
    name: str
    key_prefix: str
    fields: dict[str, FieldSpec] = field(default_factory=dict)  # keyed by lower-case name

    @property
    def custom(self) -> bool:
        return self.name.endswith("__c")

    def field(self, name: str) -> FieldSpec | None:
        return self.fields.get(name.lower())

    def add(self, spec: FieldSpec) -> None:
        self.fields.setdefault(spec.name.lower(), spec)

    def lookup_for_relationship(self, relationship: str) -> FieldSpec | None:
        wanted = relationship.lower()
        for spec in self.fields.values():
            rel = spec.relationship_name
            if rel is not None and rel.lower() == wanted:
                return spec
        return None


def _infer_type(name: str, values: Iterable[Any], prefixes: Mapping[str, str]) -> tuple[str, str]:
    """A field's (type, reference target) from the values the snapshot holds."""
    seen = [v for v in values if v is not None]
    if not seen:
        return "anyType", ""
    sample = seen[0]
    if isinstance(sample, bool):
        return "boolean", ""
    if isinstance(sample, int | float):
        return "double", ""
    if not isinstance(sample, str):
        return "anyType", ""
    if all(isinstance(v, str) and DATE_PATTERN.match(v) for v in seen):
        return "date", ""
    if all(isinstance(v, str) and DATETIME_PATTERN.match(v) for v in seen):
        return "datetime", ""
    looks_like_lookup = name.endswith("Id") or name.endswith("__c")
    if looks_like_lookup and all(isinstance(v, str) and ID_PATTERN.match(v) for v in seen):
        targets = {prefixes.get(v[:3]) for v in seen}
        if len(targets) == 1 and None not in targets:
            return "reference", str(targets.pop())
    return "string", ""


class OrgSchema:
    """Every sObject the org knows, built once from the snapshot at start."""

    def __init__(self, snapshot: Mapping[str, list[dict[str, Any]]]) -> None:
        self.objects: dict[str, ObjectSpec] = {}
        fm = FieldMap()
        custom_fields = _with_billing_state(_project_custom_fields(fm))
        names = [*STANDARD_KEY_PREFIXES, *custom_fields, *snapshot]
        for name in names:
            if name.lower() not in self.objects:
                self.objects[name.lower()] = ObjectSpec(name, self._prefix_for(name, snapshot))
        prefixes = {o.key_prefix: o.name for o in self.objects.values()}
        for obj in self.objects.values():
            for fname, ftype, target, upd, crt in (
                *SYSTEM_FIELDS, *STANDARD_FIELDS.get(obj.name, ())
            ):
                obj.add(FieldSpec(fname, ftype, target, upd, crt))
            for fname, ftype, target in custom_fields.get(obj.name, ()):
                keyed = (obj.name.lower(), fname.lower()) in _external_ids(fm)
                obj.add(FieldSpec(fname, ftype, target, external_id=keyed, unique=keyed))
            records = snapshot.get(obj.name, [])
            seen_names: dict[str, None] = {}
            for record in records:
                for key in record:
                    if key != "attributes":
                        seen_names.setdefault(key, None)
            for fname in seen_names:
                if obj.field(fname) is None:
                    ftype, target = _infer_type(fname, (r.get(fname) for r in records), prefixes)
                    if not target and ftype in ("anyType", "string") and fname.endswith("__c"):
                        guess = self.objects.get(fname[:-3].lower())
                        if guess is not None and ftype == "anyType":
                            ftype, target = "reference", guess.name
                    obj.add(FieldSpec(fname, ftype, target))

    def _prefix_for(self, name: str, snapshot: Mapping[str, list[dict[str, Any]]]) -> str:
        if name in STANDARD_KEY_PREFIXES:
            return STANDARD_KEY_PREFIXES[name]
        for record in snapshot.get(name, []):
            rid = record.get("Id")
            if isinstance(rid, str) and ID_PATTERN.match(rid):
                return rid[:3]
        taken = {o.key_prefix for o in self.objects.values()}
        lead = "a0" if name.endswith("__c") else "0Z"
        n = 1
        alphabet = "123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        while f"{lead}{alphabet[n - 1]}" in taken:
            n += 1
        return f"{lead}{alphabet[n - 1]}"

    def find(self, name: str) -> ObjectSpec | None:
        return self.objects.get(name.lower())

    def object_for_id(self, record_id: str) -> ObjectSpec | None:
        for obj in self.objects.values():
            if record_id.startswith(obj.key_prefix):
                return obj
        return None

    def child_relationship(
        self, parent: ObjectSpec, relationship: str
    ) -> tuple[ObjectSpec, FieldSpec] | None:
        """The child sObject and its lookup field behind ``parent.<relationship>``."""
        for (p, rel), (child, lookup) in STANDARD_CHILD_RELATIONSHIPS.items():
            if p == parent.name and rel.lower() == relationship.lower():
                child_obj = self.find(child)
                if child_obj is not None:
                    spec = child_obj.field(lookup)
                    if spec is not None:
                        return child_obj, spec
        for rel, child_obj, spec in self.custom_child_relationships(parent):
            if rel.lower() == relationship.lower():
                return child_obj, spec
        return None

    def custom_child_relationships(
        self, parent: ObjectSpec
    ) -> list[tuple[str, ObjectSpec, FieldSpec]]:
        found = []
        for child in self.objects.values():
            for spec in child.fields.values():
                if spec.custom and spec.type == "reference" and spec.reference_to == parent.name:
                    base = child.name.removesuffix("__c")
                    found.append((f"{base}s__r", child, spec))
        return found

    def child_relationships(self, parent: ObjectSpec) -> list[tuple[str, ObjectSpec, FieldSpec]]:
        result = []
        for (p, rel), (child, lookup) in STANDARD_CHILD_RELATIONSHIPS.items():
            child_obj = self.find(child)
            if p == parent.name and child_obj is not None:
                spec = child_obj.field(lookup)
                if spec is not None:
                    result.append((rel, child_obj, spec))
        return result + self.custom_child_relationships(parent)

    def describe(self, obj: ObjectSpec, base_path: str) -> dict[str, Any]:
        url = f"{base_path}/sobjects/{obj.name}"
        return {
            "name": obj.name,
            "label": obj.name.removesuffix("__c").replace("_", " "),
            "keyPrefix": obj.key_prefix,
            "custom": obj.custom,
            "createable": True,
            "updateable": True,
            "queryable": True,
            "fields": [spec.describe() for spec in obj.fields.values()],
            "childRelationships": [
                {"childSObject": child.name, "field": spec.name, "relationshipName": rel}
                for rel, child, spec in self.child_relationships(obj)
            ],
            "urls": {"sobject": url, "describe": f"{url}/describe", "rowTemplate": f"{url}/{{ID}}"},
        }

    def describe_global(self, base_path: str) -> dict[str, Any]:
        return {
            "encoding": "UTF-8",
            "maxBatchSize": 200,
            "sobjects": [
                {
                    "name": o.name,
                    "label": o.name.removesuffix("__c").replace("_", " "),
                    "keyPrefix": o.key_prefix,
                    "custom": o.custom,
                    "queryable": True,
                    "createable": True,
                    "updateable": True,
                    "urls": {"sobject": f"{base_path}/sobjects/{o.name}"},
                }
                for o in self.objects.values()
            ],
        }
