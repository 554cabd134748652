"""Planning one order with what is known of its schedule: the one planning path.

Theory of operation: ``preview``, ``sync --dry-run`` and ``sync`` all plan here (through
``Engine.plan``), with the pure ``core.plan.plan_order``. What is known of a contract's
schedule comes, first found wins, from

1. what this dry-run has already planned for the contract (a dry-run applies nothing,
   so the second order of a contract must see the schedule the first order's create
   would make, exactly as the real run sees it after applying that create);
2. the state store (the schedule, the applied fingerprint, the orders folded in);
3. Salesforce's own schedule id fields on the Order and Contract (a snapshot file or an
   org without a state store);

and, when a Stripe gateway is given, Stripe itself: the schedule is read for an amend or
a replace (its current and future phases are the amend's base and the replace's drift
reference) and, when ``drift_reads``, for a noop too, so drift shows in the preview and
the dry-run. A schedule whose applied fingerprint no local store knows takes it from the
schedule's ``sf_sync_fingerprint`` metadata.

Contract orders: the plan's desired state is every activated order of the contract; an
error in another order of the contract (found while normalizing it) fails the plan,
naming that order's records, rather than billing the contract without its lines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from sf_stripe_sync.config import Settings, StripeAccountSettings
from sf_stripe_sync.core.issues import OrderIssue
from sf_stripe_sync.core.models import OperationKind, Order, OrderPlan
from sf_stripe_sync.core.plan import KnownState, known_state_from_orders, plan_order
from sf_stripe_sync.ports import BillingGateway, RemoteScheduleLike
from sf_stripe_sync.reading import OrderReader
from sf_stripe_sync.state.store import StateStore

APPLYING = frozenset({OperationKind.CREATE, OperationKind.AMEND, OperationKind.REPLACE})
PLANNED_SCHEDULE = "(planned)"
"""The schedule id a dry-run stands in for a schedule its own create would make."""
FINISHED_STATUSES = frozenset({"canceled", "released", "completed"})


class Planner:
    def __init__(
        self,
        settings: Settings,
        reader: OrderReader,
        store: StateStore | None,
        gateway: Callable[[StripeAccountSettings], BillingGateway] | None,
    ) -> None:
        self.settings = settings
        self.reader = reader
        self.store = store
        self.gateway = gateway
        self._planned: dict[tuple[str, str], KnownState] = {}
        self._lock = threading.Lock()

    def known_state(
        self, order: Order, account: StripeAccountSettings, contract: Sequence[Order]
    ) -> KnownState:
        with self._lock:
            planned = self._planned.get((account.name, order.contract_key))
        if planned is not None:
            return planned
        state = self.store.get_contract(account.name, order.contract_key) if self.store else None
        if state is not None and state.status != "canceled":
            return KnownState(schedule_id=state.schedule_id,
                              applied_fingerprint=state.applied_fingerprint,
                              applied_order_ids=frozenset(state.applied_order_ids))
        return known_state_from_orders(order, contract)

    def plan(
        self,
        order: Order,
        *,
        as_of: datetime,
        cancel_requested: bool = False,
        read_remote: bool = True,
        drift_reads: bool = False,
        issues: Sequence[OrderIssue] = (),
    ) -> tuple[OrderPlan, RemoteScheduleLike | None]:
        account = self.settings.stripe_account(order.stripe_account)
        contract = self.reader.contract_orders(order)
        known = self.known_state(order, account, contract)
        collected = [*issues, *self.reader.contract_errors(order)]

        def decide(known: KnownState) -> OrderPlan:
            return plan_order(order, contract_orders=contract, known=known,
                              rules=self.settings.rules, as_of=as_of,
                              stripe_account=account.name,
                              cancel_requested=cancel_requested, issues=collected)

        plan = decide(known)
        reads = {OperationKind.AMEND, OperationKind.REPLACE}
        if drift_reads:
            reads.add(OperationKind.NOOP)
        if (plan.operation not in reads or not read_remote or self.gateway is None
                or known.schedule_id in (None, PLANNED_SCHEDULE)):
            return plan, None
        assert known.schedule_id is not None
        remote = self.gateway(account).retrieve_schedule(known.schedule_id)
        applied = known.applied_fingerprint
        if applied is None and remote.status not in FINISHED_STATUSES:
            applied = remote.fingerprint
        return decide(known.model_copy(update={
            "remote_phases": remote.phases, "remote_status": remote.status,
            "current_phase_start": remote.current_phase_start,
            "applied_fingerprint": applied})), remote

    def simulate(self, order: Order, plan: OrderPlan) -> None:
        """A dry-run's stand-in for applying ``plan``: later orders of the contract are
        planned as if it had been applied (as the real run plans them)."""
        if plan.operation not in APPLYING:
            return
        key = (plan.stripe_account, plan.contract_key)
        with self._lock:
            before = self._planned.get(key)
            applied = set(before.applied_order_ids) if before else set()
            self._planned[key] = KnownState(
                schedule_id=plan.schedule_id or PLANNED_SCHEDULE,
                applied_fingerprint=plan.fingerprint,
                applied_order_ids=frozenset({*applied, *plan.covers_order_ids, order.id}))
