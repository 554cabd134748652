"""``check``: the preflight, every problem at once; writes nothing (``check_commands``)."""

from __future__ import annotations

import argparse

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command, Deferred

_RUN = "sf_stripe_sync.cli.check_commands"
"""Where this group's commands run (imported when one runs)."""


def _arguments(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    p.add_argument("--scope", choices=("sync", "catalog", "billing"), default="sync",
                   help="judge fields for sync only (catalog and billing fields warn), or "
                   "for the catalog or billing commands too")


CHECK = Command("check", "preflight: config, secrets, Stripe key and account, Salesforce "
                "login, fields and objects; writes nothing", _arguments,
                Deferred(_RUN, "run_check"))
