"""One Stripe account's session: the client and how every request to it is sent.

Theory of operation: a ``StripeSession`` wraps the account's one ``stripe.StripeClient``
(``client.build_client``) and is the only way requests reach it, for the sync gateway
(``gateway.StripeGateway``, ``prices.PriceBook``) and the catalog commands alike
(``catalog``, ``billing_state``). ``call`` sends one request:

* pacing: it first takes a token from the endpoint's bucket and the account's
  (``ratelimit.EndpointPacer`` over the account's ``TokenBucket``, shared across
  processes by ``shared_ratelimit`` on a PostgreSQL store), retries included, so
  concurrent callers together stay inside the account's and each endpoint's limit;
* retries: ``retry.RetryPolicy`` (tenacity; ``settings.retry`` sets the waits, the
  account's ``max_retries`` the tries) retries transient failures only, with the same
  idempotency key;
* errors: SDK exceptions become the project's (``errors.translate_stripe_error``) here,
  so no ``stripe.*`` exception leaves a session;
* plain answers: ``send_json`` sends through the SDK's ``raw_request`` (the same
  request, headers and body the typed service method sends) and gives Stripe's JSON as
  dicts, without building ``StripeObject``s the caller would only turn back into dicts
  (most of the SDK's CPU per schedule answer); the sync gateway's schedule requests
  use it;
* observation: each answer's time (from send, pacing waits left out) feeds ``latency``,
  from which the engine sizes its concurrency (``concurrency``); ``stats`` counts every
  request sent (reads, writes, retries, per method); a ``Cost`` given by the caller
  collects one operation's writes and Stripe request ids.

A session lives as long as its runtime: every gateway and catalog step of one account
share it, hence share its buckets. ``LOCAL_DEMO_KEY`` is the key a local emulator gets
when none is configured.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar
from urllib.parse import quote_plus

import stripe
from pydantic import SecretStr

from sf_stripe_sync.concurrency import LatencyMeter
from sf_stripe_sync.config import STRIPE_API_VERSION, StripeAccountSettings
from sf_stripe_sync.ratelimit import EndpointPacer, TokenBucket, documented_rate
from sf_stripe_sync.stripe.client import DEFAULT_TIMEOUT_SECONDS, build_client
from sf_stripe_sync.stripe.errors import translate_stripe_error
from sf_stripe_sync.stripe.retry import RetryPolicy

__all__ = ["LOCAL_DEMO_KEY", "Cost", "GatewayStats", "RequestKind", "StripeSession",
           "emulator_limiter", "limiter_for"]

T = TypeVar("T")
RequestKind = Literal["read", "write"]
LOCAL_DEMO_KEY = "sk_test_local_emulator"
"""The key a local Stripe emulator gets when the account configures none."""

log = logging.getLogger(__name__)

_OPTION_NAMES = frozenset({"api_key", "stripe_version", "stripe_account", "stripe_context",
                           "max_network_retries", "idempotency_key", "content_type",
                           "headers", "usage", "base"})
"""Names ``raw_request`` takes as request options, not as params (none is a param of the
endpoints sent through ``send_json``)."""


@dataclass
class GatewayStats:
    """Requests sent through one session (retries included), for the run summary."""

    reads: int = 0
    writes: int = 0
    retries: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, method: str, kind: RequestKind) -> None:
        with self._lock:
            if kind == "read":
                self.reads += 1
            else:
                self.writes += 1
            self.by_method[method] = self.by_method.get(method, 0) + 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"reads": self.reads, "writes": self.writes, "retries": self.retries,
                    "by_method": dict(self.by_method)}


@dataclass
class Cost:
    """What one operation spent: write requests sent and Stripe request ids seen."""

    writes: int = 0
    request_ids: list[str] = field(default_factory=list)


def request_id_of(obj: object) -> str | None:
    """Stripe's ``Request-Id`` of the answer ``obj`` came from, when the SDK kept it."""
    response = obj if isinstance(obj, stripe.StripeResponse) else getattr(
        obj, "last_response", None)
    request_id = getattr(response, "request_id", None)
    return request_id if isinstance(request_id, str) else None


