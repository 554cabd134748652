"""What the handlers take from a parsed command line, checked once, and how they print.

Theory of operation: the options of ``options`` become values here: ``settings`` loads
the TOML file with ``--state-dir`` on top; ``sandbox`` turns the sandbox flags into the
runtime's ``SandboxOptions``, refusing a missing file or two ways of naming one stand-in;
``as_of`` parses ``--as-of``. Bad input is a ``UsageError`` (exit code 2 in ``app``).
``emit`` prints a result as JSON (``--format json``) or as the human lines.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from sf_stripe_sync.config import Settings, load_settings
from sf_stripe_sync.core.dates import parse_as_of
from sf_stripe_sync.errors import UsageError
from sf_stripe_sync.runtime import SandboxOptions


def settings(args: argparse.Namespace) -> Settings:
    """``--config`` loaded, with ``--state-dir`` over the file's ``state_dir``."""
    overrides = {}
    if getattr(args, "state_dir", None) is not None:
        overrides["state_dir"] = args.state_dir
    return load_settings(getattr(args, "config", None), **overrides)


def sandbox(args: argparse.Namespace) -> SandboxOptions:
    """The stand-ins the sandbox flags ask for (none: the real systems)."""
    snapshot: Path | None = getattr(args, "salesforce_sandbox", None)
    if snapshot is not None and not snapshot.exists():
        raise UsageError(f"org snapshot not found: {snapshot}")
    seed: Path | None = getattr(args, "stripe_emulator_seed", None)
    if seed is not None and not seed.exists():
        raise UsageError(f"Stripe emulator seed not found: {seed}")
    org_url: str | None = getattr(args, "salesforce_sandbox_url", None)
    stripe_url: str | None = getattr(args, "stripe_emulator_url", None)
    if org_url is not None and snapshot is not None:
        raise UsageError("give --salesforce-sandbox or --salesforce-sandbox-url, not both")
    if stripe_url is not None and getattr(args, "stripe_emulator", False):
        raise UsageError("give --stripe-emulator or --stripe-emulator-url, not both")
    return SandboxOptions(snapshot=snapshot,
                          stripe_emulator=bool(getattr(args, "stripe_emulator", False)),
                          stripe_seed=seed, salesforce_url=org_url, stripe_url=stripe_url)


def as_of(value: str | None) -> datetime | None:
    """``--as-of`` as a UTC datetime; None when not given."""
    if value is None:
        return None
    try:
        return parse_as_of(value)
    except ValueError as exc:
        raise UsageError(f"--as-of {value!r} is not a date (YYYY-MM-DD) or datetime") from exc


def emit(args: argparse.Namespace, document: dict[str, Any], lines: list[str]) -> None:
    """``document`` as JSON with ``--format json``, else the human ``lines``."""
    if getattr(args, "format", "table") == "json":
        json.dump(document, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        for line in lines:
            print(line)


def summary(title: str, values: dict[str, Any]) -> list[str]:
    """A report as ``title`` and one ``  key: value`` line per entry."""
    lines = [title]
    for key, value in values.items():
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else value
        lines.append(f"  {key.replace('_', ' ')}: {shown if shown != '' else '-'}")
    return lines
