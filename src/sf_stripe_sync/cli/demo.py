"""``demo``: the bundled demo org synced to the local Stripe emulator (``demo_commands``)."""

from __future__ import annotations

import argparse

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command


def _arguments(p: argparse.ArgumentParser) -> None:
    options.common(p)
    options.no_progress(p)


def _demo(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.demo_commands import run_demo

    return run_demo(args)


DEMO = Command("demo", "sync the bundled demo org to the local Stripe emulator (no "
               "credentials; works from any directory)", _arguments, _demo)
