"""The catalog and customer-access commands: ``catalog ...``, ``entitlements``, ``portal-link``.

Theory of operation: each handler loads settings and opens a runtime exactly as ``sync``
does (real systems, or the in-process sandboxes with ``--salesforce-sandbox`` and
``--stripe-emulator``), builds the catalog context and runs one step, then prints a
summary (``--format json`` for machines). Exit codes: 0 done; 1 some records could not
be synced (the others were) or Stripe refused; 2 usage or configuration error.

* ``catalog push [PRODUCT2_ID...]``: Product2 / PricebookEntry -> Stripe products, prices;
* ``catalog features [PRODUCT2_ID...]``: entitlement features attached to match Salesforce;
* ``catalog pull``: Stripe catalog events since the stored cursor -> Salesforce;
* ``catalog webhook --payload FILE --signature HEADER``: one signed delivery -> Salesforce;
* ``catalog serve-webhooks --port N``: a loopback endpoint for deliveries, until Ctrl-C;
* ``catalog portals``: one portal configuration per configured role;
* ``entitlements ACCOUNT_ID``: the Account's customer's active entitlements;
* ``portal-link ACCOUNT_ID [--role R | --contact ID] [--return-url URL]``: a portal URL.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sf_stripe_sync.catalog.context import CatalogContext, catalog_context, make_push
from sf_stripe_sync.catalog.entitlements import EntitlementSync, active_entitlements
from sf_stripe_sync.catalog.portal import PortalConfigurations, role_of_contact
from sf_stripe_sync.catalog.pull import CatalogPull
from sf_stripe_sync.cli import inputs
from sf_stripe_sync.cli.exits import EXIT_OK, failed_if
from sf_stripe_sync.cli.stripe_steps import (
    customer_of,
    read_webhook_payload,
    serve_webhooks,
    verified_event,
)
from sf_stripe_sync.errors import UsageError
from sf_stripe_sync.logs import configure_logging
from sf_stripe_sync.preflight.run import require_ready
from sf_stripe_sync.runtime import Runtime, open_runtime


def _run(args: argparse.Namespace, step: Callable[[CatalogContext, Runtime], int]) -> int:
    configure_logging(args.log_format, verbose=args.verbose)
    with open_runtime(inputs.settings(args), inputs.sandbox(args)) as rt:
        require_ready(rt, "catalog")
        return step(catalog_context(rt), rt)


# ---------------------------------------------------------------------- catalog push / features

def run_push(args: argparse.Namespace) -> int:
    def step(ctx: CatalogContext, rt: Runtime) -> int:
        report = make_push(ctx, args.stripe_account).push(args.product_ids or None)
        document = report.as_json()
        inputs.emit(args, document, inputs.summary(f"catalog push ({rt.describe})", document))
        return failed_if(report.errors)

    return _run(args, step)


def run_features(args: argparse.Namespace) -> int:
    def step(ctx: CatalogContext, rt: Runtime) -> int:
        sync = EntitlementSync(make_push(ctx, args.stripe_account))
        report = sync.sync(args.product_ids or None)
        document = report.as_json()
        inputs.emit(args, document,
                    inputs.summary(f"entitlement features ({rt.describe})", document))
        return failed_if(report.errors)

    return _run(args, step)


# ---------------------------------------------------------------------- catalog pull / webhooks

def make_pull(ctx: CatalogContext, account: str | None) -> CatalogPull:
    return CatalogPull(ctx.salesforce, ctx.stripe(account), ctx.options, ctx.memory)


def run_pull(args: argparse.Namespace) -> int:
    def step(ctx: CatalogContext, rt: Runtime) -> int:
        report = make_pull(ctx, args.stripe_account).pull()
        document = report.as_json()
        inputs.emit(args, document, inputs.summary(f"catalog pull ({rt.describe})", document))
        return EXIT_OK

    return _run(args, step)


def run_webhook(args: argparse.Namespace) -> int:
    payload = read_webhook_payload(args)

    def step(ctx: CatalogContext, rt: Runtime) -> int:
        event = verified_event(args, payload, ctx, ctx.settings.catalog.webhook_secret_env)
        outcome = make_pull(ctx, args.stripe_account).apply_event(event)
        document = {"event": event.get("id"), "type": event.get("type"), "outcome": outcome}
        inputs.emit(args, document, [f"webhook {event.get('type')} {event.get('id')}: {outcome}"])
        return EXIT_OK

    return _run(args, step)


def run_serve_webhooks(args: argparse.Namespace) -> int:
    def step(ctx: CatalogContext, rt: Runtime) -> int:
        return serve_webhooks(args, rt, ctx, make_pull(ctx, args.stripe_account).apply_event,
                              ctx.settings.catalog.webhook_secret_env, "Stripe webhooks")

    return _run(args, step)


# ---------------------------------------------------------------------- customer access

def run_entitlements(args: argparse.Namespace) -> int:
    def step(ctx: CatalogContext, rt: Runtime) -> int:
        customer = customer_of(ctx, args.account_id)
        found = active_entitlements(ctx.stripe(args.stripe_account), customer)
        document = {"account_id": args.account_id, "customer": customer,
                    "entitlements": [{"lookup_key": e.get("lookup_key"),
                                      "feature": e.get("feature")} for e in found]}
        lines = [f"Account {args.account_id} (Stripe customer {customer}): "
                 f"{len(found)} active entitlement(s)"]
        lines += [f"  {e.get('lookup_key')}  ({e.get('feature')})" for e in found]
        inputs.emit(args, document, lines)
        return EXIT_OK

    return _run(args, step)


def run_portals(args: argparse.Namespace) -> int:
    def step(ctx: CatalogContext, rt: Runtime) -> int:
        configs = PortalConfigurations(ctx.stripe(args.stripe_account), ctx.settings.portal,
                                       ctx.memory)
        ids = configs.ensure_all()
        document = {"configurations": ids, "changed": configs.changed}
        lines = [f"portal configurations ({rt.describe})"]
        lines += [f"  {role}: {config_id}" for role, config_id in ids.items()]
        lines += [f"  {change}" for change in configs.changed]
        inputs.emit(args, document, lines)
        return EXIT_OK

    return _run(args, step)


def run_portal_link(args: argparse.Namespace) -> int:
    def step(ctx: CatalogContext, rt: Runtime) -> int:
        portal = ctx.settings.portal
        role = args.role
        if role is None and args.contact is not None:
            contact = ctx.salesforce.contact(args.contact)
            if contact is None:
                raise UsageError(f"Contact {args.contact} was not found in Salesforce")
            if contact.get("AccountId") and contact["AccountId"][:15] != args.account_id[:15]:
                raise UsageError(f"Contact {args.contact} belongs to Account "
                                 f"{contact['AccountId']}, not {args.account_id}")
            role = role_of_contact(contact, portal)
        role = role or portal.default_role
        customer = customer_of(ctx, args.account_id)
        configs = PortalConfigurations(ctx.stripe(args.stripe_account), portal, ctx.memory)
        session = configs.session(customer, role, args.return_url)
        document = {"url": session.get("url"), "role": role,
                    "configuration": session.get("configuration"), "customer": customer}
        inputs.emit(args, document, [str(session.get("url"))])
        return EXIT_OK

    return _run(args, step)
