"""The planner: from a normalized Order and what is known of its schedule, one OrderPlan.

Theory of operation (DESIGN 2, Operations). One schedule per Contract (per Order when
there is no Contract). ``plan_order`` is pure: the caller passes the order, the other
activated orders on its contract, a ``KnownState`` (what the engine knows of the
contract's schedule) and ``as_of`` (the injected "now"). Decisions, in this order:

1. Any error already found (normalization, a sibling order's errors) -> ``FAIL``.
2. The order is in the cancel status, or the caller asks -> ``CANCEL`` the known
   schedule (``core.cancel``). With no schedule known there is nothing to cancel:
   that is ``FAIL`` with ``invalid_record`` (an explicit request must not look like
   success). A cancel needs only the schedule id, so line-level problems do not block
   it. An already cancelled schedule (remote status, or the same cancel already
   applied) -> ``NOOP``.
3. No schedule known -> ``CREATE`` from all the contract's activated orders together.
4. Schedule known, order not yet folded in -> ``AMEND``: the overlay of the order's lines
   on Stripe's current and future phases when those were read, else (offline preview)
   the consolidation of every contract order's lines.
5. Schedule known, order already folded in -> ``REPLACE`` with the consolidation of
   every contract order's lines.
6. The desired state's fingerprint equals the one last applied -> ``NOOP`` (also when
   an amend replayed after a lost write-back can no longer be laid over Stripe's
   phases: the contract's desired state is then planned as the noop it is).

Time: a schedule that ends at or before ``as_of`` is ``SKIP`` (warning
``already_ended``). For amend/replace, phases ended by ``as_of`` are dropped and the
phase in force keeps the current phase's start; an amending line dated before that
start is clipped to it (warning ``clipped_to_current_phase``). A create whose start is
past backdates unless ``rules.backdate`` is false: then it starts at ``as_of``
(``start_now``) with a ``clipped_to_current_phase`` warning.

Fingerprints: create, amend, replace and noop share one fingerprint of the *desired
state* (account, contract, metadata, canonical schedule before past phases are dropped
or the start moved to now), so the plan recomputed after our own write-back, even days
later, equals the applied one and is a noop whatever the operation that applied it;
the operation kind itself enters the idempotency key (``core.keys``). The contract's
whole desired state (its orders priced, consolidated, priced out, fingerprinted) is the
same for each of its orders: given the run's ``PlanMemo`` it is computed once.
A cancel has its own fingerprint: intent ``cancel`` + schedule id + invoice_now/prorate.
Drift: when Stripe's phases were read for a replace or a noop, ``core.drift`` compares
them with the desired ones field by field (``OrderPlan.drift``, and one ``drift``
warning); ``rules.on_drift`` decides what drift does to the operation (an amend keeps
Stripe's phases by construction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import AwareDatetime

from sf_stripe_sync.core.amend import overlay
from sf_stripe_sync.core.amounts import (
    billing_total,
    order_totals,
)
from sf_stripe_sync.core.cancel import plan_cancel
from sf_stripe_sync.core.consolidate import consolidate
from sf_stripe_sync.core.dates import iso_z
from sf_stripe_sync.core.drift import drift_issue, schedule_drift
from sf_stripe_sync.core.evolve import evolve
from sf_stripe_sync.core.fingerprint import canonical_schedule, fingerprint
from sf_stripe_sync.core.issues import IssueCode, OrderIssue, warning
from sf_stripe_sync.core.metadata_keys import (
    CONTRACT_METADATA_KEYS,
    META_ACCOUNT_ID,
    META_CONTRACT_ID,
    META_ORDER_ID,
    freeze_metadata,
)
from sf_stripe_sync.core.models import (
    ConsolidationResult,
    DesiredSchedule,
    DriftChange,
    Frozen,
    OperationKind,
    Order,
    OrderLine,
    OrderPlan,
    Phase,
    PriceCatalog,
)
from sf_stripe_sync.core.plan_memo import PlanMemo
from sf_stripe_sync.core.plan_money import priced_once, with_money
from sf_stripe_sync.core.plan_time import drop_past, start_now_if_not_backdating
from sf_stripe_sync.core.rules import SyncRules

NO_PRICES = PriceCatalog()
"""No Stripe price facts: every line bills its PricebookEntry's UnitPrice."""


