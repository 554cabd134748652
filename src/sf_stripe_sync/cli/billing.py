"""``billing ...``: Stripe's billing state back in Salesforce (``billing_commands``)."""

from __future__ import annotations

import argparse

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command, Group

BILLING = Group("billing", "Stripe's billing state back in Salesforce")


def _webhook(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    options.webhook_delivery(p)


def _serve_webhooks(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    options.listener(p, port=12114)


def _status_arguments(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    options.account_id(p)


def _pull(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.billing_commands import run_pull

    return run_pull(args)


def _apply_webhook(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.billing_commands import run_webhook

    return run_webhook(args)


def _serve(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.billing_commands import run_serve_webhooks

    return run_serve_webhooks(args)


def _status(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.billing_commands import run_status

    return run_status(args)


COMMANDS = (
    Command("pull", "invoice, subscription and schedule events since the cursor -> "
            "Salesforce", options.stripe_target, _pull, BILLING),
    Command("webhook", "apply one signed billing webhook delivery", _webhook,
            _apply_webhook, BILLING),
    Command("serve-webhooks", "receive billing webhook deliveries", _serve_webhooks, _serve,
            BILLING),
    Command("status", "an Account's subscriptions and last invoices", _status_arguments,
            _status, BILLING),
)
