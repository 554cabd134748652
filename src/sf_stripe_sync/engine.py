"""The one pipeline: read -> normalize -> consolidate -> plan -> (render | execute -> write back).

Theory of operation: every entry (scheduled sync, triggered run, dry-run, cancel) calls
``Engine.run`` with different ``RunOptions``. Orders arrive in pages from the
``OrderSource``; each page is normalized and planned with the pure core, then (unless
dry-run) each plan is applied to Stripe under a per-contract lease and journaled
(planned -> sent -> confirmed -> written back, or failed), and the page's write-back is
flushed to Salesforce in batches. Within a page, contracts run in parallel on
``settings.concurrency`` threads, one contract's orders in order on one worker
(``page_runner``); the page's contracts are read in batched queries up front
(``ContractPrefetch``) and held for that page only, so memory stays bounded by a page;
every Stripe request is paced by the account's token bucket (``ratelimit``). A dry-run
stops after planning: it returns the very plans a real run would execute (the pip-tools
rule: the preview is a rendering of the plan, not a separate path).

Crash safety (the dlt journal idea): at the start of a run, unfinished journal entries
are resumed: their orders are read again and re-planned; an unchanged plan yields the
same idempotency key (Stripe replays) and the executor's guards find work that already
landed, so nothing is made twice; a confirmed entry whose write-back was lost is written
back (its Sync_Log looked up first) unless the run that confirmed it is still alive (its
run lease). A contract lease held by a process that died on this host is taken over at
once, and the contract's state is re-read after taking the lease, so a plan another run
applied meanwhile is a noop. The watermark only moves past orders fully processed: an
order that failed for a transient reason keeps the watermark behind it so the next run
picks it up again. ``crashpoints`` marks the step boundaries the reliability suite kills.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sf_stripe_sync.config import Settings, StripeAccountSettings
from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.models import OperationKind, Order, OrderBundle, OrderPlan
from sf_stripe_sync.core.normalize import normalize_order
from sf_stripe_sync.core.plan import KnownState, plan_order
from sf_stripe_sync.crashpoints import crashpoint
from sf_stripe_sync.errors import ConfigError, LeaseHeld, SyncError, TerminalError, TransientError
from sf_stripe_sync.executor import Applied, apply_plan, op_key_for
from sf_stripe_sync.page_runner import SharedWriteBackBatch, contract_key_of, run_grouped
from sf_stripe_sync.ports import (
    BillingGateway,
    ContractPrefetch,
    OrderSource,
    RemoteScheduleLike,
    WriteBack,
)
from sf_stripe_sync.state.errors import IllegalTransition
from sf_stripe_sync.state.store import ContractState, FailedOrder, JournalState, StateStore
from sf_stripe_sync.writeback import WriteBackBatch

log = logging.getLogger("sf_stripe_sync.engine")

LEASE_TTL_SECONDS = 300.0
RUN_LEASE_TTL_SECONDS = 6 * 3600.0
"""A run's own lease: while held by a live process, its confirmed work is left to it."""
COUNTED = ("create", "amend", "replace", "cancel", "noop", "skip", "failed")
SUCCEEDED = frozenset({"create", "amend", "replace", "cancel", "noop"})


@dataclass(frozen=True)
class RunOptions:
    order_ids: Sequence[str] | None = None
    """Triggered run: exactly these orders. None: everything changed since the watermark."""
    cancel_ids: Sequence[str] = ()
    """Orders whose schedules the operator asks to cancel."""
    dry_run: bool = False
    as_of: datetime | None = None
    mode: str = "scheduled"
    keep_plans: bool | None = None
    """Keep every plan in the report (the preview renders them). None: only for a
    dry-run; a sync keeps counts and outcomes, so its memory stays flat as the org grows."""


@dataclass
class OrderOutcome:
    order_id: str
    result: str
    """One of COUNTED."""
    plan: OrderPlan | None = None
    schedule_id: str | None = None
    code: str | None = None
    message: str | None = None
    writes: int = 0
    transient: bool = False


@dataclass
class RunReport:
    run_id: str
    dry_run: bool
    outcomes: list[OrderOutcome] = field(default_factory=list)
    plans: list[OrderPlan] = field(default_factory=list)
    stripe_writes: int = 0
    salesforce_calls: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(COUNTED, 0)
        for outcome in self.outcomes:
            counts[outcome.result] += 1
        return counts

    @property
    def failed(self) -> list[OrderOutcome]:
        return [o for o in self.outcomes if o.result == "failed"]

    @property
    def pending(self) -> list[OrderOutcome]:
        """Orders that must be tried again (transient failures, leases held by others)."""
        return [o for o in self.outcomes if o.transient]


