"""How many contracts to work on at once: sized from Stripe's observed latency.

Theory of operation (Little's law): to keep a limit of R requests per second busy when
each request takes W seconds, about R x W requests must be in flight. A worker thread
has at most one Stripe request in flight and also spends time planning, in the state
store and waiting for its turn at a rate bucket, so the pool holds more workers than
that: ``AdaptiveLimit.limit`` is ceil(R x W x headroom) + ``spare``, kept between
``minimum`` and ``maximum`` (config: ``concurrency`` and ``concurrency_max``). At 25/s
and 50 ms that is the minimum of 4; at 100/s and 300 ms (10% at 800 ms) about 55.

W is what the gateways measure: ``LatencyMeter`` keeps an exponentially weighted mean
of the duration of every Stripe request (send to answer; time spent waiting for a rate
token is not latency). Before the first answer W is assumed to be ``assumed_latency``
(300 ms, Stripe's usual answer time), so the first requests of a run already fill the
pipe (starting at ``minimum`` and waiting for answers cost most of a second); answers
then size it: a limit grown by a slow spell shrinks when the latency falls. R is the
account's rate limit; an account without one (the local emulator without a configured
rate) is sized as if it had ``UNLIMITED_RATE``.

The same law caps each kind of work (``per_kind``): a create and an update use
different endpoints, each limited to 25 requests/s, so more groups of one kind than that
endpoint's rate x W only queue at its bucket, holding slots the other kinds' endpoints
could use (the ``pipeline`` interleaves the kinds within both limits).

Why not AIMD on 429s: the client paces itself with token buckets (``ratelimit``), so a
429 is not the signal that the limit is reached, latency is; Little's law gives the
right size in one step instead of probing for it. Nothing here reads a clock or
sleeps: latencies are given to it, so the logic is tested deterministically.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Sequence

from sf_stripe_sync.engine_settings import PoolSettings

ENDPOINT_RATE = 25.0
"""Stripe's documented default limit of one endpoint, requests per second."""
UNLIMITED_RATE = 100.0
"""The rate assumed for an account without a limit (Stripe's live-mode limit)."""


class LatencyMeter:
    """An exponentially weighted mean of request durations; thread-safe."""

    def __init__(self, weight: float = 0.1) -> None:
        if not 0.0 < weight <= 1.0:
            raise ValueError("weight must be in (0, 1]")
        self.weight = weight
        self._lock = threading.Lock()
        self._mean: float | None = None
        self.samples = 0

    def observe(self, seconds: float) -> None:
        if seconds < 0:
            return
        with self._lock:
            self.samples += 1
            if self._mean is None:
                self._mean = seconds
            else:
                self._mean += self.weight * (seconds - self._mean)

    @property
    def mean(self) -> float | None:
        with self._lock:
            return self._mean


def slowest(meters: Iterable[LatencyMeter]) -> float | None:
    """The slowest of the meters' mean latencies (None before any answer)."""
    means = [mean for mean in (m.mean for m in meters) if mean is not None]
    return max(means) if means else None


class AdaptiveLimit:
    """Contracts in flight: Little's law from the observed latency, within bounds."""

    def __init__(self, *, minimum: int, maximum: int,
                 rate: Callable[[], float | None] = lambda: None,
                 latency: Callable[[], float | None] = lambda: None, headroom: float = 1.5,
                 spare: int = 2, assumed_latency: float = 0.3) -> None:
        if minimum < 1:
            raise ValueError("minimum must be at least 1")
        self.minimum = minimum
        self.maximum = max(minimum, maximum)
        self.rate = rate
        """The account's rate limit, requests/s (None: unlimited)."""
        self.latency = latency
        """The observed request latency, seconds (None before any answer)."""
        self.assumed_latency = assumed_latency
        """Used until the first answer: Stripe's usual few hundred milliseconds."""
        self.headroom = headroom
        self.spare = spare
        self.peak = minimum
        """The largest limit given so far (for the run summary and benchmarks)."""

    @classmethod
    def for_gateways(cls, settings: PoolSettings,
                     gateways: Callable[[], Sequence[object]]) -> AdaptiveLimit:
        """The limit of a run: bounds from settings, R and W from the gateways in use
        (the fastest account rate, the slowest mean latency)."""

        def rate() -> float | None:
            rates = [getattr(getattr(g, "limiter", None), "rate", None) for g in gateways()]
            return None if not rates or None in rates else max(r for r in rates if r)

        def latency() -> float | None:
            return slowest(m for m in (getattr(g, "latency", None) for g in gateways())
                           if isinstance(m, LatencyMeter))

        return cls(minimum=min(settings.concurrency, settings.concurrency_max),
                   maximum=settings.concurrency_max, rate=rate, latency=latency)

    @property
    def per_kind(self) -> int:
        """The most groups of one kind of work at once: what one endpoint's limit (the
        account's when lower) needs by the same law, for groups of up to two requests
        each (a read and a write, or a look-up and a create). More would only wait on
        that endpoint's bucket while holding the slots other endpoints' work needs."""
        latency = self.latency()
        if latency is None:
            latency = self.assumed_latency
        rate = min(self.rate() or UNLIMITED_RATE, ENDPOINT_RATE)
        return max(1, math.ceil(rate * latency * self.headroom * 2) + self.spare)

    @property
    def limit(self) -> int:
        latency = self.latency()
        if latency is None:
            latency = self.assumed_latency
        rate = self.rate() or UNLIMITED_RATE
        wanted = math.ceil(rate * latency * self.headroom) + self.spare
        value = min(self.maximum, max(self.minimum, wanted))
        self.peak = max(self.peak, value)
        return value
