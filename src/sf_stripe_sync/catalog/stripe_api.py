"""The stripe SDK for the catalog package: one client per account, retries, error translation.

Theory of operation: ``open_stripe`` builds the account's ``stripe.StripeClient``
(``stripe.client.build_client``: pinned API version, ``Stripe-Account`` for a connected
account, ``api_base`` for the local emulator) with the key resolved at that moment; an
account pointed at a local emulator without a configured key uses the demo key, as the
runtime does. ``StripeCalls.call`` sends one request under the project's retry policy,
translates SDK exceptions into ``sf_stripe_sync.errors`` at this edge and counts reads
and writes. Answers are handed on as plain dicts (``to_dict``) so the rest of the
package never touches SDK objects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal, TypeVar

import stripe
from pydantic import SecretStr

from sf_stripe_sync.config import Settings, StripeAccountSettings, resolve_secret
from sf_stripe_sync.stripe.client import build_client
from sf_stripe_sync.stripe.errors import translate_stripe_error
from sf_stripe_sync.stripe.retry import RetryPolicy

T = TypeVar("T")
LOCAL_DEMO_KEY = "sk_test_local_emulator"
"""The key the runtime gives the local emulator when none is configured."""

log = logging.getLogger(__name__)


class StripeCalls:
    """One Stripe account's client, every request retried and translated the same way."""

    def __init__(self, client: stripe.StripeClient, *, account_name: str,
                 retry: RetryPolicy | None = None) -> None:
        self.client = client
        self.account_name = account_name
        self.retry = retry or RetryPolicy()
        self.reads = 0
        self.writes = 0

    def call(self, method: str, send: Callable[[], T], *,
             kind: Literal["read", "write"] = "read", key: str | None = None) -> T:
        def attempt() -> T:
            if kind == "write":
                self.writes += 1
            else:
                self.reads += 1
            try:
                return send()
            except stripe.StripeError as exc:
                raise translate_stripe_error(exc, operation=method) from exc

        result = self.retry.call(attempt, describe=f"Stripe {method}")
        log.debug("stripe %s ok (idempotency key %s)", method, key or "-")
        return result

    def options(self, key: str) -> stripe.RequestOptions:
        return {"idempotency_key": key}


def as_dict(obj: Any) -> dict[str, Any]:
    """A Stripe object (or list page) as plain data."""
    data: dict[str, Any] = obj.to_dict()
    return data


def open_stripe(settings: Settings, account: StripeAccountSettings) -> StripeCalls:
    """The catalog's client for ``account`` (after ``open_runtime`` pointed it somewhere)."""
    local = account.api_base is not None and account.api_base.startswith(
        ("http://127.0.0.1", "http://localhost"))
    key = resolve_secret(account.api_key_env, settings, required=not local)
    client = build_client(account, key or SecretStr(LOCAL_DEMO_KEY))
    return StripeCalls(client, account_name=account.name,
                       retry=RetryPolicy.from_max_retries(account.max_retries))
