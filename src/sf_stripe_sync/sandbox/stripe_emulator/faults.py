"""Injected faults and limits: rate limiting, latency, errors and lost connections.

Theory of operation: for every API request (never for ``/_emulator/*``) the injector
decides, before anything else happens, one of:

* ``rate_limit``   429 ``rate_limit`` (requests per second over a token bucket on the
                   wall clock, bucket size max(1, rate));
* ``error``        500 ``api_error``, nothing executed or saved (Stripe-Should-Retry: true);
* ``lock_timeout`` 429 ``lock_timeout``, nothing executed (Stripe-Should-Retry: true);
* ``drop``         the connection closes without an answer, nothing executed;
* ``lost``         the request executes and its idempotent result is saved, then the
                   connection closes without an answer (a retry with the same key replays);
* ``None``         no fault.

``script`` names the faults of the next requests in order (``"none"`` for a clean one),
consumed before any probability is drawn: tests use it to be exact. Probabilities are
drawn from one ``random.Random(seed)``, so a fault seed replays the same fault sequence
for the same request sequence. ``methods`` limits faults to some HTTP methods.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

FAULT_KINDS = ("rate_limit", "error", "lock_timeout", "drop", "lost", "none")


@dataclass(frozen=True)
class FaultConfig:
    rate_limit: float | None = None
    """Requests per second allowed; None means unlimited."""
    latency_ms: float = 0.0
    error_rate: float = 0.0
    lock_timeout_rate: float = 0.0
    drop_rate: float = 0.0
    lost_response_rate: float = 0.0
    seed: int | None = None
    script: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("error_rate", "lock_timeout_rate", "drop_rate", "lost_response_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError("rate_limit must be positive")
        if self.latency_ms < 0:
            raise ValueError("latency_ms must not be negative")
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


class FaultInjector:
    """Decides the fault for each request; thread-safe."""

    def __init__(self, config: FaultConfig | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(config or FaultConfig())

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._script = list(config.script)
            self._rng = random.Random(config.seed)
            self._tokens = max(1.0, config.rate_limit or 1.0)
            self._refilled_at = time.monotonic()

    @property
    def config(self) -> FaultConfig:
        with self._lock:
            return replace(self._config, script=tuple(self._script))

    @property
    def latency_seconds(self) -> float:
        with self._lock:
            return self._config.latency_ms / 1000.0

    def _take_token(self) -> bool:
        rate = self._config.rate_limit
        if rate is None:
            return True
        now = time.monotonic()
        self._tokens = min(max(1.0, rate), self._tokens + (now - self._refilled_at) * rate)
        self._refilled_at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def draw(self, method: str) -> str | None:
        with self._lock:
            config = self._config
            if config.methods and method.upper() not in config.methods:
                return None
            if not self._take_token():
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
