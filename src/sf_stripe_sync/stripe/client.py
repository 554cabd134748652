"""Build the one ``stripe.StripeClient`` each configured Stripe account uses.

Theory of operation: a client is configured once, from ``StripeAccountSettings`` and the
secret key (a ``SecretStr`` unwrapped only here, at the moment the SDK needs it). The
API version is pinned to ``config.STRIPE_API_VERSION`` so responses keep the shape the
converters expect; ``Stripe-Account`` is sent for a connected account; ``api_base``
points the client at another address (the local emulator); the SDK's own network
retries are off because ``retry.RetryPolicy`` is the one policy. Nothing here logs; each
HTTP answer's method, path and status go to ``observe`` (metrics), never its content.

The HTTP session reads the environment once, when it is built: the proxy for the API's
address (``HTTPS_PROXY`` / ``HTTP_PROXY``, ``NO_PROXY`` honoured) is fixed then, and
``requests`` stops looking at the environment and ``~/.netrc`` on every request (it did
both per call: a share of each request's CPU, and a netrc entry for the API's host
would have replaced the key's ``Authorization`` header). It keeps up to
``CONNECTIONS_KEPT`` connections open for reuse: a run has up to ``concurrency_max``
requests in flight, and past ``requests``' default of 10 each answer's connection was
dropped (with a urllib3 warning) and the next request paid a new TCP and TLS handshake.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
import stripe
from pydantic import SecretStr

from sf_stripe_sync import observe
from sf_stripe_sync.config import STRIPE_API_VERSION, StripeAccountSettings
from sf_stripe_sync.errors import ConfigError

DEFAULT_TIMEOUT_SECONDS = 30.0
CONNECTIONS_KEPT = 128
"""Open connections kept per API host: the default ``concurrency_max`` of a run."""
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
        http_client=stripe.RequestsClient(
            timeout=timeout, session=_observed_session(api_base or STRIPE_API_BASE)),
    )


def _observed_session(api_base: str) -> requests.Session:
    """A session that reports each answer's method, path and status to ``observe``, with
    the environment's proxy for ``api_base`` read once."""
    session = requests.Session()
    session.proxies = requests.utils.get_environ_proxies(api_base)
    session.trust_env = False
    kept = requests.adapters.HTTPAdapter(pool_maxsize=CONNECTIONS_KEPT)
    session.mount("https://", kept)
    session.mount("http://", kept)

    def report(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        request = response.request
        observe.stripe_response(str(request.method or ""),
                                urlsplit(str(request.url or "")).path, response.status_code)

    session.hooks["response"].append(report)
    return session
