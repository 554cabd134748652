"""Pipelined pages: the contract groups of several pages run at once on one adaptive pool.

Theory of operation: Stripe limits the account (100/s live, 25/s test) and each endpoint
(25/s; Search 20/s) separately. A page of 200 orders is often one kind of work (all
creates, or all amends), so running pages one after the other keeps one or two
endpoints busy at a time and leaves the others idle: the run takes the sum of each
page's floor instead of the largest endpoint's floor. ``Pipeline.run`` instead reads
pages ahead on a reader thread (``pages_ahead`` at most, so memory stays bounded by a
few pages; each page's ``start_page``, its contract prefetch, runs on a small pool
beside it, so the prefetch queries of the pages ahead overlap) and feeds the contract
groups of every open page to one thread pool:

* a contract's orders stay in order on one worker (``page_runner.group_in_order``), and
  a contract that appears in two open pages runs its later group only after the
  earlier one finished: the two never run at once (they share one Stripe schedule);
* how many groups run at once is ``limit()``, asked again before each admission (the
  engine's ``concurrency.AdaptiveLimit``: Little's law from the observed latency), and
  at most ``kind_limit()`` of one kind (what one endpoint's limit keeps busy);
* groups wait in one queue per ``kind`` (the engine's guess at the endpoint the group
  will use: a create, or a read and update of a known schedule), and the next group is
  taken from the kind that is furthest behind its share of the open work, so creates
  and updates are interleaved over the whole run and every endpoint's limiter stays
  busy until the end, instead of one endpoint draining while the other waits;
* a group that needs nothing ``start_page`` reads (``ready_early``: an order without a
  Contract) may run as soon as its page is read, before the prefetch answers, so the
  first Stripe requests leave while the first queries are still out;
* pages are given back (``yield``) in the order they were read, each when all of its
  groups and its ``start_page`` have finished (what the caller does with a finished
  page, e.g. give back what ``start_page`` took, never races it), with its results in
  page order: the caller's report sees exactly what a sequential run gives it.

The coordinator (the calling thread) sleeps until something it waits for happens: each
group's future, each page's start and the reader post to one queue of events when they
finish or a page is read, and the coordinator wakes on that queue, once per event (no
polling, and no waiter installed on every running future for each wake-up, which with
dozens of groups in flight cost more CPU than the groups' own bookkeeping).

A ``limit`` of 1 with ``pool_size`` 1 runs everything on the calling thread, page after
page (a dry-run, or ``concurrency_max = 1``). An exception from ``work`` stops new groups
from starting, lets the running ones finish, and is raised from ``run``.
"""

from __future__ import annotations

import queue
import threading
from collections import Counter, deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sf_stripe_sync.page_runner import group_in_order

T = TypeVar("T")
_END = object()
_READ = object()
"""An event: the reader put a page (or the end, or its error) in the read queue."""


@dataclass
class _Page(Generic[T]):
    items: list[T]
    started: Future[object]
    results: list[Any]
    remaining: int


@dataclass
class _Group(Generic[T]):
    page: _Page[T]
    indexes: list[int]
    key: Hashable
    kind: str
    early: bool
    """May run before the page's ``start_page`` finished."""

    @property
    def ready(self) -> bool:
        return self.early or self.page.started.done()


