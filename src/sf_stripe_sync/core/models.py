"""Frozen domain models shared by every stage of the pipeline.

Theory of operation: Salesforce records arrive as raw REST dicts (``OrderBundle``),
``core.normalize`` turns them into ``Order`` / ``OrderLine`` values (UTC datetimes,
whole-number quantities, money in integer minor units, discounts validated), and
``core.consolidate`` turns the lines into a ``DesiredSchedule`` of linear phases.
``core.plan`` decides the ``OperationKind`` and wraps it all in an ``OrderPlan``, which
is what the dry-run renders and the executor applies. All models are immutable so a
plan can be fingerprinted and compared without surprises.

Conventions: datetimes are timezone-aware UTC; a period is half-open ``[start, end)``
and ``end is None`` means open-ended; currencies are lower-case ISO codes as Stripe
writes them; money is ``int`` minor units (``Decimal`` only for percentages).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from sf_stripe_sync.core.issues import OrderIssue

CollectionMethod = Literal["charge_automatically", "send_invoice"]
EndBehavior = Literal["cancel", "release"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- raw input


class OrderBundle(Frozen):
    """One Order as read from a source, with the records it refers to, still raw.

    Values keep Salesforce REST formats (dates as ``YYYY-MM-DD`` strings, numbers as
    JSON numbers, ``None`` for empty). ``pricebook_entries`` and ``products`` are keyed
    by record Id and hold at least the entries the items refer to.
    """

    order: dict[str, Any]
    items: tuple[dict[str, Any], ...] = ()
    account: dict[str, Any] | None = None
    contract: dict[str, Any] | None = None
    pricebook_entries: dict[str, dict[str, Any]] = Field(default_factory=dict)
    products: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @property
    def order_id(self) -> str:
        return str(self.order.get("Id") or "")


# --------------------------------------------------------------------------- normalized


class Discount(Frozen):
    """A discount: exactly one of ``percent_off`` / ``amount_off`` / ``coupon``.

    ``coupon`` names an *existing* Stripe coupon (read back from a schedule during an
    amend, so edits made in Stripe survive); the other two describe a coupon to make.
    """

    percent_off: Decimal | None = None
    amount_off: int | None = None
    currency: str | None = None
    coupon: str | None = None

    def as_json(self) -> dict[str, Any]:
        if self.coupon is not None:
            return {"coupon": self.coupon}
        if self.amount_off is not None:
            return {"amount_off": self.amount_off, "currency": self.currency}
        pct = self.percent_off if self.percent_off is not None else Decimal(0)
        return {"percent_off": int(pct) if pct == pct.to_integral_value() else float(pct)}


class PhaseProperties(Frozen):
    """Properties every item of one phase must agree on (else ``property_conflict``)."""

    currency: str
    collection_method: CollectionMethod = "charge_automatically"
    days_until_due: int | None = None
    default_payment_method: str | None = None
    discount: Discount | None = None
    """The order-level discount, applied to the whole phase."""


class OrderLine(Frozen):
    """A normalized OrderItem: one price, a whole quantity, a half-open period."""

    id: str
    order_id: str
    price_id: str
    quantity: int
    """Whole number; negative only on reduction lines linked to an original item."""
    start: AwareDatetime
    end: AwareDatetime | None
    properties: PhaseProperties
    original_item_id: str | None = None
    product_id: str | None = None
    pricebook_entry_id: str | None = None
    discount: Discount | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class Order(Frozen):
    """A normalized Order with its lines and what Salesforce already knows of Stripe."""

    id: str
    status: str
    currency: str
    account_id: str | None
    contract_id: str | None = None
    order_number: str | None = None
    account_name: str | None = None
    customer_id: str | None = None
    """The Account's Stripe customer id field, when set."""
    schedule_id: str | None = None
    """The Order's Stripe schedule id field, when set."""
    contract_schedule_id: str | None = None
    """The Contract's Stripe schedule id field, when set."""
    stripe_account: str | None = None
    """The configured Stripe account name the Order picks, or None for the default."""
    effective_date: AwareDatetime | None = None
    end_date: AwareDatetime | None = None
    discount: Discount | None = None
    lines: tuple[OrderLine, ...] = ()
    last_modified: AwareDatetime | None = None
    sync_status: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def contract_key(self) -> str:
        """One schedule per Contract, or per Order when there is no Contract."""
        return self.contract_id or self.id

    @property
    def known_schedule_id(self) -> str | None:
        return self.schedule_id or self.contract_schedule_id


