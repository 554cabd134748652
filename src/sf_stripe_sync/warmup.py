"""The first pages of a run, warmed up: the Stripe reads their orders wait on, sent
while the pages' contract prefetch is still out.

Theory of operation: a run's first orders cannot be planned before the prices their
lines bill are read (``price_facts``, once per run per price), and a create cannot be
sent before Stripe listed the customer's schedules (the guard against a second
schedule, ``find_schedule``: one listing per customer and run). Made by the workers,
these reads start only once the page's contract prefetch answered; made here, as soon
as the page is read, they overlap that query, so the first creates leave that much
earlier. Only the pages the run opens at its start are warmed (``pages``: the pipeline's
``pages_ahead``; the first page alone may hold no create at all): later pages find the
prices read and their customers' listings overlap the work of the pages before them.

These are the very reads the workers would make, and the gateway keeps both answers
for the run (a worker asking for a read under way waits for it), so nothing is read
twice; so only an activated order warms anything (a cancel reads no price), and a
listing is made only for a contract neither Salesforce nor the state store knows a
schedule of (``known``): one the run will create. A warm-up read that fails is left
for the worker that needs the answer to meet again, with its own retries and error
reporting.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from sf_stripe_sync.config import StripeAccountSettings
from sf_stripe_sync.core.models import Order, OrderBundle
from sf_stripe_sync.core.normalize import normalize_order
from sf_stripe_sync.core.pricing import price_ids
from sf_stripe_sync.core.rules import FieldMap, SyncRules
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.ports import BillingGateway

READERS = 16
"""Warm-up reads in flight at once (each gateway paces them like any request)."""


class WarmupSettings(Protocol):
    """What the warm-up reads (``EngineSettings`` and ``Settings`` both have it)."""

    @property
    def fields(self) -> FieldMap: ...
    @property
    def rules(self) -> SyncRules: ...
    def stripe_account(self, name: str | None) -> StripeAccountSettings: ...


class Warmup:
    """One run's warm-up (``page`` warms the first ``pages`` pages it is given)."""

    def __init__(self, settings: WarmupSettings,
                 gateway: Callable[[StripeAccountSettings], BillingGateway],
                 known: Callable[[str, str], bool], *, pages: int = 1) -> None:
        """``known(account, contract_key)``: whether the state store knows the contract."""
        self.settings = settings
        self.gateway = gateway
        self.known = known
        self._lock = threading.Lock()
        self._left = max(1, pages)

    def page(self, page: list[OrderBundle]) -> None:
        """Send the reads of one of the run's first pages (later pages: nothing); returns
        at once."""
        with self._lock:
            if self._left <= 0:
                return
            self._left -= 1
        # Finding the reads (normalizing the page) is done beside the prefetch too. Each
        # page has its own pool, whose threads end once its reads are done.
        pool = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="sync-warmup")
        pool.submit(self._send, page, pool)

    def _send(self, page: list[OrderBundle], pool: ThreadPoolExecutor) -> None:
        try:
            for read in self._reads(page):
                pool.submit(read)
        finally:
            pool.shutdown(wait=False)

    def _reads(self, page: list[OrderBundle]) -> list[Callable[[], object]]:
        by_account: dict[str, tuple[StripeAccountSettings, list[Order]]] = {}
        for bundle in page:
            order, _ = normalize_order(bundle, fields=self.settings.fields,
                                       rules=self.settings.rules)
            if order is None or order.status != self.settings.rules.activated_status:
                continue
            try:
                account = self.settings.stripe_account(order.stripe_account)
            except ConfigError:
                continue
            by_account.setdefault(account.name, (account, []))[1].append(order)
        reads: list[Callable[[], object]] = []
        for account, orders in by_account.values():
            gateway = self.gateway(account)
            # One price a read, so the prices are read side by side.
            reads += [_price_read(gateway, p) for p in price_ids(orders)]
            customers = {o.customer_id for o in orders
                         if o.customer_id and not o.known_schedule_id
                         and not self.known(account.name, o.contract_key)}
            reads += [_listing(gateway, c) for c in sorted(customers)]
        return reads


def _price_read(gateway: BillingGateway, price_id: str) -> Callable[[], object]:
    return lambda: gateway.price_facts([price_id])


def _listing(gateway: BillingGateway, customer_id: str) -> Callable[[], object]:
    # Any contract key: the customer's whole listing is what is kept for the run.
    return lambda: gateway.find_schedule(customer_id=customer_id, contract_key="")
