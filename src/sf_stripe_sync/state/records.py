"""The values the state store hands out, and the journal's state machine.

Theory of operation: everything the store returns is a frozen pydantic model built from
one row, so callers can pass results around threads without fear of them changing.
Datetimes are timezone-aware UTC. None of these models has a place for a credential:
the store only ever receives Salesforce and Stripe ids, idempotency keys, plan
fingerprints, error codes and messages, and small plan summaries.

The journal state machine lives here and only here (``check_transition``):

    PLANNED -> SENT -> CONFIRMED -> WRITTEN_BACK
       \\________\\_________\\______-> FAILED -> (journal_begin retry) -> PLANNED

A non-final state may be marked again with itself to record more detail (a replayed
request adds its request id). WRITTEN_BACK is final. FAILED is left only by
``StateStore.journal_begin`` retrying the same idempotency key, never by ``journal_mark``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from sf_stripe_sync.state.codec import iso_z
from sf_stripe_sync.state.errors import IllegalTransition

ID_KINDS: tuple[str, ...] = ("customer", "schedule", "product", "price", "coupon")
"""The kinds of object the id map links; extend here when the engine maps a new one."""

STANDARD_COUNT_KEYS: tuple[str, ...] = ("create", "amend", "replace", "cancel", "noop", "failed")
"""Counts every run summary reports, zero when the run did not mention them."""

ContractStatus = Annotated[str, StringConstraints(min_length=1)]
"""What the operations table says a contract becomes (``operations``); the store keeps
any status, with no list of them to extend (schema step 3 dropped the CHECK)."""
CONTRACT_ACTIVE = "active"
CONTRACT_CANCELED = "canceled"


class JournalState(StrEnum):
    PLANNED = "planned"
    SENT = "sent"
    CONFIRMED = "confirmed"
    WRITTEN_BACK = "written_back"
    FAILED = "failed"

    @property
    def is_unfinished(self) -> bool:
        return self in UNFINISHED_STATES


UNFINISHED_STATES: frozenset[JournalState] = frozenset(
    {JournalState.PLANNED, JournalState.SENT, JournalState.CONFIRMED}
)

_MARK_EDGES: dict[JournalState, frozenset[JournalState]] = {
    JournalState.PLANNED: frozenset({JournalState.PLANNED, JournalState.SENT,
                                     JournalState.FAILED}),
    JournalState.SENT: frozenset({JournalState.SENT, JournalState.CONFIRMED,
                                  JournalState.FAILED}),
    JournalState.CONFIRMED: frozenset({JournalState.CONFIRMED, JournalState.WRITTEN_BACK,
                                       JournalState.FAILED}),
    JournalState.WRITTEN_BACK: frozenset(),
    JournalState.FAILED: frozenset(),
}


def check_transition(entry_id: int, current: JournalState, wanted: JournalState) -> None:
    """Raise ``IllegalTransition`` unless ``journal_mark`` may move ``current`` to ``wanted``."""
    if wanted not in _MARK_EDGES[current]:
        hint = (" (a failed entry is retried through journal_begin)"
                if current is JournalState.FAILED and wanted is JournalState.PLANNED else "")
        raise IllegalTransition(
            f"journal entry {entry_id}: cannot move from {current.value} to "
            f"{wanted.value}{hint}",
            code="illegal_journal_transition",
        )


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class JournalEntry(_Record):
    """One operation's way through the journal (one row per idempotency key attempt)."""

    id: int
    run_id: str
    order_id: str
    contract_key: str
    account: str
    operation: str
    fingerprint: str
    idempotency_key: str
    state: JournalState
    stripe_id: str | None = None
    request_ids: tuple[str, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 1
    """How many times this key has been begun: 1, plus one per retry after FAILED."""
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @property
    def is_unfinished(self) -> bool:
        return self.state.is_unfinished


class ContractState(_Record):
    """What has been applied to one contract's schedule in one Stripe account."""

    account: str
    contract_key: str
    schedule_id: str | None = None
    customer_id: str | None = None
    applied_fingerprint: str | None = None
    applied_order_ids: frozenset[str] = frozenset()
    status: ContractStatus = CONTRACT_ACTIVE
    updated_at: AwareDatetime

    @property
    def is_canceled(self) -> bool:
        """Its schedule was canceled by us: a new plan starts a new schedule."""
        return self.status == CONTRACT_CANCELED


class FailedOrder(_Record):
    order_id: str
    code: str
    message: str


class RunSummary(_Record):
    run_id: str
    mode: str
    started_at: AwareDatetime
    finished_at: AwareDatetime | None = None
    """None while the run is going on (or when it died before finishing)."""
    counts: dict[str, int] = Field(default_factory=dict)
    stripe_writes: int = 0
    salesforce_calls: int = 0
    failed_orders: tuple[FailedOrder, ...] = ()

    def as_json(self) -> dict[str, Any]:
        counts = {key: 0 for key in STANDARD_COUNT_KEYS}
        counts.update(self.counts)
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "started_at": iso_z(self.started_at),
            "finished_at": iso_z(self.finished_at) if self.finished_at else None,
            "counts": counts,
            "stripe_writes": self.stripe_writes,
            "salesforce_calls": self.salesforce_calls,
            "failed_orders": [f.model_dump() for f in self.failed_orders],
        }
