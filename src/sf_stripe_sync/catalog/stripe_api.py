"""The catalog's Stripe access: the account's one session, answers as plain data.

Theory of operation: the catalog steps (push, pull, entitlements, portal) and the
billing-state pull send every request through the Stripe account's
``stripe.session.StripeSession``, the very session the sync gateway uses (the runtime
keeps one per account: ``stripe.accounts.StripeAccounts``). So a catalog push is paced
by the account's rate limiter (global and per endpoint), retried under
``settings.retry``, and its SDK errors become the project's, exactly like a sync.
Answers are handed on as plain dicts (``as_dict``) so the rest of the package never
touches SDK objects.
"""

from __future__ import annotations

from typing import Any

__all__ = ["as_dict"]


def as_dict(obj: Any) -> dict[str, Any]:
    """A Stripe object (or list page) as plain data."""
    data: dict[str, Any] = obj.to_dict()
    return data