class Engine:
    def __init__(
        self,
        *,
        settings: Settings,
        source: OrderSource,
        writer: WriteBack | None,
        gateway_for: Callable[[StripeAccountSettings], BillingGateway] | None,
        store: StateStore | None,
        clock: Callable[[], datetime],
        source_name: str = "salesforce",
        progress: Callable[[int], None] | None = None,
        salesforce_calls: Callable[[], int] | None = None,
        price_resolver: Callable[[OrderBundle], OrderBundle] | None = None,
    ) -> None:
        self.settings = settings
        self.price_resolver = price_resolver
        """Hook (``catalog.resolver``): fills missing Stripe prices before normalizing."""
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
        self.lease_owner = f"{self.owner}@{socket.gethostname()}:{os.getpid()}"
        """Who holds this run's leases: a killed run's leases are taken over at once."""
        self._contract_cache: dict[str, list[Order]] = {}
        self._gateway_lock = threading.Lock()
        self._store_is_new = True

    # ------------------------------------------------------------------ entry

    def run(self, options: RunOptions) -> RunReport:
        try:
            return self._run(options)
        finally:
            if self.store is not None and not options.dry_run:
                self.store.release_lease(_run_lease(self.owner), self.lease_owner)

    def _run(self, options: RunOptions) -> RunReport:
        now = self.clock()
        as_of = options.as_of or now
        report = RunReport(run_id=self.owner, dry_run=options.dry_run)
        store = None if options.dry_run else self._require_store()
        calls_before = self._salesforce_calls() if self._salesforce_calls else 0
        if store is not None:
            # A store that has never recorded a run proves nothing about earlier creates.
            self._store_is_new = store.last_run() is None
            store.run_start(report.run_id, mode=options.mode, started_at=now)
            # Held while this run lives: its confirmed operations are its own to write back.
            store.acquire_lease(_run_lease(self.owner), self.lease_owner,
                                RUN_LEASE_TTL_SECONDS, now)
        resumed = self._unfinished_orders() if store is not None else []
        explicit = options.order_ids is not None or bool(options.cancel_ids)
        max_seen: datetime | None = None
        first_pending: datetime | None = None
        for page in self._pages(options, resumed, explicit):
            outcomes = self._process_page(page, options, as_of, report)
            for bundle, outcome in outcomes:
                stamp = _modstamp(bundle)
                if stamp is None:
                    continue
                if outcome is not None and outcome.transient:
                    first_pending = stamp if first_pending is None else min(first_pending, stamp)
                else:
                    max_seen = stamp if max_seen is None else max(max_seen, stamp)
        if self._salesforce_calls:
            report.salesforce_calls = self._salesforce_calls() - calls_before
        if store is not None:
            if not explicit and max_seen is not None:
                # Never past this run's start: a record stamped in the future (clock skew,
                # imported data) must not hide the edits made before that time comes.
                self._advance_watermark(store, min(max_seen, now), first_pending)
            store.run_finish(
                report.run_id,
                finished_at=self.clock(),
                counts=report.counts,
                stripe_writes=report.stripe_writes,
                salesforce_calls=report.salesforce_calls,
                failed_orders=[FailedOrder(order_id=o.order_id, code=o.code or "error",
                                           message=o.message or "") for o in report.failed],
                succeeded_orders=[o.order_id for o in report.outcomes
                                  if o.result in SUCCEEDED],
            )
        return report

    # ------------------------------------------------------------------ reading

    def _require_store(self) -> StateStore:
        if self.store is None:
            raise ConfigError("a state store is needed to sync (only --dry-run runs without)")
        return self.store

    def _unfinished_orders(self) -> list[str]:
        assert self.store is not None
        return sorted({entry.order_id for entry in self.store.journal_unfinished()})

    def _pages(
        self, options: RunOptions, resumed: list[str], explicit: bool
    ) -> Iterator[list[OrderBundle]]:
        size = max(1, self.settings.page_size)
        if explicit:
            wanted = _unique([*(options.order_ids or ()), *options.cancel_ids, *resumed])
            for start in range(0, len(wanted), size):
                chunk = wanted[start:start + size]
                found = {b.order_id: b for b in self.source.orders_by_id(chunk)}
                yield [found[i] if i in found else _missing(i) for i in chunk]
            return
        if resumed:
            yield from _chunks(self.source.orders_by_id(resumed), size)
        watermark = self.store.get_watermark(self.source_name) if self.store else None
        since = None
        if watermark is not None:
            since = watermark - timedelta(seconds=self.settings.watermark_overlap_seconds)
        seen = set(resumed)
        for page in self.source.changed_since(since, size):
            fresh = [b for b in page if b.order_id not in seen]
            seen.update(b.order_id for b in fresh)
            if fresh:
                yield fresh

    def _advance_watermark(
        self, store: StateStore, max_seen: datetime, first_pending: datetime | None
    ) -> None:
        target = max_seen
        if first_pending is not None and first_pending <= target:
            target = first_pending - timedelta(microseconds=1)
        current = store.get_watermark(self.source_name)
        if current is None or target > current:
            store.set_watermark(self.source_name, target)

    def _prefetch_contracts(self, page: list[OrderBundle]) -> None:
        """Read the page's contracts in batched queries; the cache holds one page only,
        so memory does not grow with the org."""
        self._contract_cache.clear()
        wanted = _unique(str(b.order["ContractId"]) for b in page if b.order.get("ContractId"))
        if not wanted or not isinstance(self.source, ContractPrefetch):
            return
        for contract_id, bundles in self.source.contract_orders_many(wanted).items():
            orders = []
            for bundle in bundles:
                normalized, _ = normalize_order(bundle, fields=self.settings.fields,
                                                rules=self.settings.rules)
                if normalized is not None:
                    orders.append(normalized)
            self._contract_cache[contract_id] = orders

    def _contract_orders(self, order: Order) -> list[Order]:
        if not order.contract_id:
            return [order]
        cached = self._contract_cache.get(order.contract_id)
        if cached is None:
            cached = []
            for bundle in self.source.contract_orders(order.contract_id):
                normalized, _ = normalize_order(bundle, fields=self.settings.fields,
                                                rules=self.settings.rules)
                if normalized is not None:
                    cached.append(normalized)
            self._contract_cache[order.contract_id] = cached
        merged = {o.id: o for o in cached}
        merged[order.id] = order
        return sorted(merged.values(), key=lambda o: (o.effective_date or _EPOCH, o.id))

    # ------------------------------------------------------------------ planning

    def _gateway(self, account: StripeAccountSettings) -> BillingGateway:
        if self._gateway_for is None:
            raise ConfigError("no Stripe gateway configured")
        with self._gateway_lock:  # one gateway (one rate limiter) per account
            gateway = self._gateways.get(account.name)
            if gateway is None:
                gateway = self._gateway_for(account)
                self._gateways[account.name] = gateway
        return gateway

    def _known_state(
        self, order: Order, account: StripeAccountSettings, contract: list[Order]
    ) -> KnownState:
        state = self.store.get_contract(account.name, order.contract_key) if self.store else None
        if state is not None and state.status != "canceled":
            return KnownState(schedule_id=state.schedule_id,
                              applied_fingerprint=state.applied_fingerprint,
                              applied_order_ids=frozenset(state.applied_order_ids))
        schedule_id = order.known_schedule_id or next(
            (o.known_schedule_id for o in contract if o.known_schedule_id), None)
        applied = frozenset(o.id for o in contract if o.schedule_id)
        return KnownState(schedule_id=schedule_id, applied_order_ids=applied)

    def plan(
        self,
        order: Order,
        *,
        as_of: datetime,
        cancel_requested: bool = False,
        read_remote: bool = True,
        issues: Sequence[OrderIssue] = (),
    ) -> tuple[OrderPlan, RemoteScheduleLike | None]:
        """Plan one order; for amend/replace the schedule is read from Stripe first.

        ``issues``: what normalizing the order found; an error among them fails the plan
        (as in the preview) instead of the bad line being silently left out."""
        account = self.settings.stripe_account(order.stripe_account)
        contract = self._contract_orders(order)
        known = self._known_state(order, account, contract)
        plan = plan_order(order, contract_orders=contract, known=known,
                          rules=self.settings.rules, as_of=as_of,
                          stripe_account=account.name, cancel_requested=cancel_requested,
                          issues=issues)
        needs_remote = plan.operation in (OperationKind.AMEND, OperationKind.REPLACE)
        if not (needs_remote and read_remote and known.schedule_id and self._gateway_for):
            return plan, None
        remote = self._gateway(account).retrieve_schedule(known.schedule_id)
        known = known.model_copy(update={
            "remote_phases": remote.phases, "remote_status": remote.status,
            "current_phase_start": remote.current_phase_start})
        plan = plan_order(order, contract_orders=contract, known=known,
                          rules=self.settings.rules, as_of=as_of,
                          stripe_account=account.name, cancel_requested=cancel_requested,
                          issues=issues)
        return plan, remote

    # ------------------------------------------------------------------ executing

    def _process_page(
        self, page: list[OrderBundle], options: RunOptions, as_of: datetime, report: RunReport
    ) -> list[tuple[OrderBundle, OrderOutcome | None]]:
        batch = SharedWriteBackBatch(self.settings.fields, self.clock())
        results: list[tuple[OrderBundle, OrderOutcome | None]] = []
        confirmed: dict[str, int] = {}
        cancel_ids = set(options.cancel_ids)
        self._prefetch_contracts(page)

        def work(bundle: OrderBundle) -> OrderOutcome | None:
            return self._process_order(bundle, options, as_of, batch, confirmed,
                                       bundle.order_id in cancel_ids, report)

        # Contracts run in parallel, each contract's orders in order (page_runner); a
        # dry-run sends nothing, so it has nothing to wait on and runs on this thread.
        workers = 1 if options.dry_run else self.settings.concurrency
        outcomes = run_grouped(page, work, key=contract_key_of, workers=workers,
                               done=self.progress)
        keep_plans = options.dry_run if options.keep_plans is None else options.keep_plans
        for bundle, outcome in zip(page, outcomes, strict=True):
            if outcome is not None:
                if not keep_plans and outcome.result != "failed":
                    outcome.plan = None
                report.outcomes.append(outcome)
                report.stripe_writes += outcome.writes
                if outcome.plan is not None and keep_plans:
                    report.plans.append(outcome.plan)
            results.append((bundle, outcome))
        if not options.dry_run and len(batch) and self.writer is not None:
            problems = batch.flush(self.writer)
            self._finish_journal(confirmed, problems, report)
        return results

    def _finish_journal(
        self, confirmed: dict[str, int], problems: dict[str, list[str]], report: RunReport
    ) -> None:
        assert self.store is not None
        for order_id, entry_id in confirmed.items():
            if order_id in problems:
                report.notes.append(f"write-back of {order_id} incomplete: "
                                    + "; ".join(problems[order_id]))
                continue
            # Another run may have finished this write-back first; the writes are idempotent.
            with contextlib.suppress(IllegalTransition):
                self.store.journal_mark(entry_id, JournalState.WRITTEN_BACK)
        for order_id, errors in problems.items():
            if order_id not in confirmed:
                report.notes.append(f"write-back of {order_id} failed: " + "; ".join(errors))

    def _process_order(
        self,
        bundle: OrderBundle,
        options: RunOptions,
        as_of: datetime,
        batch: WriteBackBatch,
        confirmed: dict[str, int],
        cancel_requested: bool,
        report: RunReport,
    ) -> OrderOutcome | None:
        order_id = bundle.order_id
        if not bundle.order.get("Status") and bundle.order.get("_missing"):
            return OrderOutcome(order_id, "failed", code=IssueCode.INVALID_RECORD.value,
                                message=f"order {order_id} was not found in Salesforce")
        if self.price_resolver is not None and not options.dry_run:
            try:
                bundle = self.price_resolver(bundle)
            except SyncError as exc:
                return self._transient_or_fail(bundle, None, exc, options, batch)
        order, issues = normalize_order(bundle, fields=self.settings.fields,
                                        rules=self.settings.rules)
        if order is None:
            return self._fail(bundle, None, issues, options, batch)
        rules = self.settings.rules
        if order.status not in (rules.activated_status, rules.cancel_status) and not (
            cancel_requested
        ):
            return None
        try:
            plan, remote = self.plan(order, as_of=as_of, cancel_requested=cancel_requested,
                                     read_remote=not options.dry_run, issues=issues)
        except ConfigError as exc:
            issue = OrderIssue(code=IssueCode.INVALID_RECORD, message=str(exc),
                               order_id=order_id, field=self.settings.fields.order_stripe_account)
            return self._fail(bundle, None, (issue,), options, batch)
        except SyncError as exc:
            return self._transient_or_fail(bundle, None, exc, options, batch)
        if plan.operation is OperationKind.FAIL or plan.errors:
            return self._fail(bundle, plan, plan.errors or issues, options, batch)
        if plan.operation is OperationKind.SKIP:
            return OrderOutcome(order_id, "skip", plan, message="; ".join(
                w.message for w in plan.warnings))
        if plan.operation is OperationKind.NOOP:
            if not options.dry_run and not self._finish_interrupted(bundle, order, plan, batch,
                                                                    confirmed):
                self._repair_ids(bundle, order, plan, batch)
            return OrderOutcome(order_id, "noop", plan, schedule_id=plan.schedule_id)
        if options.dry_run:
            return OrderOutcome(order_id, plan.operation.value, plan, schedule_id=plan.schedule_id)
        return self._execute(bundle, order, plan, remote, batch, confirmed)

    def _execute(
        self,
        bundle: OrderBundle,
        order: Order,
        plan: OrderPlan,
        remote: RemoteScheduleLike | None,
        batch: WriteBackBatch,
        confirmed: dict[str, int],
    ) -> OrderOutcome:
        store = self._require_store()
        account = self.settings.stripe_account(plan.stripe_account)
        lease_key = f"contract:{account.name}:{plan.contract_key}"
        if not self._lease(store, lease_key):
            return OrderOutcome(order.id, "skip", plan, transient=True,
                                message="another run is working on this contract")
        try:
            state = store.get_contract(account.name, plan.contract_key)
            if state is not None and state.status != "canceled" and (
                    state.applied_fingerprint == plan.fingerprint):
                # Another run applied this very plan while this one was planning.
                self._repair_ids(bundle, order, plan, batch)
                return OrderOutcome(order.id, "noop", plan, schedule_id=state.schedule_id)
            op_key = op_key_for(plan)
            lookup = plan.operation is not OperationKind.CREATE or self._create_needs_lookup(
                store, order, plan)
            entry = store.journal_begin(
                run_id=self.owner, order_id=order.id, contract_key=plan.contract_key,
                account=account.name, operation=plan.operation.value,
                fingerprint=plan.fingerprint, idempotency_key=op_key)
            if entry.state in (JournalState.PLANNED, JournalState.SENT):
                store.journal_mark(entry.id, JournalState.SENT)
            # A CONFIRMED entry (crash before the contract state was saved) goes through
            # the executor again: its guards find the plan in Stripe and send nothing.
            try:
                applied = apply_plan(self._gateway(account), plan,
                                     account_name=order.account_name,
                                     invoice_now=self.settings.rules.invoice_now,
                                     prorate=self.settings.rules.prorate, current=remote,
                                     look_before_create=lookup)
            except SyncError as exc:
                store.journal_mark(entry.id, JournalState.FAILED,
                                   error_code=_code(exc), error_message=str(exc))
                return self._transient_or_fail(bundle, plan, exc, RunOptions(), batch,
                                               op_key=op_key)
            crashpoint("after_stripe")
            store.journal_mark(entry.id, JournalState.CONFIRMED, stripe_id=applied.schedule_id,
                               request_ids=applied.request_ids)
            self._remember(account, order, plan, applied)
            crashpoint("after_journal")
            confirmed[order.id] = entry.id
            batch.add_success(
                order=bundle.order, operation=plan.operation.value,
                schedule_id=applied.schedule_id, contract_id=order.contract_id,
                contract_schedule_id=order.contract_schedule_id, account_id=order.account_id,
                customer_id=applied.customer_id, known_customer_id=order.customer_id,
                idempotency_key=op_key, request_ids=applied.request_ids,
                message=_success_message(plan, applied))
            return OrderOutcome(order.id, plan.operation.value, plan,
                                schedule_id=applied.schedule_id, writes=applied.writes)
        finally:
            store.release_lease(lease_key, self.lease_owner)

    def _run_alive(self, run_id: str) -> bool:
        """Whether another run is still at work (its run lease held by a live process)."""
        assert self.store is not None
        holder = self.store.lease_holder(_run_lease(run_id), self.clock())
        return holder is not None and not _holder_is_gone(holder)

    def _lease(self, store: StateStore, lease_key: str) -> bool:
        """Take the contract's lease; a lease whose holder died on this host (a killed
        run) is released first instead of blocking the contract until it expires."""
        if store.acquire_lease(lease_key, self.lease_owner, LEASE_TTL_SECONDS, self.clock()):
            return True
        holder = store.lease_holder(lease_key, self.clock())
        if holder is None or not _holder_is_gone(holder):
            return holder is None and store.acquire_lease(
                lease_key, self.lease_owner, LEASE_TTL_SECONDS, self.clock())
        log.warning("contract lease %s was held by %s, which is no longer running; taking it over",
                    lease_key, holder)
        store.release_lease(lease_key, holder)
        return store.acquire_lease(lease_key, self.lease_owner, LEASE_TTL_SECONDS, self.clock())

    def _create_needs_lookup(self, store: StateStore, order: Order, plan: OrderPlan) -> bool:
        """Whether Stripe must be searched for this contract's schedule before a create.

        Only when an earlier attempt may have made one: the journal holds an operation on
        this contract (a crash or failure after sending), or the store is new (it cannot
        vouch for anything). Otherwise the search is a wasted request on every create.
        """
        if self._store_is_new:
            return True
        for order_id in {order.id, *plan.covers_order_ids}:
            for entry in store.journal_for_order(order_id):
                if entry.contract_key == plan.contract_key and not \
                        entry.idempotency_key.startswith("rejected-"):
                    return True
        return False

    def _remember(
        self, account: StripeAccountSettings, order: Order, plan: OrderPlan, applied: Applied
    ) -> None:
        store = self._require_store()
        previous = store.get_contract(account.name, plan.contract_key)
        applied_ids = set(previous.applied_order_ids) if previous else set()
        applied_ids.update(plan.covers_order_ids)
        applied_ids.add(order.id)
        store.put_contract(ContractState(
            account=account.name, contract_key=plan.contract_key,
            schedule_id=applied.schedule_id, customer_id=applied.customer_id,
            applied_fingerprint=plan.fingerprint, applied_order_ids=frozenset(applied_ids),
            status="canceled" if plan.operation is OperationKind.CANCEL else "active",
            updated_at=self.clock()))
        if order.account_id:
            store.put_id(account.name, "customer", order.account_id, applied.customer_id)
        store.put_id(account.name, "schedule", plan.contract_key, applied.schedule_id)

    def _finish_interrupted(
        self, bundle: OrderBundle, order: Order, plan: OrderPlan, batch: WriteBackBatch,
        confirmed: dict[str, int],
    ) -> bool:
        """Finish the write-back of an operation Stripe confirmed before a run stopped.

        The re-planned order is a noop (the state store holds the applied plan), but its
        journal entry is still CONFIRMED: ids, status and the operation's Sync_Log may be
        missing. They are written now (the log only when Salesforce does not hold it
        already) and the entry is closed when the flush succeeds.
        """
        if self.store is None:
            return False
        entries = [e for e in self.store.journal_for_order(order.id)
                   if e.state is JournalState.CONFIRMED and e.fingerprint == plan.fingerprint
                   and e.run_id != self.owner and not self._run_alive(e.run_id)]
        if not entries:
            return False
        entry = entries[-1]
        for older in entries[:-1]:
            self.store.journal_mark(older.id, JournalState.WRITTEN_BACK)
        state = self.store.get_contract(plan.stripe_account, plan.contract_key)
        schedule_id = entry.stripe_id or plan.schedule_id or (state.schedule_id if state else None)
        if not schedule_id:
            return False
        phases = len(plan.schedule.phases) if plan.schedule else 0
        batch.add_success(
            order=bundle.order, operation=entry.operation, schedule_id=schedule_id,
            contract_id=order.contract_id, contract_schedule_id=order.contract_schedule_id,
            account_id=order.account_id, customer_id=state.customer_id if state else None,
            known_customer_id=order.customer_id, idempotency_key=entry.idempotency_key,
            request_ids=entry.request_ids, verify_log=True,
            message=f"{entry.operation} schedule {schedule_id} ({phases} phases); "
                    "write-back finished after an interrupted run")
        confirmed[order.id] = entry.id
        return True

    def _repair_ids(
        self, bundle: OrderBundle, order: Order, plan: OrderPlan, batch: WriteBackBatch
    ) -> None:
        """A noop still writes ids Salesforce lacks (e.g. a write-back lost in a crash)."""
        if not plan.schedule_id:
            return
        state = None
        if self.store is not None:
            state = self.store.get_contract(plan.stripe_account, plan.contract_key)
        batch.add_success(
            order=bundle.order, operation=plan.operation.value, schedule_id=plan.schedule_id,
            contract_id=order.contract_id, contract_schedule_id=order.contract_schedule_id,
            account_id=order.account_id, customer_id=state.customer_id if state else None,
            known_customer_id=order.customer_id, idempotency_key="", request_ids=(),
            message="", log=False)

    # ------------------------------------------------------------------ failures

    def _fail(
        self,
        bundle: OrderBundle,
        plan: OrderPlan | None,
        issues: Iterable[OrderIssue],
        options: RunOptions,
        batch: WriteBackBatch,
    ) -> OrderOutcome:
        found = tuple(issues)
        errors = [i for i in found if i.is_error] or list(found)
        code = errors[0].code.value if errors else IssueCode.INVALID_RECORD.value
        message = "; ".join(f"[{i.code.value}] {i.message}" for i in errors) or "order rejected"
        if not options.dry_run and "Id" in bundle.order and not bundle.order.get("_missing"):
            written = batch.add_failure(order=bundle.order,
                                        operation=plan.operation.value if plan else "plan",
                                        message=message)
            if written and self.store is not None:
                self._journal_failure(bundle, plan, code, message)
        return OrderOutcome(bundle.order_id, "failed", plan, code=code, message=message)

    def _journal_failure(
        self, bundle: OrderBundle, plan: OrderPlan | None, code: str, message: str
    ) -> None:
        assert self.store is not None
        account = plan.stripe_account if plan else self.settings.default_stripe_account
        fingerprint = (plan.fingerprint if plan else "") or "rejected"
        key = f"rejected-{bundle.order_id}-{uuid.uuid4().hex[:8]}"
        entry = self.store.journal_begin(
            run_id=self.owner, order_id=bundle.order_id,
            contract_key=plan.contract_key if plan else bundle.order_id, account=account,
            operation=plan.operation.value if plan else "plan", fingerprint=fingerprint,
            idempotency_key=key)
        self.store.journal_mark(entry.id, JournalState.FAILED, error_code=code,
                                error_message=message)

    def _transient_or_fail(
        self,
        bundle: OrderBundle,
        plan: OrderPlan | None,
        exc: SyncError,
        options: RunOptions,
        batch: WriteBackBatch,
        *,
        op_key: str | None = None,
    ) -> OrderOutcome:
        if isinstance(exc, TransientError | LeaseHeld):
            log.warning("order %s: transient failure, will retry next run: %s",
                        bundle.order_id, exc)
            return OrderOutcome(bundle.order_id, "failed", plan, code="transient",
                                message=str(exc), transient=True)
        code = _code(exc)
        message = str(exc)
        if not options.dry_run:
            batch.add_failure(order=bundle.order,
                              operation=plan.operation.value if plan else "plan",
                              message=message, idempotency_key=op_key,
                              request_ids=(exc.request_id,) if exc.request_id else ())
        return OrderOutcome(bundle.order_id, "failed", plan, code=code, message=message)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _code(exc: SyncError) -> str:
    if isinstance(exc, TerminalError) and exc.code:
        return exc.code
    return "transient" if isinstance(exc, TransientError) else "stripe_error"


