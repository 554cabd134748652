"""The one retry policy for Stripe calls: transient errors only, bounded.

Theory of operation: the SDK's own retries are switched off (``max_network_retries=0``)
so that exactly one policy decides. ``RetryPolicy.call`` runs a zero-argument callable
that already translates SDK exceptions (``stripe.errors``); it retries only
``TransientError``, up to ``max_attempts`` tries in all, waiting an exponential,
jittered backoff between tries, or the server's ``Retry-After`` hint when that is longer
(capped, so a hostile header cannot stall a run). ``TerminalError`` (validation,
``Stripe-Should-Retry: false``, idempotency conflicts, auth) passes straight through.

The caller retries a write with the SAME idempotency key, so a write that was applied
but whose response was lost converges on the one object Stripe already made.

Waits are injectable (``sleep``, ``initial_wait``, ``max_wait``, ``jitter``) so tests run
without sleeping, and ``on_retry`` lets the gateway count retries.

The loop is written out rather than built with tenacity: a ``Retrying`` per request (a
thread-local state, statistics, an action list per try) cost more than the rest of the
policy for a request that, almost always, succeeds at the first try.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from sf_stripe_sync import observe
from sf_stripe_sync.errors import TransientError

T = TypeVar("T")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is tried again."""

    max_attempts: int = 6
    """Tries in all, the first included (``StripeAccountSettings.max_retries`` + 1)."""
    initial_wait: float = 0.5
    max_wait: float = 8.0
    jitter: float = 0.25
    """Up to this fraction of the backoff is added at random, so clients spread out."""
    max_retry_after: float = 30.0
    """Upper bound on an honoured ``Retry-After``."""
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    rng: Callable[[], float] = field(default=random.random, compare=False)

    @classmethod
    def from_max_retries(cls, max_retries: int, base: RetryPolicy | None = None) -> RetryPolicy:
        """``base`` (default waits when None) allowing ``max_retries`` retries after the first."""
        return replace(base or cls(), max_attempts=max(1, max_retries + 1))

    @classmethod
    def no_wait(cls, max_attempts: int = 6) -> RetryPolicy:
        """For tests and the local emulator: same decisions, no sleeping."""
        return cls(max_attempts=max_attempts, initial_wait=0.0, max_wait=0.0, jitter=0.0,
                   max_retry_after=0.0, sleep=lambda _seconds: None)

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        base: float = min(self.initial_wait * 2.0 ** (attempt - 1), self.max_wait)
        wait = base + base * self.jitter * self.rng()
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_retry_after))
        return wait

    def call(self, fn: Callable[[], T], *, on_retry: Callable[[TransientError], None] | None = None,
             describe: str = "Stripe call") -> T:
        """``fn()``, tried again on ``TransientError``; the last error is re-raised as is."""
        attempt = 1
        while True:
            try:
                return fn()
            except TransientError as exc:
                if attempt >= self.max_attempts:
                    raise
                wait = self.backoff(attempt, exc.retry_after)
                observe.retry("stripe")
                log.warning("%s failed (try %d of %d), retrying: %s", describe, attempt,
                            self.max_attempts, exc)
                if on_retry is not None:
                    on_retry(exc)
                self.sleep(wait)
                attempt += 1
