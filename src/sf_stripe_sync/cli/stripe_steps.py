"""Steps the catalog and billing commands share: the Account's Stripe customer, and signed
webhook deliveries (one read from a file, or many received until Ctrl-C).

Theory of operation: a webhook command reads ``--payload`` before it opens anything (a
missing file is a usage error, exit 2), then verifies ``--signature`` with the signing
secret its settings name (the preflight made sure it is set), within ``--tolerance``
seconds or the configured window; ``serve_webhooks`` takes deliveries on
``--host``/``--port`` through ``catalog.webhooks.WebhookEndpoint`` and applies each.
``customer_of`` is the Stripe customer an Account's field names, or a terminal error
when the Account has none yet.
"""

from __future__ import annotations

import argparse
import threading
from collections.abc import Callable
from typing import Any

from sf_stripe_sync.catalog.context import CatalogContext
from sf_stripe_sync.catalog.webhooks import WebhookEndpoint, verify_event
from sf_stripe_sync.cli.exits import EXIT_OK
from sf_stripe_sync.config import resolve_secret
from sf_stripe_sync.errors import TerminalError, UsageError
from sf_stripe_sync.runtime import Runtime


def customer_of(ctx: CatalogContext, account_id: str) -> str:
    account = ctx.salesforce.account(account_id)
    if account is None:
        raise UsageError(f"Account {account_id} was not found in Salesforce")
    customer = account.get(ctx.settings.fields.account_customer)
    if not customer:
        raise TerminalError(f"Account {account_id} has no Stripe customer yet "
                            f"({ctx.settings.fields.account_customer} is empty); sync one of "
                            "its orders first", code="missing_customer")
    return str(customer)


def webhook_secret(ctx: CatalogContext, env_name: str) -> Any:
    """The webhook signing secret named by ``env_name`` (the preflight made sure it is set)."""
    secret = resolve_secret(env_name, ctx.settings)
    assert secret is not None
    return secret


def read_webhook_payload(args: argparse.Namespace) -> bytes:
    """The raw delivery body of ``--payload``, read before anything is opened."""
    try:
        payload: bytes = args.payload.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read webhook payload {args.payload}: {exc.strerror}") from exc
    return payload


def verified_event(args: argparse.Namespace, payload: bytes, ctx: CatalogContext,
                   secret_env: str) -> dict[str, Any]:
    """The delivery's event once its ``--signature`` checks out, within ``--tolerance``
    seconds (else the configured window)."""
    tolerance = (args.tolerance if args.tolerance is not None
                 else ctx.settings.catalog.webhook_tolerance_seconds)
    return verify_event(payload, args.signature, webhook_secret(ctx, secret_env),
                        tolerance=tolerance)


def serve_webhooks(args: argparse.Namespace, rt: Runtime, ctx: CatalogContext,
                   apply: Callable[[dict[str, Any]], str], secret_env: str, what: str) -> int:
    """Take signed deliveries on ``--host``/``--port`` and ``apply`` each, until Ctrl-C."""
    endpoint = WebhookEndpoint(apply, webhook_secret(ctx, secret_env),
                               tolerance=ctx.settings.catalog.webhook_tolerance_seconds)
    endpoint.start(host=args.host, port=args.port)
    print(f"listening for {what} at {endpoint.url} ({rt.describe}); Ctrl-C to stop",
          flush=True)
    try:
        threading.Event().wait()
    finally:
        endpoint.stop()
    return EXIT_OK
