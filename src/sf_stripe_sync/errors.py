"""The project's one exception tree.

Theory of operation: every failure the engine can meet is one of two kinds, decided at
the edge where it happens (the h11 / dlt split):

* ``TransientError``: the same call may succeed if tried again (timeouts, 5xx, 429,
  lock contention). Retry policies look only at this class.
* ``TerminalError``: trying again will fail the same way until someone changes data or
  configuration. It is reported and journaled, never retried.

``ConfigError`` / ``UsageError`` are terminal errors that are the *operator's* fault and
stop a run (exit code 2). Problems that are the *data's* fault are not exceptions: the
core reports them as ``core.issues.OrderIssue`` values on the order's plan, one order
fails (``failures``), the run goes on. A contract another run is working on is not an
error either: the order is skipped for the next run (``applying``).

Adapters translate library exceptions into these with ``raise ... from exc`` and never
let a ``stripe.*`` or ``simple_salesforce.*`` exception escape. No message built here
may contain a secret: adapters pass only ids, codes and Stripe/Salesforce messages.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base of every error this project raises on purpose."""

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id

    def __str__(self) -> str:
        if self.request_id:
            return f"{self.message} (request {self.request_id})"
        return self.message


class TransientError(SyncError):
    """Worth retrying: the remote side was busy, slow, unreachable or rate-limiting."""

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.retry_after = retry_after


class TerminalError(SyncError):
    """Not worth retrying as is: bad data, a refused request, a missing object."""

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.code = code
        self.param = param


class ConfigError(TerminalError):
    """The configuration is wrong or incomplete: the operator's fault; exit code 2."""


class UsageError(TerminalError):
    """The command line or an input file is wrong: the caller's fault; exit code 2."""


class AuthenticationError(TerminalError):
    """Credentials were refused (and re-authentication, where possible, did not help)."""


class ApiLimitExceeded(TerminalError):
    """The org's or account's API allowance is used up; the run must stop."""


class IdempotencyConflict(TerminalError):
    """The same idempotency key was reused with different parameters: a bug, never retried."""
