"""The ``check`` command: a ``dbt debug`` for sf-stripe-sync.

Theory of operation: ``run_check`` builds one ``PreflightReport`` from every step it can
take, never stopping at the first problem: the configuration parses (if not, that is
the report); the secrets it names are present (Salesforce's for the auth mode, each
Stripe account's key; the trigger and webhook secrets only warn, as only ``serve`` and
the webhook commands need them); then it opens the runtime exactly as ``sync`` would
(real systems, or the sandbox flags) and runs ``preflight.run.preflight`` over it. A
failed Salesforce login is a finding, and the Stripe accounts are still checked.
``--format json`` prints the report as JSON. Exit code 0 when ready, 2 otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys

from sf_stripe_sync.cli import inputs
from sf_stripe_sync.cli.exits import EXIT_OK, EXIT_USAGE
from sf_stripe_sync.config import Settings, resolve_secret
from sf_stripe_sync.errors import ConfigError, SyncError
from sf_stripe_sync.preflight.report import PreflightReport
from sf_stripe_sync.preflight.run import preflight
from sf_stripe_sync.preflight.salesforce_checks import check_secrets
from sf_stripe_sync.preflight.stripe_checks import check_stripe_account
from sf_stripe_sync.runtime import SandboxOptions, open_runtime


def _optional_secrets(report: PreflightReport, settings: Settings) -> None:
    for name, needed_by in ((settings.serve.trigger_secret_env, "serve"),
                            (settings.catalog.webhook_secret_env, "catalog webhooks")):
        if resolve_secret(name, settings, required=False) is None:
            report.warn("secrets", f"{name} is not set (only {needed_by} needs it)",
                        subject=name)
        else:
            report.ok("secrets", f"{name} present", subject=name)


def _checked(settings: Settings, sandbox: SandboxOptions, scope: str) -> PreflightReport:
    report = PreflightReport()
    uses_real_org = sandbox.snapshot is None and sandbox.salesforce_url is None
    can_login = check_secrets(report, settings) if uses_real_org else True
    _optional_secrets(report, settings)
    if can_login:
        try:
            with open_runtime(settings, sandbox) as rt:
                return preflight(rt, "catalog" if scope == "catalog" else "sync", report)
        except (ConfigError, SyncError) as exc:
            report.problem("salesforce", f"login failed: {exc}")
    for account in settings.stripe_accounts:
        check_stripe_account(report, account,
                             resolve_secret(account.api_key_env, settings, required=False),
                             env_name=account.api_key_env)
    return report


def run_check(args: argparse.Namespace) -> int:
    """``sf-stripe-sync check``: every problem at once; 0 when ready, 2 otherwise."""
    report = PreflightReport()
    try:
        settings = inputs.settings(args)
    except ConfigError as exc:
        report.problem("config", str(exc))
    else:
        where = args.config or "defaults and environment"
        report.ok("config", f"configuration parses ({where})")
        checked = _checked(settings, inputs.sandbox(args), args.scope)
        report.findings.extend(checked.findings)
        report.stripe.update(checked.stripe)
    if args.format == "json":
        json.dump(report.as_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for line in report.lines():
            print(line)
    return EXIT_OK if report.ready else EXIT_USAGE