class KnownState(Frozen):
    """What the engine knows of a contract's schedule when it plans."""

    schedule_id: str | None = None
    applied_fingerprint: str | None = None
    applied_order_ids: frozenset[str] = frozenset()
    """Orders already folded into the schedule."""
    remote_phases: tuple[Phase, ...] | None = None
    """Current and future phases as Stripe has them; None when not read."""
    remote_finished: bool = False
    """Stripe says the schedule is over (canceled, released or completed)."""
    current_phase_start: AwareDatetime | None = None


def known_state_from_orders(order: Order, contract_orders: Sequence[Order]) -> KnownState:
    """KnownState from Salesforce's own id fields only (the offline preview).

    The schedule is the Order's or Contract's schedule id field (of this order or any
    order on the contract); an order counts as applied when its own field is set.
    """
    everyone = [order, *contract_orders]
    schedule_id = next((o.known_schedule_id for o in everyone if o.known_schedule_id), None)
    applied = frozenset(o.id for o in everyone if o.schedule_id)
    return KnownState(schedule_id=schedule_id, applied_order_ids=applied)


def plan_metadata(order: Order) -> dict[str, str]:
    """Metadata leading back to Salesforce, plus the configured metadata map values."""
    return freeze_metadata(
        {
            **order.metadata,
            META_ORDER_ID: order.id,
            META_CONTRACT_ID: order.contract_id or order.id,
            META_ACCOUNT_ID: order.account_id,
        }
    )


def _contract_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """The part of the metadata that is the same for every order of a contract.

    The fingerprint is the contract's desired state: whichever of its orders is re-read,
    an unchanged contract must give the same fingerprint (and so a noop).
    """
    return {k: metadata[k] for k in CONTRACT_METADATA_KEYS if k in metadata}


def plan_order(
    order: Order,
    *,
    contract_orders: Sequence[Order],
    known: KnownState,
    rules: SyncRules,
    as_of: datetime,
    stripe_account: str,
    cancel_requested: bool = False,
    issues: Sequence[OrderIssue] = (),
    prices: PriceCatalog | None = None,
    memo: PlanMemo | None = None,
) -> OrderPlan:
    """Decide the operation for one order (see the module docstring for the rules).

    ``issues`` carries problems found before planning (normalization of this order
    and of its contract's other orders); any error among them makes the plan FAIL.
    ``prices``: the Stripe price facts the lines are billed with (``core.pricing``);
    without them the PricebookEntry's UnitPrice stands in for each price.
    ``memo``: the run's ``PlanMemo``, so a contract's orders share its desired state.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    base = OrderPlan(
        order_id=order.id,
        contract_key=order.contract_key,
        operation=OperationKind.FAIL,
        stripe_account=stripe_account,
        account_id=order.account_id,
        customer_id=order.customer_id,
        schedule_id=known.schedule_id,
        metadata=plan_metadata(order),
    )
    if cancel_requested or order.status == rules.cancel_status:
        return plan_cancel(base, schedule_id=known.schedule_id,
                           finished=known.remote_finished,
                           applied_fingerprint=known.applied_fingerprint, rules=rules)
    catalog = prices if prices is not None else NO_PRICES
    memo = memo if memo is not None else PlanMemo()
    order, priced_issues = priced_once(memo, order, catalog, rules)
    priced_siblings = [priced_once(memo, o, catalog, rules) for o in contract_orders]
    sibling_issues = [i for _, found in priced_siblings for i in found]
    sf_total, total_issues = order_totals(order, rules.salesforce_total_basis)
    base = evolve(base, {"currency": order.currency, "salesforce_total": sf_total})
    collected = [*issues, *priced_issues, *(i for i in sibling_issues if i.is_error)]
    if any(i.is_error for i in collected):
        return evolve(base, {"issues": tuple(collected)})
    siblings = _contract_members(order, [o for o, _ in priced_siblings], rules)
    ctx = _Planning(order=order, siblings=siblings,
                    all_lines=[line for o in siblings for line in o.lines], known=known,
                    rules=rules, as_of=as_of, catalog=catalog, base=base, memo=memo)
    return _plan_apply(ctx, [*collected, *total_issues])


@dataclass(frozen=True)
class _Planning:
    """What planning an apply (create / amend / replace / noop) works from."""

    order: Order
    siblings: list[Order]
    """The order and the contract's other live orders, by id."""
    all_lines: list[OrderLine]
    known: KnownState
    rules: SyncRules
    as_of: datetime
    catalog: PriceCatalog
    base: OrderPlan
    memo: PlanMemo

    @property
    def current(self) -> list[Phase] | None:
        """Stripe's phases not ended by ``as_of``; None when they were not read."""
        if self.known.remote_phases is None:
            return None
        return [p for p in self.known.remote_phases if p.end is None or p.end > self.as_of]


