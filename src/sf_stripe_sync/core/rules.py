"""The configurable part of the domain rules, as plain values the pure core can take.

Theory of operation: ``config.py`` reads TOML and the environment and builds these;
the core only ever receives them as arguments, so it stays free of I/O. ``FieldMap``
names every non-standard Salesforce field the engine reads or writes (defaults from
DESIGN 2, "Field names"), each declaring with ``ReadOn`` where it is read, so adding one
is one line here; ``SyncRules`` holds the knobs that change what a plan is.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sf_stripe_sync.core.limits import metadata_key_problems


class ReadOn:
    """Declares where the reader selects a ``FieldMap`` field: the sObjects it is read on
    (in the order a value is looked for) and whether the org must have it there
    (``required``, or ``required_when`` naming a ``SyncRules`` flag that makes it so).
    ``salesforce.describe`` selects every field so declared; a field without it (the
    write-only Sync_Log__c names) is not selected."""

    __slots__ = ("required", "required_when", "sobjects")

    def __init__(self, *sobjects: str, required: bool = False,
                 required_when: str | None = None) -> None:
        self.sobjects = sobjects
        self.required = required
        self.required_when = required_when

    def __repr__(self) -> str:
        return f"ReadOn{self.sobjects!r}"


class FieldMap(BaseModel):
    """Fields are declared in the order each sObject's SOQL selects them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_schedule: Annotated[str, ReadOn("Order", required=True)] = (
        "Stripe_Subscription_Schedule_Id__c")
    contract_schedule: Annotated[str, ReadOn("Contract", required=True)] = (
        "Stripe_Subscription_Schedule_Id__c")
    order_stripe_account: Annotated[str, ReadOn("Order")] = "Stripe_Account__c"
    currency: Annotated[str, ReadOn("Order", "OrderItem", "PricebookEntry")] = (
        "CurrencyIsoCode")
    """Absent in single-currency orgs: ``SyncRules.default_currency`` is used then."""
    collection_method: Annotated[str, ReadOn("OrderItem", "Order")] = (
        "Stripe_Collection_Method__c")
    """Read on the OrderItem, then on the Order."""
    days_until_due: Annotated[str, ReadOn("OrderItem", "Order")] = "Days_Until_Due__c"
    """Read on the OrderItem, then on the Order."""
    discount_amount_off: Annotated[str, ReadOn("Order", "OrderItem")] = (
        "Discount_Amount_Off__c")
    discount_percent_off: Annotated[str, ReadOn("Order", "OrderItem")] = (
        "Discount_Percent_Off__c")
    order_item_price: Annotated[str, ReadOn("OrderItem", required=True)] = (
        "Stripe_Price_Id__c")
    pricebook_entry_price: Annotated[str, ReadOn("PricebookEntry", required=True)] = (
        "Stripe_Price_Id__c")
    product_stripe_id: Annotated[
        str, ReadOn("Product2", required_when="create_missing_prices")] = (
        "Stripe_Product_Id__c")
    account_customer: Annotated[str, ReadOn("Account", required=True)] = (
        "Stripe_Customer_Id__c")
    default_payment_method: Annotated[str | None, ReadOn("Contract", "Account")] = None
    """Optional field (Contract, then Account) holding a saved Stripe payment method id."""
    product_billing_frequency: Annotated[str | None, ReadOn("Product2")] = (
        "Billing_Frequency__c")
    """Product2 field whose value ``SyncRules.one_time_frequency`` marks a one-time line."""
    sync_status: Annotated[str, ReadOn("Order")] = "Stripe_Sync_Status__c"
    sync_error: Annotated[str, ReadOn("Order")] = "Stripe_Sync_Error__c"
    last_synced_at: Annotated[str, ReadOn("Order")] = "Stripe_Last_Synced_At__c"
    sync_log_object: str = "Sync_Log__c"
    sync_log_order: str = "Order__c"
    sync_log_operation: str = "Operation__c"
    sync_log_status: str = "Status__c"
    sync_log_message: str = "Message__c"
    sync_log_idempotency_key: str = "Idempotency_Key__c"
    sync_log_request_id: str = "Stripe_Request_Id__c"
    sync_log_sync_key: str = "Sync_Key__c"
    """Unique external id of a Sync_Log__c: one record per operation, whichever host
    writes it (upserted on this field)."""


def field_reads() -> tuple[tuple[str, ReadOn], ...]:
    """(setting, declaration) of every ``FieldMap`` field the reader selects, in order."""
    return _FIELD_READS


def field_read(setting: str) -> ReadOn | None:
    """Where the ``FieldMap`` field ``setting`` is read (None: it is not read)."""
    return next((read for name, read in _FIELD_READS if name == setting), None)


_FIELD_READS = tuple((name, meta) for name, info in FieldMap.model_fields.items()
                     for meta in info.metadata if isinstance(meta, ReadOn))


class SyncRules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    activated_status: str = "Activated"
    cancel_status: str = "Cancelled"
    end_date_inclusive: bool = False
    """Salesforce stores the last *served* day as EndDate: the period ends a day later."""
    backdate: bool = True
    """A create whose start is past backdates; ``False`` starts it now instead."""
    default_currency: str = "usd"
    proration_behavior: Literal["create_prorations", "none", "always_invoice"] = (
        "create_prorations"
    )
    invoice_now: bool = False
    prorate: bool = False
    max_items_per_phase: int = 20
    create_missing_prices: bool = False
    unit_price_basis: Literal["billing_period", "stripe_price"] = "billing_period"
    """``billing_period``: an OrderItem's UnitPrice is what one unit bills per interval,
    and a price that differs is billed through a custom Price. ``stripe_price``: bill the
    referenced price as is and only warn (``amount_mismatch``) when it differs."""
    salesforce_total_basis: Literal["term", "billing_period", "off"] = "billing_period"
    """How Salesforce's order total is compared with what the plan bills: the whole
    term's billing (CPQ), one billing period of the order's lines, or not at all."""
    one_time_frequency: str = "One-Time"
    """The Product2 billing-frequency value of a one-time charge (case-insensitive)."""
    metadata_map: dict[str, str] = Field(default_factory=dict)
    """Salesforce field (on Order or OrderItem) -> Stripe metadata key to copy it to."""
    metadata_overflow: Literal["truncate", "refuse"] = "truncate"
    """A mapped value over Stripe's 500 characters: cut with a marker, or ``refuse`` the
    order (``invalid_record``)."""
    service_dates_from: date = date(2000, 1, 1)
    service_dates_until: date = date(2100, 1, 1)
    """Order and OrderItem dates outside ``[from, until)`` are ``invalid_dates``: a typo
    such as 0001-01-01 would otherwise backdate a schedule two thousand years."""
    on_drift: Literal["report", "overwrite", "keep"] = "report"
    """What Stripe-side edits (drift) do to a plan: ``report`` shows them and changes
    nothing (a replace sends Salesforce's state, a noop stays a noop); ``overwrite``
    also turns a noop whose schedule drifted into a replace restoring Salesforce's state;
    ``keep`` holds back any replace of a drifted schedule (``skip``) so the edits stay."""

    @field_validator("metadata_map")
    @classmethod
    def _keys_stripe_accepts(cls, value: dict[str, str]) -> dict[str, str]:
        problems = metadata_key_problems(value.values())
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @model_validator(mode="after")
    def _date_window_is_a_window(self) -> SyncRules:
        if self.service_dates_until <= self.service_dates_from:
            raise ValueError("service_dates_until must be after service_dates_from")
        return self
