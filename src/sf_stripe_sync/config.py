"""Settings: a TOML file, then environment variables, then a secrets file for secrets.

Theory of operation: ``load_settings`` reads the TOML file named by ``--config`` (or
``SF_STRIPE_SYNC_CONFIG``, or ``./sf-stripe-sync.toml`` when present), overlays
``SF_STRIPE_SYNC__SECTION__KEY`` environment variables (pydantic-settings, ``__`` as the
nesting delimiter) and validates everything into ``Settings``. Secrets are never stored
in settings themselves: settings hold the *names* of environment variables (or keys of
a ``KEY=value`` secrets file) and ``resolve_secret`` reads the value at the moment an
adapter needs it. ``Secret`` wraps the value so it never prints.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sf_stripe_sync.billing_state.settings import BillingStateSettings
from sf_stripe_sync.catalog.settings import CatalogSettings, PortalSettings
from sf_stripe_sync.core.rules import FieldMap, SyncRules
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.queue.settings import QueueSettings
from sf_stripe_sync.serve.settings import ServeSettings
from sf_stripe_sync.state.settings import StateSettings

DEFAULT_CONFIG_NAME = "sf-stripe-sync.toml"
SALESFORCE_API_VERSION = "65.0"
STRIPE_API_VERSION = "2026-10-28.endive"
"""Pinned to the version the bundled stripe SDK was generated for."""


class StripeAccountSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    api_key_env: str = "STRIPE_API_KEY"
    """Environment variable (or secrets-file key) holding the secret key."""
    connected_account: str | None = None
    """Sent as ``Stripe-Account`` when acting on behalf of a connected account."""
    api_base: str | None = None
    """Override of Stripe's API address (the local emulator); None means Stripe's own."""
    rate_limit_per_second: float = 25.0
    """Client-side token bucket; 25/s is Stripe's documented test-mode limit. When left
    unset, a live key (``sk_live_``/``rk_live_``) is paced at the live limit, 100/s."""
    rate_limit_burst: float = 1.0
    """Tokens the bucket holds: 1 spaces requests evenly (see ``ratelimit``)."""
    max_retries: int = 5


class SalesforceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    auth: Literal["session", "password", "jwt", "client_credentials"] = "password"
    instance_url: str | None = None
    domain: str = "login"
    """``login``, ``test`` (sandboxes) or a My Domain host without ``.salesforce.com``."""
    api_version: str = SALESFORCE_API_VERSION
    username: str | None = None
    consumer_key: str | None = None
    private_key_file: Path | None = None
    session_id_env: str = "SF_SESSION_ID"
    password_env: str = "SF_PASSWORD"
    security_token_env: str = "SF_SECURITY_TOKEN"
    consumer_secret_env: str = "SF_CONSUMER_SECRET"
    verify_tls: bool = True


class RetrySettings(BaseModel):
    """Waits between retries of transient failures (Stripe and Salesforce alike).

    ``None`` keeps each adapter's own default backoff. Zero waits suit the local
    stand-ins and the reliability suite (``SF_STRIPE_SYNC__RETRY__INITIAL_WAIT_SECONDS=0``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    initial_wait_seconds: float | None = Field(default=None, ge=0)
    max_wait_seconds: float | None = Field(default=None, ge=0)
    jitter_seconds: float | None = Field(default=None, ge=0)
    """Salesforce: random seconds added to a wait; Stripe: zero turns its jitter off."""

    @property
    def is_default(self) -> bool:
        """Nothing set: each adapter keeps its own backoff."""
        return (self.initial_wait_seconds is None and self.max_wait_seconds is None
                and self.jitter_seconds is None)


def find_stripe_account(
    accounts: tuple[StripeAccountSettings, ...], name: str
) -> StripeAccountSettings:
    for account in accounts:
        if account.name == name:
            return account
    raise ConfigError(f"unknown Stripe account {name!r}; configured: "
                      f"{[a.name for a in accounts]}")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SF_STRIPE_SYNC__",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
    )

    salesforce: SalesforceSettings = Field(default_factory=SalesforceSettings)
    stripe_accounts: tuple[StripeAccountSettings, ...] = (
        StripeAccountSettings(name="default"),
    )
    default_stripe_account: str = "default"
    fields: FieldMap = Field(default_factory=FieldMap)
    rules: SyncRules = Field(default_factory=SyncRules)
    state_dir: Path = Path(".sf-stripe-sync")
    state: StateSettings = Field(default_factory=StateSettings)
    """``state.url = "postgresql://..."``: a store shared by many hosts (``state.settings``)."""
    queue: QueueSettings = Field(default_factory=QueueSettings)
    """The task queue the ``worker`` command serves (``queue.settings``)."""
    secrets_file: Path | None = None
    page_size: int = 200
    watermark_overlap_seconds: int = 300
    """Re-read this much before the watermark: SystemModstamp is not strictly ordered."""
    concurrency: int = Field(default=4, ge=1)
    """The least number of contracts worked on at once (the adaptive limit starts here)."""
    concurrency_max: int = Field(default=128, ge=1)
    """The most: the limit grows to what the observed Stripe latency needs (Little's law,
    ``concurrency``); ``concurrency_max = 1`` runs one order at a time."""
    pages_ahead: int = Field(default=4, ge=1)
    """Pages read and worked on at once (``pipeline``): creates of one page overlap the
    updates of another, so each Stripe endpoint's limit stays busy."""
    writeback_flush_records: int = Field(default=1000, ge=1)
    """Salesforce write-back is flushed, while the run goes on, whenever this many
    records wait (and at the end): a composite call carries 5 collections of 200."""
    retry: RetrySettings = Field(default_factory=RetrySettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    """Product/price sync both ways, entitlement features, catalog events (``catalog``)."""
    portal: PortalSettings = Field(default_factory=PortalSettings)
    """Customer portal configurations per role (``portal-link``)."""
    serve: ServeSettings = Field(default_factory=ServeSettings)
    """The trigger endpoint (``serve``): secret variable, replay window, org id, batches."""
    billing_state: BillingStateSettings = Field(default_factory=BillingStateSettings)
    """Where Stripe's billing state lands in Salesforce (``billing pull``, ``billing status``)."""

    @model_validator(mode="after")
    def _default_account_exists(self) -> Settings:
        names = [a.name for a in self.stripe_accounts]
        if len(set(names)) != len(names):
            raise ValueError(f"stripe_accounts: duplicate names in {names}")
        if self.default_stripe_account not in names:
            raise ValueError(
                f"default_stripe_account {self.default_stripe_account!r} is not one of "
                f"the configured stripe_accounts {names}"
            )
        return self

    def stripe_account(self, name: str | None) -> StripeAccountSettings:
        return find_stripe_account(self.stripe_accounts, name or self.default_stripe_account)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment beats the file; the file's values arrive as init kwargs.
        return (env_settings, init_settings)


def find_config(path: Path | None, environ: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if environ is None else environ
    if path is not None:
        return path
    if env.get("SF_STRIPE_SYNC_CONFIG"):
        return Path(env["SF_STRIPE_SYNC_CONFIG"])
    default = Path(DEFAULT_CONFIG_NAME)
    return default if default.exists() else None


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read and validate settings; every problem becomes one ``ConfigError``."""
    found = find_config(path)
    data: dict[str, Any] = {}
    if found is not None:
        try:
            data = tomllib.loads(found.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"config file not found: {found}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {found} is not valid TOML: {exc}") from exc
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return Settings(**data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        where = f" in {found}" if found else ""
        raise ConfigError(f"invalid configuration{where}: {problems}") from exc


def _read_secrets_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read secrets file {path}: {exc.strerror}") from exc
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def resolve_secret(
    name: str,
    settings: Settings,
    environ: Mapping[str, str] | None = None,
    *,
    required: bool = True,
) -> SecretStr | None:
    """The secret stored under ``name`` in the environment, else in the secrets file.

    The error names the variable, never a value.
    """
    env = os.environ if environ is None else environ
    if env.get(name):
        return SecretStr(env[name])
    if settings.secrets_file is not None:
        from_file = _read_secrets_file(settings.secrets_file).get(name)
        if from_file:
            return SecretStr(from_file)
    if required:
        where = f" or in {settings.secrets_file}" if settings.secrets_file else ""
        raise ConfigError(f"secret {name} is not set in the environment{where}")
    return None
