"""Every simple-salesforce / requests failure becomes one of the project's errors."""

from __future__ import annotations

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from sf_stripe_sync.errors import (
    ApiLimitExceeded,
    AuthenticationError,
    TerminalError,
    TransientError,
)
from sf_stripe_sync.salesforce.errors import AmbiguousWriteError, error_entries, translate


def _body(code: str, message: str = "m") -> list[dict[str, str]]:
    return [{"errorCode": code, "message": message}]


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (SalesforceGeneralError("u", 503, "query", _body("SERVER_UNAVAILABLE")), TransientError),
        (SalesforceGeneralError("u", 500, "query", "boom"), TransientError),
        (SalesforceMalformedRequest("u", 400, "x", _body("UNABLE_TO_LOCK_ROW")), TransientError),
        (SalesforceRefusedRequest("u", 403, "x", _body("REQUEST_LIMIT_EXCEEDED")),
         ApiLimitExceeded),
        (SalesforceExpiredSession("u", 401, "x", _body("INVALID_SESSION_ID")),
         AuthenticationError),
        (SalesforceAuthenticationFailed("INVALID_LOGIN", "Invalid username"), AuthenticationError),
        (SalesforceMalformedRequest("u", 400, "x", _body("INVALID_FIELD")), TerminalError),
        (SalesforceResourceNotFound("u", 404, "x", _body("NOT_FOUND")), TerminalError),
        (requests.ConnectionError("refused"), TransientError),
        (requests.ConnectTimeout("slow"), TransientError),
        (requests.ReadTimeout("slow"), AmbiguousWriteError),
        (ValueError("not json"), TerminalError),
    ],
)
def test_library_failures_map_to_the_right_project_error(
    exc: Exception, kind: type[Exception]
) -> None:
    error = translate(exc, action="query")
    assert isinstance(error, kind)


def test_permanent_failures_are_not_transient() -> None:
    for exc in (
        SalesforceMalformedRequest("u", 400, "x", _body("MALFORMED_QUERY")),
        SalesforceRefusedRequest("u", 403, "x", _body("REQUEST_LIMIT_EXCEEDED")),
        SalesforceExpiredSession("u", 401, "x", _body("INVALID_SESSION_ID")),
    ):
        assert not isinstance(translate(exc, action="query"), TransientError)


def test_message_names_status_code_and_salesforce_message() -> None:
    exc = SalesforceMalformedRequest(
        "https://x/services/data/v65.0/query?q=SELECT", 400, "query",
        _body("INVALID_FIELD", "No such column 'Foo__c' on entity 'Order'"),
    )
    error = translate(exc, action="query")
    assert isinstance(error, TerminalError)
    assert error.code == "INVALID_FIELD"
    assert "400" in error.message and "No such column 'Foo__c'" in error.message
    assert "q=SELECT" not in error.message


def test_limit_exceeded_says_the_run_stops() -> None:
    exc = SalesforceRefusedRequest("u", 403, "x", _body("REQUEST_LIMIT_EXCEEDED",
                                                        "TotalRequests Limit exceeded."))
    error = translate(exc, action="PATCH composite/sobjects")
    assert "limit" in error.message and "stopping the run" in error.message


def test_secret_values_are_scrubbed_from_messages() -> None:
    exc = SalesforceAuthenticationFailed("INVALID_LOGIN", "bad password hunter2pass")
    error = translate(exc, action="login", secrets=("hunter2pass",))
    assert "hunter2pass" not in str(error)
    assert "***" in str(error)


def test_error_entries_read_salesforce_oauth_and_text_bodies() -> None:
    assert error_entries(_body("X", "y")) == [("X", "y")]
    assert error_entries({"error": "invalid_grant", "error_description": "expired"}) == [
        ("invalid_grant", "expired")
    ]
    assert error_entries(b"Service Unavailable") == [("", "Service Unavailable")]
    assert error_entries("") == []
