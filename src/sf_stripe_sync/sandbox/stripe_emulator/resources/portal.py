"""Customer portal: configurations (create, retrieve, update, list) and sessions (create).

Theory of operation: a configuration stores the ``features`` it was given, each filled
with Stripe's defaults for what was left out (a feature not given is disabled), plus
``business_profile``, ``default_return_url``, ``name``, ``metadata`` and ``active``.
The first configuration of an account becomes the default (``is_default``). A session
needs an existing customer and a ``return_url`` (its own, else the configuration's
``default_return_url``: Stripe refuses one without either) and records the
configuration it used, so what a session may do can be read back from it.
"""

from __future__ import annotations

import copy
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.errors import invalid, missing_ref
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    apply_metadata,
    base_object,
    paginate,
)
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

CONFIGURATION = "billing_portal.configuration"
SESSION = "billing_portal.session"
PORTAL_HOST = "https://billing.stripe.com/p/session/"

_FEATURE_DEFAULTS: dict[str, JSON] = {
    "customer_update": {"allowed_updates": [], "enabled": False},
    "invoice_history": {"enabled": False},
    "payment_method_update": {"enabled": False, "payment_method_configuration": None},
    "subscription_cancel": {"cancellation_reason": {"enabled": False, "feedback_options": None,
                                                    "options": []},
                            "enabled": False, "mode": "at_period_end",
                            "proration_behavior": "none"},
    "subscription_pause": {"duration": {"interval_options": [], "type": "indefinite"},
                           "enabled": False},
    "subscription_update": {"billing_cycle_anchor": None, "default_allowed_updates": [],
                            "enabled": False, "products": [], "proration_behavior": "none",
                            "schedule_at_period_end": {"conditions": []},
                            "trial_update_behavior": "end_trial"},
}


def _features(current: JSON | None, given: Any) -> JSON:
    result = copy.deepcopy(current) if current else copy.deepcopy(_FEATURE_DEFAULTS)
    for name, values in dict(given or {}).items():
        merged = dict(result.get(name, {}))
        merged.update({k: v for k, v in dict(values).items()})
        result[name] = merged
    return result


def _profile(current: JSON | None, given: Any) -> JSON:
    base = dict(current or {"headline": None, "privacy_policy_url": None,
                            "terms_of_service_url": None})
    for key, value in dict(given or {}).items():
        base[key] = value or None
    return base


def create_configuration(ctx: Context) -> JSON:
    params = ctx.params
    obj = base_object(ctx, CONFIGURATION, ctx.new_id(CONFIGURATION))
    obj.update({
        "active": True, "application": None,
        "business_profile": _profile(None, params.get("business_profile")),
        "default_return_url": params.get("default_return_url") or None,
        "features": _features(None, params["features"]),
        "is_default": not any(c["is_default"] for c in ctx.all(CONFIGURATION)),
        "login_page": {"enabled": False, "url": None},
        "metadata": apply_metadata({}, params.get("metadata")),
        "name": params.get("name") or None, "updated": ctx.now,
    })
    return ctx.save(CONFIGURATION, obj)


def retrieve_configuration(ctx: Context) -> JSON:
    return ctx.require(CONFIGURATION)


def update_configuration(ctx: Context) -> JSON:
    obj = ctx.require(CONFIGURATION)
    params = ctx.params
    if "features" in params:
        obj["features"] = _features(obj["features"], params["features"])
    if "business_profile" in params:
        obj["business_profile"] = _profile(obj["business_profile"], params["business_profile"])
    for name in ("default_return_url", "name"):
        if name in params:
            obj[name] = params[name] or None
    if "active" in params:
        obj["active"] = bool(params["active"])
    if "metadata" in params:
        obj["metadata"] = apply_metadata(obj["metadata"], params["metadata"])
    obj["updated"] = ctx.now
    return ctx.save(CONFIGURATION, obj)


def list_configurations(ctx: Context) -> JSON:
    objects = ctx.all(CONFIGURATION)
    for name in ("active", "is_default"):
        if name in ctx.params:
            objects = [c for c in objects if c[name] == ctx.params[name]]
    return paginate(objects, ctx.params, "/v1/billing_portal/configurations")


def create_session(ctx: Context) -> JSON:
    params = ctx.params
    customer = str(params.get("customer") or "")
    if not customer:
        raise invalid("Missing required param: customer.", param="customer",
                      code="parameter_missing")
    if ctx.find("customer", customer) is None:
        raise missing_ref("customer", customer, param="customer")
    if params.get("configuration"):
        configuration = ctx.find(CONFIGURATION, str(params["configuration"]))
        if configuration is None:
            raise missing_ref("configuration", str(params["configuration"]),
                              param="configuration")
        if not configuration["active"]:
            raise invalid(f"The configuration {configuration['id']} is not active.",
                          param="configuration")
    else:
        configuration = next((c for c in ctx.all(CONFIGURATION) if c["is_default"]), None)
        if configuration is None:
            raise invalid("You can't create a portal session in test mode until you save "
                          "your customer portal settings.", param="configuration")
    return_url = params.get("return_url") or configuration["default_return_url"]
    if not return_url:
        raise invalid("A return_url is required: the configuration has no "
                      "default_return_url.", param="return_url")
    session_id = ctx.new_id(SESSION)
    obj = base_object(ctx, SESSION, session_id)
    obj.update({"after_expiration": None, "configuration": configuration["id"],
                "customer": customer, "customer_account": None,
                "flow": None, "locale": params.get("locale"),
                "on_behalf_of": params.get("on_behalf_of"), "return_url": return_url,
                "url": PORTAL_HOST + session_id.split("_", 1)[-1]})
    return ctx.save(SESSION, obj)
