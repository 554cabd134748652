"""The options several commands share, each declared once.

Theory of operation: a command's ``add_arguments`` calls these instead of repeating
``add_argument``: ``common`` (settings, state directory, logging) for every command but
``sandbox``; ``sandboxes`` (the in-process local org and Stripe emulator, or ones
already served elsewhere) for everything that opens a runtime; ``stripe_target`` for the
catalog, billing and operations commands (a runtime, a Stripe account, a format). The
handlers read what these declare through ``inputs`` (settings, sandbox options,
``--as-of``), which is likewise the one place those values are checked. This module
imports nothing of the engine, so building the parser stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

FORMATS = ("table", "json")


def common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", type=Path, default=None, help="TOML settings file")
    p.add_argument("--state-dir", type=Path, default=None, help="where the state store lives")
    p.add_argument("--log-format", choices=("human", "json"), default="human")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def running_sandboxes(p: argparse.ArgumentParser) -> None:
    """A local org or a Stripe emulator already served by another process."""
    p.add_argument("--salesforce-sandbox-url", default=None, metavar="URL",
                   help="use a local org already served at URL (sandbox salesforce)")
    p.add_argument("--stripe-emulator-url", default=None, metavar="URL",
                   help="use a Stripe emulator already served at URL (sandbox stripe)")


def sandboxes(p: argparse.ArgumentParser) -> None:
    """The local stand-ins a runtime can start in-process, or reach at a URL."""
    p.add_argument("--salesforce-sandbox", type=Path, default=None, metavar="SNAPSHOT",
                   help="run a local org from this snapshot instead of a real org")
    p.add_argument("--stripe-emulator", action="store_true",
                   help="run the local Stripe emulator instead of reaching Stripe")
    p.add_argument("--stripe-emulator-seed", type=Path, default=None, metavar="FILE")
    running_sandboxes(p)


def output_format(p: argparse.ArgumentParser, *, formats: tuple[str, ...] = FORMATS,
                  help: str | None = None) -> None:
    p.add_argument("--format", choices=formats, default="table", help=help)


def as_of(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", default=None, metavar="YYYY-MM-DD", help="what 'now' is")


def no_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--no-progress", action="store_true")


def stripe_target(p: argparse.ArgumentParser) -> None:
    """A runtime (``common`` and ``sandboxes``), a Stripe account and an output format."""
    common(p)
    sandboxes(p)
    p.add_argument("--stripe-account", default=None, metavar="NAME",
                   help="configured Stripe account (default: default_stripe_account)")
    output_format(p)


def listener(p: argparse.ArgumentParser, *, port: int, host_help: str | None = None) -> None:
    """Where a server command listens (``--host``, ``--port``)."""
    p.add_argument("--host", default="127.0.0.1", help=host_help)
    p.add_argument("--port", type=int, default=port)


def account_command(p: argparse.ArgumentParser) -> None:
    """A Stripe target and one Salesforce Account (``billing status``, ``catalog
    entitlements``, ``catalog portal-link``)."""
    stripe_target(p)
    p.add_argument("account_id", metavar="ACCOUNT_ID")


def webhook_command(p: argparse.ArgumentParser) -> None:
    """A Stripe target and one signed delivery, as ``catalog webhook`` and ``billing
    webhook`` take it."""
    stripe_target(p)
    p.add_argument("--payload", type=Path, required=True, metavar="FILE")
    p.add_argument("--signature", required=True, metavar="STRIPE_SIGNATURE")
    p.add_argument("--tolerance", type=int, default=None, metavar="SECONDS",
                   help="maximum age of the signature; 0 accepts any age (replays)")
