"""Webhook endpoints: create, retrieve, update, delete, list; what ``webhooks`` delivers to.

Theory of operation: an endpoint has a ``url``, the ``enabled_events`` it wants (``*``
for all, or exact types such as ``invoice.paid``, as Stripe's enum allows) and
a signing ``secret`` (``whsec_...``), returned only by the create call, as Stripe does.
It receives the events made after it was created: a hidden per-endpoint record keeps how
many of the account's events it has been offered. The emulator never reaches out of the
machine: only loopback URLs (``127.0.0.1``, ``localhost``, ``[::1]``) are accepted.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sf_stripe_sync.sandbox.stripe_emulator.errors import invalid
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    apply_metadata,
    base_object,
    paginate,
)
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

KIND = "webhook_endpoint"
OFFERED = "webhook_offered"
"""Hidden kind: ``{id: endpoint id, count: events of the account already offered}``."""
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise invalid(f"Invalid URL: {url}", param="url")
    if parts.hostname not in _LOOPBACK:
        raise invalid("The emulator delivers webhooks only to loopback addresses "
                      "(127.0.0.1, localhost).", param="url")
    return url


def _events(value: object) -> list[str]:
    events = [str(e) for e in (value or [])] if isinstance(value, list) else []
    if not events:
        raise invalid("You must specify at least one enabled event.", param="enabled_events")
    return events


def wants(endpoint: JSON, event_type: str) -> bool:
    enabled = endpoint["enabled_events"]
    return "*" in enabled or event_type in enabled


def create(ctx: Context) -> JSON:
    params = ctx.params
    endpoint = base_object(ctx, KIND, ctx.store.new_id("we", KIND))
    endpoint.update({
        "api_version": params.get("api_version"), "application": None,
        "description": params.get("description"),
        "enabled_events": _events(params.get("enabled_events")),
        "metadata": apply_metadata({}, params.get("metadata")),
        "secret": f"whsec_{ctx.store.random_suffix(32)}", "status": "enabled",
        "url": _check_url(str(params.get("url") or "")),
    })
    ctx.save(OFFERED, {"id": endpoint["id"], "count": len(ctx.all("event"))})
    return ctx.save(KIND, endpoint)


def _public(endpoint: JSON) -> JSON:
    return {**endpoint, "secret": None}


def retrieve(ctx: Context) -> JSON:
    return _public(ctx.require(KIND))


def update(ctx: Context) -> JSON:
    endpoint = ctx.require(KIND)
    params = ctx.params
    if "url" in params:
        endpoint["url"] = _check_url(str(params["url"]))
    if "enabled_events" in params:
        endpoint["enabled_events"] = _events(params["enabled_events"])
    if "description" in params:
        endpoint["description"] = params["description"] or None
    if "disabled" in params:
        endpoint["status"] = "disabled" if params["disabled"] else "enabled"
    if "metadata" in params:
        endpoint["metadata"] = apply_metadata(endpoint["metadata"], params["metadata"])
    return _public(ctx.save(KIND, endpoint))


def delete(ctx: Context) -> JSON:
    endpoint = ctx.require(KIND)
    ctx.store.delete(ctx.account, KIND, endpoint["id"])
    ctx.store.delete(ctx.account, OFFERED, endpoint["id"])
    return {"id": endpoint["id"], "object": KIND, "deleted": True}


def list_all(ctx: Context) -> JSON:
    return paginate([_public(e) for e in ctx.all(KIND)], ctx.params, "/v1/webhook_endpoints")
