"""The ``sandbox stripe`` command: the emulator served on loopback until Ctrl-C.

Theory of operation: ``run_cli`` builds the fault configuration and a
``StripeEmulator`` from the command-line flags (a bad seed or flag is a usage error),
starts it, prints its URL, serves until Ctrl-C and saves the state file on the way out
(``--state``). It lives outside ``server`` and ``emulator`` so those do not import each
other in a circle.
"""

from __future__ import annotations

import argparse
import sys
import threading

from sf_stripe_sync.errors import UsageError
from sf_stripe_sync.sandbox.stripe_emulator.emulator import StripeEmulator
from sf_stripe_sync.sandbox.stripe_emulator.faults import FaultConfig
from sf_stripe_sync.sandbox.stripe_emulator.seed import SeedError


def run_cli(args: argparse.Namespace) -> int:
    """``sf-stripe-sync sandbox stripe``: serve until Ctrl-C; exit code 0."""
    try:
        faults = FaultConfig(
            rate_limit=args.rate_limit, latency_ms=args.latency_ms,
            latency_tail_ms=getattr(args, "latency_tail_ms", 0.0),
            latency_tail_fraction=getattr(args, "latency_tail_fraction", 0.0),
            endpoint_rate_limit=getattr(args, "endpoint_rate_limit", None),
            error_rate=args.fail_rate, seed=args.fault_seed,
        )
        emulator = StripeEmulator(
            seed=args.seed, state_file=args.state, faults=faults,
            search_lag_seconds=args.search_lag_seconds,
            bill_without_test_clock=getattr(args, "bill_without_test_clock", False))
        emulator.start(host=args.host, port=args.port)
    except (SeedError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from exc
    print(f"Stripe emulator listening on {emulator.url}", flush=True)
    if args.state is not None:
        print(f"State is saved to {args.state}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("Stopping the Stripe emulator", file=sys.stderr, flush=True)
    finally:
        emulator.stop()
    return 0
