"""Run one page of orders across a thread pool, one contract's orders in order on one worker.

Theory of operation: a sync job's time goes to waiting, on Stripe (each request a
network round trip, the account paced by ``ratelimit.TokenBucket``) and on Salesforce,
not to computing. Threads overlap those waits; asyncio would too, but the stripe SDK's
and simple-salesforce's clients are synchronous, the state store is SQLite with one
connection per thread, and the core is pure Python, so a thread pool reuses every
adapter unchanged. The GIL is released during network I/O, which is all the pool needs.

Ordering: orders on one Contract share one Stripe schedule, so they must be applied one
after the other, in page order (an amend needs the schedule the create before it made).
``run_grouped`` groups the page by contract key (the Contract id, else the Order id),
gives each group to one worker, and returns the outcomes in page order, so reports and
write-back look exactly as with a sequential run. Different contracts run in parallel;
the per-account token bucket keeps them together inside Stripe's rate limit.

``SharedWriteBackBatch`` is the page's ``WriteBackBatch`` with its ``add_*`` calls
serialised, so workers can record results while the page runs; it is flushed once, by
the engine, after every worker of the page has finished.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from datetime import datetime
from typing import Any, TypeVar

from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.writeback import WriteBackBatch

T = TypeVar("T")
R = TypeVar("R")


def contract_key_of(bundle: OrderBundle) -> str:
    """The key whose orders must run in order: the Contract, else the Order itself."""
    contract = bundle.order.get("ContractId")
    return str(contract) if contract else bundle.order_id


def group_in_order(items: Sequence[T], key: Callable[[T], Hashable]) -> list[list[int]]:
    """Indexes of ``items`` grouped by ``key``; groups and members keep first-seen order."""
    groups: dict[Hashable, list[int]] = {}
    for index, item in enumerate(items):
        groups.setdefault(key(item), []).append(index)
    return list(groups.values())


def run_grouped(
    items: Sequence[T],
    work: Callable[[T], R],
    *,
    key: Callable[[T], Hashable],
    workers: int,
    done: Callable[[int], None] | None = None,
) -> list[R]:
    """``work(item)`` for every item, items of one group sequentially, groups in parallel.

    Returns the results in the order of ``items``. ``done(n)`` is called on the calling
    thread as groups finish (n items each). An exception from ``work`` stops new groups
    from starting and is raised here once the running ones have finished.
    """
    groups = group_in_order(items, key)
    results: list[Any] = [None] * len(items)

    def run_group(indexes: list[int]) -> int:
        for index in indexes:
            results[index] = work(items[index])
        return len(indexes)

    if workers <= 1 or len(groups) <= 1:
        for indexes in groups:
            finished = run_group(indexes)
            if done is not None:
                done(finished)
        return results
    with ThreadPoolExecutor(max_workers=min(workers, len(groups)),
                            thread_name_prefix="sync-worker") as pool:
        pending: set[Future[int]] = {pool.submit(run_group, g) for g in groups}
        while pending:
            finished_now, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in finished_now:
                if future.exception() is not None:
                    for other in pending:
                        other.cancel()
                    wait(pending)
                    future.result()  # raises the worker's exception here
                if done is not None:
                    done(future.result())
    return results


class SharedWriteBackBatch(WriteBackBatch):
    """A ``WriteBackBatch`` that several workers may add to at once."""

    def __init__(self, fields: FieldMap, now: datetime) -> None:
        super().__init__(fields, now)
        self._guard = threading.Lock()

    def add_success(self, **kwargs: Any) -> None:
        with self._guard:
            super().add_success(**kwargs)

    def add_failure(self, **kwargs: Any) -> bool:
        with self._guard:
            return super().add_failure(**kwargs)
