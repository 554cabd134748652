"""``check``: the preflight, every problem at once; writes nothing (``check_commands``)."""

from __future__ import annotations

import argparse

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command


def _arguments(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    p.add_argument("--scope", choices=("sync", "catalog", "billing"), default="sync",
                   help="judge fields for sync only (catalog and billing fields warn), or "
                   "for the catalog or billing commands too")


def _check(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.check_commands import run_check

    return run_check(args)


CHECK = Command("check", "preflight: config, secrets, Stripe key and account, Salesforce "
                "login, fields and objects; writes nothing", _arguments, _check)
