"""What the Salesforce org must hold: every configured object and field, with its type.

Theory of operation: ``requirements(settings)`` lists, from the configuration (so a
renamed field is checked under its configured name), each custom field the engine
reads or writes: the sObject, the API name, the setting that names it, the describe
types it may have (``kinds``), the SFDX type and length shipped in ``sfdx/`` for the
default name (``sfdx_type``, ``length``), what the engine does with it (``access``:
read, update, create) and who needs it (``scope``: ``sync``, ``catalog`` or ``billing``).
``required`` is False for the fields the reader leaves out when the org lacks them.

This one table feeds ``sf-stripe-sync check`` (compared with the org's describe) and the
metadata test (compared with the SFDX XML and the local org), so the three cannot drift.
Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sf_stripe_sync.config import Settings

Access = Literal["read", "update", "create"]
Scope = Literal["sync", "catalog", "billing"]

TEXT = frozenset({"string"})
LONG_TEXT = frozenset({"textarea", "string"})
PICKLIST = frozenset({"picklist", "string"})
NUMBER = frozenset({"double", "int"})
CURRENCY = frozenset({"currency", "double"})
PERCENT = frozenset({"percent", "double"})

SYNC_LOG_LABEL = "Sync Log"
LONG_TEXT_LENGTH = 32768
"""What ``sfdx/`` ships for long text fields (the engine writes at most 32,000)."""


@dataclass(frozen=True)
class FieldRequirement:
    sobject: str
    name: str
    setting: str
    kinds: frozenset[str]
    """Describe ``type`` values the engine can use."""
    sfdx_type: str
    """The field's ``<type>`` in the SFDX metadata (Text, LongTextArea, Picklist ...)."""
    access: Access = "read"
    scope: Scope = "sync"
    required: bool = True
    length: int | None = None
    """Minimum length for text fields (what the engine writes or Stripe ids need)."""
    reference_to: str | None = None
    picklist: tuple[str, ...] = ()
    precision: int | None = None
    scale: int | None = None
    external_id: bool = False
    """Must be a unique External ID (upserts match on it)."""

    @property
    def expected(self) -> str:
        """The expected type, as a person creating the field reads it."""
        if self.sfdx_type == "Lookup":
            return f"Lookup({self.reference_to})"
        if self.sfdx_type == "LongTextArea":
            return f"LongTextArea({LONG_TEXT_LENGTH})"
        if self.length is not None and self.sfdx_type == "Text":
            unique = ", External ID, Unique" if self.external_id else ""
            return f"Text({self.length}{unique})"
        if self.precision is not None:
            return f"{self.sfdx_type}({self.precision},{self.scale or 0})"
        return self.sfdx_type


def _text(sobject: str, name: str, setting: str, access: Access = "read", *,
          scope: Scope = "sync", required: bool = True) -> FieldRequirement:
    return FieldRequirement(sobject, name, setting, TEXT, "Text", access, scope, required,
                            length=255)


def _order_and_item(settings: Settings) -> list[FieldRequirement]:
    f = settings.fields
    found: list[FieldRequirement] = []
    for sobject in ("Order", "OrderItem"):
        found += [
            FieldRequirement(sobject, f.collection_method, "fields.collection_method", PICKLIST,
                             "Picklist", required=False,
                             picklist=("charge_automatically", "send_invoice")),
            FieldRequirement(sobject, f.days_until_due, "fields.days_until_due", NUMBER,
                             "Number", required=False, precision=3, scale=0),
            FieldRequirement(sobject, f.discount_amount_off, "fields.discount_amount_off",
                             CURRENCY, "Currency", required=False, precision=16, scale=2),
            FieldRequirement(sobject, f.discount_percent_off, "fields.discount_percent_off",
                             PERCENT, "Percent", required=False, precision=5, scale=2),
        ]
    return found


def _sync_log(settings: Settings) -> list[FieldRequirement]:
    f = settings.fields
    log = f.sync_log_object
    return [
        FieldRequirement(log, f.sync_log_order, "fields.sync_log_order",
                         frozenset({"reference"}), "Lookup", "create", reference_to="Order"),
        FieldRequirement(log, f.sync_log_operation, "fields.sync_log_operation", PICKLIST,
                         "Text", "create", length=40),
        FieldRequirement(log, f.sync_log_status, "fields.sync_log_status", PICKLIST, "Text",
                         "create", length=40),
        FieldRequirement(log, f.sync_log_message, "fields.sync_log_message", LONG_TEXT,
                         "LongTextArea", "create", length=32000),
        _text(log, f.sync_log_idempotency_key, "fields.sync_log_idempotency_key", "create"),
        _text(log, f.sync_log_request_id, "fields.sync_log_request_id", "create"),
        FieldRequirement(log, f.sync_log_sync_key, "fields.sync_log_sync_key", TEXT, "Text",
                         "create", length=255, external_id=True),
    ]


def _catalog(settings: Settings) -> list[FieldRequirement]:
    c, p = settings.catalog, settings.portal
    found = [
        FieldRequirement("Product2", c.billing_frequency_field, "catalog.billing_frequency_field",
                         PICKLIST, "Picklist", scope="catalog", picklist=tuple(c.frequencies)),
        FieldRequirement("Product2", c.features_field, "catalog.features_field",
                         frozenset({"multipicklist", "string", "textarea"}),
                         "MultiselectPicklist", scope="catalog", required=False),
    ]
    if p.contact_role_field:
        found.append(FieldRequirement("Contact", p.contact_role_field, "portal.contact_role_field",
                                      PICKLIST, "Picklist", scope="catalog", required=False,
                                      picklist=tuple(p.roles)))
    return found