# --------------------------------------------------------------------------- schedules


class PhaseItem(Frozen):
    price: str
    quantity: int
    order_item_ids: tuple[str, ...] = ()
    discount: Discount | None = None
    metadata: dict[str, str] = Field(default_factory=dict)


class Phase(Frozen):
    start: AwareDatetime
    end: AwareDatetime | None
    properties: PhaseProperties
    items: tuple[PhaseItem, ...]
    metadata: dict[str, str] = Field(default_factory=dict)

    @property
    def discount(self) -> Discount | None:
        return self.properties.discount


class DesiredSchedule(Frozen):
    """Linear, gap-free phases; ``end_behavior`` is ``release`` when the last is open."""

    phases: tuple[Phase, ...]
    end_behavior: EndBehavior

    @property
    def start(self) -> datetime | None:
        return self.phases[0].start if self.phases else None

    @property
    def end(self) -> datetime | None:
        return self.phases[-1].end if self.phases else None


class ConsolidationResult(Frozen):
    schedule: DesiredSchedule | None
    issues: tuple[OrderIssue, ...] = ()

    @property
    def ok(self) -> bool:
        return self.schedule is not None and not any(i.is_error for i in self.issues)


# --------------------------------------------------------------------------- plans


class OperationKind(StrEnum):
    CREATE = "create"
    AMEND = "amend"
    REPLACE = "replace"
    CANCEL = "cancel"
    NOOP = "noop"
    SKIP = "skip"
    """Nothing to send and nothing wrong (e.g. service already ended): a warning says why."""
    FAIL = "fail"
    """The order has errors; nothing is sent."""


class DriftChange(Frozen):
    """One field where Stripe's schedule differs from the desired one (``core.drift``)."""

    phase: int
    """Phase number, from 1, among the current and future phases."""
    field: str
    stripe: str | None
    salesforce: str | None

    def as_json(self) -> dict[str, Any]:
        return {"phase": self.phase, "field": self.field, "stripe": self.stripe,
                "salesforce": self.salesforce}


class OrderPlan(Frozen):
    """What the engine intends to do for one Order; the dry-run renders exactly this."""

    order_id: str
    contract_key: str
    operation: OperationKind
    stripe_account: str
    account_id: str | None = None
    customer_id: str | None = None
    schedule_id: str | None = None
    """The existing schedule the operation targets (amend / replace / cancel / noop)."""
    schedule: DesiredSchedule | None = None
    """The desired schedule (current and future phases) for create / amend / replace."""
    fingerprint: str = ""
    """Hash of the canonical plan, without volatile ids; part of idempotency keys."""
    start_now: bool = False
    """True when a past start must not be backdated (``backdate = false``)."""
    issues: tuple[OrderIssue, ...] = ()
    metadata: dict[str, str] = Field(default_factory=dict)
    covers_order_ids: tuple[str, ...] = ()
    """Orders whose lines the desired schedule includes (all of a contract's orders on a
    create or replace); once applied, none of them is amended in again."""
    drift: tuple[DriftChange, ...] | None = None
    """Where Stripe's current schedule differs from the desired one, field by field;
    None when Stripe's schedule was not read (no schedule yet, or no Stripe access)."""

    @property
    def errors(self) -> tuple[OrderIssue, ...]:
        return tuple(i for i in self.issues if i.is_error)

    @property
    def warnings(self) -> tuple[OrderIssue, ...]:
        return tuple(i for i in self.issues if not i.is_error)


def freeze_metadata(values: Mapping[str, object]) -> dict[str, str]:
    """Stripe metadata: string keys and values, empty values left out."""
    return {str(k): str(v) for k, v in values.items() if v is not None and v != ""}
