"""Run the preflight over a runtime, and stop a command that is not ready.

Theory of operation: ``preflight(rt, scope)`` checks every configured Stripe account
with the key its gateway would use, then the Salesforce org through the runtime's
logged-in connection (login itself happened when the runtime opened). ``require_ready``
is what ``sync``, ``cancel`` and the catalog commands call before their first write: it
prints the problems on stderr and raises ``PreflightFailed`` (a ``ConfigError``, so the
CLI exits 2). Reads only: describes, ``GET /v1/account`` and, for restricted keys,
``limit=1`` lists.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from pydantic import SecretStr

from sf_stripe_sync.config import resolve_secret
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.preflight.report import PreflightReport
from sf_stripe_sync.preflight.salesforce_checks import check_org
from sf_stripe_sync.preflight.schema import Scope
from sf_stripe_sync.preflight.stripe_checks import check_stripe_account, key_mode

if TYPE_CHECKING:
    from sf_stripe_sync.runtime import Runtime


class PreflightFailed(ConfigError):
    """The configuration is not ready; the report says every reason."""

    def __init__(self, report: PreflightReport) -> None:
        count = len(report.problems)
        first = report.problems[0].message if report.problems else ""
        super().__init__(f"preflight found {count} problem(s), nothing was written "
                         f"(first: {first}); run `sf-stripe-sync check` for the full report",
                         code="preflight")
        self.report = report


def check_stripe(report: PreflightReport, rt: Runtime) -> None:
    for account in rt.settings.stripe_accounts:
        key = rt.stripe_key(account)
        configured = resolve_secret(account.api_key_env, rt.settings, required=False)
        named = account.api_key_env if configured is not None or key is None else (
            "the emulator's demo key")
        check_stripe_account(report, account, key, env_name=named, retry=rt.stripe_retry)
        _mode_mismatch(report, rt, account.name, key)


def _mode_mismatch(report: PreflightReport, rt: Runtime, name: str,
                   key: SecretStr | None) -> None:
    """A live Stripe key against a Salesforce sandbox (``domain = "test"``) is allowed,
    but is almost always a copied production secret: say so."""
    if key is None or rt.settings.salesforce.domain != "test":
        return
    if key_mode(key.get_secret_value()) == "live":
        report.warn(f"stripe:{name}", "a live Stripe key with a Salesforce sandbox "
                    "(salesforce.domain = 'test'): sandbox orders would bill real customers")


def preflight(rt: Runtime, scope: Scope = "sync", report: PreflightReport | None = None
              ) -> PreflightReport:
    """Every finding for ``rt``: Stripe accounts first, then the org."""
    report = report if report is not None else PreflightReport()
    check_stripe(report, rt)
    if rt.salesforce is None:
        report.problem("salesforce", "no Salesforce connection to check")
        return report
    check_org(report, rt.salesforce, rt.settings, scope, where=f", {rt.describe}")
    return report


def require_ready(rt: Runtime, scope: Scope = "sync") -> None:
    """Return when ready; else print the problems and raise ``PreflightFailed``."""
    report = preflight(rt, scope)
    if report.ready:
        return
    for line in report.lines(only_problems=True):
        print(f"sf-stripe-sync: preflight: {line}", file=sys.stderr)
    raise PreflightFailed(report)
