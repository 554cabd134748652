"""A client-side token bucket, one per Stripe account, so a run paces itself at the limit.

Theory of operation: Stripe limits each account to a number of requests per second
(documented: 100/s in live mode, 25/s in test mode) and answers 429 past it. Bouncing
off 429s wastes requests and backoff time; pacing on the client keeps every request
inside the limit, so the engine runs *at* the ceiling instead of around it.

``TokenBucket`` holds up to ``capacity`` tokens and refills at ``rate`` tokens per
second. ``acquire`` takes one token; when none is left it *reserves* the next one (the
balance goes negative) and sleeps until that token is due, outside the lock, so many
threads queue fairly: the n-th waiting caller sleeps n / rate seconds, never less.

Why a small capacity (default 1): Stripe's own limiter is a bucket too. A client that
bursts drains the server's bucket at once and then runs with it empty, where any
network jitter (two requests arriving closer together than they were sent) becomes a
429. A client spaced evenly at the rate keeps the server's bucket nearly full, so
jitter is absorbed there. The cost is the few hundred milliseconds a burst would have
saved at the start of a run.

Stripe also limits each endpoint on its own (documented: 25 requests/s by default, 20/s
for the Search API), in live mode too, where the account allows 100/s. ``EndpointPacer``
adds one bucket per endpoint beside the account's, so a live run of mostly schedule
creates is paced at 25/s on that endpoint while other endpoints share the rest.

The clock and the sleep are injectable, so tests run without sleeping and without
timing assertions. A ``rate`` of None (or 0) means unlimited.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

LIVE_MODE_RATE = 100.0
"""Stripe's documented requests per second per account in live mode."""
TEST_MODE_RATE = 25.0
"""Stripe's documented requests per second per account in test mode (sandboxes)."""
ENDPOINT_RATE = 25.0
"""Stripe's documented default limit of one endpoint, in either mode."""
SEARCH_RATE = 20.0
"""Stripe's documented limit of the Search API (``customers.search`` and the like)."""


class TokenBucket:
    """Thread-safe pacing of requests: at most ``rate`` a second after the first ``capacity``."""

    def __init__(
        self,
        rate: float | None,
        *,
        capacity: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate is not None and rate < 0:
            raise ValueError("rate must not be negative")
        if capacity < 1.0:
            raise ValueError("capacity must be at least one token")
        self.rate = rate or None
        self.capacity = capacity
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = capacity
        self._updated = clock()
        self.acquired = 0
        """Tokens taken so far (one per request sent)."""
        self.waits = 0
        """How many acquisitions had to wait (for the run summary and benchmarks)."""
        self.waited_seconds = 0.0

    def _reserve(self) -> float:
        """Take one token now (possibly on credit); the seconds until it is due."""
        assert self.rate is not None
        with self._lock:
            now = self._clock()
            elapsed = max(0.0, now - self._updated)
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._updated = now
            self._tokens -= 1.0
            self.acquired += 1
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
            if wait > 0:
                self.waits += 1
                self.waited_seconds += wait
            return wait

    def acquire(self) -> float:
        """Block until a request may be sent; returns the seconds waited."""
        if self.rate is None:
            with self._lock:
                self.acquired += 1
            return 0.0
        wait = self._reserve()
        if wait > 0:
            self._sleep(wait)
        return wait


def documented_rate(api_key: str) -> float:
    """Stripe's documented limit for the mode the key belongs to."""
    return LIVE_MODE_RATE if api_key.startswith(("sk_live_", "rk_live_")) else TEST_MODE_RATE


class EndpointPacer:
    """Per-endpoint buckets beside an account's bucket; unlimited when the account is."""

    def __init__(
        self,
        account: TokenBucket,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.account = account
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._endpoints: dict[str, TokenBucket] = {}

    def endpoint(self, name: str) -> TokenBucket:
        """The bucket of one endpoint (``customers.search``, ``subscription_schedules.create``)."""
        with self._lock:
            bucket = self._endpoints.get(name)
            if bucket is None:
                limit = SEARCH_RATE if name.endswith(".search") else ENDPOINT_RATE
                rate = None if self.account.rate is None else min(limit, self.account.rate)
                bucket = TokenBucket(rate, capacity=self.account.capacity, clock=self._clock,
                                     sleep=self._sleep)
                self._endpoints[name] = bucket
            return bucket

    def acquire(self, endpoint: str) -> float:
        """Wait for the endpoint's token, then the account's; the seconds waited."""
        return self.endpoint(endpoint).acquire() + self.account.acquire()
