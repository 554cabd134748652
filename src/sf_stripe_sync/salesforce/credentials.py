"""The login arguments of each Salesforce auth mode, from the settings and the secrets.

Theory of operation: ``credentials_for`` maps ``settings.salesforce`` (session,
password, jwt or client_credentials) to the keyword arguments simple-salesforce logs in
with, resolving each secret through ``config.resolve_secret`` (environment or secrets
file) and refusing a missing setting with a ``ConfigError`` that names it.
``SECRET_KEYS`` names the arguments that hold secrets, so ``auth.connect`` can mask
their values in every message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sf_stripe_sync.config import Settings, resolve_secret
from sf_stripe_sync.errors import ConfigError

SECRET_KEYS = frozenset({"password", "security_token", "session_id", "consumer_secret"})


def credentials_for(settings: Settings, environ: Mapping[str, str] | None) -> dict[str, Any]:
    """simple-salesforce's login arguments for ``settings.salesforce.auth``, secrets
    resolved from the environment or the secrets file (``ConfigError`` naming a missing
    setting)."""
    sf = settings.salesforce

    def secret(name: str, *, required: bool = True) -> str | None:
        value = resolve_secret(name, settings, environ, required=required)
        return value.get_secret_value() if value is not None else None

    def need(value: Any, setting: str) -> Any:
        if value is None or value == "":
            raise ConfigError(f"salesforce.{setting} is required for auth = {sf.auth!r}")
        return value

    if sf.auth == "session":
        return {
            "session_id": secret(sf.session_id_env),
            "instance_url": need(sf.instance_url, "instance_url"),
        }
    if sf.auth == "password":
        return {
            "username": need(sf.username, "username"),
            "password": secret(sf.password_env),
            "security_token": secret(sf.security_token_env, required=False) or "",
            "domain": sf.domain,
        }
    if sf.auth == "jwt":
        key_file = need(sf.private_key_file, "private_key_file")
        if not key_file.is_file():
            raise ConfigError(f"salesforce.private_key_file {key_file} does not exist")
        return {
            "username": need(sf.username, "username"),
            "consumer_key": need(sf.consumer_key, "consumer_key"),
            "privatekey_file": str(key_file),
            "domain": sf.domain,
        }
    if sf.domain in {"login", "test"}:
        raise ConfigError(
            "auth = 'client_credentials' needs salesforce.domain set to the org's My "
            "Domain (e.g. 'acme.my'), not 'login' or 'test'"
        )
    return {
        "consumer_key": need(sf.consumer_key, "consumer_key"),
        "consumer_secret": secret(sf.consumer_secret_env),
        "domain": sf.domain,
    }
