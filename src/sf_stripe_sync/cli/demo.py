"""``demo``: the bundled demo org synced to the local Stripe emulator (``demo_commands``)."""

from __future__ import annotations

import argparse

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command, Deferred

_RUN = "sf_stripe_sync.cli.demo_commands"
"""Where this group's commands run (imported when one runs)."""


def _arguments(p: argparse.ArgumentParser) -> None:
    options.common(p)
    options.no_progress(p)


DEMO = Command("demo", "sync the bundled demo org to the local Stripe emulator (no "
               "credentials; works from any directory)", _arguments, Deferred(_RUN, "run_demo"))
