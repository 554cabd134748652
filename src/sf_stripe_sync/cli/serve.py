"""``serve``: the trigger endpoint Salesforce calls (``serve_commands``)."""

from __future__ import annotations

import argparse

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command, Deferred

_RUN = "sf_stripe_sync.cli.serve_commands"
"""Where this group's commands run (imported when one runs)."""


def _arguments(p: argparse.ArgumentParser) -> None:
    options.stripe_target(p)
    options.listener(p, port=8080, host_help="address to listen on (0.0.0.0 in a container)")


SERVE = Command("serve", "the trigger endpoint Salesforce calls, with health and metrics; "
                "syncs what it accepts in the background", _arguments, Deferred(_RUN, "run_serve"))
