"""``sync``, ``cancel`` and ``status``: runs of the engine and what the store knows
(``sync_commands``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command, Deferred

_RUN = "sf_stripe_sync.cli.sync_commands"
"""Where this group's commands run (imported when one runs)."""


def _sync_arguments(p: argparse.ArgumentParser) -> None:
    options.common(p)
    p.add_argument("--order", nargs="+", default=None, metavar="ORDER_ID")
    p.add_argument("--dry-run", action="store_true", help="plan and show; send nothing")
    p.add_argument("--out", type=Path, default=None, metavar="PLAN.json",
                   help="with --dry-run: save the whole plan (docs/plan-file.md)")
    p.add_argument("--plan", type=Path, default=None, metavar="PLAN.json",
                   help="apply exactly this saved plan; a stale one is refused (exit 2)")
    options.as_of(p)
    options.sandboxes(p)
    options.no_progress(p)
    options.output_format(
        p, help="json: the run's results as one document (docs/json-output.md)")
    p.add_argument("--enqueue", action="store_true",
                   help="queue one job per contract for the workers (state.url) instead "
                   "of syncing here")


def _cancel_arguments(p: argparse.ArgumentParser) -> None:
    options.common(p)
    p.add_argument("order_id", metavar="ORDER_ID")
    p.add_argument("--dry-run", action="store_true", help="show the cancel; send nothing")
    p.add_argument("--yes", "-y", action="store_true",
                   help="do not ask for confirmation on a terminal")
    options.output_format(p)
    options.sandboxes(p)


def _status_arguments(p: argparse.ArgumentParser) -> None:
    options.common(p)
    options.output_format(p)


SYNC = Command("sync", "sync changed orders (or the given ones) to Stripe",
               _sync_arguments, Deferred(_RUN, "run_sync"))
CANCEL = Command("cancel", "cancel an order's Stripe subscription schedule",
                 _cancel_arguments, Deferred(_RUN, "run_cancel"))
STATUS = Command("status", "what the state store knows", _status_arguments,
                 Deferred(_RUN, "run_status"))
