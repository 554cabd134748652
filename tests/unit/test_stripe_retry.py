"""The retry policy: transient errors tried again within bounds, terminal ones never."""

from __future__ import annotations

import pytest

from sf_stripe_sync.errors import TerminalError, TransientError
from sf_stripe_sync.stripe.retry import RetryPolicy


class Flaky:
    """Fails with the given errors in order, then returns "done"."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def _policy(attempts: int = 4, **kwargs: object) -> tuple[RetryPolicy, list[float]]:
    slept: list[float] = []
    policy = RetryPolicy(max_attempts=attempts, initial_wait=0.5, max_wait=4.0, jitter=0.0,
                         sleep=slept.append, **kwargs)  # type: ignore[arg-type]
    return policy, slept


def test_transient_error_is_retried_until_success() -> None:
    policy, slept = _policy()
    fn = Flaky(TransientError("busy"), TransientError("busy"))
    retried: list[TransientError] = []
    assert policy.call(fn, on_retry=retried.append) == "done"
    assert fn.calls == 3
    assert len(retried) == 2
    assert slept == [0.5, 1.0]


def test_terminal_error_is_never_retried() -> None:
    policy, slept = _policy()
    fn = Flaky(TerminalError("bad parameter"))
    with pytest.raises(TerminalError):
        policy.call(fn)
    assert fn.calls == 1
    assert slept == []


def test_attempts_are_bounded_and_the_last_error_is_raised() -> None:
    policy, _ = _policy(attempts=3)
    fn = Flaky(*(TransientError(f"busy {n}") for n in range(10)))
    with pytest.raises(TransientError) as last:
        policy.call(fn)
    assert fn.calls == 3
    assert last.value.message == "busy 2"


def test_retry_after_longer_than_backoff_is_honoured_and_capped() -> None:
    policy, slept = _policy(max_retry_after=5.0)
    fn = Flaky(TransientError("slow", retry_after=3.0), TransientError("slow", retry_after=60))
    policy.call(fn)
    assert slept == [3.0, 5.0]


def test_backoff_grows_exponentially_up_to_the_cap() -> None:
    policy, _ = _policy()
    assert [policy.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 4.0, 4.0]


def test_jitter_adds_at_most_its_fraction() -> None:
    policy = RetryPolicy(initial_wait=1.0, max_wait=10.0, jitter=0.25, rng=lambda: 1.0)
    assert policy.backoff(1) == 1.25
    still = RetryPolicy(initial_wait=1.0, max_wait=10.0, jitter=0.25, rng=lambda: 0.0)
    assert still.backoff(1) == 1.0


def test_from_max_retries_allows_that_many_retries_after_the_first_try() -> None:
    policy = RetryPolicy.from_max_retries(2, RetryPolicy.no_wait())
    fn = Flaky(*(TransientError("busy") for _ in range(5)))
    with pytest.raises(TransientError):
        policy.call(fn)
    assert fn.calls == 3


def test_zero_retries_still_tries_once() -> None:
    policy = RetryPolicy.from_max_retries(0, RetryPolicy.no_wait())
    fn = Flaky()
    assert policy.call(fn) == "done"
    assert fn.calls == 1
