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
``FlushTimer`` flushes on its own thread, while the run goes on, whenever enough waits:
only what fills whole calls (a batch that can split, ``PartialWriteBack``, says what:
the Salesforce one gives full collections, five to a composite call), the rest staying
for a later flush; the run's end (also a run stopping on an error) takes everything
(``take``). An order's journal entry goes with the flush that carries its last record,
so it is never marked written back before all its records were sent.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

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


@runtime_checkable
class PartialWriteBack(PendingWriteBack, Protocol):
    """A batch a mid-run flush can take part of."""

    def take_full(self, threshold: int) -> PendingWriteBack | None:
        """What fills whole calls, taken out of this batch; None while too little waits."""
        ...

    def orders_waiting(self) -> set[str]:
        """The orders that still have a record in this batch."""
        ...


class RunWriteBack:
    """The run's write-back, recorded by every worker and flushed while the run goes on.

    Workers add to it as to any ``ports.WriteBackRecorder`` (``add_success`` /
    ``add_failure``) and record the journal entries they confirmed in ``confirmed``;
    both go to the current inner batch (``new_batch()``, the Salesforce adapter's) under
    one lock. ``take`` swaps in an empty one and returns what was there, so a flush
    carries every order finished so far, whatever its page, while the workers keep
    adding; ``take_ready`` (mid-run) takes only what fills whole calls. An order's
    records are added before its entry is confirmed, and a confirmed entry is taken only
    with (or after) the flush that carries the order's last record, so a flush never
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
            return self._take_all()

    def take_ready(self, threshold: int) -> tuple[PendingWriteBack, dict[str, int]] | None:
        """Mid-run: the records that fill whole calls once ``threshold`` records wait
        (all of them from a batch that cannot split), with the confirmed entries of the
        orders left with no record here; None while too little waits."""
        with self._guard:
            current = self._current
            if not isinstance(current, PartialWriteBack):
                return self._take_all() if len(current) >= threshold else None
            taken = current.take_full(threshold)
            if taken is None:
                return None
            waiting = current.orders_waiting()
            ready = {o: e for o, e in self._confirmed.items() if o not in waiting}
            for order_id in ready:
                del self._confirmed[order_id]
            return taken, ready

    def _take_all(self) -> tuple[PendingWriteBack, dict[str, int]]:
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
    """Flushes what a ``RunWriteBack`` has ready (``take_ready``: whole calls once
    ``threshold`` records wait; looked at every ``interval`` seconds) on its own thread,
    one flush at a time; leaving the ``with`` block ends it."""

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
            ready = self.pending.take_ready(self.threshold)
            if ready is None:
                continue
            try:
                self.flush(*ready)
            except BaseException as exc:  # raised on the run's thread by __exit__
                self._error = exc
                return
