"""The billing state commands: ``billing pull``, ``billing webhook``, ``billing serve-webhooks``
and ``billing status``.

Theory of operation: as the catalog commands do (``cli.catalog_commands``; the steps
both share are in ``cli.stripe_steps``), each handler opens a runtime (real systems, or
the in-process sandboxes with ``--salesforce-sandbox`` and ``--stripe-emulator``), runs
the preflight for the billing fields, runs one step and prints a summary (``--format
json`` for machines). Exit codes: 0 done; 1 some records could not be written (the
others were); 2 usage or configuration error.

* ``billing pull``: Stripe's invoice, subscription and schedule events since the stored
  cursor -> Stripe_Invoice__c records and the state fields of Contracts and Orders;
* ``billing webhook --payload FILE --signature HEADER``: one signed delivery, the same way;
* ``billing serve-webhooks --port N``: a loopback endpoint for deliveries, until Ctrl-C;
* ``billing status ACCOUNT_ID``: the Account's subscriptions and last invoices in Stripe.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from sf_stripe_sync.billing_state.pull import BillingPull
from sf_stripe_sync.billing_state.salesforce_side import BillingSalesforce
from sf_stripe_sync.billing_state.status import billing_status, status_lines
from sf_stripe_sync.catalog.context import CatalogContext, catalog_context
from sf_stripe_sync.cli import inputs
from sf_stripe_sync.cli.exits import EXIT_OK, failed_if
from sf_stripe_sync.cli.stripe_steps import (
    customer_of,
    read_webhook_payload,
    serve_webhooks,
    verified_event,
)
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.logs import configure_logging
from sf_stripe_sync.preflight.run import require_ready
from sf_stripe_sync.runtime import Runtime, open_runtime
from sf_stripe_sync.salesforce.source import SalesforceOrderSource
from sf_stripe_sync.salesforce.writer import SalesforceWriteBack


def make_billing_pull(rt: Runtime, ctx: CatalogContext, account: str | None) -> BillingPull:
    if not isinstance(rt.source, SalesforceOrderSource) or not isinstance(
            rt.writer, SalesforceWriteBack):
        raise ConfigError("billing state needs a Salesforce connection (a real org or "
                          "--salesforce-sandbox)")
    salesforce = BillingSalesforce(rt.source.conn, rt.writer, fields=rt.settings.fields,
                                   billing=rt.settings.billing_state)
    return BillingPull(salesforce, ctx.stripe(account), fields=rt.settings.fields,
                       billing=rt.settings.billing_state, memory=ctx.memory)


def _run(args: argparse.Namespace,
         step: Callable[[Runtime, CatalogContext], int]) -> int:
    configure_logging(args.log_format, verbose=args.verbose)
    with open_runtime(inputs.settings(args), inputs.sandbox(args)) as rt:
        require_ready(rt, "billing")
        return step(rt, catalog_context(rt))


def run_pull(args: argparse.Namespace) -> int:
    def step(rt: Runtime, ctx: CatalogContext) -> int:
        report = make_billing_pull(rt, ctx, args.stripe_account).pull()
        document = report.as_json()
        inputs.emit(args, document, inputs.summary(f"billing pull ({rt.describe})", document))
        return failed_if(report.errors)

    return _run(args, step)


def run_webhook(args: argparse.Namespace) -> int:
    payload = read_webhook_payload(args)

    def step(rt: Runtime, ctx: CatalogContext) -> int:
        event = verified_event(args, payload, ctx, ctx.settings.billing_state.webhook_secret_env)
        pull = make_billing_pull(rt, ctx, args.stripe_account)
        outcome = pull.apply_event(event)
        document = {"event": event.get("id"), "type": event.get("type"), "outcome": outcome,
                    "errors": pull.report.errors}
        inputs.emit(args, document, [f"webhook {event.get('type')} {event.get('id')}: {outcome}"])
        return failed_if(pull.report.errors)

    return _run(args, step)


def run_serve_webhooks(args: argparse.Namespace) -> int:
    def step(rt: Runtime, ctx: CatalogContext) -> int:
        pull = make_billing_pull(rt, ctx, args.stripe_account)
        return serve_webhooks(args, rt, ctx, pull.apply_event,
                              ctx.settings.billing_state.webhook_secret_env,
                              "Stripe billing webhooks")

    return _run(args, step)


def run_status(args: argparse.Namespace) -> int:
    def step(rt: Runtime, ctx: CatalogContext) -> int:
        customer = customer_of(ctx, args.account_id)
        document = billing_status(ctx.stripe(args.stripe_account), args.account_id, customer,
                                  rt.settings.billing_state.invoices_shown)
        inputs.emit(args, document, status_lines(document))
        return EXIT_OK

    return _run(args, step)
