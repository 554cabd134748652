"""``serve``: the trigger endpoint Salesforce calls (``serve_commands``)."""

from __future__ import annotations

import argparse

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command


def _arguments(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    options.listener(p, port=8080, host_help="address to listen on (0.0.0.0 in a container)")


def _serve(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.serve_commands import run_serve

    return run_serve(args)


SERVE = Command("serve", "the trigger endpoint Salesforce calls, with health and metrics; "
                "syncs what it accepts in the background", _arguments, _serve)
