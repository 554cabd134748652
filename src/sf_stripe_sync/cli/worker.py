"""``worker``: run sync jobs from the shared task queue (``queue_commands``)."""

from __future__ import annotations

import argparse

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command, Deferred

_RUN = "sf_stripe_sync.cli.queue_commands"
"""Where this group's commands run (imported when one runs)."""


def _arguments(p: argparse.ArgumentParser) -> None:
    options.common(p)
    p.add_argument("--name", default=None, help="this worker's name in logs and the queue")
    p.add_argument("--until-empty", action="store_true",
                   help="stop once the queue is empty instead of waiting for more jobs")
    options.running_sandboxes(p)


WORKER = Command("worker", "run sync jobs from the shared task queue (state.url)",
                 _arguments, Deferred(_RUN, "run_worker_command"))
