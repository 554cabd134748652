"""Customer portal by role: one portal configuration per configured role, and sessions.

Theory of operation: ``[portal.roles.<name>]`` says what a portal for that role lets the
customer do (invoice history, payment method update, customer details, cancel, pause).
``PortalConfigurations.ensure(role)`` makes Stripe hold exactly that configuration:
the id remembered under the role's name (``memory``) is retrieved and updated when it
drifted; without a remembered id, an active configuration carrying
``metadata.sf_sync_portal_role`` is adopted; otherwise one is created. Writes carry keys
derived from the role and its desired settings, so reruns replay or send nothing.

``session_url`` makes a portal session for a customer with the role's configuration
and returns its URL. The role comes from the command line, else from the Contact's
role field (``portal.contact_role_field``), else ``portal.default_role``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from functools import partial
from typing import Any

from stripe.params.billing_portal import (
    ConfigurationCreateParams,
    ConfigurationCreateParamsFeatures,
    ConfigurationListParams,
    SessionCreateParams,
)

from sf_stripe_sync.catalog.memory import CatalogMemory
from sf_stripe_sync.catalog.settings import PortalRole, PortalSettings
from sf_stripe_sync.catalog.stripe_api import as_dict
from sf_stripe_sync.core.keys import operation_key
from sf_stripe_sync.errors import ConfigError, TerminalError, UsageError
from sf_stripe_sync.stripe.session import StripeSession

log = logging.getLogger(__name__)

META_ROLE = "sf_sync_portal_role"
MEMORY_KIND = "portal_configuration"
CUSTOMER_UPDATES = ["address", "email", "name", "phone"]


def role_settings(settings: PortalSettings, role: str) -> PortalRole:
    found = settings.roles.get(role)
    if found is None:
        raise UsageError(f"unknown portal role {role!r}; configured roles: "
                         f"{', '.join(sorted(settings.roles))}")
    return found


def features_of(role: PortalRole) -> ConfigurationCreateParamsFeatures:
    features: ConfigurationCreateParamsFeatures = {
        "invoice_history": {"enabled": role.invoice_history},
        "payment_method_update": {"enabled": role.payment_method_update},
        "customer_update": ({"enabled": True, "allowed_updates": list(CUSTOMER_UPDATES)}
                            if role.customer_update else {"enabled": False}),
        "subscription_cancel": ({"enabled": True, "mode": role.cancel_mode}
                                if role.subscription_cancel else {"enabled": False}),
        "subscription_pause": {"enabled": role.subscription_pause},
    }
    return features


def configuration_params(name: str, role: PortalRole, settings: PortalSettings
                         ) -> ConfigurationCreateParams:
    params: ConfigurationCreateParams = {
        "features": features_of(role),
        "name": f"sf-stripe-sync {name}",
        "metadata": {META_ROLE: name},
    }
    return_url = role.default_return_url or settings.default_return_url
    if return_url:
        params["default_return_url"] = return_url
    if role.headline:
        params["business_profile"] = {"headline": role.headline}
    return params


def _fingerprint(params: ConfigurationCreateParams) -> str:
    text = json.dumps(params, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def configuration_matches(current: dict[str, Any], params: ConfigurationCreateParams) -> bool:
    """Whether a Stripe configuration already grants exactly what ``params`` asks."""
    if not current.get("active"):
        return False
    have = current.get("features") or {}
    wanted_features: dict[str, dict[str, Any]] = json.loads(json.dumps(params["features"]))
    for feature, wanted in wanted_features.items():
        got = have.get(feature) or {}
        if any(got.get(key) != value for key, value in wanted.items()):
            return False
    profile = current.get("business_profile") or {}
    headline = params.get("business_profile", {}).get("headline")
    return (current.get("default_return_url") == params.get("default_return_url")
            and profile.get("headline") == headline
            and current.get("name") == params.get("name")
            and (current.get("metadata") or {}).get(META_ROLE) == params["metadata"][META_ROLE])


class PortalConfigurations:
    def __init__(self, stripe: StripeSession, settings: PortalSettings,
                 memory: CatalogMemory) -> None:
        self.stripe = stripe
        self.settings = settings
        self.memory = memory
        self.changed: list[str] = []

    def ensure(self, role: str) -> str:
        """The id of the configuration for ``role``, created or brought in line."""
        params = configuration_params(role, role_settings(self.settings, role), self.settings)
        current = self._remembered(role) or self._adoptable(role)
        if current is None:
            key = operation_key(self.stripe.account_name, "portal-create", role,
                                _fingerprint(params))
            created = as_dict(self.stripe.call("billing_portal.configurations.create", partial(
                self.stripe.client.v1.billing_portal.configurations.create, params=params,
                options=self.stripe.options(key)), kind="write", key=key))
            config_id = str(created["id"])
            self.changed.append(f"created {role} {config_id}")
        else:
            config_id = str(current["id"])
            if not configuration_matches(current, params):
                key = operation_key(self.stripe.account_name, "portal-update", config_id,
                                    _fingerprint(params))
                update = {**params, "active": True}
                self.stripe.call("billing_portal.configurations.update", partial(
                    self.stripe.client.v1.billing_portal.configurations.update, config_id,
                    params=update, options=self.stripe.options(key)),  # type: ignore[arg-type]
                    kind="write", key=key)
                self.changed.append(f"updated {role} {config_id}")
        self.memory.put(self.stripe.account_name, MEMORY_KIND, role, config_id)
        return config_id

    def ensure_all(self) -> dict[str, str]:
        return {role: self.ensure(role) for role in sorted(self.settings.roles)}

    def _remembered(self, role: str) -> dict[str, Any] | None:
        config_id = self.memory.get(self.stripe.account_name, MEMORY_KIND, role)
        if not config_id:
            return None
        try:
            return as_dict(self.stripe.call("billing_portal.configurations.retrieve", partial(
                self.stripe.client.v1.billing_portal.configurations.retrieve, config_id)))
        except TerminalError as exc:
            if exc.code == "resource_missing":
                log.warning("portal configuration %s remembered for role %s is gone; "
                            "making a new one", config_id, role)
                return None
            raise

    def _adoptable(self, role: str) -> dict[str, Any] | None:
        starting_after: str | None = None
        while True:
            params: ConfigurationListParams = {"active": True, "limit": 100}
            if starting_after:
                params["starting_after"] = starting_after
            page = self.stripe.call("billing_portal.configurations.list", partial(
                self.stripe.client.v1.billing_portal.configurations.list, params=params))
            for config in page.data:
                raw = as_dict(config)
                if (raw.get("metadata") or {}).get(META_ROLE) == role:
                    return raw
            if not page.has_more or not page.data:
                return None
            starting_after = page.data[-1].id

    def session(self, customer_id: str, role: str, return_url: str | None) -> dict[str, Any]:
        """A portal session for the customer, made with the role's configuration."""
        config_id = self.ensure(role)
        role_config = role_settings(self.settings, role)
        url = return_url or role_config.default_return_url or self.settings.default_return_url
        if not url:
            raise ConfigError(f"portal role {role!r} has no return URL: pass --return-url or "
                              "set portal.default_return_url")
        params: SessionCreateParams = {"customer": customer_id, "configuration": config_id,
                                       "return_url": url}
        session = as_dict(self.stripe.call("billing_portal.sessions.create", partial(
            self.stripe.client.v1.billing_portal.sessions.create, params=params),
            kind="write"))
        return session


def role_of_contact(contact: dict[str, Any] | None, settings: PortalSettings) -> str | None:
    if contact is None:
        return None
    value = contact.get(settings.contact_role_field)
    text = str(value).strip().lower() if value is not None else ""
    return text or None
