"""Translation of simple-salesforce and requests failures into the project's errors.

Theory of operation: every call to Salesforce goes through ``SalesforceConnection``,
which catches whatever the library or the transport raised and hands it to
``translate``. The decision is made once, here, from the HTTP status and the
Salesforce ``errorCode`` values in the body:

* 5xx, ``SERVER_UNAVAILABLE``, ``UNABLE_TO_LOCK_ROW``, timeouts and connection errors
  -> ``TransientError`` (worth retrying);
* ``REQUEST_LIMIT_EXCEEDED`` -> ``ApiLimitExceeded`` (the run must stop);
* 401 / ``INVALID_SESSION_ID`` and refused logins -> ``AuthenticationError``;
* anything else (malformed query, unknown field, missing record) -> ``TerminalError``.

A read timeout on a write is ``AmbiguousWriteError``: the request may have been
applied, so inserts do not repeat it blindly. Messages carry the status, the
Salesforce error codes and messages, and the resource name, never the request body,
the query string or a credential; ``scrub`` removes known secret values as a second
guard.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import requests
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceError,
    SalesforceExpiredSession,
)

from sf_stripe_sync.errors import (
    ApiLimitExceeded,
    AuthenticationError,
    SyncError,
    TerminalError,
    TransientError,
)

TRANSIENT_CODES = frozenset(
    {"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG", "QUERY_TIMEOUT"}
)
LIMIT_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED", "TOTAL_REQUESTS_LIMIT_EXCEEDED"})
SESSION_CODES = frozenset({"INVALID_SESSION_ID", "INVALID_AUTH_HEADER"})
MAX_MESSAGE_CHARS = 500


class AmbiguousWriteError(TransientError):
    """The request was sent but no answer came back: it may or may not have been applied."""


def error_entries(content: Any) -> list[tuple[str, str]]:
    """``(errorCode, message)`` pairs from a Salesforce error body, in order.

    Salesforce answers errors as ``[{"errorCode", "message"}]``; OAuth as
    ``{"error", "error_description"}``; anything else is kept as text.
    """
    items: Iterable[Any]
    if isinstance(content, list):
        items = content
    elif isinstance(content, Mapping):
        items = [content]
    else:
        text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
        return [("", str(text)[:MAX_MESSAGE_CHARS])] if text else []
    found: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, Mapping):
            found.append(("", str(item)[:MAX_MESSAGE_CHARS]))
            continue
        code = item.get("errorCode") or item.get("statusCode") or item.get("error") or ""
        message = item.get("message") or item.get("error_description") or ""
        found.append((str(code), str(message)[:MAX_MESSAGE_CHARS]))
    return found


def describe_entries(entries: list[tuple[str, str]]) -> str:
    parts = [f"{code}: {message}" if code else message for code, message in entries]
    return "; ".join(p for p in parts if p) or "no details given"


def scrub(message: str, secrets: Iterable[str]) -> str:
    """``message`` with every non-trivial secret value replaced by ``***``."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            message = message.replace(secret, "***")
    return message


def translate(exc: BaseException, *, action: str, secrets: Iterable[str] = ()) -> SyncError:
    """The project error for a library or transport failure during ``action``."""
    error = _translate(exc, action)
    error.message = scrub(error.message, secrets)
    error.args = (error.message,)
    return error


def _translate(exc: BaseException, action: str) -> SyncError:
    if isinstance(exc, SyncError):
        return exc
    if isinstance(exc, SalesforceAuthenticationFailed):
        code = str(exc.code) if exc.code is not None else None
        detail = f"{code}: {exc.auth_message}" if code else exc.auth_message
        return AuthenticationError(
            f"Salesforce refused the login during {action}: {detail[:MAX_MESSAGE_CHARS]}",
            code=code,
        )
    if isinstance(exc, SalesforceError):
        return _from_response(exc, action)
    if isinstance(exc, requests.ReadTimeout):
        return AmbiguousWriteError(f"Salesforce did not answer in time during {action}")
    if isinstance(exc, requests.Timeout | requests.ConnectionError):
        return TransientError(
            f"cannot reach Salesforce during {action}: {type(exc).__name__}"
        )
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return AmbiguousWriteError(f"Salesforce's answer was cut off during {action}")
    if isinstance(exc, requests.RequestException):
        return TerminalError(f"request to Salesforce failed during {action}: "
                             f"{type(exc).__name__}")
    if isinstance(exc, ValueError | KeyError | IndexError | TypeError):
        return TerminalError(f"Salesforce sent an answer that cannot be read during {action}: "
                             f"{type(exc).__name__}")
    return TerminalError(f"unexpected failure during {action}: {type(exc).__name__}")


def _from_response(exc: SalesforceError, action: str) -> SyncError:
    status = int(exc.status) if isinstance(exc.status, int) else 0
    entries = error_entries(exc.content)
    codes = {code for code, _ in entries}
    first_code = next((code for code, _ in entries if code), None)
    what = f"Salesforce answered {status} during {action}: {describe_entries(entries)}"
    if codes & LIMIT_CODES:
        return ApiLimitExceeded(
            f"the org's API request limit is used up ({describe_entries(entries)}); "
            f"stopping the run during {action}",
            code="REQUEST_LIMIT_EXCEEDED",
        )
    if isinstance(exc, SalesforceExpiredSession) or status == 401 or codes & SESSION_CODES:
        return AuthenticationError(what, code=first_code or "INVALID_SESSION_ID")
    if status >= 500 or status == 429 or codes & TRANSIENT_CODES:
        return TransientError(what)
    return TerminalError(what, code=first_code)
