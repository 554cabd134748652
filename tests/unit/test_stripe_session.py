"""One account's session: every try paced, transient failures retried, errors translated,
writes and request ids collected, whoever sends (the gateway or the catalog)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import stripe

from sf_stripe_sync.errors import TerminalError
from sf_stripe_sync.ratelimit import TokenBucket
from sf_stripe_sync.stripe.retry import RetryPolicy
from sf_stripe_sync.stripe.session import Cost, StripeSession


def session(limiter: TokenBucket | None = None) -> StripeSession:
    return StripeSession(stripe.StripeClient("sk_test_session_unit"), account_name="default",
                         retry=RetryPolicy.no_wait(), limiter=limiter)


def answer(request_id: str) -> Any:
    return SimpleNamespace(id="obj_1", last_response=SimpleNamespace(request_id=request_id))


def failing_then(failures: list[Exception], result: Any) -> Callable[[], Any]:
    def send() -> Any:
        if failures:
            raise failures.pop(0)
        return result

    return send


def rate_limited() -> stripe.RateLimitError:
    return stripe.RateLimitError("Too many requests", http_status=429, code="rate_limit")


def test_every_try_takes_a_token_from_the_account_and_the_endpoint_buckets() -> None:
    bucket = TokenBucket(None)  # never waits, counts the tokens taken
    s = session(bucket)

    s.call("prices.list", failing_then([rate_limited()], answer("req_1")))

    assert bucket.acquired == 2  # the 429 and the retry both paced
    assert s.pacer.endpoint("prices.list").acquired == 2
    assert s.pacer.endpoint("products.create").acquired == 0


def test_a_rate_limited_request_is_retried_and_counted() -> None:
    s = session()

    found = s.call("products.retrieve", failing_then([rate_limited(), rate_limited()],
                                                     answer("req_2")))

    assert found.id == "obj_1"
    assert (s.stats.reads, s.stats.retries) == (3, 2)
    assert s.latency.samples == 3


def test_a_refusal_becomes_a_terminal_error_and_is_not_retried() -> None:
    s = session()
    refused = stripe.InvalidRequestError("No such price", param="price", http_status=404,
                                         code="resource_missing")

    with pytest.raises(TerminalError) as caught:
        s.call("prices.retrieve", failing_then([refused], answer("req_3")))

    assert caught.value.code == "resource_missing"
    assert (s.stats.reads, s.stats.retries) == (1, 0)


def test_a_write_adds_to_the_operations_cost_with_its_request_id() -> None:
    s = session()
    cost = Cost()

    s.call("coupons.create", failing_then([rate_limited()], answer("req_4")),
           kind="write", key="sfss-key", cost=cost)
    s.call("coupons.retrieve", failing_then([], answer("req_5")), cost=cost)

    assert cost.writes == 2  # the refused try and the retry both reached Stripe
    assert cost.request_ids == ["req_4", "req_5"]
    assert s.stats.by_method == {"coupons.create": 2, "coupons.retrieve": 1}
