"""Fingerprints: a stable hash of what an operation will make Stripe hold.

Theory of operation: ``canonical`` turns a value (pydantic models, mappings, sequences,
sets, Decimals, datetimes, enums) into plain JSON data with one spelling per meaning:
keys sorted, Decimals as normalized strings (``10`` and ``10.0`` agree), datetimes as
Unix seconds, sets sorted. ``fingerprint`` is the SHA-256 hex of its compact JSON.

``schedule_fingerprint`` is the fingerprint of a desired schedule: phase items are put
in a fixed order (price, then source item ids) so the same plan hashes the same whatever
order the Salesforce records came in. Nothing volatile goes in: no coupon ids Stripe
makes during execution (a plan only ever *describes* coupons to make), no reading times.
When a create starts "now" instead of backdating, the first start is hashed as the
word ``now`` so that rerunning the same plan a day later keeps the same fingerprint.

Cost (planning fingerprints every plan, so this is a hot path): exact types are
dispatched first; a model without serializers, computed fields or aliases is read
field by field instead of through ``model_dump`` (the same data, without building the
dump); ``canonical_schedule`` marks its result as already canonical, so fingerprinting
a document that holds it does not walk the schedule a second time. The output is
byte-for-byte what the plain definition gives: stored fingerprints stay valid.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Set
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

from sf_stripe_sync.core.dates import to_unix
from sf_stripe_sync.core.models import PLAIN_PHASE_PARAMS, DesiredSchedule, Phase, PhaseItem


def canonical(value: Any) -> Any:
    """Plain JSON data with one spelling per meaning (see the module docstring)."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return _canonical_mapping(value)
    if kind is tuple or kind is list:
        return [canonical(v) for v in value]
    if kind is Decimal:
        return _canonical_decimal(value)
    if kind is datetime:
        return to_unix(value)
    if kind is _Canonical:
        return value
    if isinstance(value, BaseModel):
        fields = _plain_fields(value)
        if fields is not None:
            # The fields themselves, as ``model_dump`` would give them, without building
            # the dump first (the hot path of planning: every phase and item of a plan).
            return {name: canonical(getattr(value, name)) for name in fields}
    return _canonical_other(value)


class _Canonical(dict[str, Any]):
    """A value already in canonical form (``canonical`` passes it through as is)."""


_PLAIN_FIELDS: dict[type[BaseModel], tuple[str, ...] | None] = {}


def _plain_fields(model: BaseModel) -> tuple[str, ...] | None:
    """The model's field names, sorted, when ``model_dump`` of it is just its fields (no
    serializers, computed fields or aliases that would change what the dump holds)."""
    kind = type(model)
    if kind not in _PLAIN_FIELDS:
        decorators = kind.__pydantic_decorators__
        plain = not (kind.model_computed_fields or decorators.field_serializers
                     or decorators.model_serializers
                     or any(f.serialization_alias or f.alias or f.exclude
                            for f in kind.model_fields.values()))
        _PLAIN_FIELDS[kind] = tuple(sorted(kind.model_fields)) if plain else None
    return _PLAIN_FIELDS[kind]


def _canonical_mapping(value: Mapping[Any, Any]) -> dict[str, Any]:
    if all(type(k) is str for k in value):
        return {k: canonical(value[k]) for k in sorted(value)}
    return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}


def _canonical_decimal(value: Decimal) -> str:
    normalized = value.normalize()
    return format(normalized, "f") if normalized == normalized.to_integral_value() else str(
        normalized
    )


