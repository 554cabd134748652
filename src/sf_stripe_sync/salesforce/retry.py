"""Bounded retries of transient Salesforce failures (tenacity).

Theory of operation: a ``RetryPolicy`` says how many attempts a call gets and how long
to wait between them (exponential backoff with jitter, capped). Only
``TransientError`` is retried; everything else, including ``ApiLimitExceeded`` and
``AuthenticationError``, goes straight up. ``retry_ambiguous = False`` keeps a write
whose answer was lost (``AmbiguousWriteError``) from being sent twice. Waits are
plain numbers so tests run with zero waits.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from sf_stripe_sync import observe
from sf_stripe_sync.errors import TransientError
from sf_stripe_sync.salesforce.errors import AmbiguousWriteError

T = TypeVar("T")
log = logging.getLogger("sf_stripe_sync.salesforce")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    """Total tries of one call, the first included."""
    initial_wait: float = 0.5
    """Seconds before the second try; doubles each time."""
    max_wait: float = 20.0
    jitter: float = 0.5
    """Up to this many random seconds added to every wait."""

    @classmethod
    def immediate(cls, attempts: int = 3) -> RetryPolicy:
        """No waiting at all: for tests and for callers with their own pacing."""
        return cls(attempts=attempts, initial_wait=0.0, max_wait=0.0, jitter=0.0)

    def wait_before(self, retry_number: int) -> float:
        """Seconds to wait before retry ``retry_number`` (1 for the first retry)."""
        backoff: float = self.initial_wait * 2.0 ** max(0, retry_number - 1)
        return max(0.0, min(self.max_wait, backoff + random.uniform(0.0, self.jitter)))


def _should_retry(retry_ambiguous: bool) -> Callable[[BaseException], bool]:
    def check(exc: BaseException) -> bool:
        if not isinstance(exc, TransientError):
            return False
        return retry_ambiguous or not isinstance(exc, AmbiguousWriteError)

    return check


def _log_retry(state: RetryCallState) -> None:
    observe.retry("salesforce")
    outcome = state.outcome
    error = outcome.exception() if outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    # Project errors carry no secrets (the connection scrubs them), so the text is safe.
    log.warning("Salesforce call failed (%s); try %d in %.1fs", error,
                state.attempt_number + 1, wait)


def call_with_retries(
    policy: RetryPolicy, func: Callable[[], T], *, retry_ambiguous: bool = True
) -> T:
    """``func()``, tried again on transient errors as ``policy`` allows; the last error
    is raised as is when the attempts run out."""
    retrying = Retrying(
        stop=stop_after_attempt(max(1, policy.attempts)),
        wait=wait_exponential_jitter(
            multiplier=policy.initial_wait, max=policy.max_wait, jitter=policy.jitter
        ),
        retry=retry_if_exception(_should_retry(retry_ambiguous)),
        reraise=True,
        before_sleep=_log_retry,
    )
    return retrying(func)