@dataclass
class _Queues(Generic[T]):
    """Groups waiting to run, one queue per kind, and what each kind has had so far."""

    waiting: dict[str, deque[_Group[T]]] = field(default_factory=dict)
    admitted: dict[str, int] = field(default_factory=dict)
    by_key: dict[Hashable, deque[_Group[T]]] = field(default_factory=dict)
    """Each contract's waiting groups in page order: only the first may run."""

    def add(self, group: _Group[T]) -> None:
        self.waiting.setdefault(group.kind, deque()).append(group)
        self.admitted.setdefault(group.kind, 0)
        self.by_key.setdefault(group.key, deque()).append(group)

    def __bool__(self) -> bool:
        return any(self.waiting.values())

    def _share(self, kind: str) -> float:
        return self.admitted[kind] / (self.admitted[kind] + len(self.waiting[kind]))

    def take(self, busy: set[Hashable], full: frozenset[str] = frozenset()) -> _Group[T] | None:
        """The next group to run: from the kind furthest behind its share of the work
        (``full`` kinds have all the groups they may run at once), skipping a contract
        that is running or has an earlier group still waiting, and a group whose page is
        still being started."""
        for kind in sorted((k for k, q in self.waiting.items() if q and k not in full),
                           key=self._share):
            waiting = self.waiting[kind]
            for position, group in enumerate(waiting):
                if (group.key in busy or self.by_key[group.key][0] is not group
                        or not group.ready):
                    continue
                del waiting[position]
                same_key = self.by_key[group.key]
                same_key.popleft()
                if not same_key:
                    del self.by_key[group.key]
                self.admitted[kind] += 1
                return group
        return None


