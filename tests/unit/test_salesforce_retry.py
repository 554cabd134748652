"""Which failures are tried again, how often, and how long the waits grow."""

from __future__ import annotations

import logging

import pytest

from sf_stripe_sync.errors import ApiLimitExceeded, TransientError
from sf_stripe_sync.salesforce.errors import AmbiguousWriteError
from sf_stripe_sync.salesforce.retry import RetryPolicy, call_with_retries


class Flaky:
    def __init__(self, failures: list[Exception]) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "ok"


def test_transient_failures_are_retried_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    flaky = Flaky([TransientError("503 busy"), TransientError("503 busy")])
    with caplog.at_level(logging.WARNING, logger="sf_stripe_sync.salesforce"):
        assert call_with_retries(RetryPolicy.immediate(3), flaky) == "ok"
    assert flaky.calls == 3
    assert sum("503 busy" in r.getMessage() for r in caplog.records) == 2


def test_attempts_are_bounded_and_the_last_error_surfaces() -> None:
    flaky = Flaky([TransientError(f"try {n}") for n in range(1, 10)])
    with pytest.raises(TransientError, match="try 4"):
        call_with_retries(RetryPolicy.immediate(4), flaky)
    assert flaky.calls == 4


def test_limit_exceeded_is_never_retried() -> None:
    flaky = Flaky([ApiLimitExceeded("limit")])
    with pytest.raises(ApiLimitExceeded):
        call_with_retries(RetryPolicy.immediate(5), flaky)
    assert flaky.calls == 1


def test_ambiguous_write_is_retried_only_when_allowed() -> None:
    assert call_with_retries(RetryPolicy.immediate(2), Flaky([AmbiguousWriteError("lost")])) == "ok"
    flaky = Flaky([AmbiguousWriteError("lost")])
    with pytest.raises(AmbiguousWriteError):
        call_with_retries(RetryPolicy.immediate(2), flaky, retry_ambiguous=False)
    assert flaky.calls == 1


def test_waits_grow_exponentially_and_stay_capped() -> None:
    policy = RetryPolicy(attempts=6, initial_wait=0.5, max_wait=3.0, jitter=0.0)
    assert [policy.wait_before(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    jittery = RetryPolicy(initial_wait=1.0, max_wait=100.0, jitter=0.5)
    assert all(1.0 <= jittery.wait_before(1) <= 1.5 for _ in range(50))
