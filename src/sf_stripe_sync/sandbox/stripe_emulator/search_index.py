"""Search that lags behind writes, as Stripe's does.

Theory of operation: Stripe's search endpoints read an index that trails the objects
("data is usually searchable within a minute; during outages it can take longer"), so a
customer created a moment ago is not found by ``/v1/customers/search`` yet, and an
updated one is found as it was. With ``lag_seconds`` > 0 the emulator reproduces that:
when a write request commits, every object it changed (from the store's undo journal:
what it was before, what it is now) gets a new version that becomes searchable
``lag_seconds`` later on the emulator clock; until then search sees the prior version,
or nothing for an object that did not exist. Retrieve and list are read-after-write as
on Stripe. A deleted object disappears from search at once (a simplification). With
no lag (the default) nothing is recorded and search sees the store as it is.
"""

from __future__ import annotations

import copy
import threading

from sf_stripe_sync.sandbox.stripe_emulator.journal import ObjectKey, UndoJournal
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON, ObjectStore

Version = tuple[int, JSON | None]
"""(searchable from, the object then; None: absent)."""


class SearchIndex:
    """Which version of each recently written object search sees, per the lag."""

    def __init__(self, lag_seconds: int = 0) -> None:
        self._lock = threading.Lock()
        self.lag_seconds = max(0, int(lag_seconds))
        self._versions: dict[ObjectKey, list[Version]] = {}

    def configure(self, lag_seconds: int) -> None:
        with self._lock:
            self.lag_seconds = max(0, int(lag_seconds))
            if self.lag_seconds == 0:
                self._versions.clear()

    def clear(self) -> None:
        with self._lock:
            self._versions.clear()

    def committed(self, journal: UndoJournal | None, store: ObjectStore, now: int) -> None:
        """Record the versions a committed write request made (nothing without a lag)."""
        if journal is None or self.lag_seconds == 0:
            return
        with self._lock:
            for key, prior in journal.objects.items():
                account, kind, object_id = key
                current = store.peek(account, kind, object_id)
                if current == prior or current is None:
                    continue
                versions = self._versions.setdefault(key, [(0, prior)])
                versions.append((now + self.lag_seconds, copy.deepcopy(current)))

    def view(self, account: str, kind: str, objects: list[JSON], now: int) -> list[JSON]:
        """``objects`` (oldest first) as search sees them at ``now``."""
        if not self._versions:
            return objects
        seen: list[JSON] = []
        with self._lock:
            for obj in objects:
                key = (account, kind, str(obj["id"]))
                versions = self._versions.get(key)
                if versions is None:
                    seen.append(obj)
                    continue
                visible = [v for when, v in versions if when <= now]
                if len(visible) == len(versions):  # caught up: forget the history
                    del self._versions[key]
                    seen.append(obj)
                elif visible[-1] is not None:
                    seen.append(visible[-1])
        return seen
