"""``catalog ...``, ``entitlements`` and ``portal-link``: products, prices, features,
portals and customer access (``catalog_commands``)."""

from __future__ import annotations

import argparse

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command, Group

CATALOG = Group("catalog", "products, prices, features and portals")


def _products(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    p.add_argument("product_ids", nargs="*", metavar="PRODUCT2_ID")


def _webhook(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    options.webhook_delivery(p)


def _serve_webhooks(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    options.listener(p, port=12113)


def _account(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    options.account_id(p)


def _portal_link(p: argparse.ArgumentParser) -> None:
    _account(p)
    p.add_argument("--role", default=None, help="portal role (default: the Contact's, else "
                   "portal.default_role)")
    p.add_argument("--contact", default=None, metavar="CONTACT_ID",
                   help="take the role from this Contact's role field")
    p.add_argument("--return-url", default=None, metavar="URL")


def _push(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.catalog_commands import run_push

    return run_push(args)


def _features(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.catalog_commands import run_features

    return run_features(args)


def _pull(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.catalog_commands import run_pull

    return run_pull(args)


def _apply_webhook(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.catalog_commands import run_webhook

    return run_webhook(args)


def _serve(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.catalog_commands import run_serve_webhooks

    return run_serve_webhooks(args)


def _portals(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.catalog_commands import run_portals

    return run_portals(args)


def _entitlements(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.catalog_commands import run_entitlements

    return run_entitlements(args)


def _link(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.catalog_commands import run_portal_link

    return run_portal_link(args)


COMMANDS = (
    Command("push", "Product2/PricebookEntry -> Stripe products/prices", _products, _push,
            CATALOG),
    Command("features", "attach entitlement features to match Product2", _products,
            _features, CATALOG),
    Command("pull", "Stripe catalog events since the cursor -> Salesforce",
            options.stripe_target, _pull, CATALOG),
    Command("webhook", "apply one signed webhook delivery", _webhook, _apply_webhook,
            CATALOG),
    Command("serve-webhooks", "receive webhook deliveries", _serve_webhooks, _serve, CATALOG),
    Command("portals", "one portal configuration per configured role", options.stripe_target,
            _portals, CATALOG),
    Command("entitlements", "a customer's active entitlements in Stripe", _account,
            _entitlements),
    Command("portal-link", "a customer portal URL for an Account", _portal_link, _link),
)
