"""The HTTP client the Stripe SDK sends through: urllib3's connection pools, nothing more.

Theory of operation: ``stripe.StripeClient`` takes any ``stripe.HTTPClient``; the SDK
builds each request (URL, headers, form body, idempotency key) and reads each answer
itself, so the transport's job is only to move bytes. ``PooledHTTPClient`` sends the
SDK's request on one ``urllib3.PoolManager`` (or ``ProxyManager``) made once, with what
``requests`` would add on the wire (``Accept``, ``Accept-Encoding``, keep-alive), and
gives back the body, status and (case-insensitive) headers. ``requests`` did the same
on top of urllib3, plus a per-request layer of its own (session and environment
settings merged, cookies, hooks, prepared requests), which cost as much CPU as urllib3
itself: in a sync at 100 requests/s that was a tenth of the engine's CPU.

What ``requests`` was configured to do is kept: the certificate bundle the SDK ships
(``stripe.ca_bundle_path``), the connect and read timeouts, the environment's proxy for
the API's address read once (``HTTPS_PROXY`` / ``HTTP_PROXY``, ``NO_PROXY`` honoured;
credentials in the proxy's address sent as ``Proxy-Authorization``, never in an error),
``CONNECTIONS_KEPT`` connections kept per host, and the SDK's error contract: a failure
to connect or a timeout is an ``APIConnectionError`` the engine retries, a TLS
verification failure one it does not. Redirects are not followed (Stripe's API sends
none). Each answer's method, path and status go to ``observe``.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from typing import Any, NoReturn
from urllib.parse import unquote, urlsplit

import requests
import stripe
import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, ProtocolError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from sf_stripe_sync import observe

CONNECTIONS_KEPT = 128
"""Open connections kept per API host: the default ``concurrency_max`` of a run."""
WIRE_HEADERS = {"Accept-Encoding": "gzip, deflate", "Accept": "*/*",
                "Connection": "keep-alive"}
"""What ``requests`` adds to every request (the SDK sets its own User-Agent)."""


class PooledHTTPClient(stripe.HTTPClient):
    """The SDK's transport on urllib3 pools (see the module docstring)."""

    name = "urllib3"

    def __init__(self, api_base: str, *, timeout: float) -> None:
        super().__init__()
        settings: dict[str, Any] = {
            "num_pools": 10, "maxsize": CONNECTIONS_KEPT, "block": False,
            "cert_reqs": "CERT_REQUIRED", "ca_certs": stripe.ca_bundle_path,
            "timeout": urllib3.Timeout(connect=timeout, read=timeout), "retries": False}
        proxy = environment_proxy(api_base)
        self.pool: urllib3.PoolManager = (proxy_manager(proxy, settings)
                                          if proxy else urllib3.PoolManager(**settings))

    def request(self, method: str, url: str, headers: Mapping[str, str] | None,
                post_data: Any = None, *, _usage: list[str] | None = None,
                ) -> tuple[Any, int, Mapping[str, str]]:
        """The body as bytes (as ``RequestsClient`` gives it; the SDK decodes it)."""
        response = self._send(method, url, headers, post_data, stream=False)
        return response.data, response.status, response.headers

    def request_stream(self, method: str, url: str, headers: Mapping[str, str] | None,
                       post_data: Any = None, *, _usage: list[str] | None = None,
                       ) -> tuple[Any, int, Mapping[str, str]]:
        response = self._send(method, url, headers, post_data, stream=True)
        return response, response.status, response.headers

    def _send(self, method: str, url: str, headers: Mapping[str, str] | None,
              post_data: Any, *, stream: bool) -> urllib3.BaseHTTPResponse:
        verb = method.upper()
        try:
            response = self.pool.request(
                verb, url, body=post_data or None, headers={**WIRE_HEADERS, **(headers or {})},
                redirect=False, preload_content=not stream)
        except Exception as exc:  # the SDK's contract: APIConnectionError, retry or not
            _connection_error(exc)
        observe.stripe_response(verb, urlsplit(url).path, response.status)
        return response

    def close(self) -> None:
        self.pool.clear()


def environment_proxy(api_base: str) -> str | None:
    """The environment's proxy for ``api_base`` (``NO_PROXY`` honoured), read once."""
    proxies = requests.utils.get_environ_proxies(api_base)
    scheme = urlsplit(api_base).scheme
    found = proxies.get(scheme) or proxies.get("all")
    return str(found) if found else None


def proxy_manager(proxy: str, settings: Mapping[str, Any]) -> urllib3.ProxyManager:
    """Requests through ``proxy``; ``user:password@`` in its address (percent-encoded,
    as ``requests`` reads it) becomes the ``Proxy-Authorization`` header and leaves the
    address urllib3 keeps, so no error message can show it."""
    address = urllib3.util.parse_url(proxy)
    headers: dict[str, str] | None = None
    if address.auth:
        user, _, password = address.auth.partition(":")
        headers = urllib3.make_headers(proxy_basic_auth=f"{unquote(user)}:{unquote(password)}")
        address = address._replace(auth=None)
    return urllib3.ProxyManager(str(address.url), proxy_headers=headers, **settings)


def _connection_error(exc: Exception) -> NoReturn:
    """As the SDK's own clients raise it: timeouts and failed connections are retried,
    a certificate that does not verify is not."""
    if isinstance(exc, SSLError | ssl.SSLError):
        should_retry = False
    elif isinstance(exc, Urllib3Timeout | NewConnectionError | ProtocolError | OSError):
        should_retry = True
    elif isinstance(exc, HTTPError):
        should_retry = isinstance(getattr(exc, "reason", None), Urllib3Timeout | OSError)
    else:
        should_retry = False
    message = ("Unexpected error communicating with Stripe. If this problem persists, "
               f"let us know at support@stripe.com.\n\n(Network error: {type(exc).__name__}: "
               f"{exc})")
    raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]  # (the SDK's own)
        message, should_retry=should_retry) from exc
