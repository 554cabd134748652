"""Run the real ``sf-stripe-sync`` command as a subprocess against sandboxes this process serves.

Theory of operation: the org and the emulator run in the test process (they outlive any
sync process, as a real org and Stripe do); ``sync_command`` builds the command line that
reaches them through ``--salesforce-sandbox-url`` / ``--stripe-emulator-url``, and
``start_sync`` / ``run_sync`` start it with an environment of our choosing: zero retry
waits, a small page size (so write-back comes in several batches), an optional crash
point, the rig's shared store (``state.url``) if it has one, and whatever secrets a test
configures. Nothing of the caller's environment that
starts with ``SF_STRIPE_SYNC`` or names a secret leaks in.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sf_stripe_sync.crashpoints import CRASH_ENV
from tests.reliability.rig import NO_WAIT_ENV, Rig

ROOT = Path(__file__).resolve().parents[2]
SECRET_NAMES = ("STRIPE_API_KEY", "SF_PASSWORD", "SF_SECURITY_TOKEN", "SF_SESSION_ID",
                "SF_CONSUMER_SECRET")


@dataclass
class Finished:
    returncode: int
    stdout: str
    stderr: str

    def summary(self) -> dict[str, Any]:
        """The JSON run summary a ``--log-format json`` sync prints on stdout."""
        document: dict[str, Any] = json.loads(self.stdout)
        return document


def _environment(page_size: int, crash_at: str | None,
                 extra: dict[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SF_STRIPE_SYNC") and k not in SECRET_NAMES}
    env.update(NO_WAIT_ENV)
    env["SF_STRIPE_SYNC__PAGE_SIZE"] = str(page_size)
    env["PYTHONPATH"] = str(ROOT / "src")
    if crash_at:
        env[CRASH_ENV] = crash_at
    env.update(extra or {})
    return env


def sync_command(rig: Rig, *, log_format: str = "json", verbose: bool = False,
                 command: str = "sync") -> list[str]:
    args = [sys.executable, "-m", "sf_stripe_sync.cli", command,
            "--state-dir", str(rig.state_dir),
            "--salesforce-sandbox-url", rig.org.base_url,
            "--stripe-emulator-url", rig.emulator.url,
            "--as-of", "2026-12-01", "--no-progress", "--log-format", log_format]
    return [*args, "-v"] if verbose else args


def start_sync(rig: Rig, *, page_size: int = 4, crash_at: str | None = None,
               env: dict[str, str] | None = None, log_format: str = "json",
               verbose: bool = False) -> subprocess.Popen[str]:
    url = rig.settings().state.url
    shared = {"SF_STRIPE_SYNC__STATE__URL": url} if url else {}
    return subprocess.Popen(sync_command(rig, log_format=log_format, verbose=verbose),
                            env=_environment(page_size, crash_at, {**shared, **(env or {})}),
                            cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def run_sync(rig: Rig, **kwargs: Any) -> Finished:
    process = start_sync(rig, **kwargs)
    stdout, stderr = process.communicate(timeout=120)
    return Finished(process.returncode, stdout, stderr)