def _plan_apply(ctx: _Planning, collected: list[OrderIssue]) -> OrderPlan:
    """Create, amend or replace (or noop when the desired state is the applied one)."""
    order, base = ctx.order, ctx.base
    kind, result, covered = _choose(ctx)
    if kind is OperationKind.AMEND and not result.ok and _already_applied(ctx):
        kind, result = OperationKind.REPLACE, _whole(ctx)  # planned as the noop it is
        covered = tuple(o.id for o in ctx.siblings)
    collected += result.issues
    if not result.ok or result.schedule is None:
        return evolve(base, {"issues": tuple(collected)})
    current = ctx.current
    if kind is OperationKind.AMEND and current is not None:
        schedule, problem = with_money(result.schedule, [order], ctx.all_lines, ctx.catalog,
                                        current)
    else:
        schedule, problem = _desired_money(ctx, result.schedule)
    if problem is not None:
        return evolve(base, {"issues": (*collected, problem)})
    if schedule.end is not None and schedule.end <= ctx.as_of:
        collected.append(warning(
            IssueCode.ALREADY_ENDED,
            f"service ended {iso_z(schedule.end)}, before {iso_z(ctx.as_of)}: nothing to send",
            order_id=order.id,
            order_item_ids=tuple(sorted(line.id for line in ctx.all_lines)),
        ))
        return evolve(base, {"operation": OperationKind.SKIP, "schedule": schedule,
                             "issues": tuple(collected)})
    state_fp = _state_fingerprint(ctx, kind, schedule)
    start_now = False
    if kind is OperationKind.CREATE:
        schedule, start_now, notes = start_now_if_not_backdating(
            schedule, ctx.all_lines, ctx.rules, ctx.as_of)
    else:
        amending = order.lines if kind is OperationKind.AMEND else ()
        schedule, notes = drop_past(schedule, amending, ctx.known.current_phase_start,
                                     ctx.as_of)
    collected += notes
    if ctx.known.applied_fingerprint == state_fp:
        kind = OperationKind.NOOP
    kind, drift = _with_drift(ctx, kind, schedule, collected)
    total = ctx.memo.once("total", (schedule,), None, lambda: billing_total(schedule))
    return evolve(base, {"operation": kind, "schedule": schedule, "fingerprint": state_fp,
                         "billing_total": total, "start_now": start_now,
                         "issues": tuple(collected), "covers_order_ids": covered,
                         "drift": drift})


def _choose(ctx: _Planning) -> tuple[OperationKind, ConsolidationResult, tuple[str, ...]]:
    """The operation, its schedule before money and time, and the orders it covers."""
    covered: tuple[str, ...] = tuple(o.id for o in ctx.siblings)
    if ctx.known.schedule_id is None:
        return OperationKind.CREATE, _whole(ctx), covered
    if ctx.order.id in ctx.known.applied_order_ids:
        return OperationKind.REPLACE, _whole(ctx), covered
    current = ctx.current
    if current is None:
        return OperationKind.AMEND, _whole(ctx), covered
    result = overlay(current, ctx.order.lines, max_items_per_phase=ctx.rules.max_items_per_phase)
    return OperationKind.AMEND, result, (*sorted(ctx.known.applied_order_ids), ctx.order.id)


def _whole(ctx: _Planning) -> ConsolidationResult:
    """Every contract order's lines consolidated (once per contract: ``PlanMemo``)."""
    limit = ctx.rules.max_items_per_phase
    return ctx.memo.once("whole", tuple(ctx.siblings), limit,
                         lambda: consolidate(ctx.all_lines, max_items_per_phase=limit))


def _desired_money(ctx: _Planning, schedule: DesiredSchedule
                   ) -> tuple[DesiredSchedule, OrderIssue | None]:
    """``_with_money`` of the contract's whole desired state (once per contract)."""
    return ctx.memo.once("money", (schedule, ctx.catalog, *ctx.siblings), None,
                         lambda: with_money(schedule, ctx.siblings, ctx.all_lines,
                                             ctx.catalog, None))


