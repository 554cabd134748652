"""Apply one order's plan to Stripe under its contract's lease, journaled, and queue its
write-back.

Theory of operation: the engine hands every plan that sends something here
(``PlanApplier.apply``). The contract's lease is held first (usually taken with its page:
``run_leases.LeaseBook``; a lease another live run holds makes the order ``skip``,
transient: the next run tries again), then the contract state is read again: another
run may have applied this very plan while this one was planning (a noop, ids repaired).
Otherwise the journal entry is begun and marked SENT in one transaction (durable before
the request leaves: what a crash resumes from), the executor sends the plan, and one
more transaction marks the entry CONFIRMED with Stripe's ids and request ids and saves
what Stripe now holds (the contract state, the id map); the order's write-back is
queued in the run's batch, and the entries a flush carried are closed (WRITTEN_BACK)
together in one transaction (``written_back``). A Stripe failure marks the entry FAILED
and reports the order through ``failures``. ``crashpoints`` mark the boundaries the
reliability suite kills.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sf_stripe_sync.config import StripeAccountSettings
from sf_stripe_sync.core.models import Order, OrderBundle, OrderPlan
from sf_stripe_sync.crashpoints import crashpoint
from sf_stripe_sync.errors import SyncError
from sf_stripe_sync.executor import Applied, op_key_for
from sf_stripe_sync.failures import FailureRecorder, error_code
from sf_stripe_sync.operations import apply_plan, contract_status
from sf_stripe_sync.ports import BillingGateway, RemoteScheduleLike, StateStore, WriteBackRecorder
from sf_stripe_sync.resume import queue_success, repair_ids
from sf_stripe_sync.run_leases import LeaseBook, contract_lease
from sf_stripe_sync.run_report import OrderOutcome
from sf_stripe_sync.state.store import ContractState, IdLink, JournalState


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
        self.leases = LeaseBook(store, lease_owner, lease_ttl, clock)
        """The contract leases of the open pages (the engine opens and closes pages)."""

    def apply(
        self,
        bundle: OrderBundle,
        order: Order,
        plan: OrderPlan,
        remote: RemoteScheduleLike | None,
        batch: WriteBackRecorder,
        confirmed: dict[str, int],
    ) -> OrderOutcome:
        """Under the contract's lease: send the plan unless another run just did."""
        store = self.store
        account = self._account(plan.stripe_account)
        lease_key = contract_lease(account.name, plan.contract_key)
        if not self.leases.take(lease_key):
            return OrderOutcome(order.id, "skip", plan, transient=True,
                                message="another run is working on this contract")
        try:
            state = store.get_contract(account.name, plan.contract_key)
            if state is not None and not state.is_canceled and not plan.drift and (
                    state.applied_fingerprint == plan.fingerprint):
                # Another run applied this very plan while this one was planning.
                repair_ids(store, bundle, order, plan, batch, state.schedule_id)
                return OrderOutcome(order.id, "noop", plan, schedule_id=state.schedule_id)
            return self._journaled(bundle, order, plan, remote, account, state, batch,
                                   confirmed)
        finally:
            self.leases.done(lease_key)

    def _journaled(
        self,
        bundle: OrderBundle,
        order: Order,
        plan: OrderPlan,
        remote: RemoteScheduleLike | None,
        account: StripeAccountSettings,
        state: ContractState | None,
        batch: WriteBackRecorder,
        confirmed: dict[str, int],
    ) -> OrderOutcome:
        store = self.store
        op_key = op_key_for(plan)
        # Durable as SENT before the request leaves (PLANNED and SENT in one step).
        entry = store.journal_send(
            run_id=self.owner, order_id=order.id, contract_key=plan.contract_key,
            account=account.name, operation=plan.operation.value,
            fingerprint=plan.fingerprint, idempotency_key=op_key)
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
        contract, ids = self._remember(account, order, plan, applied, state)
        store.journal_confirm(entry.id, stripe_id=applied.schedule_id,
                              request_ids=applied.request_ids, contract=contract, ids=ids)
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
        for order_id in confirmed.keys() & problems.keys():
            notes.append(f"write-back of {order_id} incomplete: "
                         + "; ".join(problems[order_id]))
        # One transaction for the flush; an entry another run finished first is left.
        self.store.journal_mark_many([e for o, e in confirmed.items() if o not in problems],
                                     JournalState.WRITTEN_BACK)
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
        self, account: StripeAccountSettings, order: Order, plan: OrderPlan, applied: Applied,
        previous: ContractState | None,
    ) -> tuple[ContractState, list[IdLink]]:
        """The contract's state and id rows once ``applied`` (``previous``: as read under
        the lease), saved with the CONFIRMED mark in one transaction."""
        applied_ids = set(previous.applied_order_ids) if previous else set()
        applied_ids.update(plan.covers_order_ids)
        applied_ids.add(order.id)
        state = ContractState(
            account=account.name, contract_key=plan.contract_key,
            schedule_id=applied.schedule_id, customer_id=applied.customer_id,
            applied_fingerprint=plan.fingerprint, applied_order_ids=frozenset(applied_ids),
            status=contract_status(plan.operation),
            updated_at=self.clock())
        ids = [IdLink(account.name, "schedule", plan.contract_key, applied.schedule_id)]
        if order.account_id:
            ids.insert(0, IdLink(account.name, "customer", order.account_id,
                                 applied.customer_id))
        return state, ids


def _success_message(plan: OrderPlan, applied: Applied) -> str:
    phases = len(plan.schedule.phases) if plan.schedule else 0
    text = f"{plan.operation.value} schedule {applied.schedule_id} ({phases} phases)"
    if applied.already_applied:
        text += "; already in Stripe, nothing sent"
    return text
