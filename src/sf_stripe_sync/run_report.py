"""What a run was asked to do and what it did: ``RunOptions``, ``OrderOutcome``, ``RunReport``.

Theory of operation: plain values passed between the engine, the commands that print a
summary, and the state store's run record. ``RunReport.counts`` always has every kind
in ``COUNTED`` (the operations table's outcomes); ``pending`` lists what the next run
must try again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sf_stripe_sync.core.models import OrderPlan
from sf_stripe_sync.operations import COUNTED, SUCCEEDED

__all__ = ["COUNTED", "SUCCEEDED", "OrderOutcome", "RunOptions", "RunReport"]
from sf_stripe_sync.state.records import FailedOrder


@dataclass(frozen=True)
class RunOptions:
    order_ids: Sequence[str] | None = None
    """Triggered run: exactly these orders. None: everything changed since the watermark."""
    cancel_ids: Sequence[str] = ()
    """Orders whose schedules the operator asks to cancel."""
    dry_run: bool = False
    as_of: datetime | None = None
    mode: str = "scheduled"
    resume_unfinished: bool = True
    """Also re-read the orders of unfinished journal entries (a queue job does not: those
    belong to their own contracts' jobs, which the scheduled intake queues)."""
    keep_plans: bool | None = None
    """Keep every plan in the report (the preview renders them). None: only for a
    dry-run; a sync keeps counts and outcomes, so its memory stays flat as the org grows."""
    record_basis: bool = False
    """A dry-run also records, per order, what the plan was computed from and the Stripe
    writes it will make (``OrderOutcome.basis`` / ``requests``): a plan file's content."""
    expected_keys: Mapping[str, str] | None = None
    """Applying a saved plan: per order, the idempotency key its plan must still have;
    an order whose fresh plan differs is refused (``stale_plan``), not executed."""

    @property
    def explicit(self) -> bool:
        """A triggered or cancel run names its orders; the watermark is left alone."""
        return self.order_ids is not None or bool(self.cancel_ids)


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
    request_ids: tuple[str, ...] = ()
    """Stripe request ids of the writes made for the order."""
    basis: dict[str, Any] | None = None
    """What the plan was computed from (``RunOptions.record_basis``)."""
    requests: list[dict[str, Any]] | None = None
    """The Stripe writes the plan will make (``RunOptions.record_basis``)."""


@dataclass
class RunReport:
    run_id: str
    dry_run: bool
    outcomes: list[OrderOutcome] = field(default_factory=list)
    plans: list[OrderPlan] = field(default_factory=list)
    stripe_writes: int = 0
    salesforce_calls: int = 0
    notes: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    """Record id (and Stripe price id) -> the name people know it by; kept with the
    plans, for rendering them."""

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
    def failed_orders(self) -> list[FailedOrder]:
        """The failures as the state store's run record keeps them."""
        return [FailedOrder(order_id=o.order_id, code=o.code or "error",
                            message=o.message or "") for o in self.failed]

    @property
    def succeeded_ids(self) -> list[str]:
        """Orders whose outcome counts as a success (their recorded failures clear)."""
        return [o.order_id for o in self.outcomes if o.result in SUCCEEDED]

    def add(self, outcomes: Iterable[OrderOutcome | None], *, keep_plans: bool) -> None:
        """One page's outcomes (None: an order the run leaves alone). Without
        ``keep_plans`` only a failed order keeps its plan, so memory stays flat."""
        for outcome in outcomes:
            if outcome is None:
                continue
            if not keep_plans and outcome.result != "failed":
                outcome.plan = None
            self.outcomes.append(outcome)
            self.stripe_writes += outcome.writes
            if outcome.plan is not None and keep_plans:
                self.plans.append(outcome.plan)

    @property
    def pending(self) -> list[OrderOutcome]:
        """Orders that must be tried again (transient failures, leases held by others)."""
        return [o for o in self.outcomes if o.transient]
