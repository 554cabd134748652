"""``worker``: run sync jobs from the shared task queue (``queue_commands``)."""

from __future__ import annotations

import argparse

from sf_stripe_sync.cli import options
from sf_stripe_sync.cli.registry import Command


def _arguments(p: argparse.ArgumentParser) -> None:
    options.common(p)
    p.add_argument("--name", default=None, help="this worker's name in logs and the queue")
    p.add_argument("--until-empty", action="store_true",
                   help="stop once the queue is empty instead of waiting for more jobs")
    options.running_sandboxes(p)


def _worker(args: argparse.Namespace) -> int:
    from sf_stripe_sync.cli.queue_commands import run_worker_command

    return run_worker_command(args)


WORKER = Command("worker", "run sync jobs from the shared task queue (state.url)",
                 _arguments, _worker)
