"""Stripe subscription-schedule JSON -> core models (``RemoteSchedule``).

Theory of operation: the gateway turns every schedule Stripe returns into a
``RemoteSchedule`` whose phases are ``core.models.Phase`` values, so the engine compares
and amends schedules in its own terms. Conversion works on plain dicts (the JSON Stripe
answers, as ``StripeSession.send_json`` gives it), which keeps it testable on recorded JSON.

Mapping decisions:

* Unix seconds become aware UTC datetimes.
* Discounts come back as ``Discount(coupon=id)``: Stripe keeps the coupon, not the
  value it was made from, and an amend passes the coupon on as is (edits made in Stripe
  survive). A phase or item with more than one discount, or with a promotion code /
  discount id instead of a coupon, cannot be represented without losing it, so it is
  refused (``TerminalError``, code ``unsupported_schedule``) rather than silently dropped.
* ``collection_method`` / ``days_until_due`` / ``default_payment_method`` fall back to the
  schedule's ``default_settings`` when the phase leaves them unset; a plain-text
  property declared with ``StripePhaseParam`` is read from its key as is (empty: None).
* A ``release`` schedule's last phase is open-ended in core terms (Stripe fills in an
  end date one billing period out, but the subscription goes on after it).
* The item metadata key ``salesforce_order_item_id`` (comma-separated) becomes
  ``PhaseItem.order_item_ids`` and is removed from ``PhaseItem.metadata``.
* An item without a quantity is metered; a phase's ``add_invoice_items`` become its
  ``one_time_items`` (dated at the phase start), so an amend sends them on unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from sf_stripe_sync.core.limits import METADATA_VALUE_MAX

# The engine's metadata keys, re-exported for stripe/ (their one home is the core).
from sf_stripe_sync.core.metadata_keys import META_ACCOUNT_ID as META_ACCOUNT_ID
from sf_stripe_sync.core.metadata_keys import META_CONTRACT_KEY as META_CONTRACT_KEY
from sf_stripe_sync.core.metadata_keys import META_FINGERPRINT as META_FINGERPRINT
from sf_stripe_sync.core.metadata_keys import META_ORDER_ID as META_ORDER_ID
from sf_stripe_sync.core.metadata_keys import META_ORDER_ITEM_IDS as META_ORDER_ITEM_IDS
from sf_stripe_sync.core.models import (
    PLAIN_PHASE_PARAMS,
    Discount,
    OneTimeItem,
    Phase,
    PhaseItem,
    PhaseProperties,
)
from sf_stripe_sync.errors import TerminalError

META_SLOT = "sf_sync_slot"
"""Which discount of a plan a coupon was made for (coupons only)."""
ITEM_ID_SEPARATOR = ","


def order_item_ids_metadata(ids: Sequence[str]) -> dict[str, str]:
    """The OrderItem ids of a phase item as metadata: ``salesforce_order_item_id``, spilling
    into ``salesforce_order_item_id_2``, ``_3``... where one value would pass Stripe's 500
    characters (27 ids of 18 characters do), so a long-lived contract is never refused."""
    chunks: list[str] = []
    for item_id in ids:
        joined = f"{chunks[-1]}{ITEM_ID_SEPARATOR}{item_id}" if chunks else item_id
        if chunks and len(joined) <= METADATA_VALUE_MAX:
            chunks[-1] = joined
        else:
            chunks.append(item_id)
    return {META_ORDER_ITEM_IDS if n == 0 else f"{META_ORDER_ITEM_IDS}_{n + 1}": chunk
            for n, chunk in enumerate(chunks)}


def pop_order_item_ids(metadata: dict[str, str]) -> tuple[str, ...]:
    """Take the OrderItem ids (every spilled part, in order) out of a phase item's metadata."""
    spilled = sorted((int(k.rsplit("_", 1)[1]), k) for k in metadata
                     if k.startswith(f"{META_ORDER_ITEM_IDS}_") and k.rsplit("_", 1)[1].isdigit())
    parts = [metadata.pop(META_ORDER_ITEM_IDS, "")] + [metadata.pop(k) for _, k in spilled]
    return tuple(i for part in parts for i in part.split(ITEM_ID_SEPARATOR) if i)
LIVE_STATUSES = ("not_started", "active")
FINISHED_STATUSES = ("canceled", "released", "completed")
"""A schedule in one of these can no longer be changed (Stripe's final statuses)."""


class RemoteSchedule(BaseModel):
    """A Stripe subscription schedule converted to core terms."""

    model_config = ConfigDict(frozen=True)

    id: str
    customer: str
    status: str
    end_behavior: str
    current_phase_start: AwareDatetime | None = None
    current_phase_end: AwareDatetime | None = None
    phases: tuple[Phase, ...] = ()
    metadata: dict[str, str] = Field(default_factory=dict)
    subscription: str | None = None

    @property
    def is_live(self) -> bool:
        """Still changeable: not started yet, or running."""
        return self.status in LIVE_STATUSES

    @property
    def is_finished(self) -> bool:
        """Canceled, released or completed: Stripe no longer lets it change."""
        return self.status in FINISHED_STATUSES

    @property
    def contract_key(self) -> str | None:
        return self.metadata.get(META_CONTRACT_KEY)

    @property
    def fingerprint(self) -> str | None:
        return self.metadata.get(META_FINGERPRINT)


class ScheduleResult(BaseModel):
    """What one schedule write did: the schedule after it, and what it cost."""

    model_config = ConfigDict(frozen=True)

    schedule: RemoteSchedule
    request_ids: tuple[str, ...] = ()
    writes: int = 0
    coupons: tuple[str, ...] = ()
    """Ids of the coupons made (or replayed) by this operation."""