def _canonical_other(value: Any) -> Any:
    """The slower, general cases (subclasses, models, enums, floats, dates, sets)."""
    if isinstance(value, BaseModel):
        return canonical(value.model_dump(mode="python"))
    if isinstance(value, Enum):
        return canonical(value.value)
    if isinstance(value, int | str):  # bool is an int
        return value
    if isinstance(value, Decimal):
        return _canonical_decimal(value)
    if isinstance(value, float):
        return canonical(Decimal(repr(value)))
    if isinstance(value, datetime):
        return to_unix(value)
    if isinstance(value, Mapping):
        return _canonical_mapping(value)
    if isinstance(value, Set):
        return sorted((canonical(v) for v in value), key=_sort_key)
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    raise TypeError(f"cannot fingerprint a value of type {type(value).__name__}")


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def fingerprint(obj: Any) -> str:
    """SHA-256 hex of the canonical JSON of ``obj``."""
    # Canonical data is a fresh tree (a cycle could not have been canonicalised): the
    # encoder's circular-reference bookkeeping, half its time, is left out.
    text = json.dumps(canonical(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      check_circular=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _item_order(item: PhaseItem) -> tuple[str, tuple[str, ...], int]:
    return (item.price, tuple(sorted(item.order_item_ids)), item.quantity)


MONEY_KEYS = ("unit_amount", "amount", "interval", "interval_count", "recurring_amount")
"""Derived amounts: shown in previews, never part of what a plan makes Stripe hold."""
OPTIONAL_KEYS: dict[str, Any] = {"custom_price": None, "metered": False,
                                 "one_time_items": []}
"""Billing keys left out while at their default, so plans without them hash as before."""


def _without_money(data: dict[str, Any]) -> dict[str, Any]:
    for key in MONEY_KEYS:
        data.pop(key, None)
    for key, default in OPTIONAL_KEYS.items():
        if key in data and data[key] == default:
            del data[key]
    return data


def _without_unset_plain(properties: dict[str, Any]) -> dict[str, Any]:
    """A declared plain-text phase property (``StripePhaseParam``) left out while unset,
    so adding one keeps every plan that does not set it hashing as before (no replace of
    every schedule on upgrade)."""
    for name, _ in PLAIN_PHASE_PARAMS:
        if properties.get(name) is None:
            properties.pop(name, None)
    return properties


_PHASE_FIELDS: dict[type[Phase], tuple[str, ...]] = {}


def _phase_fields(phase: Phase) -> tuple[str, ...]:
    """The phase's field names, sorted, but its items and money."""
    kind = type(phase)
    if kind not in _PHASE_FIELDS:
        _PHASE_FIELDS[kind] = tuple(sorted(
            name for name in kind.model_fields if name not in ("items", *MONEY_KEYS)))
    return _PHASE_FIELDS[kind]


def _canonical_item(item: PhaseItem) -> dict[str, Any]:
    """An item's canonical form: its ids sorted, its money left out (not canonicalised
    first: the same dict, key for key, as canonicalising it all and dropping them)."""
    fields = _plain_fields(item)
    if fields is None:
        data: dict[str, Any] = canonical(item)
    else:
        data = {name: canonical(getattr(item, name)) for name in fields
                if name not in MONEY_KEYS}
    data["order_item_ids"] = sorted(item.order_item_ids)
    return _without_money(data)


def _canonical_phase(phase: Phase) -> dict[str, Any]:
    items = sorted(phase.items, key=_item_order)
    # The items are canonicalised below, in their fixed order: not twice.
    data: dict[str, Any] = _without_money({
        name: canonical(getattr(phase, name)) for name in _phase_fields(phase)})
    if PLAIN_PHASE_PARAMS:
        data["properties"] = _without_unset_plain(data["properties"])
    data["items"] = [_canonical_item(i) for i in items]
    if "one_time_items" in data:
        data["one_time_items"] = sorted((_without_money(o) for o in data["one_time_items"]),
                                        key=_sort_key)
    return data


def canonical_schedule(schedule: DesiredSchedule | None) -> Any:
    """The canonical form of a desired schedule (the part of a plan Stripe will hold)."""
    if schedule is None:
        return None
    return _Canonical(
        end_behavior=schedule.end_behavior,
        phases=[_canonical_phase(p) for p in schedule.phases],
    )
