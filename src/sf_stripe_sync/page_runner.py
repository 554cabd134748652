"""Pieces the pipelined engine runs pages with: grouping, the work's kind, write-back.

Theory of operation: orders on one Contract share one Stripe schedule, so they must be
applied one after the other, in page order (an amend needs the schedule the create
before it made): ``group_in_order`` groups a page by its contract key
(``ports.OrgRecords.contract_key``: the Contract, else the Order), groups and members in
first-seen order, and the ``pipeline``
gives each group to one worker. ``schedule_kind_of`` guesses whether an order will
create a schedule or update one, so the ``pipeline`` can interleave the two kinds (they
use different Stripe endpoints, each with its own limit).

``RunWriteBack`` is the run-wide write-back: workers of every page record into it, and
``FlushTimer`` flushes what has gathered on its own thread whenever enough waits, while
the run goes on, so Salesforce gets few, full composite calls and the run ends with a
small one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any, TypeVar

from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.ports import OrgRecords, PendingWriteBack

T = TypeVar("T")


def schedule_kind_of(records: OrgRecords) -> Callable[[OrderBundle], str]:
    """The work an order will most likely be, from what it names: ``update`` (read and
    write a known schedule) when the Order or its Contract carries a schedule id, else
    ``create``. Only a hint for ordering work (``pipeline``), never a decision."""

    def kind(bundle: OrderBundle) -> str:
        return "update" if records.names_schedule(bundle) else "create"

    return kind


def group_in_order(items: Sequence[T], key: Callable[[T], Hashable]) -> list[list[int]]:
    """Indexes of ``items`` grouped by ``key``; groups and members keep first-seen order."""
    groups: dict[Hashable, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(key(item), []).append(index)
    return list(groups.values())


class RunWriteBack:
    """The run's write-back, recorded by every worker and flushed while the run goes on.

    Workers add to it as to any ``ports.WriteBackRecorder`` (``add_success`` /
    ``add_failure``) and record the journal entries they confirmed in ``confirmed``;
    both go to the current inner batch (``new_batch()``, the Salesforce adapter's) under
    one lock. ``take`` swaps in an empty one and returns what was there, so a flush
    carries every order finished so far, whatever its page, while the workers keep
    adding. An order's records are added before its entry is confirmed, so a flush never
    marks an entry written back whose records it lacks (an entry may be marked one flush
    late, which is harmless)."""

    def __init__(self, new_batch: Callable[[], PendingWriteBack]) -> None:
        self._new_batch = new_batch
        self._guard = threading.Lock()
        self._current = new_batch()
        self._confirmed: dict[str, int] = {}
        self.confirmed = _ConfirmedEntries(self)

    def __len__(self) -> int:
        with self._guard:
            return len(self._current)

    def add_success(self, **kwargs: Any) -> None:
        with self._guard:
            self._current.add_success(**kwargs)

    def add_failure(self, **kwargs: Any) -> bool:
        with self._guard:
            return self._current.add_failure(**kwargs)

    def confirm(self, order_id: str, entry_id: int) -> None:
        with self._guard:
            self._confirmed[order_id] = entry_id

    def take(self) -> tuple[PendingWriteBack, dict[str, int]]:
        """Everything recorded so far (records, confirmed entries), leaving this empty."""
        with self._guard:
            taken = (self._current, self._confirmed)
            self._current = self._new_batch()
            self._confirmed = {}
            return taken


class _ConfirmedEntries(dict[str, int]):
    """``confirmed[order_id] = entry_id`` recorded into a ``RunWriteBack``."""

    def __init__(self, owner: RunWriteBack) -> None:
        super().__init__()
        self._owner = owner

    def __setitem__(self, order_id: str, entry_id: int) -> None:
        self._owner.confirm(order_id, entry_id)


class FlushTimer:
    """Flushes a ``RunWriteBack`` on its own thread whenever ``threshold`` records wait
    (looked at every ``interval`` seconds), one flush at a time; ``stop`` ends it."""

    def __init__(self, pending: RunWriteBack,
                 flush: Callable[[PendingWriteBack, dict[str, int]], None], *,
                 threshold: int, interval: float = 0.25) -> None:
        self.pending = pending
        self.flush = flush
        self.threshold = threshold
        self.interval = interval
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name="sync-flush", daemon=True)

    def __enter__(self) -> FlushTimer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        if self._error is not None and exc[0] is None:
            raise self._error

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if len(self.pending) < self.threshold:
                continue
            try:
                self.flush(*self.pending.take())
            except BaseException as exc:  # raised on the run's thread by __exit__
                self._error = exc
                return
