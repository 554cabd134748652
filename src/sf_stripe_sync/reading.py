"""Which orders a run reads, in what pages, and how far the watermark may move.

Theory of operation: a triggered or cancel run reads exactly the orders it names (one
``orders_by_id`` call per page). A scheduled run first re-reads the orders of unfinished
journal entries, then streams ``changed_since(watermark - overlap)`` page by page; the
overlap re-reads orders whose change stamp landed out of order. The watermark then
moves to the newest stamp fully processed, but never past the run's own start (a record
stamped in the future must not hide edits made before that time) nor past an order that
failed for a transient reason (the next run must see it again). For each page, the
orders of the page's contracts (a plan's whole desired state) are read in batched
queries and held while the page is open (a few pages overlap: ``pipeline``), so memory
does not grow with the org.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

from sf_stripe_sync.core.issues import OrderIssue
from sf_stripe_sync.core.models import Order, OrderBundle
from sf_stripe_sync.core.normalize import normalize_order
from sf_stripe_sync.engine_settings import ReadingSettings
from sf_stripe_sync.ports import ContractPrefetch, OrderSource, OrgRecords, StateStore
from sf_stripe_sync.run_report import RunOptions
from sf_stripe_sync.salesforce.records import SalesforceRecords, is_missing, missing

__all__ = ["EPOCH", "OrderReader", "chunks", "is_missing", "missing", "unique"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PREFETCH_BATCH = 1000
"""Contracts one prefetch reads at most (the Salesforce source: five queries of 200 in
one composite call)."""


class OrderReader:
    def __init__(self, settings: ReadingSettings, source: OrderSource, source_name: str,
                 records: OrgRecords | None = None) -> None:
        self.settings = settings
        self.source = source
        self.records = records or SalesforceRecords(settings.fields)
        """Reads an order's contract and change stamp (``ports.OrgRecords``)."""
        self.source_name = source_name
        self._contracts: dict[str, list[Order]] = {}
        self._errors: dict[str, list[tuple[str, OrderIssue]]] = {}
        """Per contract: (order id, error) found while normalizing its orders."""
        self._stamps: dict[str, dict[str, datetime | None]] = {}
        """Per contract, per order read with it: its newest change stamp (``modstamp``)."""
        self._normal: dict[str, dict[str, _Normal]] = {}
        """Per contract, per order read with it: the bundle and what normalizing it gave
        (``normalize`` answers from it when the engine meets the same bundle)."""
        self._holders: dict[str, int] = {}
        """Open pages holding each prefetched contract (pages overlap: ``pipeline``)."""
        self._lock = threading.Lock()
        self._queued: list[str] = []
        """Contracts waiting for the next prefetch read, in the order pages asked."""
        self._asked: set[str] = set()
        """Contracts queued or being read."""
        self._fetching = threading.Lock()
        """One prefetch read at a time: pages opened meanwhile join the next one."""

    # ------------------------------------------------------------------ pages

    def pages(
        self, options: RunOptions, resumed: list[str], store: StateStore | None
    ) -> Iterator[list[OrderBundle]]:
        size = max(1, self.settings.page_size)
        if options.explicit:
            wanted = unique([*(options.order_ids or ()), *options.cancel_ids, *resumed])
            for start in range(0, len(wanted), size):
                chunk = wanted[start:start + size]
                found = {b.order_id: b for b in self.source.orders_by_id(chunk)}
                yield [found[i] if i in found else missing(i) for i in chunk]
            return
        if resumed:
            yield from chunks(self.source.orders_by_id(resumed), size)
        watermark = store.get_watermark(self.source_name) if store else None
        since = None
        if watermark is not None:
            since = watermark - timedelta(seconds=self.settings.watermark_overlap_seconds)
        seen = set(resumed)
        for page in self.source.changed_since(since, size):
            fresh = [b for b in page if b.order_id not in seen]
            seen.update(b.order_id for b in fresh)
            if fresh:
                yield fresh

    def advance_watermark(
        self, store: StateStore, max_seen: datetime, first_pending: datetime | None
    ) -> None:
        target = max_seen
        if first_pending is not None and first_pending <= target:
            target = first_pending - timedelta(microseconds=1)
        current = store.get_watermark(self.source_name)
        if current is None or target > current:
            store.set_watermark(self.source_name, target)

    # ------------------------------------------------------------------ contracts

    def prefetch_contracts(self, page: list[OrderBundle]) -> None:
        """Read the page's contracts in batched queries; held until ``release_contracts``
        (pages overlap, so a contract two open pages share is read once and kept).

        Pages opened together share one read: one prefetch runs at a time, and it takes
        every contract queued by then (up to ``PREFETCH_BATCH``), so the pages that
        arrived while the first page's query was out are read together by the next."""
        wanted = self._contract_ids(page)
        with self._lock:
            for contract_id in wanted:
                self._holders[contract_id] = self._holders.get(contract_id, 0) + 1
            missing = [c for c in wanted if c not in self._contracts and c not in self._asked]
            self._asked.update(missing)
            self._queued.extend(missing)
        source = self.source
        if not isinstance(source, ContractPrefetch):
            with self._lock:
                self._queued.clear()
                self._asked.clear()
            return
        mine = set(wanted)
        while True:
            with self._fetching:  # also waits for a read of these contracts under way
                with self._lock:
                    if not mine & self._asked:
                        return  # read by this or another page's prefetch
                    batch = self._queued[:PREFETCH_BATCH]
                    del self._queued[:PREFETCH_BATCH]
                self._read_contracts(source, batch)

    def _read_contracts(self, source: ContractPrefetch, batch: list[str]) -> None:
        try:
            read = {c: self._normalized(bundles)
                    for c, bundles in source.contract_orders_many(batch).items()}
            with self._lock:
                for contract_id, found in read.items():
                    if contract_id in self._holders:
                        self._keep(contract_id, found)
        finally:
            with self._lock:
                self._asked.difference_update(batch)

    def release_contracts(self, page: list[OrderBundle]) -> None:
        """The page is done: forget the contracts no open page holds any more."""
        with self._lock:
            for contract_id in self._contract_ids(page):
                self._holders[contract_id] = max(0, self._holders.get(contract_id, 0) - 1)
            for contract_id in [c for c, held in self._holders.items() if held <= 0]:
                # Released, or read on a miss outside any open page: gone with this page.
                self._holders.pop(contract_id, None)
                self._contracts.pop(contract_id, None)
                self._errors.pop(contract_id, None)
                self._stamps.pop(contract_id, None)
                self._normal.pop(contract_id, None)

    def normalize(self, bundle: OrderBundle) -> tuple[Order | None, tuple[OrderIssue, ...]]:
        """``normalize_order`` of ``bundle``: what the contract prefetch found when it read
        an equal bundle (a page's orders on a contract are read twice), else computed."""
        contract = self.records.contract_id(bundle)
        if contract:
            with self._lock:
                known = self._normal.get(contract, {}).get(bundle.order_id)
            if known is not None and known[0] == bundle:
                return known[1], known[2]
        return normalize_order(bundle, fields=self.settings.fields, rules=self.settings.rules)

    def _contract_ids(self, page: list[OrderBundle]) -> list[str]:
        return unique(c for c in map(self.records.contract_id, page) if c)

    def contract_orders(self, order: Order) -> list[Order]:
        """The order with its contract's other orders, oldest first."""
        if not order.contract_id:
            return [order]
        with self._lock:
            cached = self._contracts.get(order.contract_id)
        if cached is None:
            found = self._normalized(self.source.contract_orders(order.contract_id))
            with self._lock:
                self._keep(order.contract_id, found)
                self._holders.setdefault(order.contract_id, 0)
            cached = found[0]
        merged = {o.id: o for o in cached}
        merged[order.id] = order
        return sorted(merged.values(), key=lambda o: (o.effective_date or EPOCH, o.id))

    def contract_errors(self, order: Order) -> list[OrderIssue]:
        """Errors of the contract's *other* orders (read with ``contract_orders``)."""
        if not order.contract_id:
            return []
        with self._lock:
            errors = list(self._errors.get(order.contract_id, ()))
        return [issue for order_id, issue in errors if order_id != order.id]

    def contract_stamps(self, order: Order) -> dict[str, datetime | None]:
        """The change stamps of the contract's orders (read with ``contract_orders``)."""
        if not order.contract_id:
            return {order.id: None}
        ids = [o.id for o in self.contract_orders(order)]
        with self._lock:
            stamps = dict(self._stamps.get(order.contract_id, {}))
        return {i: stamps.get(i) for i in ids}

    def _keep(self, contract_id: str, found: _Read) -> None:
        (self._contracts[contract_id], self._errors[contract_id], self._stamps[contract_id],
         self._normal[contract_id]) = found

    def _normalized(self, bundles: Iterable[OrderBundle]) -> _Read:
        """A contract's orders normalized, the errors found, each order's change stamp."""
        orders = []
        errors: list[tuple[str, OrderIssue]] = []
        stamps: dict[str, datetime | None] = {}
        normal: dict[str, _Normal] = {}
        for bundle in bundles:
            stamps[bundle.order_id] = self.records.modstamp(bundle)
            normalized, issues = normalize_order(bundle, fields=self.settings.fields,
                                                 rules=self.settings.rules)
            normal[bundle.order_id] = (bundle, normalized, tuple(issues))
            errors += [(bundle.order_id, i) for i in issues if i.is_error]
            if normalized is not None:
                orders.append(normalized)
        return orders, errors, stamps, normal


_Normal = tuple[OrderBundle, Order | None, tuple[OrderIssue, ...]]
_Read = tuple[list[Order], list[tuple[str, OrderIssue]], dict[str, datetime | None],
              dict[str, _Normal]]


def unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def chunks(items: Sequence[OrderBundle], size: int) -> Iterator[list[OrderBundle]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])