class StripeSession:
    """One Stripe account's client, every request paced, retried and translated alike."""

    def __init__(self, client: stripe.StripeClient, *, account_name: str,
                 retry: RetryPolicy | None = None, limiter: TokenBucket | None = None) -> None:
        self.client = client
        self.account_name = account_name
        self.retry = retry or RetryPolicy()
        self.limiter = limiter or TokenBucket(None)
        self.pacer = EndpointPacer(self.limiter)
        self.latency = LatencyMeter()
        """Stripe's answer time (pacing waits left out): sizes the engine's concurrency."""
        self.stats = GatewayStats()

    @classmethod
    def for_account(
        cls,
        account: StripeAccountSettings,
        api_key: SecretStr,
        *,
        api_version: str = STRIPE_API_VERSION,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        limiter: TokenBucket | None = None,
    ) -> StripeSession:
        """A session for a configured account; ``retry`` sets the waits, the account the
        tries. ``limiter`` defaults to ``limiter_for(account, api_key)``."""
        client = build_client(account, api_key, api_version=api_version, timeout=timeout)
        policy = RetryPolicy.from_max_retries(account.max_retries, retry)
        return cls(client, account_name=account.name, retry=policy,
                   limiter=limiter or limiter_for(account, api_key))

    def call(self, method: str, send: Callable[[], T], *, kind: RequestKind = "read",
             key: str | None = None, cost: Cost | None = None) -> T:
        """``send()`` paced, retried on transient failures, SDK errors translated.

        ``method`` names the endpoint (``subscription_schedules.create``) for pacing,
        counting and messages; ``key`` is the idempotency key ``send`` carries (logged)."""
        def attempt() -> T:
            self.pacer.acquire(method)
            self.stats.count(method, kind)
            if cost is not None and kind == "write":
                cost.writes += 1
            sent = time.monotonic()
            try:
                return send()
            except stripe.StripeError as exc:
                raise translate_stripe_error(exc, operation=method) from exc
            finally:
                self.latency.observe(time.monotonic() - sent)

        result = self.retry.call(attempt, on_retry=lambda _exc: self.stats.count_retry(),
                                 describe=f"Stripe {method}")
        request_id = request_id_of(result)
        if cost is not None and request_id:
            cost.request_ids.append(request_id)
        log.info("stripe %s ok (request %s, idempotency key %s)", method, request_id or "-",
                 key or "-")
        return result

    def send_json(self, method: str, http_method: Literal["get", "post"], path: str,
                  params: Mapping[str, object] | None = None, *,
                  kind: RequestKind = "read", key: str | None = None,
                  cost: Cost | None = None) -> dict[str, Any]:
        """``call`` for an answer read as plain JSON: ``path`` (its ids already quoted,
        see ``path_id``) with ``params`` and ``key`` as the idempotency key, sent by the
        SDK's ``raw_request`` exactly as the typed service method sends it."""
        fields = dict(params or {})
        if not _OPTION_NAMES.isdisjoint(fields):
            raise ValueError(f"{method}: params named like request options")
        if key is not None:
            fields["idempotency_key"] = key
        raw_request = self.client.raw_request
        response = self.call(
            method, lambda: raw_request(http_method, path, usage=["stripe_client"], **fields),
            kind=kind, key=key, cost=cost)
        data = response.data
        if not isinstance(data, dict):
            raise TypeError(f"{method}: Stripe answered {type(data).__name__}, not an object")
        return data

    @staticmethod
    def options(key: str) -> stripe.RequestOptions:
        """Request options carrying the idempotency key of a write."""
        return {"idempotency_key": key}


def path_id(value: str) -> str:
    """An id in a request path, quoted as the SDK's service methods quote it."""
    return quote_plus(value)


def limiter_for(account: StripeAccountSettings, api_key: SecretStr) -> TokenBucket:
    """The account's token bucket: its configured rate, else Stripe's documented one."""
    rate = account.rate_limit_per_second
    if "rate_limit_per_second" not in account.model_fields_set:
        rate = documented_rate(api_key.get_secret_value())
    return TokenBucket(rate, capacity=max(1.0, account.rate_limit_burst))


def emulator_limiter(account: StripeAccountSettings) -> TokenBucket:
    """For the local emulator: paced only when the account sets a rate explicitly."""
    explicit = "rate_limit_per_second" in account.model_fields_set
    return TokenBucket(account.rate_limit_per_second if explicit else None,
                       capacity=max(1.0, account.rate_limit_burst))
