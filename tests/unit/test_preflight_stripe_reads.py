"""The preflight's Stripe reads go through the account's session: a transient failure is
retried like the engine's, a refusal is judged by what Stripe refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import stripe

from sf_stripe_sync.preflight import stripe_checks
from sf_stripe_sync.preflight.report import PreflightReport
from sf_stripe_sync.ratelimit import TokenBucket
from sf_stripe_sync.stripe.retry import RetryPolicy
from sf_stripe_sync.stripe.session import StripeSession

AREA = "stripe:default"


def session() -> StripeSession:
    return StripeSession(stripe.StripeClient("rk_test_preflight_unit"), account_name="default",
                         retry=RetryPolicy.no_wait(), limiter=TokenBucket(None))


def reads(fail: Callable[[], Exception] | None, times: int = 1
          ) -> dict[str, tuple[str, stripe_checks.Read]]:
    left = [times]

    def read(_client: stripe.StripeClient) -> Any:
        if fail is not None and left[0] > 0:
            left[0] -= 1
            raise fail()
        return {"data": []}

    return {"customers": ("Customers", read)}


def problems(report: PreflightReport) -> list[str]:
    return [f.message for f in report.problems]


def test_a_permission_refusal_names_the_permission_to_grant(
        monkeypatch: pytest.MonkeyPatch) -> None:
    refused = reads(lambda: stripe.PermissionError("not allowed", http_status=403))
    monkeypatch.setattr(stripe_checks, "RESTRICTED_READS", refused)
    report = PreflightReport()

    stripe_checks._restricted_reads(report, AREA, session())

    assert problems(report) == ["the restricted key may not read customers"]


def test_a_rate_limited_read_is_retried_and_then_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    limited = reads(lambda: stripe.RateLimitError("slow down", http_status=429,
                                                  code="rate_limit"), times=2)
    monkeypatch.setattr(stripe_checks, "RESTRICTED_READS", limited)
    report = PreflightReport()
    s = session()

    stripe_checks._restricted_reads(report, AREA, s)

    assert problems(report) == []
    assert s.stats.retries == 2 and s.limiter.acquired == 3
