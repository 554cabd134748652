"""``billing ...``: Stripe's billing state back in Salesforce (``billing_commands``)."""

from __future__ import annotations

import argparse

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command, Deferred, Group

_RUN = "sf_stripe_sync.cli.billing_commands"
"""Where this group's commands run (imported when one runs)."""

BILLING = Group("billing", "Stripe's billing state back in Salesforce")


def _serve_webhooks(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    options.listener(p, port=12114)


COMMANDS = (
    Command("pull", "invoice, subscription and schedule events since the cursor -> "
            "Salesforce", options.stripe_target, Deferred(_RUN, "run_pull"), BILLING),
    Command("webhook", "apply one signed billing webhook delivery", options.webhook_command,
            Deferred(_RUN, "run_webhook"), BILLING),
    Command("serve-webhooks", "receive billing webhook deliveries", _serve_webhooks,
            Deferred(_RUN, "run_serve_webhooks"), BILLING),
    Command("status", "an Account's subscriptions and last invoices", options.account_command,
            Deferred(_RUN, "run_status"), BILLING),
)
