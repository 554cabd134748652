"""Domain problems found in Salesforce data, as values (not exceptions).

Theory of operation: normalization, consolidation and planning never raise for bad
input. They collect ``OrderIssue`` values, each with a stable ``code`` (the contract in
DESIGN 2), a message a sales-ops person can act on, and the Salesforce record ids
involved, so *all* problems of an order are reported at once. Warnings use the same
shape with ``severity = "warning"`` (e.g. ``already_ended``, ``clipped_to_current_phase``).
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class IssueCode(StrEnum):
    GAP = "gap"
    PROPERTY_CONFLICT = "property_conflict"
    QUANTITY_CONFLICT = "quantity_conflict"
    DISCOUNT_CONFLICT = "discount_conflict"
    INVALID_DATES = "invalid_dates"
    INVALID_QUANTITY = "invalid_quantity"
    MISSING_PRICE = "missing_price"
    MISSING_CUSTOMER = "missing_customer"
    INVALID_CURRENCY = "invalid_currency"
    INVALID_RECORD = "invalid_record"
    TOO_MANY_ITEMS = "too_many_items"
    # warnings
    ALREADY_ENDED = "already_ended"
    CLIPPED_TO_CURRENT_PHASE = "clipped_to_current_phase"
    DRIFT = "drift"
    NOT_ACTIVATED = "not_activated"
    AMOUNT_MISMATCH = "amount_mismatch"
    METERED_QUANTITY = "metered_quantity"


class OrderIssue(BaseModel):
    """One problem (or warning) with an order, naming the records involved."""

    model_config = ConfigDict(frozen=True)

    code: IssueCode
    message: str
    order_id: str | None = None
    order_item_ids: tuple[str, ...] = ()
    record_ids: tuple[str, ...] = ()
    """Other records involved (Account, Contract, PricebookEntry ...)."""
    field: str | None = None
    severity: str = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"


def warning(code: IssueCode, message: str, **kwargs: object) -> OrderIssue:
    """Build an ``OrderIssue`` of severity warning."""
    return OrderIssue.model_validate(
        {"code": code, "message": message, "severity": "warning", **kwargs}
    )