def _success_message(plan: OrderPlan, applied: Applied) -> str:
    phases = len(plan.schedule.phases) if plan.schedule else 0
    text = f"{plan.operation.value} schedule {applied.schedule_id} ({phases} phases)"
    if applied.already_applied:
        text += "; already in Stripe, nothing sent"
    return text


def _run_lease(run_id: str) -> str:
    return f"run:{run_id}"


def _holder_is_gone(holder: str) -> bool:
    """Whether a lease holder (``run-...@host:pid``) is a process of this host that exited."""
    _, at, place = holder.rpartition("@")
    host, _, pid_text = place.rpartition(":")
    if not at or host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _modstamp(bundle: OrderBundle) -> datetime | None:
    from sf_stripe_sync.core.dates import parse_sf_datetime

    stamps = []
    for record in (bundle.order, *bundle.items):
        for name in ("SystemModstamp", "LastModifiedDate"):
            value = record.get(name)
            if isinstance(value, str) and value:
                try:
                    stamps.append(parse_sf_datetime(value))
                except ValueError:
                    continue
    return max(stamps) if stamps else None


def _missing(order_id: str) -> OrderBundle:
    return OrderBundle(order={"Id": order_id, "_missing": True})


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


def _chunks(items: Sequence[OrderBundle], size: int) -> Iterator[list[OrderBundle]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])
