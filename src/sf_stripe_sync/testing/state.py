"""An in-memory ``ports.StateStore``: watermarks, id map, contract state, the operation
journal, leases and runs in dicts, for engine tests that need no database.

Theory of operation: each method takes one lock (the stores' write transaction) and
follows the real store's rules, reusing its records and state machine
(``state.records``): ``journal_begin`` returns the unfinished entry a key already has,
revives a FAILED one (attempts + 1) and refuses the key for another operation
(``IdempotencyConflict``); ``journal_mark`` moves only along
``records.check_transition``, accumulates request ids, records the order's failure on
FAILED and clears it on WRITTEN_BACK; a lease is held until it expires, taken over
after, extended by its own holder. Datetimes must be timezone-aware, as in the store.
It holds nothing across processes: for multi-process tests use the SQLite store.
``tests/conformance`` runs the same suite on this, SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sf_stripe_sync.errors import IdempotencyConflict
from sf_stripe_sync.state.errors import IllegalTransition, StateUsageError
from sf_stripe_sync.state.mappings import IdLink
from sf_stripe_sync.state.records import (
    ID_KINDS,
    ContractState,
    FailedOrder,
    JournalEntry,
    JournalState,
    RunSummary,
    check_transition,
)


def _aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None:
        raise StateUsageError(f"{what} must be timezone-aware")
    return value.astimezone(UTC)


class MemoryStateStore:
    """``ports.StateStore`` in memory (one process, any number of threads)."""

    backend = "memory"

    def __init__(self, *, clock: Callable[[], datetime] | None = None) -> None:
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self.watermarks: dict[str, datetime] = {}
        self.ids: dict[tuple[str, str, str], str] = {}
        self.contracts: dict[tuple[str, str], ContractState] = {}
        self.journal: list[JournalEntry] = []
        self.leases: dict[str, tuple[str, datetime]] = {}
        self.runs: dict[str, RunSummary] = {}
        self.failures: dict[str, FailedOrder] = {}

    # ------------------------------------------------------------------ mappings

    def get_watermark(self, source: str) -> datetime | None:
        return self.watermarks.get(source)

    def set_watermark(self, source: str, value: datetime) -> None:
        if not source:
            raise StateUsageError("a watermark needs a non-empty source")
        with self._lock:
            self.watermarks[source] = _aware(value, "watermark")

    def put_id(self, account: str, kind: str, salesforce_id: str, stripe_id: str) -> None:
        if kind not in ID_KINDS or not (account and salesforce_id and stripe_id):
            raise StateUsageError(f"bad id mapping {kind!r} {salesforce_id!r} -> {stripe_id!r}")
        with self._lock:
            self.ids[(account, kind, salesforce_id)] = stripe_id

    def get_stripe_id(self, account: str, kind: str, salesforce_id: str) -> str | None:
        return self.ids.get((account, kind, salesforce_id))

    def get_contract(self, account: str, contract_key: str) -> ContractState | None:
        return self.contracts.get((account, contract_key))

    def put_contract(self, state: ContractState) -> None:
        if not (state.account and state.contract_key):
            raise StateUsageError("a contract state needs a non-empty account and contract_key")
        with self._lock:
            self.contracts[(state.account, state.contract_key)] = state

    # ------------------------------------------------------------------ journal

    def journal_begin(
        self, *, run_id: str, order_id: str, contract_key: str, account: str,
        operation: str, fingerprint: str, idempotency_key: str,
        payload: Mapping[str, Any] | None = None,
    ) -> JournalEntry:
        identity = {"contract_key": contract_key, "account": account,
                    "operation": operation, "fingerprint": fingerprint}
        if not all((run_id, order_id, idempotency_key, *identity.values())):
            raise StateUsageError("journal entry needs non-empty ids, key and identity")
        now = _aware(self._clock(), "now")
        with self._lock:
            latest = next((e for e in reversed(self.journal)
                           if e.idempotency_key == idempotency_key), None)
            if latest is not None:
                differing = sorted(k for k, v in identity.items() if getattr(latest, k) != v)
                if differing:
                    raise IdempotencyConflict(
                        f"idempotency key of journal entry {latest.id} reused with a different "
                        f"{', '.join(differing)}", code="idempotency_key_reused")
                if latest.is_unfinished:
                    return latest
                if latest.state is JournalState.FAILED:
                    return self._replace(latest, state=JournalState.PLANNED, run_id=run_id,
                                         order_id=order_id, error_code=None,
                                         error_message=None, attempts=latest.attempts + 1,
                                         payload=dict(payload or latest.payload),
                                         updated_at=now)
            entry = JournalEntry(id=len(self.journal) + 1, run_id=run_id, order_id=order_id,
                                 idempotency_key=idempotency_key, state=JournalState.PLANNED,
                                 payload=dict(payload or {}), created_at=now, updated_at=now,
                                 **identity)
            self.journal.append(entry)
            return entry

    def _replace(self, entry: JournalEntry, **changes: Any) -> JournalEntry:
        updated = entry.model_copy(update=changes)
        self.journal[entry.id - 1] = updated
        return updated

    def journal_mark(
        self, entry_id: int, state: JournalState, *, stripe_id: str | None = None,
        request_ids: Sequence[str] = (), error_code: str | None = None,
        error_message: str | None = None,
    ) -> JournalEntry:
        if isinstance(request_ids, str):
            raise StateUsageError("request_ids must be a sequence of ids, not one string")
        with self._lock:
            if not 0 < entry_id <= len(self.journal):
                raise StateUsageError(f"no journal entry {entry_id}")
            current = self.journal[entry_id - 1]
            check_transition(entry_id, current.state, JournalState(state))
            merged = list(current.request_ids)
            merged += [r for r in dict.fromkeys(request_ids) if r and r not in merged]
            updated = self._replace(
                current, state=JournalState(state), stripe_id=stripe_id or current.stripe_id,
                request_ids=tuple(merged), error_code=error_code or current.error_code,
                error_message=error_message or current.error_message,
                updated_at=_aware(self._clock(), "now"))
            if updated.state is JournalState.FAILED:
                self.failures[updated.order_id] = FailedOrder(
                    order_id=updated.order_id, code=updated.error_code or "failed",
                    message=updated.error_message or "")
            elif updated.state is JournalState.WRITTEN_BACK:
                self.failures.pop(updated.order_id, None)
            return updated

    def journal_send(
        self, *, run_id: str, order_id: str, contract_key: str, account: str,
        operation: str, fingerprint: str, idempotency_key: str,
        payload: Mapping[str, Any] | None = None,
    ) -> JournalEntry:
        with self._lock:  # reentrant: begin and mark as one step
            entry = self.journal_begin(
                run_id=run_id, order_id=order_id, contract_key=contract_key,
                account=account, operation=operation, fingerprint=fingerprint,
                idempotency_key=idempotency_key, payload=payload)
            if entry.state is JournalState.PLANNED:
                entry = self.journal_mark(entry.id, JournalState.SENT)
            return entry

    def journal_confirm(
        self, entry_id: int, *, stripe_id: str, request_ids: Sequence[str] = (),
        contract: ContractState | None = None, ids: Sequence[IdLink] = (),
    ) -> JournalEntry:
        with self._lock:
            for link in ids:  # checked before anything changes: all or nothing
                if link.kind not in ID_KINDS or not all(link):
                    raise StateUsageError(f"bad id mapping {link!r}")
            if contract is not None and not (contract.account and contract.contract_key):
                raise StateUsageError("a contract state needs a non-empty account and "
                                      "contract_key")
            entry = self.journal_mark(entry_id, JournalState.CONFIRMED, stripe_id=stripe_id,
                                      request_ids=request_ids)
            if contract is not None:
                self.put_contract(contract)
            for link in ids:
                self.put_id(*link)
            return entry

    def journal_mark_many(self, entry_ids: Sequence[int], state: JournalState) -> list[int]:
        if JournalState(state) is JournalState.FAILED:
            raise StateUsageError("mark entries FAILED one by one, each with its error")
        moved: list[int] = []
        with self._lock:
            for entry_id in dict.fromkeys(entry_ids):
                if not 0 < entry_id <= len(self.journal):
                    continue
                try:
                    self.journal_mark(entry_id, state)
                except IllegalTransition:
                    continue
                moved.append(entry_id)
        return moved

    def journal_unfinished(self) -> list[JournalEntry]:
        with self._lock:
            return [e for e in self.journal if e.is_unfinished]

    def journal_for_order(self, order_id: str) -> list[JournalEntry]:
        with self._lock:
            return [e for e in self.journal if e.order_id == order_id]

    # ------------------------------------------------------------------ leases

    def acquire_lease(self, key: str, owner: str, ttl_seconds: float, now: datetime) -> bool:
        if not key or not owner or not ttl_seconds > 0:
            raise StateUsageError("a lease needs a key, an owner and a positive ttl")
        now = _aware(now, "lease now")
        with self._lock:
            held = self.leases.get(key)
            if held is not None and held[0] != owner and held[1] > now:
                return False
            self.leases[key] = (owner, now + timedelta(seconds=ttl_seconds))
            return True

    def acquire_leases(self, keys: Sequence[str], owner: str, ttl_seconds: float,
                       now: datetime) -> list[str]:
        with self._lock:
            return [k for k in dict.fromkeys(keys)
                    if self.acquire_lease(k, owner, ttl_seconds, now)]

    def release_leases(self, keys: Sequence[str], owner: str) -> None:
        with self._lock:
            for key in keys:
                self.release_lease(key, owner)

    def release_lease(self, key: str, owner: str) -> None:
        with self._lock:
            if self.leases.get(key, ("", None))[0] == owner:
                del self.leases[key]

    def renew_leases(self, owner: str, ttl_seconds: float, now: datetime) -> int:
        until = _aware(now, "lease now") + timedelta(seconds=ttl_seconds)
        with self._lock:
            mine = [k for k, (holder, _) in self.leases.items() if holder == owner]
            for key in mine:
                self.leases[key] = (owner, until)
            return len(mine)

    def lease_holder(self, key: str, now: datetime) -> str | None:
        with self._lock:
            held = self.leases.get(key)
        return held[0] if held is not None and held[1] > _aware(now, "lease now") else None

    # ------------------------------------------------------------------ runs

    def run_start(self, run_id: str, *, mode: str, started_at: datetime) -> None:
        with self._lock:
            self.runs[run_id] = RunSummary(run_id=run_id, mode=mode,
                                           started_at=_aware(started_at, "started_at"))

    def run_finish(
        self, run_id: str, *, finished_at: datetime, counts: Mapping[str, int],
        stripe_writes: int, salesforce_calls: int, failed_orders: Sequence[FailedOrder],
        succeeded_orders: Sequence[str] = (),
    ) -> None:
        with self._lock:
            run = self.runs.get(run_id)
            if run is None or run.finished_at is not None:
                raise StateUsageError(f"run {run_id} was never started or already finished")
            self.runs[run_id] = run.model_copy(update={
                "finished_at": _aware(finished_at, "finished_at"), "counts": dict(counts),
                "stripe_writes": stripe_writes, "salesforce_calls": salesforce_calls,
                "failed_orders": tuple(failed_orders)})
            failed = {f.order_id for f in failed_orders}
            for order_id in succeeded_orders:
                if order_id not in failed:
                    self.failures.pop(order_id, None)
            for failure in failed_orders:
                self.failures[failure.order_id] = failure

    def get_run(self, run_id: str) -> RunSummary | None:
        return self.runs.get(run_id)

    def failed_orders(self) -> list[FailedOrder]:
        with self._lock:
            return list(self.failures.values())
