"""Preflight of one configured Stripe account: the key, the account, the API version.

Theory of operation: the key's shape is judged before anything is sent. A publishable
key (``pk_``) can create nothing and would leak nothing, but every order would fail:
it is refused outright, as is any other shape. A secret (``sk_``) or restricted
(``rk_``) key shows its mode (test or live). Then, with the client the engine would
use (same pinned ``Stripe-Version``, same ``Stripe-Account``), the preflight

1. retrieves the account the key belongs to (``GET /v1/account``): reachable, which
   account; a restricted key without the account permission only warns;
2. reads the ``Stripe-Version`` Stripe answered with: the pinned version was accepted
   (Stripe refuses an unknown version with a 400 naming it);
3. for a restricted key, tries one harmless read (``limit=1`` lists) per resource the
   engine touches, so a missing permission is named before a run meets it. Write
   permissions cannot be tried without writing: the report says which to grant.

The reads go through a ``stripe.session.StripeSession`` for the account (paced, and
retried on a transient failure, as the engine's requests are); a refusal is judged by
the SDK's own exception (a permission refusal from an unknown API version), which the
session keeps as the cause of the error it raises.

Every failure is a finding, never an exception; messages go through the adapter's
redaction, so a key never reaches the report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import stripe
from pydantic import SecretStr

from sf_stripe_sync.config import STRIPE_API_VERSION, StripeAccountSettings
from sf_stripe_sync.errors import SyncError, TransientError
from sf_stripe_sync.preflight.report import PreflightReport
from sf_stripe_sync.stripe.errors import redact
from sf_stripe_sync.stripe.retry import RetryPolicy
from sf_stripe_sync.stripe.session import StripeSession

GOOD_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")

# resource -> (permission name in the Dashboard, a harmless read)
Read = Callable[[stripe.StripeClient], Any]
RESTRICTED_READS: dict[str, tuple[str, Read]] = {
    "customers": ("Customers", lambda c: c.v1.customers.list({"limit": 1})),
    "subscription_schedules": ("Subscriptions",
                               lambda c: c.v1.subscription_schedules.list({"limit": 1})),
    "coupons": ("Coupons", lambda c: c.v1.coupons.list({"limit": 1})),
    "prices": ("Prices", lambda c: c.v1.prices.list({"limit": 1})),
    "products": ("Products", lambda c: c.v1.products.list({"limit": 1})),
}
WRITE_PERMISSIONS = "Customers, Subscriptions, Coupons, Prices and Products: Write"


def key_mode(key: str) -> str | None:
    """``test`` or ``live`` for a usable key, else None."""
    if not key.startswith(GOOD_PREFIXES):
        return None
    return "live" if "_live_" in key[:8] else "test"


def check_key_shape(report: PreflightReport, area: str, env_name: str,
                    key: SecretStr | None) -> str | None:
    """The key's mode when it may be used, else a problem (and None)."""
    if key is None:
        report.problem(area, f"no Stripe key: {env_name} is not set", subject=env_name,
                       expected="a secret key sk_test_/sk_live_ or a restricted key rk_...")
        return None
    value = key.get_secret_value()
    if value.startswith("pk_"):
        report.problem(area, f"{env_name} holds a publishable key (pk_...): it cannot "
                       "create customers or schedules", subject=env_name,
                       expected="a secret key sk_... or a restricted key rk_...")
        return None
    mode = key_mode(value)
    if mode is None:
        report.problem(area, f"{env_name} does not look like a Stripe secret or restricted "
                       "key", subject=env_name, expected="sk_test_/sk_live_/rk_test_/rk_live_")
        return None
    kind = "restricted" if value.startswith("rk_") else "secret"
    report.ok(area, f"{kind} key in {mode} mode ({env_name})", subject=env_name)
    report.note_stripe(area.removeprefix("stripe:"), key=kind, mode=mode)
    return mode


def _failure(exc: stripe.StripeError) -> str:
    status = f"HTTP {exc.http_status}: " if exc.http_status else ""
    return redact(f"{status}{exc.user_message or type(exc).__name__}")