def from_unix(value: object) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TerminalError(f"unexpected timestamp in Stripe response: {value!r}",
                            code="unsupported_schedule")
    return datetime.fromtimestamp(int(value), tz=UTC)


def object_id(value: object) -> str | None:
    """The id of a field Stripe may return as an id or as an expanded object."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        found = value.get("id")
        return str(found) if found is not None else None
    return str(value)


def _string_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): str(v) for k, v in value.items() if v is not None}


def _discount(entries: object, where: str) -> Discount | None:
    if not entries:
        return None
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        raise TerminalError(f"{where}: unexpected discounts value", code="unsupported_schedule")
    if len(entries) > 1:
        raise TerminalError(f"{where} has {len(entries)} discounts; one is supported",
                            code="unsupported_schedule")
    entry = entries[0]
    coupon = object_id(entry.get("coupon")) if isinstance(entry, Mapping) else None
    if coupon is None:
        raise TerminalError(f"{where} has a discount that is not a coupon "
                            "(promotion code or discount id)", code="unsupported_schedule")
    return Discount(coupon=coupon)


def _item(raw: Mapping[str, Any], where: str) -> PhaseItem:
    price = object_id(raw.get("price")) or object_id(raw.get("plan"))
    if price is None:
        raise TerminalError(f"{where} has no price", code="unsupported_schedule")
    metadata = _string_map(raw.get("metadata"))
    item_ids = pop_order_item_ids(metadata)
    quantity = raw.get("quantity")
    return PhaseItem(
        price=price,
        quantity=int(quantity) if quantity is not None else 1,
        order_item_ids=item_ids,
        discount=_discount(raw.get("discounts"), where),
        metadata=metadata,
        metered=quantity is None,
    )


def _once(raw: Mapping[str, Any], start: datetime, where: str) -> OneTimeItem:
    price = object_id(raw.get("price"))
    if price is None:
        raise TerminalError(f"{where} has no price", code="unsupported_schedule")
    joined = _string_map(raw.get("metadata")).get(META_ORDER_ITEM_IDS, "")
    quantity = raw.get("quantity")
    return OneTimeItem(
        price=price, quantity=int(quantity) if quantity is not None else 1,
        service_date=start,
        order_item_ids=tuple(part for part in joined.split(ITEM_ID_SEPARATOR) if part),
        discount=_discount(raw.get("discounts"), where))


def _days_until_due(raw: Mapping[str, Any] | None) -> int | None:
    settings = raw.get("invoice_settings") if raw else None
    if isinstance(settings, Mapping) and settings.get("days_until_due") is not None:
        return int(settings["days_until_due"])
    return None


def _plain_properties(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Each declared plain-text phase property, from its Stripe key (empty -> None)."""
    return {name: raw.get(param.key) or None for name, param in PLAIN_PHASE_PARAMS}


def _phase(raw: Mapping[str, Any], defaults: Mapping[str, Any], *, open_end: bool,
           where: str, fallback_currency: str) -> Phase:
    start = from_unix(raw.get("start_date"))
    if start is None:
        raise TerminalError(f"{where} has no start_date", code="unsupported_schedule")
    collection = raw.get("collection_method") or defaults.get("collection_method")
    days = _days_until_due(raw)
    if days is None:
        days = _days_until_due(defaults)
    properties = PhaseProperties(
        currency=str(raw.get("currency") or fallback_currency),
        collection_method="send_invoice" if collection == "send_invoice"
        else "charge_automatically",
        days_until_due=days if collection == "send_invoice" else None,
        default_payment_method=object_id(raw.get("default_payment_method"))
        or object_id(defaults.get("default_payment_method")),
        discount=_discount(raw.get("discounts"), where),
        **_plain_properties(raw),
    )
    items = tuple(_item(item, f"{where} item {n}") for n, item in enumerate(raw.get("items") or ()))
    once = tuple(_once(item, start, f"{where} invoice item {n}")
                 for n, item in enumerate(raw.get("add_invoice_items") or ()))
    return Phase(
        start=start,
        end=None if open_end else from_unix(raw.get("end_date")),
        properties=properties,
        items=items,
        metadata=_string_map(raw.get("metadata")),
        one_time_items=once,
    )


def schedule_from_stripe(data: Mapping[str, Any], *, fallback_currency: str = "usd"
                         ) -> RemoteSchedule:
    """Convert a subscription schedule (as a plain dict) to a ``RemoteSchedule``."""
    try:
        return _schedule(data, fallback_currency)
    except (ValidationError, TypeError, ValueError) as exc:
        raise TerminalError(f"Stripe schedule {data.get('id')!r} has an unexpected shape: "
                            f"{exc}", code="unsupported_schedule") from exc


def _schedule(data: Mapping[str, Any], fallback_currency: str) -> RemoteSchedule:
    schedule_id = str(data.get("id") or "")
    end_behavior = str(data.get("end_behavior") or "release")
    defaults = data.get("default_settings") or {}
    raw_phases = list(data.get("phases") or ())
    phases = tuple(
        _phase(raw, defaults,
               open_end=end_behavior == "release" and n == len(raw_phases) - 1,
               where=f"schedule {schedule_id} phase {n}", fallback_currency=fallback_currency)
        for n, raw in enumerate(raw_phases)
    )
    current = data.get("current_phase") or {}
    return RemoteSchedule(
        id=schedule_id,
        customer=object_id(data.get("customer")) or "",
        status=str(data.get("status") or ""),
        end_behavior=end_behavior,
        current_phase_start=from_unix(current.get("start_date")),
        current_phase_end=from_unix(current.get("end_date")),
        phases=phases,
        metadata=_string_map(data.get("metadata")),
        subscription=object_id(data.get("subscription")),
    )
