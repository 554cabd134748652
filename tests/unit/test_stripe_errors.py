"""SDK exceptions become the project's transient / terminal errors, with request ids."""

from __future__ import annotations

import json

import pytest
import stripe

from sf_stripe_sync.errors import (
    AuthenticationError,
    IdempotencyConflict,
    TerminalError,
    TransientError,
)
from sf_stripe_sync.stripe.errors import redact, translate_stripe_error


def _body(kind: str, code: str | None = None, message: str = "nope") -> dict[str, object]:
    return {"error": {"type": kind, "code": code, "message": message}}


def _headers(**extra: str) -> dict[str, str]:
    return {"Request-Id": "req_123", **extra}


def _invalid(status: int = 400, code: str | None = "parameter_unknown", **headers: str
             ) -> stripe.InvalidRequestError:
    body = _body("invalid_request_error", code)
    return stripe.InvalidRequestError("Received unknown parameter: custmer", "custmer", code,
                                      json.dumps(body), status, body, _headers(**headers))


def test_validation_error_is_terminal_with_code_param_and_request_id() -> None:
    mapped = translate_stripe_error(_invalid(), operation="subscription_schedules.create")
    assert type(mapped) is TerminalError
    assert (mapped.code, mapped.param, mapped.request_id) == ("parameter_unknown", "custmer",
                                                               "req_123")
    assert "unknown parameter" in mapped.message


def test_rate_limit_is_transient_and_carries_retry_after() -> None:
    body = _body("invalid_request_error", "rate_limit")
    exc = stripe.RateLimitError("slow down", json.dumps(body), 429, body,
                                _headers(**{"Retry-After": "2"}))
    mapped = translate_stripe_error(exc, operation="coupons.create")
    assert isinstance(mapped, TransientError)
    assert mapped.retry_after == 2.0
    assert mapped.request_id == "req_123"


def test_lock_timeout_is_transient() -> None:
    body = _body("invalid_request_error", "lock_timeout")
    exc = stripe.RateLimitError("locked", json.dumps(body), 429, body, _headers())
    assert isinstance(translate_stripe_error(exc, operation="x"), TransientError)


@pytest.mark.parametrize("status", [500, 502, 503, 409])
def test_server_errors_and_in_flight_conflicts_are_transient(status: int) -> None:
    body = _body("api_error")
    exc = stripe.APIError("boom", json.dumps(body), status, body, _headers())
    assert isinstance(translate_stripe_error(exc, operation="x"), TransientError)


def test_should_retry_false_makes_a_server_error_terminal() -> None:
    body = _body("api_error")
    exc = stripe.APIError("boom", json.dumps(body), 500, body,
                          _headers(**{"Stripe-Should-Retry": "false"}))
    mapped = translate_stripe_error(exc, operation="x")
    assert isinstance(mapped, TerminalError)
    assert not isinstance(mapped, TransientError)


def test_should_retry_true_makes_any_error_transient() -> None:
    exc = _invalid(code="something_else", **{"stripe-should-retry": "true"})
    assert isinstance(translate_stripe_error(exc, operation="x"), TransientError)


def test_connection_error_is_transient_only_when_sdk_says_retryable() -> None:
    retryable = stripe.APIConnectionError("reset", should_retry=True)
    tls = stripe.APIConnectionError("bad certificate", should_retry=False)
    assert isinstance(translate_stripe_error(retryable, operation="x"), TransientError)
    mapped = translate_stripe_error(tls, operation="x")
    assert isinstance(mapped, TerminalError)


def test_idempotency_key_reuse_is_an_idempotency_conflict() -> None:
    body = _body("idempotency_error")
    exc = stripe.IdempotencyError("Keys for idempotent requests can only be used with the "
                                  "same parameters", json.dumps(body), 400, body, _headers())
    mapped = translate_stripe_error(exc, operation="x")
    assert isinstance(mapped, IdempotencyConflict)
    assert mapped.request_id == "req_123"


@pytest.mark.parametrize("cls,status", [(stripe.AuthenticationError, 401),
                                        (stripe.PermissionError, 403)])
def test_refused_credentials_are_authentication_errors(cls: type[stripe.StripeError],
                                                       status: int) -> None:
    exc = cls("Invalid API Key provided: sk_test_abcdefghijkl", None, status, None, _headers())
    mapped = translate_stripe_error(exc, operation="customers.search")
    assert isinstance(mapped, AuthenticationError)
    assert "sk_test_abcdefghijkl" not in str(mapped)


def test_card_error_is_terminal() -> None:
    exc = stripe.CardError("declined", None, "card_declined", None, 402, None, _headers())
    mapped = translate_stripe_error(exc, operation="x")
    assert isinstance(mapped, TerminalError) and not isinstance(mapped, TransientError)
    assert mapped.code == "card_declined"


def test_missing_object_is_terminal() -> None:
    mapped = translate_stripe_error(_invalid(404, "resource_missing"), operation="x")
    assert isinstance(mapped, TerminalError) and not isinstance(mapped, TransientError)
    assert mapped.code == "resource_missing"


def test_redact_hides_every_key_shape() -> None:
    text = redact("keys sk_live_51Habc rk_test_xyz and whsec_abc but not price_123")
    assert "sk_live" not in text and "rk_test" not in text and "whsec_" not in text
    assert "price_123" in text
