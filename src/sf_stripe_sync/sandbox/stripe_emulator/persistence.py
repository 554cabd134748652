"""When the emulator's state file is written: soon after a change, not on every change.

Theory of operation: rewriting the whole state file after each write would cost time
proportional to everything the emulator holds, on every request. Instead a change only
marks the state dirty (``changed``); the first change after a save arms a timer, and
``delay`` seconds later one save writes every change made meanwhile. ``flush`` saves at
once when anything is unsaved, ``save_now`` saves unconditionally (the emulator's
``save_state``, called on ``stop``, on reset and on ``POST /_emulator/save``), ``cancel``
disarms the timer. So a stopped emulator has saved everything, and a killed one loses
at most the last ``delay`` seconds of changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

DEFAULT_SAVE_DELAY_SECONDS = 1.0


class DebouncedSaver:
    """Calls ``save`` at most once per ``delay`` seconds while changes keep coming."""

    def __init__(self, save: Callable[[], None],
                 delay: float = DEFAULT_SAVE_DELAY_SECONDS) -> None:
        self._save = save
        self._delay = delay
        self._guard = threading.Lock()
        self._saving = threading.Lock()
        self._dirty = False
        self._timer: threading.Timer | None = None

    @property
    def dirty(self) -> bool:
        with self._guard:
            return self._dirty

    def changed(self) -> None:
        """Note a change; arm the timer unless a save is already due."""
        with self._guard:
            self._dirty = True
            if self._timer is not None:
                return
            self._timer = threading.Timer(self._delay, self._on_timer)
            self._timer.daemon = True
            self._timer.start()

    def _on_timer(self) -> None:
        with self._guard:
            self._timer = None
        self.flush()

    def flush(self) -> None:
        """Save now if anything changed since the last save."""
        with self._saving:
            with self._guard:
                if not self._dirty:
                    return
            self._save_locked()

    def save_now(self) -> None:
        """Save now, changed or not."""
        with self._saving:
            self._save_locked()

    def _save_locked(self) -> None:
        with self._guard:
            self._dirty = False
        try:
            self._save()
        except BaseException:
            with self._guard:
                self._dirty = True
            raise

    def cancel(self) -> None:
        """Disarm the timer (what is unsaved stays marked dirty)."""
        with self._guard:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
