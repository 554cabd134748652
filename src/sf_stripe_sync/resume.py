"""Finishing what an earlier run left half done, found when an order re-plans as a noop.

Theory of operation: a run that stopped after Stripe confirmed an operation but before
its write-back landed leaves a CONFIRMED journal entry; the state store already holds
the applied plan, so the order now plans as a noop. ``finish_interrupted`` writes the
ids, the status and the operation's Sync_Log (only when Salesforce does not hold it yet)
and hands the entry to the page's journal bookkeeping to close after the flush, unless
the run that confirmed it is still alive and will do so itself. ``repair_ids`` is the
quieter case: a noop whose Order or Contract lacks the schedule id (a write-back lost
some other way) gets the ids back, with no Sync_Log. ``queue_success`` is the one way
an order's success reaches the write-back batch (a sent plan, a finished interrupted
write-back and a repair alike).
"""

from __future__ import annotations

from datetime import datetime

from sf_stripe_sync.core.models import Order, OrderBundle, OrderPlan
from sf_stripe_sync.operations import salesforce_status
from sf_stripe_sync.ports import StateStore, WriteBackRecorder
from sf_stripe_sync.run_leases import run_alive
from sf_stripe_sync.state.store import JournalState


def finish_interrupted(
    store: StateStore,
    run_id: str,
    now: datetime,
    bundle: OrderBundle,
    order: Order,
    plan: OrderPlan,
    batch: WriteBackRecorder,
    confirmed: dict[str, int],
) -> bool:
    """True when an interrupted write-back of this order was queued in ``batch``."""
    entries = [e for e in store.journal_for_order(order.id)
               if e.state is JournalState.CONFIRMED and e.fingerprint == plan.fingerprint
               and e.run_id != run_id and not run_alive(store, e.run_id, now)]
    if not entries:
        return False
    entry = entries[-1]
    for older in entries[:-1]:
        store.journal_mark(older.id, JournalState.WRITTEN_BACK)
    state = store.get_contract(plan.stripe_account, plan.contract_key)
    schedule_id = entry.stripe_id or plan.schedule_id or (state.schedule_id if state else None)
    if not schedule_id:
        return False
    phases = len(plan.schedule.phases) if plan.schedule else 0
    queue_success(batch, bundle, order, entry.operation, schedule_id,
                  state.customer_id if state else None, key=entry.idempotency_key,
                  request_ids=entry.request_ids, verify_log=True,
                  message=f"{entry.operation} schedule {schedule_id} ({phases} phases); "
                          "write-back finished after an interrupted run")
    confirmed[order.id] = entry.id
    return True


def repair_ids(
    store: StateStore | None,
    bundle: OrderBundle,
    order: Order,
    plan: OrderPlan,
    batch: WriteBackRecorder,
    schedule_id: str | None = None,
) -> None:
    """A noop still writes ids Salesforce lacks (e.g. a write-back lost in a crash)."""
    schedule_id = schedule_id or plan.schedule_id
    if not schedule_id:
        return
    state = store.get_contract(plan.stripe_account, plan.contract_key) if store else None
    queue_success(batch, bundle, order, plan.operation.value, schedule_id,
                  state.customer_id if state else None, log=False)


def queue_success(
    batch: WriteBackRecorder,
    bundle: OrderBundle,
    order: Order,
    operation: str,
    schedule_id: str,
    customer_id: str | None,
    *,
    key: str = "",
    request_ids: tuple[str, ...] = (),
    message: str = "",
    log: bool = True,
    verify_log: bool = False,
) -> None:
    """Queue the ids, the status and (``log``) the Sync_Log of an order whose
    ``operation`` Stripe holds: ``key`` is its idempotency key; ``verify_log``: the log
    may be in Salesforce already (looked up first, never written twice)."""
    batch.add_success(
        order=bundle.order, operation=operation, status=salesforce_status(operation),
        schedule_id=schedule_id,
        contract_id=order.contract_id, contract_schedule_id=order.contract_schedule_id,
        account_id=order.account_id, customer_id=customer_id,
        known_customer_id=order.customer_id, idempotency_key=key, request_ids=request_ids,
        message=message, log=log, verify_log=verify_log)
