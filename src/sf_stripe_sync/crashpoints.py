"""Crash points: a test seam that kills the process at a named step boundary.

Theory of operation: the engine calls ``crashpoint(name)`` at the boundaries where a
crash is most dangerous for billing data (``after_stripe``: Stripe answered but the
journal has not recorded it; ``after_journal``: the journal says confirmed but nothing
is written back yet; ``mid_writeback``: some write-back calls went out, others not).
When the environment variable ``SF_STRIPE_SYNC_CRASH_AT`` names the point, the process
sends itself SIGKILL there: no ``finally`` block, no atexit hook, no flush runs, exactly
like a power cut or an OOM kill. Otherwise (the normal case) it does nothing.

The variable is read once per process, so the check costs one comparison. It is only
meant for the reliability suite, which runs the real ``sync`` command as a subprocess
and proves that a rerun after each kind of crash converges with nothing made twice.
"""

from __future__ import annotations

import os
import signal
from functools import lru_cache

CRASH_ENV = "SF_STRIPE_SYNC_CRASH_AT"
POINTS = ("after_stripe", "after_journal", "mid_writeback")
"""The named step boundaries the engine marks."""


@lru_cache(maxsize=1)
def _armed() -> str:
    return os.environ.get(CRASH_ENV, "")


def crashpoint(name: str) -> None:
    """SIGKILL this process when ``SF_STRIPE_SYNC_CRASH_AT`` equals ``name``; else no-op."""
    if _armed() == name:
        os.kill(os.getpid(), signal.SIGKILL)