class Pipeline(Generic[T]):
    def __init__(
        self,
        *,
        work: Callable[[T], Any],
        key: Callable[[T], Hashable],
        start_page: Callable[[list[T]], object],
        limit: Callable[[], int],
        pool_size: int,
        pages_ahead: int = 4,
        kind: Callable[[T], str] = lambda _item: "",
        kind_limit: Callable[[], int] | None = None,
        ready_early: Callable[[T], bool] = lambda _item: False,
        done: Callable[[int], None] | None = None,
    ) -> None:
        self.work = work
        self.key = key
        self.kind = kind
        self.kind_limit = kind_limit
        self.ready_early = ready_early
        self.start_page = start_page
        self.limit = limit
        self.pool_size = max(1, pool_size)
        self.pages_ahead = max(1, pages_ahead)
        self.done = done

    def run(self, pages: Iterable[list[T]]) -> Iterator[tuple[list[T], list[Any]]]:
        """Each page with its results, in page order."""
        if self.pool_size == 1:
            yield from self._run_inline(pages)
            return
        yield from self._run_pooled(pages)

    # ------------------------------------------------------------------ inline

    def _run_inline(self, pages: Iterable[list[T]]) -> Iterator[tuple[list[T], list[Any]]]:
        for items in pages:
            self.start_page(items)
            results: list[Any] = [None] * len(items)
            for indexes in group_in_order(items, self.key):
                for index in indexes:
                    results[index] = self.work(items[index])
                if self.done is not None:
                    self.done(len(indexes))
            yield items, results

    # ------------------------------------------------------------------ pooled

    def _read(self, pages: Iterable[list[T]], out: queue.Queue[Any],
              stop: threading.Event, events: queue.SimpleQueue[object]) -> None:
        """The reader thread: read pages ahead of the workers; each page's ``start_page``
        (its contract prefetch: a query) runs on a small pool, so the prefetches of the
        pages read ahead overlap instead of queueing behind each other."""
        starter = ThreadPoolExecutor(max_workers=self.pages_ahead,
                                     thread_name_prefix="sync-page-start")
        try:
            for items in pages:
                entry: Any = (items, starter.submit(self.start_page, items))
                while not stop.is_set():
                    try:
                        out.put(entry, timeout=0.1)
                        events.put(_READ)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            out.put(_END)
            events.put(_READ)
        except BaseException as exc:  # handed to the coordinator, raised there
            out.put(exc)
            events.put(_READ)
        finally:
            starter.shutdown(wait=False)

    def _open(self, entry: Any, open_pages: deque[_Page[T]], groups: _Queues[T],
              events: queue.SimpleQueue[object]) -> None:
        items, started = entry
        page: _Page[T] = _Page(items, started, [None] * len(items), len(items))
        open_pages.append(page)
        started.add_done_callback(events.put)
        for indexes in group_in_order(items, self.key):
            first = items[indexes[0]]
            groups.add(_Group(page, indexes, self.key(first), self.kind(first),
                              early=all(self.ready_early(items[i]) for i in indexes)))

    def _run_group(self, group: _Group[T]) -> int:
        page = group.page
        for index in group.indexes:
            page.results[index] = self.work(page.items[index])
        return len(group.indexes)

    def _run_pooled(self, pages: Iterable[list[T]]) -> Iterator[tuple[list[T], list[Any]]]:
        read: queue.Queue[Any] = queue.Queue(maxsize=self.pages_ahead)
        events: queue.SimpleQueue[object] = queue.SimpleQueue()
        stop = threading.Event()
        reader = threading.Thread(target=self._read, args=(pages, read, stop, events),
                                  name="sync-reader", daemon=True)
        open_pages: deque[_Page[T]] = deque()
        groups: _Queues[T] = _Queues()
        running: dict[Future[int], _Group[T]] = {}
        busy: set[Hashable] = set()
        exhausted = False
        pool = ThreadPoolExecutor(max_workers=self.pool_size, thread_name_prefix="sync-worker")
        reader.start()
        try:
            while True:
                exhausted = self._take_pages(read, open_pages, groups, exhausted, events)
                for page in open_pages:
                    if page.started.done() and page.started.exception() is not None:
                        wait(list(running))  # a failed prefetch stops the run
                        page.started.result()
                self._admit(pool, groups, running, busy, events)
                # A page is done when its groups are, and its start (prefetch, leases)
                # too: groups that ran early may finish before it.
                given_back = False
                while (open_pages and open_pages[0].remaining == 0
                       and open_pages[0].started.done()):
                    page = open_pages.popleft()
                    given_back = True
                    yield page.items, page.results
                if exhausted and not open_pages:
                    return
                if not given_back:  # (else: room for the pages read meanwhile, first)
                    # Something is under way (a group, a page's start, the reader): its
                    # event comes.
                    self._collect(events, running, busy)
        finally:
            stop.set()
            for future in running:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    def _take_pages(self, read: queue.Queue[Any], open_pages: deque[_Page[T]],
                    groups: _Queues[T], exhausted: bool,
                    events: queue.SimpleQueue[object]) -> bool:
        """Open the pages read so far (the reader posts an event for each one it reads)."""
        while not exhausted and len(open_pages) < self.pages_ahead:
            try:
                entry = read.get_nowait()
            except queue.Empty:
                break
            if entry is _END:
                return True
            if isinstance(entry, BaseException):
                raise entry
            self._open(entry, open_pages, groups, events)
        return exhausted

    def _admit(self, pool: ThreadPoolExecutor, groups: _Queues[T],
               running: dict[Future[int], _Group[T]], busy: set[Hashable],
               events: queue.SimpleQueue[object]) -> None:
        if not groups:
            return  # (nothing waits: the limits are not worth computing)
        limit = max(1, min(self.pool_size, self.limit()))
        per_kind = self.kind_limit() if self.kind_limit is not None else limit
        kinds = Counter(g.kind for g in running.values())
        while len(running) < limit:
            full = frozenset(k for k, n in kinds.items() if n >= per_kind)
            group = groups.take(busy, full)
            if group is None:
                return
            busy.add(group.key)
            kinds[group.kind] += 1
            future = pool.submit(self._run_group, group)
            running[future] = group
            future.add_done_callback(events.put)

    def _collect(self, events: queue.SimpleQueue[object],
                 running: dict[Future[int], _Group[T]], busy: set[Hashable]) -> None:
        """Wait for the next event, then take every event posted so far: each finished
        group is done with (a page's start or a page read only wakes the loop)."""
        posted = [events.get()]
        while True:
            try:
                posted.append(events.get_nowait())
            except queue.Empty:
                break
        failure: BaseException | None = None
        for event in posted:
            if not isinstance(event, Future) or event not in running:
                continue  # a page read or started: the loop looks at the pages again
            group = running.pop(event)
            busy.discard(group.key)
            error = event.exception()
            if error is not None:
                failure = failure or error
                continue
            group.page.remaining -= len(group.indexes)
            if self.done is not None:
                self.done(len(group.indexes))
        if failure is not None:
            wait(list(running))
            raise failure
