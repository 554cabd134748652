"""Apply one order's plan to Stripe under its contract's lease, journaled, and queue its
write-back.

Theory of operation: the engine hands every plan that sends something here
(``PlanApplier.apply``). The contract's lease is taken first (a lease another live run
holds makes the order ``skip``, transient: the next run tries again), then the contract
state is read again: another run may have applied this very plan while this one was
planning (a noop, ids repaired). Otherwise the journal entry is begun (PLANNED -> SENT),
the executor sends the plan, the entry is CONFIRMED with Stripe's ids and request ids,
the contract state and id map remember what Stripe now holds, and the order's write-back
is queued in the page's batch; the entry is closed (WRITTEN_BACK) once the batch that
carries it is flushed (``written_back``). A Stripe failure marks the entry FAILED and
reports the order through ``failures``. ``crashpoints`` mark the boundaries the
reliability suite kills.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime

from sf_stripe_sync.config import StripeAccountSettings
from sf_stripe_sync.core.models import Order, OrderBundle, OrderPlan
from sf_stripe_sync.crashpoints import crashpoint
from sf_stripe_sync.errors import SyncError
from sf_stripe_sync.executor import Applied, op_key_for
from sf_stripe_sync.failures import FailureRecorder, error_code
from sf_stripe_sync.operations import apply_plan, contract_status
from sf_stripe_sync.ports import BillingGateway, RemoteScheduleLike, StateStore
from sf_stripe_sync.resume import queue_success, repair_ids
from sf_stripe_sync.run_leases import contract_lease, take_lease
from sf_stripe_sync.run_report import OrderOutcome
from sf_stripe_sync.salesforce.writeback import WriteBackBatch
from sf_stripe_sync.state.errors import IllegalTransition
from sf_stripe_sync.state.store import ContractState, JournalState


class PlanApplier:
    """Sends plans for one run: ``owner`` is the run's id (the journal's ``run_id``),
    ``lease_owner`` who holds its leases."""

    def __init__(
        self,
        *,
        store: StateStore,
        owner: str,
        lease_owner: str,
        lease_ttl: float,
        clock: Callable[[], datetime],
        account: Callable[[str | None], StripeAccountSettings],
        gateway: Callable[[StripeAccountSettings], BillingGateway],
        failures: FailureRecorder,
    ) -> None:
        self.store = store
        self.owner = owner
        self.lease_owner = lease_owner
        self.lease_ttl = lease_ttl
        self.clock = clock
        self._account = account
        self._gateway = gateway
        self.failures = failures

    def apply(
        self,
        bundle: OrderBundle,
        order: Order,
        plan: OrderPlan,
        remote: RemoteScheduleLike | None,
        batch: WriteBackBatch,
        confirmed: dict[str, int],
    ) -> OrderOutcome:
        """Under the contract's lease: send the plan unless another run just did."""
        store = self.store
        account = self._account(plan.stripe_account)
        lease_key = contract_lease(account.name, plan.contract_key)
        if not take_lease(store, lease_key, self.lease_owner, self.clock, self.lease_ttl):
            return OrderOutcome(order.id, "skip", plan, transient=True,
                                message="another run is working on this contract")
        try:
            state = store.get_contract(account.name, plan.contract_key)
            if state is not None and not state.is_canceled and not plan.drift and (
                    state.applied_fingerprint == plan.fingerprint):
                # Another run applied this very plan while this one was planning.
                repair_ids(store, bundle, order, plan, batch, state.schedule_id)
                return OrderOutcome(order.id, "noop", plan, schedule_id=state.schedule_id)
            return self._journaled(bundle, order, plan, remote, account, batch, confirmed)
        finally:
            store.release_lease(lease_key, self.lease_owner)

    def _journaled(
        self,
        bundle: OrderBundle,
        order: Order,
        plan: OrderPlan,
        remote: RemoteScheduleLike | None,
        account: StripeAccountSettings,
        batch: WriteBackBatch,
        confirmed: dict[str, int],
    ) -> OrderOutcome:
        store = self.store
        op_key = op_key_for(plan)
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
                                 account_name=order.account_name, current=remote,
                                 known_customer_id=self._stored_customer(account, order))
        except SyncError as exc:
            store.journal_mark(entry.id, JournalState.FAILED,
                               error_code=error_code(exc), error_message=str(exc))
            return self.failures.failed(bundle, plan, exc, batch, op_key=op_key)
        crashpoint("after_stripe")
        store.journal_mark(entry.id, JournalState.CONFIRMED, stripe_id=applied.schedule_id,
                           request_ids=applied.request_ids)
        self._remember(account, order, plan, applied)
        crashpoint("after_journal")
        queue_success(batch, bundle, order, plan.operation.value, applied.schedule_id,
                      applied.customer_id, key=op_key, request_ids=applied.request_ids,
                      message=_success_message(plan, applied))
        # Recorded after the records: a flush in between marks this entry one flush
        # late, never before its records were written.
        confirmed[order.id] = entry.id
        return OrderOutcome(order.id, plan.operation.value, plan,
                            schedule_id=applied.schedule_id, writes=applied.writes,
                            request_ids=applied.request_ids)

    def written_back(
        self, confirmed: dict[str, int], problems: dict[str, list[str]], notes: list[str]
    ) -> None:
        """After a flush: close the entries whose records were all written; say which
        orders' write-back failed (their entries stay open for the next run)."""
        for order_id, entry_id in confirmed.items():
            if order_id in problems:
                notes.append(f"write-back of {order_id} incomplete: "
                             + "; ".join(problems[order_id]))
                continue
            # Another run may have finished this write-back first; the writes are idempotent.
            with contextlib.suppress(IllegalTransition):
                self.store.journal_mark(entry_id, JournalState.WRITTEN_BACK)
        for order_id, errors in problems.items():
            if order_id not in confirmed:
                notes.append(f"write-back of {order_id} failed: " + "; ".join(errors))

    def _stored_customer(self, account: StripeAccountSettings, order: Order) -> str | None:
        """The customer the store holds for the order's Account (when Salesforce's field
        is empty, e.g. an earlier write-back was lost): it vouches, so no search is sent."""
        if order.customer_id or not order.account_id:
            return None
        return self.store.get_stripe_id(account.name, "customer", order.account_id)

    def _remember(
        self, account: StripeAccountSettings, order: Order, plan: OrderPlan, applied: Applied
    ) -> None:
        store = self.store
        previous = store.get_contract(account.name, plan.contract_key)
        applied_ids = set(previous.applied_order_ids) if previous else set()
        applied_ids.update(plan.covers_order_ids)
        applied_ids.add(order.id)
        store.put_contract(ContractState(
            account=account.name, contract_key=plan.contract_key,
            schedule_id=applied.schedule_id, customer_id=applied.customer_id,
            applied_fingerprint=plan.fingerprint, applied_order_ids=frozenset(applied_ids),
            status=contract_status(plan.operation),
            updated_at=self.clock()))
        if order.account_id:
            store.put_id(account.name, "customer", order.account_id, applied.customer_id)
        store.put_id(account.name, "schedule", plan.contract_key, applied.schedule_id)


def _success_message(plan: OrderPlan, applied: Applied) -> str:
    phases = len(plan.schedule.phases) if plan.schedule else 0
    text = f"{plan.operation.value} schedule {applied.schedule_id} ({phases} phases)"
    if applied.already_applied:
        text += "; already in Stripe, nothing sent"
    return text
