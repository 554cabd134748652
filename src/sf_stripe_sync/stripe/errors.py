"""Translate stripe SDK exceptions into the project's error tree, at the adapter edge.

Theory of operation: every call into the SDK goes through ``translate_stripe_error``
when it raises, so no ``stripe.*`` exception leaves this package. The decision is the
one Stripe documents for its own clients, made explicit:

* Stripe's ``Stripe-Should-Retry`` header wins when present (``false``: a retry cannot
  help, e.g. a 500 whose result the idempotency layer would replay as is; ``true``:
  retry, e.g. a lock timeout).
* Otherwise: 429 (rate limit, ``lock_timeout``), 409 (a request with the same
  idempotency key still in flight), 5xx and connection failures are transient;
  validation errors (400/404), card errors (402) and idempotency-key reuse with other
  parameters are terminal; 401/403 are authentication errors.

Every translated error carries Stripe's request id (``Request-Id``) and, for transient
ones, the server's ``Retry-After`` hint. Messages are Stripe's own, passed through a
redaction of anything shaped like an API key, so a secret can never reach a log.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import stripe

from sf_stripe_sync.errors import (
    AuthenticationError,
    IdempotencyConflict,
    SyncError,
    TerminalError,
    TransientError,
)

_KEY_SHAPE = re.compile(r"\b(?:sk|rk|pk|whsec)_[A-Za-z0-9_*]+")
_TRANSIENT_CODES = frozenset({"lock_timeout", "rate_limit", "idempotency_key_in_use"})


def redact(text: str) -> str:
    """``text`` with every API-key-shaped token replaced (Stripe masks keys, we make sure)."""
    return _KEY_SHAPE.sub("[redacted]", text)


def header(exc: stripe.StripeError, name: str) -> str | None:
    """A response header of a failed request, looked up without regard to case."""
    headers: Mapping[str, str] = exc.headers or {}
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def retry_after_seconds(exc: stripe.StripeError) -> float | None:
    """The ``Retry-After`` hint in seconds, when the server gave a numeric one."""
    raw = header(exc, "Retry-After")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value >= 0 else None


def _error_type(exc: stripe.StripeError) -> str | None:
    body = exc.json_body
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            kind = error.get("type")
            return str(kind) if kind is not None else None
    return None


def _message(exc: stripe.StripeError, operation: str) -> str:
    detail = exc.user_message or type(exc).__name__
    status = f" (HTTP {exc.http_status})" if exc.http_status else ""
    return redact(f"Stripe {operation} failed{status}: {detail}")


def translate_stripe_error(exc: stripe.StripeError, *, operation: str) -> SyncError:
    """The project error for a failed SDK call; callers ``raise ... from exc``."""
    message = _message(exc, operation)
    request_id = exc.request_id or header(exc, "Request-Id")
    code = exc.code
    param = getattr(exc, "param", None)

    if isinstance(exc, stripe.AuthenticationError | stripe.PermissionError):
        return AuthenticationError(message, request_id=request_id, code=code or "authentication")
    reused_key = _error_type(exc) == "idempotency_error" and exc.http_status in (400, 404)
    if isinstance(exc, stripe.IdempotencyError) or reused_key:
        return IdempotencyConflict(message, request_id=request_id, code=code or "idempotency_error")

    should_retry = header(exc, "Stripe-Should-Retry")
    if should_retry == "false":
        return TerminalError(message, request_id=request_id, code=code, param=param)
    if should_retry == "true":
        return TransientError(message, request_id=request_id, retry_after=retry_after_seconds(exc))

    if isinstance(exc, stripe.RateLimitError) or code in _TRANSIENT_CODES:
        return TransientError(message, request_id=request_id, retry_after=retry_after_seconds(exc))
    if isinstance(exc, stripe.APIConnectionError):
        if exc.should_retry:
            return TransientError(message, request_id=request_id)
        return TerminalError(message, request_id=request_id, code="connection")
    status = exc.http_status
    if isinstance(exc, stripe.APIError) and (status is None or status == 409 or status >= 500):
        return TransientError(message, request_id=request_id, retry_after=retry_after_seconds(exc))
    if status == 409:
        return TransientError(message, request_id=request_id, retry_after=retry_after_seconds(exc))
    return TerminalError(message, request_id=request_id, code=code, param=param)
