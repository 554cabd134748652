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
from sf_stripe_sync.core.models import DesiredSchedule, Phase, PhaseItem


def canonical(value: Any) -> Any:
    """Plain JSON data with one spelling per meaning (see the module docstring)."""
    if isinstance(value, BaseModel):
        return canonical(value.model_dump(mode="python"))
    if isinstance(value, Enum):
        return canonical(value.value)
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, Decimal):
        normalized = value.normalize()
        return format(normalized, "f") if normalized == normalized.to_integral_value() else str(
            normalized
        )
    if isinstance(value, float):
        return canonical(Decimal(repr(value)))
    if isinstance(value, datetime):
        return to_unix(value)
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, Set):
        return sorted((canonical(v) for v in value), key=_sort_key)
    if isinstance(value, list | tuple):
        return [canonical(v) for v in value]
    raise TypeError(f"cannot fingerprint a value of type {type(value).__name__}")


def _sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def fingerprint(obj: Any) -> str:
    """SHA-256 hex of the canonical JSON of ``obj``."""
    text = json.dumps(canonical(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _item_order(item: PhaseItem) -> tuple[str, tuple[str, ...], int]:
    return (item.price, tuple(sorted(item.order_item_ids)), item.quantity)


def _canonical_phase(phase: Phase) -> dict[str, Any]:
    items = sorted(phase.items, key=_item_order)
    data: dict[str, Any] = canonical(phase)
    data["items"] = [
        {**canonical(i), "order_item_ids": sorted(i.order_item_ids)} for i in items
    ]
    return data


def canonical_schedule(schedule: DesiredSchedule | None) -> Any:
    """The canonical form of a desired schedule (the part of a plan Stripe will hold)."""
    if schedule is None:
        return None
    return {
        "end_behavior": schedule.end_behavior,
        "phases": [_canonical_phase(p) for p in schedule.phases],
    }
