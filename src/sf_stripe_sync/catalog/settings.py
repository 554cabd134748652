"""The ``[catalog]`` and ``[portal]`` configuration sections.

Theory of operation: plain frozen pydantic models, read by ``config.Settings`` like the
other sections (TOML, then ``SF_STRIPE_SYNC__CATALOG__...`` environment variables).
Field names are Salesforce API names; every one has a default so an org that uses the
defaults needs no configuration at all.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Interval = Literal["day", "week", "month", "year"]


class BillingFrequency(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    interval: Interval
    interval_count: int = Field(default=1, ge=1)


def _default_frequencies() -> dict[str, BillingFrequency]:
    return {
        "Weekly": BillingFrequency(interval="week"),
        "Monthly": BillingFrequency(interval="month"),
        "Quarterly": BillingFrequency(interval="month", interval_count=3),
        "Semiannual": BillingFrequency(interval="month", interval_count=6),
        "Annual": BillingFrequency(interval="year"),
    }


class CatalogSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    billing_frequency_field: str = "Billing_Frequency__c"
    """Product2 field naming how often its prices recur (a key of ``frequencies``)."""
    frequencies: dict[str, BillingFrequency] = Field(default_factory=_default_frequencies)
    default_frequency: str | None = "Monthly"
    """Used when the Product2 field is blank; None makes a blank field an error."""
    one_time_frequency: str = "One-Time"
    """The frequency of a one-time charge (setup fee): its price does not recur."""
    features_field: str = "Stripe_Features__c"
    """Product2 multi-select picklist of entitlement feature lookup keys (``a;b;c``)."""
    feature_names: dict[str, str] = Field(default_factory=dict)
    """Feature lookup key -> the feature's name in Stripe (else the key, made readable)."""
    standard_pricebook_id: str | None = None
    """The standard Pricebook2; None: found with ``IsStandard = true``."""
    webhook_secret_env: str = "STRIPE_WEBHOOK_SECRET"
    """Environment variable (or secrets-file key) holding the endpoint's signing secret."""
    webhook_tolerance_seconds: int = 300
    event_page_size: int = Field(default=100, ge=1, le=100)

    @model_validator(mode="after")
    def _default_is_known(self) -> CatalogSettings:
        if self.default_frequency is not None and self.default_frequency not in self.frequencies:
            raise ValueError(f"default_frequency {self.default_frequency!r} is not one of "
                             f"the frequencies {sorted(self.frequencies)}")
        return self


class PortalRole(BaseModel):
    """What a customer portal made for one role lets the customer do."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    invoice_history: bool = True
    payment_method_update: bool = False
    customer_update: bool = False
    subscription_cancel: bool = False
    cancel_mode: Literal["at_period_end", "immediately"] = "at_period_end"
    subscription_pause: bool = False
    headline: str | None = None
    default_return_url: str | None = None


def _default_roles() -> dict[str, PortalRole]:
    return {
        "admin": PortalRole(payment_method_update=True, subscription_cancel=True,
                            subscription_pause=True),
        "viewer": PortalRole(),
    }


class PortalSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    roles: dict[str, PortalRole] = Field(default_factory=_default_roles)
    default_role: str = "viewer"
    contact_role_field: str = "Stripe_Portal_Role__c"
    """Contact field naming the role of the person a portal link is made for."""
    default_return_url: str | None = None
    """Where the portal sends the customer back to when neither the role nor the command
    line gives one."""

    @model_validator(mode="after")
    def _default_role_is_known(self) -> PortalSettings:
        if self.default_role not in self.roles:
            raise ValueError(f"default_role {self.default_role!r} is not one of the roles "
                             f"{sorted(self.roles)}")
        return self
