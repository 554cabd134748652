"""The queue's two commands: ``worker`` and ``sync --enqueue``.

Theory of operation: both need ``state.url`` (the queue shares the store's database).
``sync --enqueue`` reads what a scheduled sync (or ``--order``: exactly those orders)
would work on and queues one job per contract, then prints what it queued and exits;
the workers do the syncing. ``worker`` takes jobs until SIGINT/SIGTERM (or, with
``--until-empty``, until the queue has nothing left it can run now).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from sf_stripe_sync.cli import inputs
from sf_stripe_sync.cli.exits import EXIT_OK
from sf_stripe_sync.config import Settings
from sf_stripe_sync.errors import UsageError
from sf_stripe_sync.logs import configure_logging
from sf_stripe_sync.queue import intake
from sf_stripe_sync.queue.app import ensure_schema, make_app, queue_url
from sf_stripe_sync.queue.worker import run_worker
from sf_stripe_sync.runtime import SandboxOptions, open_runtime


def run_worker_command(args: argparse.Namespace) -> int:
    configure_logging(args.log_format, verbose=args.verbose)
    settings = inputs.settings(args)
    queue_url(settings)
    run_worker(settings, inputs.sandbox(args), name=args.name, wait=not args.until_empty)
    return EXIT_OK


def run_enqueue(args: argparse.Namespace, settings: Settings, sandbox: SandboxOptions) -> int:
    if args.dry_run:
        raise UsageError("--enqueue and --dry-run do not go together")
    queue_url(settings)
    ensure_schema(settings)
    app = make_app(settings)
    with open_runtime(settings, sandbox) as rt, app.open():
        if args.order:
            read, queued = len(args.order), intake.route(app, settings, rt.source, args.order)
        else:
            read, queued = intake.enqueue_changed(app, settings, rt.source, rt.store,
                                                  datetime.now(UTC))
    if getattr(args, "format", "table") == "json" or args.log_format == "json":
        json.dump({"orders_read": read, "jobs_queued": queued}, sys.stdout)
        sys.stdout.write("\n")
    else:
        print(f"queued {queued} contract job(s) for {read} order(s)")
    return EXIT_OK
