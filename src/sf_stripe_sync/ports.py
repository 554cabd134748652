"""Ports: the Protocols the engine talks through, one per outside system.

Theory of operation (the httpx transport idea): the engine depends only on these
Protocols. Each has a real adapter (``salesforce/``, ``stripe/``, ``state/``) and a
file/in-memory stand-in (``sources/``, ``sf_stripe_sync.testing``), so the same engine
runs against a real org, a snapshot file, the local sandboxes or in-memory fakes. Adapters
raise only ``sf_stripe_sync.errors`` exceptions. ``tests/conformance`` runs one suite
against each fake and its real adapter, so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from sf_stripe_sync.core.issues import OrderIssue
from sf_stripe_sync.core.models import OrderBundle, OrderPlan, Phase, PriceCatalog
from sf_stripe_sync.state.mappings import IdLink
from sf_stripe_sync.state.records import ContractState, FailedOrder, JournalEntry, JournalState


class RecordResult(BaseModel):
    """Outcome of writing one record (sObject collections report per record)."""

    model_config = ConfigDict(frozen=True)

    id: str | None
    success: bool
    errors: tuple[str, ...] = ()
    """``STATUS_CODE: message`` strings as Salesforce reports them."""


class OrderSource(Protocol):
    """Where orders come from: a real org, the local org, or a snapshot file."""

    def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderBundle]:
        """The given Orders (any status) with their items and related records."""
        ...

    def activated_order_ids(self) -> list[str]:
        """Ids of every Order whose status is the activated status."""
        ...

    def changed_since(
        self, watermark: datetime | None, page_size: int = 200
    ) -> Iterator[list[OrderBundle]]:
        """Pages of Orders changed (or whose items changed) since ``watermark``."""
        ...

    def contract_orders(self, contract_id: str) -> list[OrderBundle]:
        """Every activated Order on a Contract (the whole desired state for replace)."""
        ...


@runtime_checkable
class ContractPrefetch(Protocol):
    """An ``OrderSource`` that can read the orders of many Contracts in one go."""

    def contract_orders_many(self, contract_ids: Sequence[str]) -> dict[str, list[OrderBundle]]:
        """``contract_orders`` for every id asked (each a key, maybe with no orders)."""
        ...


class WriteBack(Protocol):
    """Where results go back to: sObject collections, 200 records a call."""

    def update(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """PATCH records (each carries ``Id``); one result per record, in order."""
        ...

    def insert(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """POST new records; one result per record, in order."""
        ...


class WriteBackRecorder(Protocol):
    """What the engine records for Salesforce, in domain terms (an order's result, its
    Stripe ids, its log line); ``salesforce.writeback`` turns it into sObject records."""

    def add_success(
        self,
        *,
        order: dict[str, Any],
        operation: str,
        schedule_id: str,
        contract_id: str | None,
        contract_schedule_id: str | None,
        account_id: str | None,
        customer_id: str | None,
        known_customer_id: str | None,
        idempotency_key: str,
        request_ids: tuple[str, ...],
        message: str,
        log: bool = ...,
        verify_log: bool = ...,
        status: str = ...,
    ) -> None:
        """An order synced: its schedule, customer and status; ``status`` is the
        operation's (``operations``)."""
        ...

    def add_failure(
        self,
        *,
        order: dict[str, Any],
        operation: str,
        message: str,
        idempotency_key: str | None = ...,
        request_ids: tuple[str, ...] = ...,
    ) -> bool:
        """An order failed; False when the Order already says exactly this."""
        ...


class PendingWriteBack(WriteBackRecorder, Protocol):
    """A batch of recorded results, sent in one go (``flush``)."""

    def __len__(self) -> int:
        ...

    def flush(self, writer: WriteBack) -> dict[str, list[str]]:
        """Send everything; ``{order_id: [problems]}`` for orders not fully written."""
        ...


@dataclass(frozen=True)
class WriteOp:
    """One write of a batch: ``records`` of ``sobject`` updated (each with ``Id``),
    inserted, or upserted on the external-id field ``external_id``."""

    action: Literal["update", "insert", "upsert"]
    sobject: str
    records: Sequence[dict[str, Any]]
    external_id: str = ""


