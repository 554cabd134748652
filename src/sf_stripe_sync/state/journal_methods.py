"""The state store's journal methods: what a crashed run resumes from.

Theory of operation: ``StateStore`` takes these methods as a base class, so the store's
one public surface stays in one class while its journal part (the operation journal's
planned -> sent -> confirmed -> written back, or failed) reads on its own. Each method is
one short transaction over ``state.journal``: writes on the write connection (the
store's write lock), single reads alone (``query``). The state machine itself is
``records.check_transition``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sf_stripe_sync.state import journal
from sf_stripe_sync.state.mappings import IdLink
from sf_stripe_sync.state.records import ContractState, JournalEntry, JournalState
from sf_stripe_sync.state.sql import Database

Clock = Callable[[], datetime]


class JournalMethods:
    """The journal part of ``StateStore`` (its ``_pool`` and ``_clock``)."""

    _pool: Database
    _clock: Clock

    def journal_begin(
        self,
        *,
        run_id: str,
        order_id: str,
        contract_key: str,
        account: str,
        operation: str,
        fingerprint: str,
        idempotency_key: str,
        payload: Mapping[str, Any] | None = None,
    ) -> JournalEntry:
        """A PLANNED entry for this operation, or the unfinished one its key already has.

        A key whose last entry FAILED is revived to PLANNED (attempts + 1). The same key
        with a different order, contract, account, operation or fingerprint raises
        ``IdempotencyConflict``. ``payload`` is a small plan summary: ids, amounts as
        int or Decimal, dates; never a credential.
        """
        with self._pool.write() as conn:
            return journal.begin(
                conn, run_id=run_id, order_id=order_id, contract_key=contract_key,
                account=account, operation=operation, fingerprint=fingerprint,
                idempotency_key=idempotency_key, payload=payload, now=self._clock(),
            )

    def journal_mark(
        self,
        entry_id: int,
        state: JournalState,
        *,
        stripe_id: str | None = None,
        request_ids: Sequence[str] = (),
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> JournalEntry:
        """Move an entry along the state machine (``records.check_transition``).

        Request ids accumulate; ``stripe_id`` and the error fields keep their old value
        when not given. FAILED also records the order's failure; WRITTEN_BACK clears it.
        An illegal transition raises ``IllegalTransition``.
        """
        with self._pool.write() as conn:
            return journal.mark(
                conn, entry_id, state, stripe_id=stripe_id, request_ids=request_ids,
                error_code=error_code, error_message=error_message, now=self._clock(),
            )

    def journal_send(
        self,
        *,
        run_id: str,
        order_id: str,
        contract_key: str,
        account: str,
        operation: str,
        fingerprint: str,
        idempotency_key: str,
        payload: Mapping[str, Any] | None = None,
    ) -> JournalEntry:
        """``journal_begin`` and the move to SENT in one transaction, committed before
        the request leaves (what a crash resumes from). An entry the key already has is
        resumed: PLANNED becomes SENT, SENT and CONFIRMED stay as they are."""
        with self._pool.write() as conn:
            return journal.begin(
                conn, run_id=run_id, order_id=order_id, contract_key=contract_key,
                account=account, operation=operation, fingerprint=fingerprint,
                idempotency_key=idempotency_key, payload=payload, now=self._clock(),
                sent=True,
            )

    def journal_confirm(
        self,
        entry_id: int,
        *,
        stripe_id: str,
        request_ids: Sequence[str] = (),
        contract: ContractState | None = None,
        ids: Sequence[IdLink] = (),
    ) -> JournalEntry:
        """Mark the entry CONFIRMED and save the contract's new state and the id-map
        rows of what Stripe made, in one transaction (all of them, or none)."""
        with self._pool.write() as conn:
            return journal.confirm(conn, entry_id, stripe_id=stripe_id,
                                   request_ids=request_ids, contract=contract, ids=ids,
                                   now=self._clock())

    def journal_mark_many(self, entry_ids: Sequence[int], state: JournalState) -> list[int]:
        """Move many entries at once (a write-back flush: WRITTEN_BACK), in one
        transaction; entries the state machine does not let move are left alone. The
        ids moved. FAILED is refused (it needs each entry's error: ``journal_mark``)."""
        with self._pool.write() as conn:
            return journal.mark_many(conn, entry_ids, state, self._clock())

    def journal_entry(self, entry_id: int) -> JournalEntry:
        with self._pool.query() as conn:
            return journal.get(conn, entry_id)

    def journal_unfinished(self) -> list[JournalEntry]:
        """PLANNED, SENT and CONFIRMED entries, oldest first: what a new run resumes."""
        with self._pool.query() as conn:
            return journal.unfinished(conn)

    def journal_for_order(self, order_id: str) -> list[JournalEntry]:
        with self._pool.query() as conn:
            return journal.for_order(conn, order_id)

    def journal_recent(self, limit: int = 50) -> list[JournalEntry]:
        """The newest entries first."""
        with self._pool.read() as conn:
            return journal.recent(conn, limit)
