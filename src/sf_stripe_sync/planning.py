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

Prices: the facts of every Stripe price the contract's lines use (and, once Stripe's
schedule is read, its items' prices) are read through the gateway before planning
(once per run per price, cached by the gateway) and given to the pure planner; without a
gateway the offline ``price_catalog`` (a catalog file) is used, else the PricebookEntry
prices. Stripe's items on custom prices are put back in plan terms (their lookup key,
``core.pricing.in_plan_terms``) so they compare, net and drift like the lines they bill.

Contract orders: the plan's desired state is every activated order of the contract; an
error in another order of the contract (found while normalizing it) fails the plan,
naming that order's records, rather than billing the contract without its lines.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime

from sf_stripe_sync.config import StripeAccountSettings
from sf_stripe_sync.core.issues import OrderIssue
from sf_stripe_sync.core.models import OperationKind, Order, OrderPlan, PriceCatalog
from sf_stripe_sync.core.plan import KnownState, known_state_from_orders, plan_order
from sf_stripe_sync.core.plan_memo import PlanMemo
from sf_stripe_sync.core.pricing import in_plan_terms, price_ids
from sf_stripe_sync.engine_settings import PlanningSettings
from sf_stripe_sync.operations import PUTTING
from sf_stripe_sync.ports import BillingGateway, RemoteScheduleLike, StateStore
from sf_stripe_sync.reading import OrderReader

PLANNED_SCHEDULE = "(planned)"
"""The schedule id a dry-run stands in for a schedule its own create would make."""


class Planner:
    def __init__(
        self,
        settings: PlanningSettings,
        reader: OrderReader,
        store: StateStore | None,
        gateway: Callable[[StripeAccountSettings], BillingGateway] | None,
        *,
        price_catalog: PriceCatalog | None = None,
    ) -> None:
        self.settings = settings
        self.price_catalog = price_catalog
        self.reader = reader
        self.store = store
        self.gateway = gateway
        self._planned: dict[tuple[str, str], KnownState] = {}
        self.memo = PlanMemo()
        """A contract's orders share its desired state (``core.plan_memo``)."""
        self._lock = threading.Lock()

    def known_state(
        self, order: Order, account: StripeAccountSettings, contract: Sequence[Order]
    ) -> KnownState:
        with self._lock:
            planned = self._planned.get((account.name, order.contract_key))
        if planned is not None:
            return planned
        state = self.store.get_contract(account.name, order.contract_key) if self.store else None
        if state is not None and not state.is_canceled:
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
        # (Only a gateway is asked for prices by id: the offline catalog is whole.)
        wanted = price_ids([order, *contract]) if self.gateway is not None else []

        def decide(known: KnownState, prices: PriceCatalog | None) -> OrderPlan:
            return plan_order(order, contract_orders=contract, known=known,
                              rules=self.settings.rules, as_of=as_of,
                              stripe_account=account.name,
                              cancel_requested=cancel_requested, issues=collected,
                              prices=prices, memo=self.memo)

        # A cancel needs the schedule id only: no price is read for it.
        cancelling = cancel_requested or order.status == self.settings.rules.cancel_status
        prices = None if cancelling else self.prices(account, wanted)
        plan = decide(known, prices)
        reads = {OperationKind.AMEND, OperationKind.REPLACE}
        if drift_reads:
            reads.add(OperationKind.NOOP)
        if (plan.operation not in reads or not read_remote or self.gateway is None
                or known.schedule_id in (None, PLANNED_SCHEDULE)):
            return plan, None
        assert known.schedule_id is not None
        remote = self.gateway(account).retrieve_schedule(known.schedule_id)
        applied = known.applied_fingerprint
        if applied is None and not remote.is_finished:
            applied = remote.fingerprint
        theirs = [*(i.price for p in remote.phases for i in p.items),
                  *(o.price for p in remote.phases for o in p.one_time_items)]
        prices = None if cancelling else self.prices(account, [*wanted, *theirs])
        phases = in_plan_terms(remote.phases, prices) if prices is not None else remote.phases
        return decide(known.model_copy(update={
            "remote_phases": phases, "remote_finished": remote.is_finished,
            "current_phase_start": remote.current_phase_start,
            "applied_fingerprint": applied}), prices), remote

    def prices(self, account: StripeAccountSettings, wanted: Sequence[str]
               ) -> PriceCatalog | None:
        """The facts of the prices planned with: from Stripe (once per run per price,
        cached by the gateway), else the offline catalog."""
        if self.gateway is None or not wanted:
            return self.price_catalog
        return self.gateway(account).price_facts(sorted(set(wanted)))

    def simulate(self, order: Order, plan: OrderPlan) -> None:
        """A dry-run's stand-in for applying ``plan``: later orders of the contract are
        planned as if it had been applied (as the real run plans them)."""
        if plan.operation not in PUTTING:
            return
        key = (plan.stripe_account, plan.contract_key)
        with self._lock:
            before = self._planned.get(key)
            applied = set(before.applied_order_ids) if before else set()
            self._planned[key] = KnownState(
                schedule_id=plan.schedule_id or PLANNED_SCHEDULE,
                applied_fingerprint=plan.fingerprint,
                applied_order_ids=frozenset({*applied, *plan.covers_order_ids, order.id}))
