"""Injected faults and limits: rate limiting, latency, errors and lost connections.

Theory of operation: for every API request (never for ``/_emulator/*``) the injector
decides, before anything else happens, one of:

* ``rate_limit``   429 ``rate_limit``, as Stripe answers past its limits: the global one
                   (``rate_limit`` requests per second) and, beside it, one per endpoint
                   (``endpoint_rate_limit``; Stripe's default is 25/s, each method + path
                   pattern an endpoint of its own, ``GET /v1/x/{id}`` one endpoint whatever
                   the id) with Search at ``search_rate_limit`` (default: 20/s, or the
                   endpoint limit when lower). Token buckets on the wall clock, size
                   max(1, rate); a request refused by either limit spends no token;
* ``error``        500 ``api_error``, nothing executed or saved (Stripe-Should-Retry: true);
* ``lock_timeout`` 429 ``lock_timeout``, nothing executed (Stripe-Should-Retry: true);
* ``drop``         the connection closes without an answer, nothing executed;
* ``lost``         the request executes and its idempotent result is saved, then the
                   connection closes without an answer (a retry with the same key replays);
* ``None``         no fault.

Latency is a distribution, drawn per request: ``latency_ms``, or with probability
``latency_tail_fraction`` the slow tail ``latency_tail_ms`` (real Stripe answers a
schedule create in a few hundred milliseconds, some in much more). It is drawn from its
own ``random.Random(seed)``, so adding latency does not change the fault sequence.

``script`` names the faults of the next requests in order (``"none"`` for a clean one),
consumed before any probability is drawn: tests use it to be exact. Probabilities are
drawn from one ``random.Random(seed)``, so a fault seed replays the same fault sequence
for the same request sequence. ``methods`` limits faults to some HTTP methods.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

FAULT_KINDS = ("rate_limit", "error", "lock_timeout", "drop", "lost", "none")


@dataclass(frozen=True)
class FaultConfig:
    rate_limit: float | None = None
    """Requests per second allowed (all endpoints together); None means unlimited."""
    latency_ms: float = 0.0
    latency_tail_ms: float = 0.0
    latency_tail_fraction: float = 0.0
    """Share of requests that take ``latency_tail_ms`` instead of ``latency_ms``."""
    endpoint_rate_limit: float | None = None
    """Requests per second allowed on each endpoint; None means no endpoint limit."""
    search_rate_limit: float | None = None
    """Requests per second on each Search endpoint; None: 20, or the endpoint limit when
    lower (only when an endpoint limit is set)."""
    error_rate: float = 0.0
    lock_timeout_rate: float = 0.0
    drop_rate: float = 0.0
    lost_response_rate: float = 0.0
    seed: int | None = None
    script: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("error_rate", "lock_timeout_rate", "drop_rate", "lost_response_rate",
                     "latency_tail_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name in ("rate_limit", "endpoint_rate_limit", "search_rate_limit"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive")
        if self.latency_ms < 0 or self.latency_tail_ms < 0:
            raise ValueError("latency_ms and latency_tail_ms must not be negative")
        unknown = [s for s in self.script if s not in FAULT_KINDS]
        if unknown:
            raise ValueError(f"unknown fault(s) in script: {', '.join(unknown)}")

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}")
        values = dict(data)
        for name in ("script", "methods"):
            if name in values:
                values[name] = tuple(str(v) for v in values[name])
        if "methods" in values:
            values["methods"] = tuple(m.upper() for m in values["methods"])
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["script"] = list(self.script)
        data["methods"] = list(self.methods)
        return data

    def limit_of(self, search: bool) -> float | None:
        """The per-endpoint limit of one endpoint (a Search one, or any other)."""
        if self.endpoint_rate_limit is None:
            return None
        if not search:
            return self.endpoint_rate_limit
        if self.search_rate_limit is not None:
            return self.search_rate_limit
        return min(SEARCH_RATE_LIMIT, self.endpoint_rate_limit)


SEARCH_RATE_LIMIT = 20.0
"""Stripe's documented Search API limit, requests per second."""


class _Bucket:
    """A token bucket on the wall clock: ``rate`` a second, holding max(1, rate)."""

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.size = max(1.0, rate)
        self.tokens = self.size
        self.refilled_at = now

    def refill(self, now: float) -> bool:
        """Refill up to ``now``; whether a token is there to take."""
        self.tokens = min(self.size, self.tokens + (now - self.refilled_at) * self.rate)
        self.refilled_at = now
        return self.tokens >= 1.0


class FaultInjector:
    """Decides the fault for each request; thread-safe."""

    def __init__(self, config: FaultConfig | None = None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._script = list(config.script)
            self._rng = random.Random(config.seed)
            self._latency_rng = random.Random(config.seed)
            now = self._clock()
            self._global = _Bucket(config.rate_limit, now) if config.rate_limit else None
            self._endpoints: dict[str, _Bucket] = {}

    @property
    def config(self) -> FaultConfig:
        with self._lock:
            return replace(self._config, script=tuple(self._script))

    @property
    def latency_seconds(self) -> float:
        """The usual latency (the body of the distribution ``draw_latency`` draws from)."""
        with self._lock:
            return self._config.latency_ms / 1000.0

    def draw_latency(self) -> float:
        """Seconds this request waits: ``latency_ms``, or the tail with its probability."""
        with self._lock:
            config = self._config
            if config.latency_tail_fraction > 0 and (
                    self._latency_rng.random() < config.latency_tail_fraction):
                return config.latency_tail_ms / 1000.0
            return config.latency_ms / 1000.0

    def _take_token(self, endpoint: str, search: bool) -> bool:
        """One token from the global bucket and the endpoint's, or none from either."""
        now = self._clock()
        buckets = [self._global] if self._global is not None else []
        limit = self._config.limit_of(search)
        if limit is not None and endpoint:
            bucket = self._endpoints.get(endpoint)
            if bucket is None:
                bucket = self._endpoints[endpoint] = _Bucket(limit, now)
            buckets.append(bucket)
        if not all([b.refill(now) for b in buckets]):
            return False
        for bucket in buckets:
            bucket.tokens -= 1.0
        return True

    def draw(self, method: str, endpoint: str = "", *, search: bool = False) -> str | None:
        """The fault of one request to ``endpoint`` (its method and path pattern)."""
        with self._lock:
            config = self._config
            if config.methods and method.upper() not in config.methods:
                return None
            if not self._take_token(endpoint, search):
                return "rate_limit"
            if self._script:
                fault = self._script.pop(0)
                return None if fault == "none" else fault
            for kind, rate in (
                ("error", config.error_rate),
                ("lock_timeout", config.lock_timeout_rate),
                ("drop", config.drop_rate),
                ("lost", config.lost_response_rate),
            ):
                if rate > 0 and self._rng.random() < rate:
                    return kind
            return None
