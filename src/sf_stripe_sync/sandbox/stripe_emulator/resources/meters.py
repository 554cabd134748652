"""Billing meters: create, retrieve, list; what a metered price must name.

Theory of operation: since API version 2025-03-31.basil a ``usage_type=metered`` price
needs ``recurring.meter``, the id of a billing meter. The emulator keeps meters so that
reference can be checked; it does not take meter events, so a metered item bills no
usage (a zero line) when its period is invoiced.
"""

from __future__ import annotations

from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    base_object,
    paginate,
)
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

KIND = "billing.meter"


def new_meter(ctx: Context, object_id: str, params: JSON) -> JSON:
    obj = base_object(ctx, KIND, object_id)
    value = params.get("value_settings") or {"event_payload_key": "value"}
    obj.update({
        "customer_mapping": params.get("customer_mapping") or {
            "event_payload_key": "stripe_customer_id", "type": "by_id"},
        "default_aggregation": params.get("default_aggregation") or {"formula": "sum"},
        "display_name": params.get("display_name"), "event_name": params.get("event_name"),
        "event_time_window": params.get("event_time_window"), "status": "active",
        "status_transitions": {"deactivated_at": None}, "updated": ctx.now,
        "value_settings": value,
    })
    return obj


def create(ctx: Context) -> JSON:
    return ctx.save(KIND, new_meter(ctx, ctx.new_id(KIND), ctx.params))


def retrieve(ctx: Context) -> JSON:
    return ctx.require(KIND)


def list_all(ctx: Context) -> JSON:
    objects = ctx.all(KIND)
    if ctx.params.get("status"):
        objects = [m for m in objects if m["status"] == ctx.params["status"]]
    return paginate(objects, ctx.params, "/v1/billing/meters")