def _already_applied(ctx: _Planning) -> bool:
    """The contract's desired state is the one last applied, though the amend cannot be
    laid over Stripe's phases again: an amend replayed after its write-back was lost
    (a reduction that removed an item left no trace of its id in Stripe)."""
    if ctx.known.applied_fingerprint is None:
        return False
    whole = _whole(ctx)
    if not whole.ok or whole.schedule is None:
        return False
    desired, problem = _desired_money(ctx, whole.schedule)
    return problem is None and _desired_fingerprint(ctx, desired) == ctx.known.applied_fingerprint


def _state_fingerprint(ctx: _Planning, kind: OperationKind, schedule: DesiredSchedule) -> str:
    """The desired state's fingerprint, taken before time trims the schedule.

    A plan recomputed later, after phases have passed or from a schedule that started
    "now", is the same state. An amend sends Stripe's phases overlaid with the new lines
    (Stripe-side edits and existing coupons survive), but it is fingerprinted as the
    Salesforce-side desired state, so re-reading the contract's orders afterwards plans
    a noop, not a replace.
    """
    desired = schedule
    if kind is OperationKind.AMEND and ctx.known.remote_phases is not None:
        full = _whole(ctx)
        if full.ok and full.schedule is not None:
            desired, _ = _desired_money(ctx, full.schedule)
    return _desired_fingerprint(ctx, desired)


def _desired_fingerprint(ctx: _Planning, desired: DesiredSchedule) -> str:
    metadata = _contract_metadata(ctx.base.metadata)
    same = (ctx.base.stripe_account, ctx.order.contract_key, tuple(metadata.items()))
    return ctx.memo.once("fingerprint", (desired,), same, lambda: fingerprint({
        "intent": "apply",
        "stripe_account": ctx.base.stripe_account,
        "contract_key": ctx.order.contract_key,
        "metadata": metadata,
        "schedule": canonical_schedule(desired),
    }))


def _with_drift(
    ctx: _Planning, kind: OperationKind, schedule: DesiredSchedule,
    collected: list[OrderIssue],
) -> tuple[OperationKind, tuple[DriftChange, ...] | None]:
    """Stripe's phases compared with the desired ones, for a replace or a noop."""
    remote = ctx.known.remote_phases
    if kind not in (OperationKind.REPLACE, OperationKind.NOOP) or remote is None:
        return kind, None
    drift = schedule_drift(remote, schedule.phases, as_of=ctx.as_of)
    if drift:
        collected.append(drift_issue(drift, order_id=ctx.order.id))
        kind = _on_drift(kind, ctx.rules)
    return kind, drift


def _on_drift(kind: OperationKind, rules: SyncRules) -> OperationKind:
    """``rules.on_drift`` applied to a drifted schedule (see ``SyncRules.on_drift``)."""
    if rules.on_drift == "overwrite":
        return OperationKind.REPLACE
    if rules.on_drift == "keep" and kind is OperationKind.REPLACE:
        return OperationKind.SKIP
    return kind


def _contract_members(
    order: Order, contract_orders: Sequence[Order], rules: SyncRules
) -> list[Order]:
    """The order itself plus the contract's other live orders, once each, by id."""
    members = {o.id: o for o in contract_orders if o.status != rules.cancel_status}
    members[order.id] = order
    return [members[k] for k in sorted(members)]


def failed_plan(
    order_id: str, issues: Sequence[OrderIssue], *, stripe_account: str
) -> OrderPlan:
    """A FAIL plan for an order that could not even be normalized (or was not found)."""
    return OrderPlan(order_id=order_id, contract_key=order_id, operation=OperationKind.FAIL,
                     stripe_account=stripe_account, issues=tuple(issues))


def skipped_plan(order: Order, *, stripe_account: str, activated_status: str) -> OrderPlan:
    """A SKIP plan for an order asked for by id that is not activated (e.g. a Draft)."""
    note = warning(IssueCode.NOT_ACTIVATED, order_id=order.id,
                   message=f"order {order.id} is {order.status or 'without a status'}, "
                           f"not {activated_status}: nothing to sync")
    return OrderPlan(order_id=order.id, contract_key=order.contract_key,
                     operation=OperationKind.SKIP, stripe_account=stripe_account,
                     account_id=order.account_id, issues=(note,))


def not_found_plan(order_id: str, *, stripe_account: str) -> OrderPlan:
    problem = OrderIssue(code=IssueCode.INVALID_RECORD, order_id=order_id,
                         message=f"order {order_id} was not found in the source")
    return failed_plan(order_id, [problem], stripe_account=stripe_account)
