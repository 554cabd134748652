"""The ``demo`` command: the bundled demo sync, from any directory, with nothing to set up.

Theory of operation: ``run_demo`` is ``sync --salesforce-sandbox <bundled demo org>
--stripe-emulator`` with the state kept in ``--state-dir`` (default
``./sf-stripe-sync-demo``): the local Salesforce org and the Stripe emulator start
in-process on loopback, seeded from the files shipped in the package
(``bundled_files``), and the real adapters sync the demo's 13 orders. The command line
is parsed by the registry's ``sync`` entry, so the demo stays a plain sync. As with any
sync, the exit code is 1 when orders failed: three demo orders are built to fail. A
second run shows every valid order as a ``noop``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from sf_stripe_sync import __version__
from sf_stripe_sync.bundled_files import DEMO_CATALOG, DEMO_ORG, bundled_path

DEFAULT_STATE_DIR = Path("sf-stripe-sync-demo")


def demo_argv(args: argparse.Namespace) -> list[str]:
    """The ``sync`` command line the demo runs."""
    argv = ["sync", "--salesforce-sandbox", str(bundled_path(DEMO_ORG)), "--stripe-emulator",
            "--stripe-emulator-seed", str(bundled_path(DEMO_CATALOG)),
            "--state-dir", str(args.state_dir or DEFAULT_STATE_DIR),
            "--log-format", args.log_format]
    if args.config is not None:
        argv += ["--config", str(args.config)]
    if args.verbose:
        argv.append("-v")
    if args.no_progress:
        argv.append("--no-progress")
    return argv


def run_demo(args: argparse.Namespace) -> int:
    """``sf-stripe-sync demo``: the README's first command, from anywhere."""
    from sf_stripe_sync.cli.registry import build_parser
    from sf_stripe_sync.cli.sync import SYNC
    from sf_stripe_sync.cli.sync_commands import run_sync

    parser = build_parser([SYNC], version=__version__, description=SYNC.help)
    return run_sync(parser.parse_args(demo_argv(args)))