def _send(session: StripeSession, method: str, read: Read) -> Any:
    """``read(client)`` through the session (paced, retried on a transient failure as the
    engine's calls are); any other failure is raised as the SDK raised it."""
    try:
        return session.call(method, lambda: read(session.client))
    except TransientError:
        raise
    except SyncError as exc:
        if isinstance(exc.__cause__, stripe.StripeError):
            raise exc.__cause__ from None
        raise


def _account(report: PreflightReport, area: str, session: StripeSession,
             restricted: bool) -> bool:
    """Retrieve the account; True when Stripe answered (the version check can follow)."""
    try:
        found = _send(session, "accounts.retrieve",
                      lambda client: client.v1.accounts.retrieve_current())
    except stripe.PermissionError as exc:
        if restricted:
            report.warn(area, "the restricted key may not read the account (fine for "
                        f"syncing): {_failure(exc)}")
            return True
        report.problem(area, f"Stripe refused the key: {_failure(exc)}")
        return False
    except stripe.InvalidRequestError as exc:
        if "version" in str(exc.user_message or "").lower():
            report.problem(area, f"Stripe refused the pinned API version: {_failure(exc)}",
                           expected=STRIPE_API_VERSION)
        else:
            report.problem(area, f"account not reachable: {_failure(exc)}")
        return False
    except stripe.StripeError as exc:
        report.problem(area, f"account not reachable: {_failure(exc)}")
        return False
    except TransientError as exc:
        report.problem(area, f"account not reachable: {exc}")
        return False
    live = " (live)" if getattr(found, "livemode", False) else ""
    report.ok(area, f"account {found.id}{live} reachable")
    report.note_stripe(area.removeprefix("stripe:"), account=str(found.id))
    _version(report, area, found)
    return True


def _version(report: PreflightReport, area: str, found: stripe.StripeObject) -> None:
    response = found.last_response
    answered = response.headers.get("Stripe-Version") if response is not None else None
    if answered and answered != STRIPE_API_VERSION:
        report.problem(area, f"Stripe answered with API version {answered}, not the pinned "
                       "one", expected=STRIPE_API_VERSION)
    else:
        report.ok(area, f"API version {STRIPE_API_VERSION} accepted")


def _restricted_reads(report: PreflightReport, area: str, session: StripeSession) -> None:
    refused = []
    for resource, (permission, read) in RESTRICTED_READS.items():
        try:
            _send(session, f"{resource}.list", read)
        except stripe.PermissionError:
            refused.append(permission)
            report.problem(area, f"the restricted key may not read {resource}",
                           subject=resource, expected=f"{permission}: Write")
        except stripe.StripeError as exc:
            refused.append(permission)
            report.problem(area, f"reading {resource} failed: {_failure(exc)}", subject=resource)
        except TransientError as exc:
            refused.append(permission)
            report.problem(area, f"reading {resource} failed: {exc}", subject=resource)
    if not refused:
        report.ok(area, f"restricted key reads {', '.join(RESTRICTED_READS)}")
    report.warn(area, f"write permissions cannot be tried without writing: grant "
                f"{WRITE_PERMISSIONS}")


def check_stripe_account(report: PreflightReport, account: StripeAccountSettings,
                         key: SecretStr | None, *, env_name: str,
                         retry: RetryPolicy | None = None) -> None:
    """Every Stripe finding for ``account`` (``key`` as the engine would use it)."""
    area = f"stripe:{account.name}"
    mode = check_key_shape(report, area, env_name, key)
    if mode is None or key is None:
        return
    if account.api_base:
        report.ok(area, f"API address {account.api_base}")
    if account.connected_account:
        report.ok(area, f"acting for connected account {account.connected_account}")
    session = StripeSession.for_account(account, key, retry=retry, timeout=15.0)
    restricted = key.get_secret_value().startswith("rk_")
    if _account(report, area, session, restricted) and restricted:
        _restricted_reads(report, area, session)
