"""Command line: parse, call the command's handler, map errors to exit codes. Nothing else.

Theory of operation: ``COMMANDS`` is the registry, in the order ``--help`` lists the
commands; each group module (``preview``, ``sync``, ``catalog`` ...) declares its
entries and ``build_parser`` makes the parser from them (``registry``). ``main`` parses,
finds the entry and runs its handler. Exit codes are those of ``exits`` (DESIGN 3):
usage and configuration errors print one line on stderr, never a traceback, and exit 2;
a run-level ``SyncError`` exits 1. Handlers import what they drive only when they run,
so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from sf_stripe_sync import __version__
from sf_stripe_sync.cli import billing, catalog, check, demo, preview, sandbox, serve, sync, worker
from sf_stripe_sync.cli.exits import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, EXIT_USAGE
from sf_stripe_sync.cli.registry import PROG, Command, find
from sf_stripe_sync.cli.registry import build_parser as _build
from sf_stripe_sync.errors import ConfigError, SyncError, UsageError

COMMANDS: tuple[Command, ...] = (
    preview.PREVIEW, sync.SYNC, worker.WORKER, sync.CANCEL, sync.STATUS, *sandbox.COMMANDS,
    *catalog.COMMANDS, *billing.COMMANDS, check.CHECK, serve.SERVE, demo.DEMO,
)


def build_parser() -> argparse.ArgumentParser:
    return _build(COMMANDS, version=__version__, description="Turn activated Salesforce "
                  "Orders into Stripe subscription schedules.")


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return find(COMMANDS, args).handler(args)
    except (UsageError, ConfigError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except SyncError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return EXIT_SOME_FAILED
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
