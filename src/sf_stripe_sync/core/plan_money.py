"""Money on a planned schedule, and each order priced once per run.

Theory of operation: ``with_money`` attaches the one-time charges (Stripe's own too, on
an amend) to the phases holding their service dates and computes every item's and
phase's amounts (``core.amounts``); a schedule without a recurring phase is refused
with the reason. ``priced_once`` is ``core.pricing.price_order`` through the run's
``PlanMemo``: a contract's order is priced once, not once per order of its contract.
"""

from __future__ import annotations

from collections.abc import Sequence

from sf_stripe_sync.core.amounts import attach_one_time, one_time_item, price_schedule
from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.models import DesiredSchedule, Order, OrderLine, Phase, PriceCatalog
from sf_stripe_sync.core.plan_memo import PlanMemo
from sf_stripe_sync.core.pricing import price_order
from sf_stripe_sync.core.rules import SyncRules


def with_money(
    schedule: DesiredSchedule, orders: Sequence[Order], lines: Sequence[OrderLine],
    catalog: PriceCatalog, remote: Sequence[Phase] | None,
) -> tuple[DesiredSchedule, OrderIssue | None]:
    """One-time charges attached (Stripe's own, on an amend, kept) and money computed."""
    once = [one_time_item(line) for o in orders for line in o.one_time_lines]
    if remote is not None:
        once = [*(i for p in remote for i in p.one_time_items), *once]
    if once and not schedule.phases:
        ids = tuple(sorted(i for item in once for i in item.order_item_ids))
        return schedule, OrderIssue(
            code=IssueCode.INVALID_RECORD, order_item_ids=ids,
            message="only one-time charges: a one-time charge is billed with a "
                    "subscription's invoice, and no recurring line makes one")
    if not schedule.phases:  # Stripe refuses a schedule without a phase
        return schedule, OrderIssue(
            code=IssueCode.INVALID_RECORD,
            order_item_ids=tuple(sorted(line.id for line in lines)),
            message="nothing to bill: the reductions cancel every recurring line at every "
                    "date; cancel the order to end its schedule")
    every_line = [*lines, *(line for o in orders for line in o.one_time_lines)]
    return price_schedule(attach_one_time(schedule, once), every_line, catalog), None


def priced_once(memo: PlanMemo, order: Order, catalog: PriceCatalog, rules: SyncRules
            ) -> tuple[Order, tuple[OrderIssue, ...]]:
    """``price_order`` (once per order object, catalog and rules: ``PlanMemo``)."""
    def compute() -> tuple[Order, tuple[OrderIssue, ...]]:
        priced, issues = price_order(order, catalog, rules)
        return priced, tuple(issues)
    return memo.once("priced", (order, catalog, rules), None, compute)
