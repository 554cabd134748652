"""``sandbox stripe`` and ``sandbox salesforce``: a local stand-in served until Ctrl-C.

The handlers live beside the stand-ins (``sandbox.stripe_emulator.cli``,
``sandbox.salesforce_org.cli``), out of their HTTP servers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command, Deferred, Group

SANDBOX = Group("sandbox", "run a local stand-in (tests, demos, rehearsals)")


def _stripe_arguments(p: argparse.ArgumentParser) -> None:
    options.listener(p, port=12111)
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


def _salesforce_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--snapshot", type=Path, required=True)
    options.listener(p, port=12112)
    p.add_argument("--batch-size", type=int, default=2000)
    p.add_argument("--tls", action="store_true",
                   help="serve HTTPS with a certificate from a CA made on the spot")
    p.add_argument("--ca-dir", type=Path, default=None, metavar="DIR",
                   help="with --tls, write the CA certificate (local-org-ca.pem) here")
    p.add_argument("--latency-ms", type=float, default=0.0)


COMMANDS = (
    Command("stripe", "local Stripe API emulator", _stripe_arguments,
            Deferred("sf_stripe_sync.sandbox.stripe_emulator.cli", "run_cli"), SANDBOX),
    Command("salesforce", "local Salesforce org from a snapshot", _salesforce_arguments,
            Deferred("sf_stripe_sync.sandbox.salesforce_org.cli", "run_cli"), SANDBOX),
)
