"""The one pipeline: read -> normalize -> consolidate -> plan -> (render | execute -> write back).

Theory of operation: every entry (scheduled sync, triggered run, dry-run, cancel) calls
``Engine.run`` with different ``RunOptions``. Orders arrive in pages from the
``OrderSource``; each page is normalized and planned with the pure core, then (unless
dry-run) each plan is applied to Stripe under a per-contract lease and journaled
(planned -> sent -> confirmed -> written back, or failed), and the write-back is
flushed to Salesforce in batches (``page_runner.RunWriteBack``, while the run goes on).
Several pages are open at once (``pipeline``): their contracts run in parallel on a pool
whose size follows Stripe's observed latency (``concurrency``), one contract's orders in
order on one worker, creates and updates interleaved; each page's contracts are read in
batched queries (``ContractPrefetch``) and held while the page is open, so memory stays
bounded by a few pages; every Stripe request is paced by the account's token bucket and
its endpoint's (``ratelimit``). A dry-run
stops after planning: it returns the very plans a real run would execute (the pip-tools
rule: the preview is a rendering of the plan, not a separate path).

Crash safety (the dlt journal idea): at the start of a run, unfinished journal entries
are resumed: their orders are read again and re-planned; an unchanged plan yields the
same idempotency key (Stripe replays) and the executor's guards find work that already
landed, so nothing is made twice; a confirmed entry whose write-back was lost is written
back (its Sync_Log looked up first) unless the run that confirmed it is still alive (its
run lease, kept alive by the run's heartbeat). A contract lease whose holder stopped
beating is taken over after its TTL (at once on SQLite when the holder was a process of
this host that died; ``run_leases``), and the contract's state is re-read after taking
the lease, so a plan another run applied meanwhile is a noop. The watermark only moves
past orders fully processed: an order that failed for a transient reason keeps the
watermark behind it so the next run picks it up again. ``crashpoints`` marks the step
boundaries the reliability suite kills.

Collaborators: ``reading`` (pages, watermark, contract prefetch), ``order_step`` (one
order normalized, planned and applied), ``planning`` (its plan), ``applying`` (one plan
sent under its contract's lease and journaled, through ``executor``, the plan to Stripe
with its guards), ``run_leases``, ``failures`` (how a failed order is reported),
``resume`` (finishing an interrupted write-back), ``salesforce.writeback`` (batched
Salesforce writes) and ``run_report`` (options and outcome values).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from sf_stripe_sync.applying import PlanApplier
from sf_stripe_sync.concurrency import AdaptiveLimit
from sf_stripe_sync.config import StripeAccountSettings
from sf_stripe_sync.core.models import OrderBundle, PriceCatalog
from sf_stripe_sync.core.render import display_names
from sf_stripe_sync.engine_settings import EngineSettings
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.failures import FailureRecorder
from sf_stripe_sync.order_step import OrderStep
from sf_stripe_sync.page_runner import FlushTimer, RunWriteBack, schedule_kind_of
from sf_stripe_sync.pipeline import Pipeline
from sf_stripe_sync.planning import Planner
from sf_stripe_sync.ports import (
    BillingGateway,
    OrderSource,
    OrgRecords,
    PendingWriteBack,
    StateStore,
    WriteBack,
)
from sf_stripe_sync.reading import OrderReader
from sf_stripe_sync.run_leases import LeaseKeeper, lease_owner, page_lease_keys, run_lease
from sf_stripe_sync.run_report import COUNTED, SUCCEEDED, OrderOutcome, RunOptions, RunReport
from sf_stripe_sync.salesforce.records import SalesforceRecords
from sf_stripe_sync.salesforce.writeback import WriteBackBatch

__all__ = ["COUNTED", "SUCCEEDED", "Engine", "OrderOutcome", "RunOptions", "RunReport"]


class Engine:
    def __init__(
        self,
        *,
        settings: EngineSettings,
        source: OrderSource,
        writer: WriteBack | None,
        gateway_for: Callable[[StripeAccountSettings], BillingGateway] | None,
        store: StateStore | None,
        clock: Callable[[], datetime],
        source_name: str = "salesforce",
        progress: Callable[[int], None] | None = None,
        salesforce_calls: Callable[[], int] | None = None,
        price_resolver: Callable[[OrderBundle], OrderBundle] | None = None,
        price_catalog: PriceCatalog | None = None,
        records: OrgRecords | None = None,
        write_back: Callable[[datetime], PendingWriteBack] | None = None,
    ) -> None:
        self.settings = settings
        self.records = records or SalesforceRecords(settings.fields)
        """An order's contract, change stamp and schedule hint, in domain terms."""
        self.new_write_back = write_back or (lambda now: WriteBackBatch(settings.fields, now))
        """A fresh write-back batch stamped ``now`` (default: the Salesforce adapter's)."""
        self.price_catalog = price_catalog
        """Price facts known without Stripe (offline preview: a catalog file); with a
        gateway the facts are read from Stripe instead."""
        self.source = source
        self.writer = writer
        self._gateway_for = gateway_for
        self._gateways: dict[str, BillingGateway] = {}
        self.store = store
        self.clock = clock
        self.source_name = source_name
        self.progress = progress
        self._salesforce_calls = salesforce_calls
        self.owner = f"run-{uuid.uuid4().hex[:12]}"
        self.lease_owner = lease_owner(self.owner)
        """Who holds this run's leases: they live while it beats (``LeaseKeeper``)."""
        self.lease_ttl = settings.lease_ttl_seconds
        self.reader = OrderReader(settings, source, source_name, self.records)
        self.planner = Planner(settings, self.reader, store,
                               self._gateway if gateway_for is not None else None,
                               price_catalog=price_catalog)
        self.failures = FailureRecorder(store, self.owner, settings.default_stripe_account)
        self._applier = (None if store is None else PlanApplier(
            store=store, owner=self.owner, lease_owner=self.lease_owner,
            lease_ttl=self.lease_ttl, clock=clock, account=settings.stripe_account,
            gateway=self._gateway, failures=self.failures))
        self._step = OrderStep(
            settings=settings, records=self.records, reader=self.reader,
            planner=self.planner, failures=self.failures, applier=self._applier,
            price_resolver=price_resolver, owner=self.owner, clock=clock)
        self._gateway_lock = threading.Lock()
        self.on_page: Callable[[list[OrderBundle], list[OrderOutcome | None]], None] | None
        self.on_page = None
        """Called with each finished page and its outcomes, plans included, before a run
        that does not keep its plans drops them (the streamed preview renders them)."""
        self._unwritten: set[str] = set()
        """Orders whose write-back failed in this run (their journal stays unfinished)."""
        self.concurrency = AdaptiveLimit.for_gateways(settings, self._gateways_in_use)
        """Contracts worked on at once: Little's law from Stripe's observed latency."""

    # ------------------------------------------------------------------ entry

    def run(self, options: RunOptions) -> RunReport:
        keeper: LeaseKeeper | None = None
        if self.store is not None and not options.dry_run:
            keeper = LeaseKeeper(self.store, self.lease_owner, self.lease_ttl, self.clock,
                                 on_beat=self._applier.leases.beaten if self._applier else None)
        try:
            return self._run(options, keeper)
        finally:
            if keeper is not None and self.store is not None:
                keeper.stop()
                if self._applier is not None:
                    self._applier.leases.release_all()
                self.store.release_lease(run_lease(self.owner), self.lease_owner)

    def _run(self, options: RunOptions, keeper: LeaseKeeper | None = None) -> RunReport:
        now = self.clock()
        as_of = options.as_of or now
        report = RunReport(run_id=self.owner, dry_run=options.dry_run)
        store = None if options.dry_run else self._require_store()
        calls_before = self._salesforce_calls() if self._salesforce_calls else 0
        resumed: list[str] = []
        with self._gateway_lock:
            # Stripe's answers (customers, schedule lists) are kept for one run only.
            self._gateways.clear()
        if store is not None:
            store.run_start(report.run_id, mode=options.mode, started_at=now)
            # Held while this run lives: its confirmed operations are its own to write back.
            store.acquire_lease(run_lease(self.owner), self.lease_owner, self.lease_ttl, now)
            if keeper is not None:
                keeper.start()  # heartbeat: every lease of this run stays alive with it
            if options.resume_unfinished:
                resumed = sorted({e.order_id for e in store.journal_unfinished()})
        max_seen: datetime | None = None
        first_pending: datetime | None = None
        pages = self.reader.pages(options, resumed, store)
        for bundle, outcome in self._process_pages(pages, options, as_of, report):
            stamp = self.records.modstamp(bundle)
            if stamp is None:
                continue
            if outcome is not None and outcome.transient:
                first_pending = stamp if first_pending is None else min(first_pending, stamp)
            else:
                max_seen = stamp if max_seen is None else max(max_seen, stamp)
        if self._salesforce_calls:
            report.salesforce_calls = self._salesforce_calls() - calls_before
        if store is not None:
            if not options.explicit and max_seen is not None:
                self.reader.advance_watermark(store, min(max_seen, now), first_pending)
            store.run_finish(
                report.run_id, finished_at=self.clock(), counts=report.counts,
                stripe_writes=report.stripe_writes, salesforce_calls=report.salesforce_calls,
                failed_orders=report.failed_orders, succeeded_orders=report.succeeded_ids)
        return report

    def _require_store(self) -> StateStore:
        if self.store is None:
            raise ConfigError("a state store is needed to sync (only --dry-run runs without)")
        return self.store

    @property
    def applier(self) -> PlanApplier:
        if self._applier is None:
            raise ConfigError("a state store is needed to sync (only --dry-run runs without)")
        return self._applier

    # ------------------------------------------------------------------ planning

    def _gateways_in_use(self) -> list[BillingGateway]:
        with self._gateway_lock:
            return list(self._gateways.values())

    def _gateway(self, account: StripeAccountSettings) -> BillingGateway:
        if self._gateway_for is None:
            raise ConfigError("no Stripe gateway configured")
        with self._gateway_lock:  # one gateway (one rate limiter) per account
            gateway = self._gateways.get(account.name)
            if gateway is None:
                gateway = self._gateway_for(account)
                self._gateways[account.name] = gateway
        return gateway

    # ------------------------------------------------------------------ pages

    def _process_pages(
        self, pages: Iterable[list[OrderBundle]], options: RunOptions, as_of: datetime,
        report: RunReport,
    ) -> Iterator[tuple[OrderBundle, OrderOutcome | None]]:
        """Every order of every page (``pipeline``: pages overlap, contracts run in
        parallel, each contract's orders in order). The write-back gathers in one
        ``RunWriteBack``, flushed on its own thread whenever ``writeback_flush_records``
        wait, and once more at the end."""
        cancel_ids = set(options.cancel_ids)
        now = self.clock()
        pending = RunWriteBack(lambda: self.new_write_back(now))
        batch = None if options.dry_run else pending

        def work(bundle: OrderBundle) -> OrderOutcome | None:
            return self._step(bundle, options, as_of, batch, pending.confirmed,
                              bundle.order_id in cancel_ids)

        # A dry-run sends nothing, so it has nothing to wait on and runs on this thread.
        pool = 1 if options.dry_run else self.settings.concurrency_max
        leases = None if options.dry_run or self._applier is None else self._applier.leases

        def start_page(page: list[OrderBundle]) -> None:
            if leases is not None:
                leases.open_page(page, page_lease_keys(
                    page, self.records, lambda name: self.settings.stripe_account(name).name))
            self.reader.prefetch_contracts(page)

        pipeline = Pipeline(work=work, key=self.records.contract_key, start_page=start_page,
                            kind=schedule_kind_of(self.records),
                            kind_limit=lambda: self.concurrency.per_kind,
                            ready_early=lambda bundle: not self.records.contract_id(bundle),
                            limit=lambda: self.concurrency.limit, pool_size=pool,
                            pages_ahead=self.settings.pages_ahead, done=self.progress)

        def flush(taken: PendingWriteBack, confirmed: dict[str, int]) -> None:
            self._flush(taken, confirmed, report)

        try:
            with FlushTimer(pending, flush, threshold=self.settings.writeback_flush_records):
                for page, outcomes in pipeline.run(pages):
                    self.reader.release_contracts(page)
                    if leases is not None:
                        leases.close_page(page)
                    if self.on_page is not None:
                        self.on_page(page, outcomes)
                    self._report_page(page, outcomes, options, report)
                    yield from zip(page, outcomes, strict=True)
        finally:
            # Also when the run stops on an error: what finished is written back now,
            # as the pages before the error would have been.
            flush(*pending.take())

    def _report_page(self, page: list[OrderBundle], outcomes: list[OrderOutcome | None],
                     options: RunOptions, report: RunReport) -> None:
        keep_plans = options.dry_run if options.keep_plans is None else options.keep_plans
        if keep_plans:
            report.labels.update(display_names(page, fields=self.settings.fields))
        report.add(outcomes, keep_plans=keep_plans)

    def _flush(self, batch: PendingWriteBack, confirmed: dict[str, int],
               report: RunReport) -> None:
        if self.writer is None or not (len(batch) or confirmed):
            return
        # Entries whose records all went in earlier flushes may come with no record.
        problems = batch.flush(self.writer) if len(batch) else {}
        with self._gateway_lock:
            self._unwritten.update(problems)
            unwritten = set(self._unwritten)
        # An order whose records failed in an earlier flush stays unfinished in the
        # journal even when its entry is confirmed in this one (the next run retries it).
        self.applier.written_back({o: e for o, e in confirmed.items()
                                   if o in problems or o not in unwritten}, problems,
                                  report.notes)
