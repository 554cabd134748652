"""How an order that cannot be synced is reported: on the Order, in Sync_Log__c, in the journal.

Theory of operation: a data problem (the order's issues, a refused Stripe request) is
the order's alone: it is written to the Order's status and error fields and to one
Sync_Log__c record, journaled as FAILED, and the run goes on. The Order is not written
again while it keeps failing the same way (``WriteBackRecorder.add_failure`` compares), so
the write-back does not re-trigger the scheduled sync. A transient failure (timeouts,
5xx, rate limits, a lease held by another run) is not written anywhere: the outcome is
marked ``transient`` so the watermark stays behind the order and the next run retries it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.models import OrderBundle, OrderPlan
from sf_stripe_sync.errors import SyncError, TerminalError, TransientError
from sf_stripe_sync.ports import StateStore, WriteBackRecorder
from sf_stripe_sync.reading import is_missing
from sf_stripe_sync.run_report import OrderOutcome
from sf_stripe_sync.state.store import JournalState

log = logging.getLogger("sf_stripe_sync.engine")

REJECTED_KEY_PREFIX = "rejected-"
"""Journal keys of failures that never reached Stripe (no idempotency key was used)."""


def error_code(exc: SyncError) -> str:
    if isinstance(exc, TerminalError) and exc.code:
        return exc.code
    return "transient" if isinstance(exc, TransientError) else "stripe_error"


class FailureRecorder:
    def __init__(self, store: StateStore | None, run_id: str, default_account: str) -> None:
        self.store = store
        self.run_id = run_id
        self.default_account = default_account

    def rejected(
        self,
        bundle: OrderBundle,
        plan: OrderPlan | None,
        issues: Iterable[OrderIssue],
        batch: WriteBackRecorder | None,
    ) -> OrderOutcome:
        """The order's data is wrong (``batch`` None: a dry-run, nothing is written)."""
        found = tuple(issues)
        errors = [i for i in found if i.is_error] or list(found)
        code = errors[0].code.value if errors else IssueCode.INVALID_RECORD.value
        message = "; ".join(f"[{i.code.value}] {i.message}" for i in errors) or "order rejected"
        if batch is not None and bundle.order_id and not is_missing(bundle):
            written = batch.add_failure(order=bundle.order,
                                        operation=plan.operation.value if plan else "plan",
                                        message=message)
            if written and self.store is not None:
                self._journal(bundle, plan, code, message)
        return OrderOutcome(bundle.order_id, "failed", plan, code=code, message=message)

    def failed(
        self,
        bundle: OrderBundle,
        plan: OrderPlan | None,
        exc: SyncError,
        batch: WriteBackRecorder | None,
        *,
        op_key: str | None = None,
    ) -> OrderOutcome:
        """A call failed: transient ones are retried next run, terminal ones reported."""
        if isinstance(exc, TransientError):
            log.warning("order %s: transient failure, will retry next run: %s",
                        bundle.order_id, exc)
            return OrderOutcome(bundle.order_id, "failed", plan, code="transient",
                                message=str(exc), transient=True)
        message = str(exc)
        if batch is not None:
            batch.add_failure(order=bundle.order,
                              operation=plan.operation.value if plan else "plan",
                              message=message, idempotency_key=op_key,
                              request_ids=(exc.request_id,) if exc.request_id else ())
        return OrderOutcome(bundle.order_id, "failed", plan, code=error_code(exc),
                            message=message)

    def _journal(
        self, bundle: OrderBundle, plan: OrderPlan | None, code: str, message: str
    ) -> None:
        assert self.store is not None
        entry = self.store.journal_begin(
            run_id=self.run_id, order_id=bundle.order_id,
            contract_key=plan.contract_key if plan else bundle.order_id,
            account=plan.stripe_account if plan else self.default_account,
            operation=plan.operation.value if plan else "plan",
            fingerprint=(plan.fingerprint if plan else "") or "rejected",
            idempotency_key=f"{REJECTED_KEY_PREFIX}{bundle.order_id}-{uuid.uuid4().hex[:8]}")
        self.store.journal_mark(entry.id, JournalState.FAILED, error_code=code,
                                error_message=message)
