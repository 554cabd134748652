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

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from sf_stripe_sync.core.issues import OrderIssue

CollectionMethod = Literal["charge_automatically", "send_invoice"]
EndBehavior = Literal["cancel", "release"]
ChargeKind = Literal["recurring", "one_time", "metered"]


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


class StripePhaseParam:
    """Declares a plain-text phase property copied as is: read from the ``FieldMap``
    setting ``field`` (on the sObjects its ``ReadOn`` gives), sent as the Stripe phase
    parameter ``key`` and read back from it. ``stripe.params`` / ``stripe.convert`` and
    ``core.order_lines`` handle every property so declared; a unit test checks each key
    against the SDK's phase TypedDicts."""

    __slots__ = ("field", "key")

    def __init__(self, key: str, *, field: str) -> None:
        self.key = key
        self.field = field

    def __repr__(self) -> str:
        return f"StripePhaseParam({self.key!r}, field={self.field!r})"


class PhaseProperties(Frozen):
    """Properties every item of one phase must agree on (else ``property_conflict``).

    A plain-text property is one annotated line here, e.g.
    ``description: Annotated[str | None, StripePhaseParam("description",
    field="phase_description")] = None``; the others are handled by name."""

    currency: str
    collection_method: CollectionMethod = "charge_automatically"
    days_until_due: int | None = None
    default_payment_method: str | None = None
    discount: Discount | None = None
    """The order-level discount, applied to the whole phase."""


def plain_phase_params(model: type[BaseModel] = PhaseProperties
                       ) -> tuple[tuple[str, StripePhaseParam], ...]:
    """(property, declaration) of every ``StripePhaseParam`` property of ``model``."""
    return tuple((name, meta) for name, info in model.model_fields.items()
                 for meta in info.metadata if isinstance(meta, StripePhaseParam))


PLAIN_PHASE_PARAMS = plain_phase_params()


class PriceFacts(Frozen):
    """What Stripe says a Price bills (read by the engine, or taken from a catalog file).

    ``interval`` is None for a one-time price; ``unit_amount`` is None when the price
    has no flat unit amount (tiers, decimal amounts): its amounts are then unknown.
    """

    id: str
    currency: str
    unit_amount: int | None = None
    product: str | None = None
    interval: str | None = None
    interval_count: int = 1
    usage_type: Literal["licensed", "metered"] = "licensed"
    meter: str | None = None
    lookup_key: str | None = None
    list_price: str | None = None
    """For a custom price the sync made: the price its line pointed at."""

    @property
    def recurring(self) -> bool:
        return self.interval is not None


class PriceCatalog(Frozen):
    """The price facts a plan is made with: ``prices`` by id; ``missing`` the ids the
    source could not find (a line pointing at one is ``missing_price``). A price in
    neither is unknown: the planner falls back to the PricebookEntry (offline preview)."""

    prices: dict[str, PriceFacts] = Field(default_factory=dict)
    missing: frozenset[str] = frozenset()


class CustomPrice(Frozen):
    """A Price to bill a negotiated amount: same product, currency and recurrence as the
    list price, found again by ``lookup_key`` (one Price per product, currency,
    recurrence and amount, whoever makes it)."""

    lookup_key: str
    list_price: str
    product: str | None
    currency: str
    unit_amount: int
    interval: str | None = None
    interval_count: int = 1
    usage_type: Literal["licensed", "metered"] = "licensed"
    meter: str | None = None
    pricebook_entry_id: str | None = None


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
    unit_price: int | None = None
    """``UnitPrice`` in minor units: the price per unit per billing interval."""
    total_price: int | None = None
    """``TotalPrice`` in minor units, when the source has it."""
    list_unit_price: int | None = None
    """The PricebookEntry's ``UnitPrice`` in minor units (offline fallback list price)."""
    billing_frequency: str | None = None
    """The Product2 billing-frequency field (``One-Time`` makes a one-time line)."""
    stripe_product: str | None = None
    """The Product2's Stripe product id field, when set."""
    # set by core.pricing once the price facts are known
    charge: ChargeKind = "recurring"
    list_price_id: str | None = None
    """The price the line points at, when ``price_id`` became a custom price's key."""
    custom_price: CustomPrice | None = None
    unit_amount: int | None = None
    """What one unit bills per interval (per charge for a one-time line)."""
    interval: str | None = None
    interval_count: int | None = None


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
    one_time_lines: tuple[OrderLine, ...] = ()
    """One-time charges (set by ``core.pricing``): invoice items, never phase items."""
    total_amount: int | None = None
    """``Order.TotalAmount`` in minor units, when the source has it."""
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
    """A Stripe price id, or a custom price's lookup key (then ``custom_price`` is set)."""
    quantity: int
    order_item_ids: tuple[str, ...] = ()
    discount: Discount | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    custom_price: CustomPrice | None = None
    metered: bool = False
    """Billed on usage: sent without a quantity."""
    # money (core.amounts), shown but never fingerprinted
    unit_amount: int | None = None
    amount: int | None = None
    """``unit_amount x quantity`` minus the item discount, per interval."""
    interval: str | None = None
    interval_count: int | None = None


class OneTimeItem(Frozen):
    """A one-time charge billed with the first invoice of its phase (add_invoice_items)."""

    price: str
    quantity: int
    service_date: AwareDatetime
    order_item_ids: tuple[str, ...] = ()
    discount: Discount | None = None
    custom_price: CustomPrice | None = None
    unit_amount: int | None = None
    amount: int | None = None


class Phase(Frozen):
    start: AwareDatetime
    end: AwareDatetime | None
    properties: PhaseProperties
    items: tuple[PhaseItem, ...]
    metadata: dict[str, str] = Field(default_factory=dict)
    one_time_items: tuple[OneTimeItem, ...] = ()
    recurring_amount: int | None = None
    """Per interval, after item and phase discounts (core.amounts); None when unknown."""

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
    currency: str | None = None
    billing_total: int | None = None
    """Everything the bounded schedule bills (core.amounts); None when open-ended."""
    salesforce_total: int | None = None
    """``Order.TotalAmount``, else the sum of the lines' ``TotalPrice``."""
    covers_order_ids: tuple[str, ...] = ()
    """Orders whose lines the desired schedule includes (all of a contract's orders on a
    create or replace); once applied, none of them is amended in again."""
    drift: tuple[DriftChange, ...] | None = None
    """Where Stripe's current schedule differs from the desired one, field by field;
    None when Stripe's schedule was not read (no schedule yet, or no Stripe access)."""
    invoice_now: bool = False
    """Cancel: invoice the usage and prorations so far at once (``rules.invoice_now``, in
    the cancel's fingerprint); the executor sends what the plan says."""
    prorate: bool = False
    """Cancel: credit the unused part of the current period (``rules.prorate``)."""

    @property
    def errors(self) -> tuple[OrderIssue, ...]:
        return tuple(i for i in self.issues if i.is_error)

    @property
    def warnings(self) -> tuple[OrderIssue, ...]:
        return tuple(i for i in self.issues if not i.is_error)
