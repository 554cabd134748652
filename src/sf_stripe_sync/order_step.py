"""One order's way through a run: normalize, plan and, unless a dry-run, apply.

Theory of operation: the engine's pipeline calls an ``OrderStep`` for every order of a
page, on the worker that owns the order's contract. An order Salesforce no longer has,
or one whose records do not normalize, fails with the issues found; one that is neither
activated nor being cancelled is left alone (or, when asked for by id, skipped with a
warning). Otherwise the planner plans it (reading Stripe's schedule when an amend,
replace or drift check needs it): a plan with errors fails the order, a skip or a noop
sends nothing (a noop finishes an interrupted write-back, or repairs ids Salesforce
lacks), and a dry-run stops at the plan (recording its basis when a plan file is being
written). A plan applied from a saved plan file must still have the key it was saved
with (``stale_plan`` otherwise). What sends goes to ``applying.PlanApplier``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sf_stripe_sync.applying import PlanApplier
from sf_stripe_sync.core.fingerprint import fingerprint
from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.models import OperationKind, Order, OrderBundle
from sf_stripe_sync.core.plan import failed_plan, not_found_plan, skipped_plan
from sf_stripe_sync.engine_settings import EngineSettings
from sf_stripe_sync.errors import ConfigError, SyncError
from sf_stripe_sync.executor import op_key_for
from sf_stripe_sync.failures import FailureRecorder
from sf_stripe_sync.planning import Planner
from sf_stripe_sync.ports import OrgRecords, RemoteScheduleLike, WriteBackRecorder
from sf_stripe_sync.reading import OrderReader, is_missing
from sf_stripe_sync.resume import finish_interrupted, repair_ids
from sf_stripe_sync.run_report import OrderOutcome, RunOptions


class OrderStep:
    """``step(bundle, ...)`` -> the order's outcome; ``applier`` is None for a store-less
    (dry-run only) engine."""

    def __init__(
        self,
        *,
        settings: EngineSettings,
        records: OrgRecords,
        reader: OrderReader,
        planner: Planner,
        failures: FailureRecorder,
        applier: PlanApplier | None,
        price_resolver: Callable[[OrderBundle], OrderBundle] | None,
        owner: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.records = records
        self.reader = reader
        self.planner = planner
        self.failures = failures
        self.applier = applier
        self.price_resolver = price_resolver
        """Hook (``catalog.resolver``): fills missing Stripe prices before normalizing."""
        self.owner = owner
        self.clock = clock

    def _applying(self) -> PlanApplier:
        if self.applier is None:
            raise ConfigError("a state store is needed to sync (only --dry-run runs without)")
        return self.applier

    def __call__(
        self,
        bundle: OrderBundle,
        options: RunOptions,
        as_of: datetime,
        batch: WriteBackRecorder | None,
        confirmed: dict[str, int],
        cancel_requested: bool,
    ) -> OrderOutcome | None:
        """Plan one order and, when ``batch`` is given (not a dry-run), execute it; None:
        an order the run leaves alone (not activated, not asked for)."""
        order_id = bundle.order_id
        default_account = self.settings.default_stripe_account
        if is_missing(bundle):
            return OrderOutcome(order_id, "failed",
                                not_found_plan(order_id, stripe_account=default_account),
                                code=IssueCode.INVALID_RECORD.value,
                                message=f"order {order_id} was not found in Salesforce")
        if self.price_resolver is not None and batch is not None:
            try:
                bundle = self.price_resolver(bundle)
            except SyncError as exc:
                return self.failures.failed(bundle, None, exc, batch)
        order, issues = self.reader.normalize(bundle)
        if order is None:
            outcome = self.failures.rejected(bundle, None, issues, batch)
            outcome.plan = failed_plan(order_id, issues, stripe_account=default_account)
            return outcome
        rules = self.settings.rules
        if order.status not in (rules.activated_status, rules.cancel_status) and not (
            cancel_requested
        ):
            if order_id not in (options.order_ids or ()):
                return None
            plan = skipped_plan(order, stripe_account=default_account,
                                activated_status=rules.activated_status)
            return OrderOutcome(order_id, "skip", plan, message=plan.warnings[0].message)
        return self._plan_and_apply(bundle, order, issues, options, as_of, batch, confirmed,
                                    cancel_requested)

    def _plan_and_apply(
        self,
        bundle: OrderBundle,
        order: Order,
        issues: Sequence[OrderIssue],
        options: RunOptions,
        as_of: datetime,
        batch: WriteBackRecorder | None,
        confirmed: dict[str, int],
        cancel_requested: bool,
    ) -> OrderOutcome:
        """Plan a normalized order; unless a dry-run (``batch`` None), execute the plan."""
        order_id, rules = order.id, self.settings.rules
        default_account = self.settings.default_stripe_account
        dry_run = batch is None
        try:
            plan, remote = self.planner.plan(
                order, as_of=as_of, cancel_requested=cancel_requested, read_remote=True,
                issues=issues, drift_reads=dry_run or rules.on_drift == "overwrite")
        except ConfigError as exc:
            issue = self.records.unknown_account(order_id, str(exc))
            outcome = self.failures.rejected(bundle, None, (issue,), batch)
            outcome.plan = failed_plan(order_id, (*issues, issue),
                                       stripe_account=default_account)
            return outcome
        except SyncError as exc:
            return self.failures.failed(bundle, None, exc, batch)
        if plan.operation is OperationKind.FAIL or plan.errors:
            return self.failures.rejected(bundle, plan, plan.errors or issues, batch)
        if dry_run:
            self.planner.simulate(order, plan)
        if plan.operation is OperationKind.SKIP:
            return OrderOutcome(order_id, "skip", plan, message="; ".join(
                w.message for w in plan.warnings))
        if plan.operation is OperationKind.NOOP:
            if batch is not None and not finish_interrupted(
                    self._applying().store, self.owner, self.clock(), bundle, order, plan, batch,
                    confirmed):
                repair_ids(self._applying().store, bundle, order, plan, batch)
            return self._recorded(OrderOutcome(order_id, "noop", plan,
                                               schedule_id=plan.schedule_id),
                                  options, bundle, order, remote)
        if batch is None:
            return self._recorded(OrderOutcome(order_id, plan.operation.value, plan,
                                               schedule_id=plan.schedule_id),
                                  options, bundle, order, remote)
        expected = (options.expected_keys or {}).get(order_id)
        if options.expected_keys is not None and expected != op_key_for(plan):
            return OrderOutcome(order_id, "failed", plan, code="stale_plan",
                                message=f"order {order_id} changed since the plan was saved: "
                                        "not applied; plan it again")
        return self._applying().apply(bundle, order, plan, remote, batch, confirmed)

    def _recorded(self, outcome: OrderOutcome, options: RunOptions, bundle: OrderBundle,
                  order: Order, remote: RemoteScheduleLike | None) -> OrderOutcome:
        """The outcome with its basis and planned writes, when the run records them."""
        if options.record_basis and outcome.plan is not None:
            from sf_stripe_sync.plan_file import basis_for

            outcome.basis, outcome.requests = basis_for(
                self.settings.rules, outcome.plan, order, self.reader.contract_stamps(order),
                self.records.modstamp(bundle), remote, fingerprint(bundle))
        return outcome
