"""Events: what changed in the catalog, listed newest first like Stripe's ``/v1/events``.

Theory of operation: the product and price handlers are wrapped by ``recorded``: after a
create or an update succeeds, an event ``product.created`` / ``product.updated`` /
``price.created`` / ``price.updated`` is stored holding a copy of the object as it now is
(``data.object``) and, for updates, the fields that changed with their old values
(``data.previous_attributes``), as Stripe does. An update that changes nothing records no
event. Because the request pipeline restores the store when a handler refuses, a
refused request leaves no event behind. ``list_all`` filters by ``type`` (with a ``*``
wildcard), ``types`` and ``created`` and pages like every list.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.errors import invalid
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    base_object,
    paginate,
)
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

KIND = "event"
Handler = Callable[[Context], JSON]


def record(ctx: Context, event_type: str, obj: JSON,
           previous: JSON | None = None) -> JSON:
    event = base_object(ctx, KIND, ctx.new_id(KIND))
    data: JSON = {"object": copy.deepcopy(obj)}
    if previous is not None:
        data["previous_attributes"] = previous
    event.update({"api_version": "2026-10-28.endive", "data": data, "pending_webhooks": 0,
                  "request": {"id": None, "idempotency_key": None}, "type": event_type})
    return ctx.save(KIND, event)


def _changes(before: JSON, after: JSON) -> JSON:
    return {k: v for k, v in before.items() if k != "updated" and after.get(k) != v}


def recorded(kind: str, handler: Handler, *, creates: bool) -> Handler:
    """``handler`` that also stores the ``<kind>.created`` / ``<kind>.updated`` event."""

    def wrapped(ctx: Context) -> JSON:
        before = None
        if not creates:
            found = ctx.find(kind, ctx.path_id)
            before = copy.deepcopy(found) if found is not None else None
        result = handler(ctx)
        if creates:
            record(ctx, f"{kind}.created", result)
        elif before is not None:
            changed = _changes(before, result)
            if changed:
                record(ctx, f"{kind}.updated", result, changed)
        return result

    return wrapped


def _type_matches(event_type: str, wanted: str) -> bool:
    if wanted.endswith(".*"):
        return event_type.startswith(wanted[:-1])
    return event_type == wanted


def _in_created(value: int, bounds: Any) -> bool:
    if not isinstance(bounds, dict):
        return value == int(bounds)
    checks = {"gt": value > int(bounds.get("gt", value - 1)),
              "gte": value >= int(bounds.get("gte", value)),
              "lt": value < int(bounds.get("lt", value + 1)),
              "lte": value <= int(bounds.get("lte", value))}
    return all(checks.values())


def list_all(ctx: Context) -> JSON:
    params = ctx.params
    if params.get("type") and params.get("types"):
        raise invalid("You may only specify one of these parameters: type, types.",
                      param="types")
    objects = ctx.all(KIND)
    if params.get("type"):
        objects = [e for e in objects if _type_matches(e["type"], str(params["type"]))]
    if params.get("types"):
        wanted = [str(t) for t in params["types"]]
        objects = [e for e in objects if any(_type_matches(e["type"], t) for t in wanted)]
    if "created" in params:
        objects = [e for e in objects if _in_created(int(e["created"]), params["created"])]
    return paginate(objects, params, "/v1/events")


def retrieve(ctx: Context) -> JSON:
    return ctx.require(KIND)
