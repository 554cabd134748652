"""The emulator's clock: what "now" is for created timestamps, schedule status and key expiry.

Theory of operation: by default the clock follows the wall clock (unix seconds). Tests
pin it with ``set_now`` (or a ``now`` given at construction), after which it stands still
until moved again with ``set_now`` or ``advance``. Advancing a clock that follows the wall
clock shifts it by an offset instead. Every read is whole seconds, as Stripe's timestamps are.
"""

from __future__ import annotations

import threading
import time


class EmulatorClock:
    """A thread-safe clock that is either pinned or the wall clock plus an offset."""

    def __init__(self, now: int | None = None) -> None:
        self._lock = threading.Lock()
        self._pinned: int | None = now
        self._offset = 0

    def now(self) -> int:
        with self._lock:
            if self._pinned is not None:
                return self._pinned
            return int(time.time()) + self._offset

    def set_now(self, ts: int) -> None:
        with self._lock:
            self._pinned = int(ts)

    def advance(self, seconds: int) -> None:
        with self._lock:
            if self._pinned is not None:
                self._pinned += int(seconds)
            else:
                self._offset += int(seconds)

    @property
    def pinned(self) -> bool:
        with self._lock:
            return self._pinned is not None
