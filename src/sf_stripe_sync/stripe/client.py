"""Build the one ``stripe.StripeClient`` each configured Stripe account uses.

Theory of operation: a client is configured once, from ``StripeAccountSettings`` and the
secret key (a ``SecretStr`` unwrapped only here, at the moment the SDK needs it). The
API version is pinned to ``config.STRIPE_API_VERSION`` so responses keep the shape the
converters expect; ``Stripe-Account`` is sent for a connected account; ``api_base``
points the client at another address (the local emulator); the SDK's own network
retries are off because ``retry.RetryPolicy`` is the one policy. Nothing here logs; each
HTTP answer's method, path and status go to ``observe`` (metrics), never its content.

The transport is ``http.PooledHTTPClient`` (urllib3 pools, made once): it reads the
environment once, when it is built: the proxy for the API's address (``HTTPS_PROXY`` /
``HTTP_PROXY``, ``NO_PROXY`` honoured) is fixed then, and nothing looks at the
environment or ``~/.netrc`` per request (a netrc entry for the API's host would have
replaced the key's ``Authorization`` header). It keeps up to ``CONNECTIONS_KEPT``
connections open for reuse: a run has up to ``concurrency_max`` requests in flight, and
a connection dropped on return would make the next request pay a new TCP and TLS
handshake.
"""

from __future__ import annotations

import stripe
from pydantic import SecretStr

from sf_stripe_sync.config import STRIPE_API_VERSION, StripeAccountSettings
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.stripe.http import CONNECTIONS_KEPT, PooledHTTPClient

__all__ = ["CONNECTIONS_KEPT", "DEFAULT_TIMEOUT_SECONDS", "STRIPE_API_BASE", "build_client"]

DEFAULT_TIMEOUT_SECONDS = 30.0
STRIPE_API_BASE = "https://api.stripe.com"


def build_client(
    account: StripeAccountSettings,
    api_key: SecretStr,
    *,
    api_version: str = STRIPE_API_VERSION,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> stripe.StripeClient:
    """A client for ``account``; the key never leaves the SDK's request headers."""
    secret = api_key.get_secret_value()
    if not secret:
        raise ConfigError(f"Stripe account {account.name!r}: the API key is empty")
    api_base = account.api_base.rstrip("/") if account.api_base else None
    return stripe.StripeClient(
        secret,
        stripe_account=account.connected_account,
        stripe_version=api_version,
        base_addresses={"api": api_base} if api_base else None,
        max_network_retries=0,
        http_client=PooledHTTPClient(api_base or STRIPE_API_BASE, timeout=timeout),
    )