def requirements(settings: Settings) -> list[FieldRequirement]:
    """Every custom field the configuration names, in a stable order."""
    f = settings.fields
    found = [
        _text("OrderItem", f.order_item_price, "fields.order_item_price"),
        _text("PricebookEntry", f.pricebook_entry_price, "fields.pricebook_entry_price",
              "update"),
        _text("Product2", f.product_stripe_id, "fields.product_stripe_id", "update",
              scope="sync" if settings.rules.create_missing_prices else "catalog"),
        _text("Account", f.account_customer, "fields.account_customer", "update"),
        _text("Order", f.order_schedule, "fields.order_schedule", "update"),
        _text("Contract", f.contract_schedule, "fields.contract_schedule", "update"),
        FieldRequirement("Order", f.order_stripe_account, "fields.order_stripe_account",
                         PICKLIST, "Text", required=False, length=80),
        *_order_and_item(settings),
        FieldRequirement("Order", f.sync_status, "fields.sync_status", PICKLIST, "Picklist",
                         "update", picklist=("Synced", "Canceled", "Error")),
        FieldRequirement("Order", f.sync_error, "fields.sync_error", LONG_TEXT, "LongTextArea",
                         "update", length=255),
        FieldRequirement("Order", f.last_synced_at, "fields.last_synced_at",
                         frozenset({"datetime"}), "DateTime", "update"),
        *_sync_log(settings),
    ]
    if f.default_payment_method:
        for sobject in ("Contract", "Account"):
            found.append(_text(sobject, f.default_payment_method,
                               "fields.default_payment_method", required=False))
    return found + _catalog(settings) + _billing_state(settings)


SCHEDULE_STATUSES = ("not_started", "active", "completed", "released", "canceled")
SUBSCRIPTION_STATUSES = ("incomplete", "incomplete_expired", "trialing", "active",
                         "past_due", "canceled", "unpaid", "paused")
INVOICE_STATUSES = ("draft", "open", "paid", "uncollectible", "void")
DATETIME = frozenset({"datetime"})
AMOUNT = frozenset({"double", "currency"})


def _billing_state(settings: Settings) -> list[FieldRequirement]:
    """Where ``billing pull`` writes: state on Contract and Order, one record per invoice."""
    b = settings.billing_state
    found: list[FieldRequirement] = []
    for sobject in ("Contract", "Order"):
        found += [
            FieldRequirement(sobject, b.schedule_status, "billing_state.schedule_status",
                             PICKLIST, "Picklist", "update", "billing",
                             picklist=SCHEDULE_STATUSES),
            FieldRequirement(sobject, b.subscription_id, "billing_state.subscription_id", TEXT,
                             "Text", "update", "billing", length=255),
            FieldRequirement(sobject, b.subscription_status,
                             "billing_state.subscription_status", PICKLIST, "Picklist",
                             "update", "billing", picklist=SUBSCRIPTION_STATUSES),
            *[FieldRequirement(sobject, name, f"billing_state.{setting}", DATETIME,
                               "DateTime", "update", "billing")
              for setting, name in (("phase_start", b.phase_start), ("phase_end", b.phase_end),
                                    ("next_invoice_date", b.next_invoice_date))],
        ]
    return found + _invoice_fields(settings)


def _invoice_fields(settings: Settings) -> list[FieldRequirement]:
    b = settings.billing_state
    inv = b.invoice_object

    def text(setting: str, name: str, length: int = 255) -> FieldRequirement:
        return FieldRequirement(inv, name, f"billing_state.{setting}", TEXT, "Text", "create",
                                "billing", length=length)

    def lookup(setting: str, name: str, target: str) -> FieldRequirement:
        return FieldRequirement(inv, name, f"billing_state.{setting}",
                                frozenset({"reference"}), "Lookup", "create", "billing",
                                reference_to=target)

    def amount(setting: str, name: str) -> FieldRequirement:
        return FieldRequirement(inv, name, f"billing_state.{setting}", AMOUNT, "Number",
                                "create", "billing", precision=18, scale=3)

    def moment(setting: str, name: str) -> FieldRequirement:
        return FieldRequirement(inv, name, f"billing_state.{setting}", DATETIME, "DateTime",
                                "create", "billing")

    return [
        FieldRequirement(inv, b.invoice_id, "billing_state.invoice_id", TEXT, "Text", "create",
                         "billing", length=255, external_id=True),
        text("invoice_number", b.invoice_number, 80),
        FieldRequirement(inv, b.invoice_status, "billing_state.invoice_status", PICKLIST,
                         "Picklist", "create", "billing", picklist=INVOICE_STATUSES),
        text("invoice_currency", b.invoice_currency, 3),
        amount("amount_due", b.amount_due), amount("amount_paid", b.amount_paid),
        amount("amount_remaining", b.amount_remaining),
        moment("period_start", b.period_start), moment("period_end", b.period_end),
        FieldRequirement(inv, b.due_date, "billing_state.due_date", frozenset({"date"}), "Date",
                         "create", "billing"),
        FieldRequirement(inv, b.hosted_invoice_url, "billing_state.hosted_invoice_url",
                         frozenset({"url", "string", "textarea"}), "Url", "create", "billing"),
        text("invoice_customer", b.invoice_customer),
        text("invoice_subscription", b.invoice_subscription),
        text("invoice_schedule", b.invoice_schedule),
        lookup("invoice_account", b.invoice_account, "Account"),
        lookup("invoice_contract", b.invoice_contract, "Contract"),
        lookup("invoice_order", b.invoice_order, "Order"),
    ]


def objects(settings: Settings) -> list[str]:
    """The sObjects the requirements live on, Salesforce's standard ones first."""
    return list(dict.fromkeys(r.sobject for r in requirements(settings)))
