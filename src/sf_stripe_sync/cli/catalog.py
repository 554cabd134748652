"""``catalog ...``, ``entitlements`` and ``portal-link``: products, prices, features,
portals and customer access (``catalog_commands``)."""

from __future__ import annotations

import argparse

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command, Deferred, Group

_RUN = "sf_stripe_sync.cli.catalog_commands"
"""Where this group's commands run (imported when one runs)."""

CATALOG = Group("catalog", "products, prices, features and portals")


def _products(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    p.add_argument("product_ids", nargs="*", metavar="PRODUCT2_ID")


def _serve_webhooks(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    options.listener(p, port=12113)


def _portal_link(p: argparse.ArgumentParser) -> None:
    options.account_command(p)
    p.add_argument("--role", default=None, help="portal role (default: the Contact's, else "
                   "portal.default_role)")
    p.add_argument("--contact", default=None, metavar="CONTACT_ID",
                   help="take the role from this Contact's role field")
    p.add_argument("--return-url", default=None, metavar="URL")


COMMANDS = (
    Command("push", "Product2/PricebookEntry -> Stripe products/prices", _products,
            Deferred(_RUN, "run_push"), CATALOG),
    Command("features", "attach entitlement features to match Product2", _products,
            Deferred(_RUN, "run_features"), CATALOG),
    Command("pull", "Stripe catalog events since the cursor -> Salesforce",
            options.stripe_target, Deferred(_RUN, "run_pull"), CATALOG),
    Command("webhook", "apply one signed webhook delivery", options.webhook_command,
            Deferred(_RUN, "run_webhook"), CATALOG),
    Command("serve-webhooks", "receive webhook deliveries", _serve_webhooks,
            Deferred(_RUN, "run_serve_webhooks"), CATALOG),
    Command("portals", "one portal configuration per configured role", options.stripe_target,
            Deferred(_RUN, "run_portals"), CATALOG),
    Command("entitlements", "a customer's active entitlements in Stripe", options.account_command,
            Deferred(_RUN, "run_entitlements")),
    Command("portal-link", "a customer portal URL for an Account", _portal_link,
            Deferred(_RUN, "run_portal_link")),
)
