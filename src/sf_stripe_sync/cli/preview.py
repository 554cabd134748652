"""``preview``: the phases orders would become; writes nothing (``preview_commands``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command, Deferred

_RUN = "sf_stripe_sync.cli.preview_commands"
"""Where this group's commands run (imported when one runs)."""


def _arguments(p: argparse.ArgumentParser) -> None:
    options.common(p)
    p.add_argument("order_ids", nargs="*", metavar="ORDER_ID")
    p.add_argument("--source", required=True, help="an org snapshot FILE, or 'salesforce'")
    options.output_format(p, formats=(*options.FORMATS, "html"))
    p.add_argument("--output", "-o", type=Path, default=None, help="write to FILE, not stdout")
    options.as_of(p)
    p.add_argument("--stripe-emulator-url", default=None, metavar="URL",
                   help="read the schedules from a Stripe emulator served at URL (drift)")
    p.add_argument("--read-stripe", action="store_true",
                   help="read the schedules from the configured Stripe accounts (drift); "
                        "nothing is written")
    p.add_argument("--stripe-catalog", type=Path, default=None, metavar="FILE",
                   help="Stripe prices as JSON ({\"prices\": [...]}, the emulator seed "
                        "format) to bill with; else each PricebookEntry's UnitPrice")


PREVIEW = Command("preview", "show the phases orders would become; writes nothing",
                  _arguments, Deferred(_RUN, "run_preview"))
