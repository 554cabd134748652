"""The ``sandbox salesforce`` command: a local org served from a snapshot until Ctrl-C.

Theory of operation: ``run_cli`` builds a ``LocalOrg`` from ``--snapshot`` (refusing a
bad snapshot as a usage error), applies ``--latency-ms``, starts it on ``--host`` and
``--port`` (``--tls``: HTTPS from a CA made on the spot), prints the address and a
session id, and serves until Ctrl-C. It lives outside ``server`` and ``org`` so the
org's modules do not import each other in a circle.
"""

from __future__ import annotations

import argparse
import sys
import threading

from sf_stripe_sync.errors import UsageError
from sf_stripe_sync.sandbox.salesforce_org.faults import OrgFaults
from sf_stripe_sync.sandbox.salesforce_org.org import LocalOrg


def run_cli(args: argparse.Namespace) -> int:
    """``sf-stripe-sync sandbox salesforce --snapshot FILE``: serve until Ctrl-C."""
    try:
        org = LocalOrg(args.snapshot, batch_size=args.batch_size, tls=args.tls,
                       ca_dir=args.ca_dir)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if args.latency_ms:
        org.set_faults(OrgFaults(latency_ms=float(args.latency_ms)))
    try:
        org.start(args.host, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
    print(f"Local Salesforce org serving {org.base_url}", flush=True)
    if org.ca_path is not None:
        print(f"Certificate authority (trust it to verify the org): {org.ca_path}", flush=True)
    else:
        print(f"Instance URL (simple-salesforce, via LocalOrg.requests_session()): "
              f"{org.instance_url}", flush=True)
    print(f"Session id: {org.session_id}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    stopped = threading.Event()
    try:
        stopped.wait()
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        org.stop()
    return 0
