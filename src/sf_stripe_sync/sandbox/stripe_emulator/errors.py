"""Stripe-shaped API errors raised inside the emulator and rendered as Stripe renders them.

Theory of operation: request handling raises ``ApiError`` wherever Stripe would answer
with an error; the HTTP layer turns it into ``{"error": {...}}`` with the status code and
the ``Stripe-Should-Retry`` header Stripe sends. The body keys (``type``, ``code``,
``param``, ``message``) are what the official SDK reads to pick its exception class:
400/404 -> InvalidRequestError (IdempotencyError when ``type`` is ``idempotency_error``),
401 -> AuthenticationError, 429 -> RateLimitError, 409 and 5xx -> APIError.
"""

from __future__ import annotations

from typing import Any

INVALID_REQUEST = "invalid_request_error"
IDEMPOTENCY = "idempotency_error"
API_ERROR = "api_error"


class ApiError(Exception):
    """An error answer: HTTP status plus Stripe's error object."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = INVALID_REQUEST,
        code: str | None = None,
        param: str | None = None,
        should_retry: bool | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.should_retry = should_retry

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}

    def retry_header(self) -> str | None:
        """``Stripe-Should-Retry`` as Stripe sends it: false on 4xx unless said otherwise."""
        if self.should_retry is not None:
            return "true" if self.should_retry else "false"
        if 400 <= self.status < 500 and self.status not in (409, 429):
            return "false"
        return None


def invalid(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def missing_param(param: str) -> ApiError:
    return ApiError(400, f"Missing required param: {param}.", param=param,
                    code="parameter_missing")


def no_such(kind_label: str, object_id: str, *, param: str = "id") -> ApiError:
    """404 for a path id; callers referencing an object from a parameter use ``missing_ref``."""
    return ApiError(404, f"No such {kind_label}: '{object_id}'", param=param,
                    code="resource_missing")


def missing_ref(kind_label: str, object_id: str, *, param: str) -> ApiError:
    """A parameter names an object that does not exist: Stripe answers 400 resource_missing."""
    return ApiError(400, f"No such {kind_label}: '{object_id}'", param=param,
                    code="resource_missing")