@runtime_checkable
class Upserter(Protocol):
    """A ``WriteBack`` that can upsert on an external-id field (insert the records no
    record matches, update the one that does): safe to send again, whoever sent it first."""

    def upsert(self, sobject: str, external_id: str,
               records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """One result per record, in order."""
        ...


@runtime_checkable
class BatchWriteBack(Protocol):
    """A ``WriteBack`` that can send several writes together (fewer API calls)."""

    def write_many(self, ops: Sequence[WriteOp]) -> list[list[RecordResult]]:
        """Apply ``ops`` in order; per op, one result per record, in order."""
        ...


@runtime_checkable
class RecordFinder(Protocol):
    """A ``WriteBack`` that can also look records up, so an insert whose answer was lost
    (or that a crash interrupted) is completed without writing a record twice."""

    def find(self, sobject: str, where_field: str, values: Sequence[str],
             fields: Sequence[str]) -> list[dict[str, Any]]:
        """Records of ``sobject`` whose ``where_field`` is one of ``values``, with ``fields``."""
        ...


class SyncStatus(StrEnum):
    """What the write-back says of an order's last sync (the values it writes)."""

    SYNCED = "Synced"
    CANCELED = "Canceled"
    ERROR = "Error"


@runtime_checkable
class OrgRecords(Protocol):
    """The org's records in domain terms (``salesforce.records.SalesforceRecords``; the
    shipped ``testing.FakeOrg``): what the engine reads off an order as the source gave
    it, without naming a Salesforce field."""

    def contract_id(self, bundle: OrderBundle) -> str | None:
        """The Contract the Order is on, if any."""
        ...

    def contract_key(self, bundle: OrderBundle) -> str:
        """Whose orders run one after the other: the Contract, else the Order itself."""
        ...

    def modstamp(self, bundle: OrderBundle) -> datetime | None:
        """The newest change stamp of the Order and its items, a UTC datetime."""
        ...

    def names_schedule(self, bundle: OrderBundle) -> bool:
        """The Order or its Contract already carries a Stripe schedule id."""
        ...

    def stripe_account(self, bundle: OrderBundle) -> str | None:
        """The Stripe account the Order names (None: the default account)."""
        ...

    def sync_status(self, bundle: OrderBundle) -> SyncStatus | None:
        """What the write-back last wrote of the order's sync, if anything."""
        ...

    def unknown_account(self, order_id: str, message: str) -> OrderIssue:
        """The order names a Stripe account the configuration lacks: an issue pointing
        at the Order field that names it."""
        ...


class RemoteScheduleLike(Protocol):
    """What the engine reads of a Stripe schedule (``stripe.gateway.RemoteSchedule``)."""

    @property
    def id(self) -> str: ...
    @property
    def customer(self) -> str: ...
    @property
    def status(self) -> str:
        """Stripe's word for it, only to show; decide with ``is_finished``."""
        ...
    @property
    def is_finished(self) -> bool:
        """Canceled, released or completed: it can no longer be changed."""
        ...
    @property
    def metadata(self) -> dict[str, str]: ...
    @property
    def phases(self) -> tuple[Phase, ...]: ...
    @property
    def current_phase_start(self) -> datetime | None: ...
    @property
    def contract_key(self) -> str | None:
        """The contract it bills, as our metadata on it says, if any."""
        ...
    @property
    def fingerprint(self) -> str | None:
        """The fingerprint of the plan we last applied to it (its metadata), if any."""
        ...


class ScheduleResultLike(Protocol):
    @property
    def schedule(self) -> RemoteScheduleLike: ...
    @property
    def request_ids(self) -> tuple[str, ...]: ...
    @property
    def writes(self) -> int: ...


class BillingGateway(Protocol):
    """One Stripe account, driven through the stripe SDK (``stripe.gateway.StripeGateway``)."""

    def ensure_customer(
        self,
        *,
        account_id: str,
        name: str | None,
        known_customer_id: str | None,
        metadata: dict[str, str],
    ) -> tuple[str, bool]: ...

    def find_schedule(
        self, *, customer_id: str, contract_key: str, fresh: bool = False
    ) -> RemoteScheduleLike | None:
        """The customer's schedule for the contract; the customer's schedules are listed
        once per gateway unless ``fresh``."""
        ...

    def retrieve_schedule(self, schedule_id: str) -> RemoteScheduleLike: ...

    def price_facts(self, price_ids: Sequence[str]) -> PriceCatalog:
        """What Stripe says each price bills; ids Stripe lacks in ``missing``."""
        ...

    def create_schedule(
        self, plan: OrderPlan, *, customer_id: str, op_key: str
    ) -> ScheduleResultLike: ...

    def update_schedule(
        self,
        plan: OrderPlan,
        *,
        schedule_id: str,
        op_key: str,
        current: Any = None,
    ) -> ScheduleResultLike:
        """``current``: what this gateway's own ``retrieve_schedule`` returned, if read."""
        ...

    def cancel_schedule(self, plan: OrderPlan, *, op_key: str) -> ScheduleResultLike:
        """Cancel ``plan.schedule_id`` now, as the plan says (``invoice_now``, ``prorate``)."""
        ...


class StateStore(Protocol):
    """What the engine remembers between runs (``state.store.StateStore``, on SQLite or
    PostgreSQL): the methods the engine and its collaborators call, nothing more."""

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql`` (a lease of a dead local process is taken at once
        only on the single-host SQLite store)."""
        ...

    def get_watermark(self, source: str) -> datetime | None: ...
    def set_watermark(self, source: str, value: datetime) -> None: ...
    def put_id(self, account: str, kind: str, salesforce_id: str, stripe_id: str) -> None: ...
    def get_stripe_id(self, account: str, kind: str, salesforce_id: str) -> str | None: ...
    def get_contract(self, account: str, contract_key: str) -> ContractState | None: ...
    def put_contract(self, state: ContractState) -> None: ...

    def journal_begin(
        self, *, run_id: str, order_id: str, contract_key: str, account: str,
        operation: str, fingerprint: str, idempotency_key: str,
        payload: Mapping[str, Any] | None = None,
    ) -> JournalEntry:
        """A PLANNED entry, or the unfinished one this key already has (a FAILED one is
        revived); the same key for another operation raises ``IdempotencyConflict``."""
        ...

    def journal_mark(
        self, entry_id: int, state: JournalState, *, stripe_id: str | None = None,
        request_ids: Sequence[str] = (), error_code: str | None = None,
        error_message: str | None = None,
    ) -> JournalEntry:
        """Move an entry along the journal's state machine (else ``IllegalTransition``)."""
        ...

    def journal_send(
        self, *, run_id: str, order_id: str, contract_key: str, account: str,
        operation: str, fingerprint: str, idempotency_key: str,
        payload: Mapping[str, Any] | None = None,
    ) -> JournalEntry:
        """``journal_begin`` and the move to SENT in one durable step, before the request
        leaves (a PLANNED entry becomes SENT; SENT and CONFIRMED stay)."""
        ...

    def journal_confirm(
        self, entry_id: int, *, stripe_id: str, request_ids: Sequence[str] = (),
        contract: ContractState | None = None, ids: Sequence[IdLink] = (),
    ) -> JournalEntry:
        """CONFIRMED, the contract's new state and the id-map rows: all, or none."""
        ...

    def journal_mark_many(self, entry_ids: Sequence[int], state: JournalState) -> list[int]:
        """Move many entries at once; those that may not move are left; the ids moved."""
        ...

    def journal_unfinished(self) -> list[JournalEntry]: ...
    def journal_for_order(self, order_id: str) -> list[JournalEntry]: ...
    def acquire_lease(self, key: str, owner: str, ttl_seconds: float, now: datetime) -> bool: ...
    def release_lease(self, key: str, owner: str) -> None: ...

    def acquire_leases(self, keys: Sequence[str], owner: str, ttl_seconds: float,
                       now: datetime) -> list[str]:
        """``acquire_lease`` for many keys at once; the keys taken."""
        ...

    def release_leases(self, keys: Sequence[str], owner: str) -> None: ...
    def renew_leases(self, owner: str, ttl_seconds: float, now: datetime) -> int: ...
    def lease_holder(self, key: str, now: datetime) -> str | None: ...
    def run_start(self, run_id: str, *, mode: str, started_at: datetime) -> None: ...

    def run_finish(
        self, run_id: str, *, finished_at: datetime, counts: Mapping[str, int],
        stripe_writes: int, salesforce_calls: int, failed_orders: Sequence[FailedOrder],
        succeeded_orders: Sequence[str] = (),
    ) -> None: ...
