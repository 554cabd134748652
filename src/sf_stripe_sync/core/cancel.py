"""Planning a cancel: the known schedule is cancelled once, with the configured terms.

Theory of operation (DESIGN 2, Operations, "cancel"): an order in the cancel status, or
one the caller asks to cancel, cancels its contract's schedule. A cancel needs only the
schedule id, so line-level problems do not block it. With no schedule known there is
nothing to cancel: that is ``FAIL`` with ``invalid_record`` (an explicit request must
not look like success). The cancel has its own fingerprint: intent ``cancel``, the
Stripe account, the schedule id and the terms (``invoice_now`` / ``prorate``, which the
plan carries to the executor). A schedule Stripe reports finished, or the same cancel
already applied, is a ``NOOP``.
"""

from __future__ import annotations

from sf_stripe_sync.core.fingerprint import fingerprint
from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.models import OperationKind, OrderPlan
from sf_stripe_sync.core.rules import SyncRules


def plan_cancel(base: OrderPlan, *, schedule_id: str | None, finished: bool,
                applied_fingerprint: str | None, rules: SyncRules) -> OrderPlan:
    """``base`` (the order's plan so far) as a cancel, a noop or a failure."""
    if schedule_id is None:
        problem = OrderIssue(
            code=IssueCode.INVALID_RECORD,
            message="no schedule to cancel: the order has no Stripe schedule yet",
            order_id=base.order_id,
        )
        return base.model_copy(update={"issues": (problem,)})
    fp = fingerprint({
        "intent": "cancel",
        "stripe_account": base.stripe_account,
        "schedule_id": schedule_id,
        "invoice_now": rules.invoice_now,
        "prorate": rules.prorate,
    })
    done = finished or applied_fingerprint == fp
    kind = OperationKind.NOOP if done else OperationKind.CANCEL
    return base.model_copy(update={"operation": kind, "fingerprint": fp,
                                   "invoice_now": rules.invoice_now, "prorate": rules.prorate})
