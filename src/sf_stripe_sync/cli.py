"""Command line: parse, call the engine or a stand-in, render, exit code. Nothing else.

Exit codes (DESIGN 3): 0 all good; 1 some orders failed (others still synced);
2 usage or configuration error. Usage and configuration errors print one line on
stderr, never a traceback. Each command's handler lives beside what it drives and is
imported only when that command runs, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sf_stripe_sync import __version__
from sf_stripe_sync.errors import ConfigError, SyncError, UsageError

PROG = "sf-stripe-sync"
EXIT_OK = 0
EXIT_ORDERS_FAILED = 1
EXIT_USAGE = 2

Handler = Callable[[argparse.Namespace], int]

# command name -> "module:function"; each function takes the parsed Namespace.
HANDLERS: dict[str, str] = {
    "preview": "sf_stripe_sync.commands:run_preview",
    "sync": "sf_stripe_sync.sync_commands:run_sync",
    "cancel": "sf_stripe_sync.sync_commands:run_cancel",
    "status": "sf_stripe_sync.sync_commands:run_status",
    "sandbox stripe": "sf_stripe_sync.sandbox.stripe_emulator.server:run_cli",
    "sandbox salesforce": "sf_stripe_sync.sandbox.salesforce_org.server:run_cli",
    "catalog push": "sf_stripe_sync.catalog_commands:run_push",
    "catalog features": "sf_stripe_sync.catalog_commands:run_features",
    "catalog pull": "sf_stripe_sync.catalog_commands:run_pull",
    "catalog webhook": "sf_stripe_sync.catalog_commands:run_webhook",
    "catalog serve-webhooks": "sf_stripe_sync.catalog_commands:run_serve_webhooks",
    "catalog portals": "sf_stripe_sync.catalog_commands:run_portals",
    "entitlements": "sf_stripe_sync.catalog_commands:run_entitlements",
    "portal-link": "sf_stripe_sync.catalog_commands:run_portal_link",
    "billing pull": "sf_stripe_sync.billing_commands:run_pull",
    "billing webhook": "sf_stripe_sync.billing_commands:run_webhook",
    "billing serve-webhooks": "sf_stripe_sync.billing_commands:run_serve_webhooks",
    "billing status": "sf_stripe_sync.billing_commands:run_status",
    "check": "sf_stripe_sync.check_commands:run_check",
    "serve": "sf_stripe_sync.serve_commands:run_serve",
    "demo": "sf_stripe_sync.demo_commands:run_demo",
    "worker": "sf_stripe_sync.queue.commands:run_worker_command",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # ``main`` prints "sf-stripe-sync: error: ..." once; name only the subcommand here.
        command = self.prog.removeprefix(PROG).strip()
        hint = f" (see {self.prog} --help)"
        raise UsageError(f"{command}: {message}{hint}" if command else f"{message}{hint}")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, help="TOML settings file")
    p.add_argument("--state-dir", type=Path, default=None, help="where the state store lives")
    p.add_argument("--log-format", choices=("human", "json"), default="human")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def _running_sandboxes(p: argparse.ArgumentParser) -> None:
    p.add_argument("--salesforce-sandbox-url", default=None, metavar="URL",
                   help="use a local org already served at URL (sandbox salesforce)")
    p.add_argument("--stripe-emulator-url", default=None, metavar="URL",
                   help="use a Stripe emulator already served at URL (sandbox stripe)")


def _catalog_target(p: argparse.ArgumentParser) -> None:
    """The sandbox flags of ``sync``, a Stripe account and an output format."""
    _common(p)
    p.add_argument("--salesforce-sandbox", type=Path, default=None, metavar="SNAPSHOT")
    p.add_argument("--stripe-emulator", action="store_true")
    p.add_argument("--stripe-emulator-seed", type=Path, default=None, metavar="FILE")
    _running_sandboxes(p)
    p.add_argument("--stripe-account", default=None, metavar="NAME",
                   help="configured Stripe account (default: default_stripe_account)")
    p.add_argument("--format", choices=("table", "json"), default="table")


def _catalog_commands(sub: Any) -> None:
    catalog = sub.add_parser("catalog", help="products, prices, features and portals")
    catalog_sub = catalog.add_subparsers(dest="catalog", required=True, parser_class=_Parser)
    p = catalog_sub.add_parser("push", help="Product2/PricebookEntry -> Stripe products/prices")
    _catalog_target(p)
    p.add_argument("product_ids", nargs="*", metavar="PRODUCT2_ID")
    p = catalog_sub.add_parser("features", help="attach entitlement features to match Product2")
    _catalog_target(p)
    p.add_argument("product_ids", nargs="*", metavar="PRODUCT2_ID")
    p = catalog_sub.add_parser("pull", help="Stripe catalog events since the cursor -> Salesforce")
    _catalog_target(p)
    p = catalog_sub.add_parser("webhook", help="apply one signed webhook delivery")
    _catalog_target(p)
    _webhook_delivery_args(p)
    p = catalog_sub.add_parser("serve-webhooks", help="receive webhook deliveries")
    _catalog_target(p)
    _webhook_listener_args(p, default_port=12113)
    p = catalog_sub.add_parser("portals", help="one portal configuration per configured role")
    _catalog_target(p)
    p = sub.add_parser("entitlements", help="a customer's active entitlements in Stripe")
    _catalog_target(p)
    p.add_argument("account_id", metavar="ACCOUNT_ID")
    p = sub.add_parser("portal-link", help="a customer portal URL for an Account")
    _catalog_target(p)
    p.add_argument("account_id", metavar="ACCOUNT_ID")
    p.add_argument("--role", default=None, help="portal role (default: the Contact's, else "
                   "portal.default_role)")
    p.add_argument("--contact", default=None, metavar="CONTACT_ID",
                   help="take the role from this Contact's role field")
    p.add_argument("--return-url", default=None, metavar="URL")


def _webhook_delivery_args(p: argparse.ArgumentParser) -> None:
    """One signed delivery, as ``catalog webhook`` and ``billing webhook`` take it."""
    p.add_argument("--payload", type=Path, required=True, metavar="FILE")
    p.add_argument("--signature", required=True, metavar="STRIPE_SIGNATURE")
    p.add_argument("--tolerance", type=int, default=None, metavar="SECONDS",
                   help="maximum age of the signature; 0 accepts any age (replays)")


def _webhook_listener_args(p: argparse.ArgumentParser, *, default_port: int) -> None:
    """Where a ``serve-webhooks`` command listens."""
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=default_port)


def _billing_commands(sub: Any) -> None:
    billing = sub.add_parser("billing", help="Stripe's billing state back in Salesforce")
    billing_sub = billing.add_subparsers(dest="billing", required=True, parser_class=_Parser)
    p = billing_sub.add_parser("pull", help="invoice, subscription and schedule events since "
                               "the cursor -> Salesforce")
    _catalog_target(p)
    p = billing_sub.add_parser("webhook", help="apply one signed billing webhook delivery")
    _catalog_target(p)
    _webhook_delivery_args(p)
    p = billing_sub.add_parser("serve-webhooks", help="receive billing webhook deliveries")
    _catalog_target(p)
    _webhook_listener_args(p, default_port=12114)
    p = billing_sub.add_parser("status", help="an Account's subscriptions and last invoices")
    _catalog_target(p)
    p.add_argument("account_id", metavar="ACCOUNT_ID")


def _ops_commands(sub: Any) -> None:
    """Commands for running it in an org: ``check``, ``serve``; and ``demo``."""
    p = sub.add_parser("check", help="preflight: config, secrets, Stripe key and account, "
                       "Salesforce login, fields and objects; writes nothing")
    _catalog_target(p)
    p.add_argument("--scope", choices=("sync", "catalog", "billing"), default="sync",
                   help="judge fields for sync only (catalog and billing fields warn), or "
                   "for the catalog or billing commands too")
    p = sub.add_parser("serve", help="the trigger endpoint Salesforce calls, with health "
                       "and metrics; syncs what it accepts in the background")
    _catalog_target(p)
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (0.0.0.0 in a container)")
    p.add_argument("--port", type=int, default=8080)
    p = sub.add_parser("demo", help="sync the bundled demo org to the local Stripe emulator "
                       "(no credentials; works from any directory)")
    _common(p)
    p.add_argument("--no-progress", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Turn activated Salesforce Orders into Stripe subscription schedules.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("preview", help="show the phases orders would become; writes nothing")
    _common(p)
    p.add_argument("order_ids", nargs="*", metavar="ORDER_ID")
    p.add_argument("--source", required=True, help="an org snapshot FILE, or 'salesforce'")
    p.add_argument("--format", choices=("table", "json", "html"), default="table")
    p.add_argument("--output", "-o", type=Path, default=None, help="write to FILE, not stdout")
    p.add_argument("--as-of", default=None, metavar="YYYY-MM-DD", help="what 'now' is")
    p.add_argument("--stripe-emulator-url", default=None, metavar="URL",
                   help="read the schedules from a Stripe emulator served at URL (drift)")
    p.add_argument("--read-stripe", action="store_true",
                   help="read the schedules from the configured Stripe accounts (drift); "
                        "nothing is written")
    p.add_argument("--stripe-catalog", type=Path, default=None, metavar="FILE",
                   help="Stripe prices as JSON ({\"prices\": [...]}, the emulator seed "
                        "format) to bill with; else each PricebookEntry's UnitPrice")

    p = sub.add_parser("sync", help="sync changed orders (or the given ones) to Stripe")
    _common(p)
    p.add_argument("--order", nargs="+", default=None, metavar="ORDER_ID")
    p.add_argument("--dry-run", action="store_true", help="plan and show; send nothing")
    p.add_argument("--out", type=Path, default=None, metavar="PLAN.json",
                   help="with --dry-run: save the whole plan (docs/plan-file.md)")
    p.add_argument("--plan", type=Path, default=None, metavar="PLAN.json",
                   help="apply exactly this saved plan; a stale one is refused (exit 2)")
    p.add_argument("--as-of", default=None, metavar="YYYY-MM-DD")
    p.add_argument("--salesforce-sandbox", type=Path, default=None, metavar="SNAPSHOT",
                   help="run a local org from this snapshot instead of a real org")
    p.add_argument("--stripe-emulator", action="store_true",
                   help="run the local Stripe emulator instead of reaching Stripe")
    p.add_argument("--stripe-emulator-seed", type=Path, default=None, metavar="FILE")
    _running_sandboxes(p)
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--format", choices=("table", "json"), default="table",
                   help="json: the run's results as one document (docs/json-output.md)")
    p.add_argument("--enqueue", action="store_true",
                   help="queue one job per contract for the workers (state.url) instead "
                   "of syncing here")

    p = sub.add_parser("worker", help="run sync jobs from the shared task queue (state.url)")
    _common(p)
    p.add_argument("--name", default=None, help="this worker's name in logs and the queue")
    p.add_argument("--until-empty", action="store_true",
                   help="stop once the queue is empty instead of waiting for more jobs")
    _running_sandboxes(p)

    p = sub.add_parser("cancel", help="cancel an order's Stripe subscription schedule")
    _common(p)
    p.add_argument("order_id", metavar="ORDER_ID")
    p.add_argument("--dry-run", action="store_true", help="show the cancel; send nothing")
    p.add_argument("--yes", "-y", action="store_true",
                   help="do not ask for confirmation on a terminal")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--salesforce-sandbox", type=Path, default=None, metavar="SNAPSHOT")
    p.add_argument("--stripe-emulator", action="store_true")
    p.add_argument("--stripe-emulator-seed", type=Path, default=None, metavar="FILE")
    _running_sandboxes(p)

    p = sub.add_parser("status", help="what the state store knows")
    _common(p)
    p.add_argument("--format", choices=("table", "json"), default="table")

    sandbox = sub.add_parser("sandbox", help="run a local stand-in (tests, demos, rehearsals)")
    sandbox_sub = sandbox.add_subparsers(dest="sandbox", required=True, parser_class=_Parser)
    p = sandbox_sub.add_parser("stripe", help="local Stripe API emulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=12111)
    p.add_argument("--seed", type=Path, default=None, help="JSON catalog loaded at start")
    p.add_argument("--state", type=Path, default=None, help="persist objects to FILE")
    p.add_argument("--rate-limit", type=float, default=None, help="requests per second")
    p.add_argument("--endpoint-rate-limit", type=float, default=None,
                   help="requests per second on each endpoint (Search: 20, or this if lower)")
    p.add_argument("--latency-ms", type=float, default=0.0)
    p.add_argument("--latency-tail-ms", type=float, default=0.0,
                   help="latency of the slow share of requests")
    p.add_argument("--latency-tail-fraction", type=float, default=0.0,
                   help="share of requests answered after --latency-tail-ms")
    p.add_argument("--fail-rate", type=float, default=0.0, help="probability of a 500")
    p.add_argument("--search-lag-seconds", type=int, default=0, metavar="N",
                   help="new and changed objects reach search N seconds late, as on Stripe")
    p.add_argument("--bill-without-test-clock", action="store_true",
                   help="bill every schedule in the emulator's own time, not only those "
                   "of customers on a test clock")
    p.add_argument("--fault-seed", type=int, default=None)
    p = sandbox_sub.add_parser("salesforce", help="local Salesforce org from a snapshot")
    p.add_argument("--snapshot", type=Path, required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=12112)
    p.add_argument("--batch-size", type=int, default=2000)
    p.add_argument("--tls", action="store_true",
                   help="serve HTTPS with a certificate from a CA made on the spot")
    p.add_argument("--ca-dir", type=Path, default=None, metavar="DIR",
                   help="with --tls, write the CA certificate (local-org-ca.pem) here")
    p.add_argument("--latency-ms", type=float, default=0.0)
    _catalog_commands(sub)
    _billing_commands(sub)
    _ops_commands(sub)
    return parser


def _handler(name: str) -> Handler:
    module_name, _, func = HANDLERS[name].partition(":")
    handler: Handler = getattr(importlib.import_module(module_name), func)
    return handler


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        name = args.command
        if args.command in ("sandbox", "catalog", "billing"):
            name = f"{args.command} {getattr(args, args.command)}"
        return _handler(name)(args)
    except (UsageError, ConfigError) as exc:
        print(f"sf-stripe-sync: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SyncError as exc:
        print(f"sf-stripe-sync: error: {exc}", file=sys.stderr)
        return EXIT_ORDERS_FAILED
    except KeyboardInterrupt:
        print("sf-stripe-sync: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
