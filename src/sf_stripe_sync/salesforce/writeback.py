"""Write results back to Salesforce: ids, sync status, and one Sync_Log__c per operation.

Theory of operation: the engine hands every finished order to a ``WriteBackBatch``
(``add_success`` / ``add_failure``); nothing is written until ``flush``, which sends the
Account, Contract and Order updates as sObject collections (the writer chunks them 200
a collection) and then the ``Sync_Log__c`` inserts; a writer that can send several
writes together (``BatchWriteBack``) gets them all in one ``write_many``, in that order
(one composite call for a page). Several orders touching the same Contract
or Account are merged into one record update. ``flush`` returns, per order id, the
write errors of that order's records so the engine can leave the journal entry
unfinished (it is retried on the next run) instead of losing the write.

While a run goes on, ``take_full`` takes only whole composite calls' worth of full
collections (200 records; the updates of any sObjects, which share collections, and the
logs, counted apart; five collections a call), parents first (Accounts, Contracts, then
Orders) and oldest first, and leaves the rest for a later flush or the run's end (which
flushes the whole batch), so a run of N records costs about N / 1,000 calls instead of
one partly filled call per flush. ``orders_waiting`` names the orders that still have a
record here: their journal entries wait for the flush that carries it.

A log is never written twice, whichever host writes it: each carries a unique external
id, ``Sync_Key__c`` (the operation's idempotency key; for a failure, a key derived from
the Order's version, the operation and the message, ``core.keys.failure_log_key``), and
a writer that can upsert (``Upserter``, the Salesforce one) upserts the logs on it: a
second host, a rerun or a retry of a lost answer updates the one record. Without
upsert, when the insert fails in a way that may have applied it (answer lost, retries
run out) and the writer can look records up (``RecordFinder``), the batch's logs are
looked up by order, status and idempotency key and only the missing ones are inserted;
a resumed write-back (``verify_log``) looks first.

Loop guard: an order's own fields are only written when they change (a failed order
that fails the same way again is not rewritten), so the write-back does not keep
bumping ``SystemModstamp`` and re-triggering the scheduled sync.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sf_stripe_sync.core.dates import iso_z
from sf_stripe_sync.core.keys import failure_log_key
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.crashpoints import crashpoint
from sf_stripe_sync.errors import TransientError
from sf_stripe_sync.ports import (
    BatchWriteBack,
    PendingWriteBack,
    RecordFinder,
    RecordResult,
    SyncStatus,
    Upserter,
    WriteBack,
    WriteOp,
)
from sf_stripe_sync.salesforce.writer import COLLECTION_LIMIT, COLLECTIONS_PER_COMPOSITE

STATUS_SYNCED = SyncStatus.SYNCED.value
STATUS_CANCELED = SyncStatus.CANCELED.value
STATUS_ERROR = SyncStatus.ERROR.value
PARENTS_FIRST = ("Account", "Contract", "Order")
"""The order record updates are sent in (an Order's parents before it)."""
MESSAGE_LIMIT = 255
LOG_MESSAGE_LIMIT = 32000


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass
class WriteBackBatch:
    fields: FieldMap
    now: datetime
    _updates: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(dict)
    )
    _owners: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))
    _logs: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _verify: set[int] = field(default_factory=set)
    """Indexes of ``_logs`` that may already be in Salesforce (a resumed write-back)."""
    _log_at: dict[str, int] = field(default_factory=dict)
    """Each log's index in ``_logs`` by its sync key (one operation, one log)."""

    def __len__(self) -> int:
        return sum(len(v) for v in self._updates.values()) + len(self._logs)

    def take_full(self, threshold: int) -> PendingWriteBack | None:
        """Mid-run: the full collections waiting, as whole composite calls (or, when
        ``threshold`` asks for less than a call, as many full collections as wait), taken
        out of this batch into a new one; None while fewer than ``threshold`` records
        wait in full collections. Never a partly filled collection: the rest waits."""
        size = COLLECTION_LIMIT
        updates = [(sobject, record_id) for sobject in self._update_order()
                   for record_id in self._updates[sobject]]
        full = len(updates) // size + len(self._logs) // size
        if not full or full * size < threshold:
            return None
        send = full if full < COLLECTIONS_PER_COMPOSITE else (
            full - full % COLLECTIONS_PER_COMPOSITE)
        taken = WriteBackBatch(self.fields, self.now)
        moved = min(len(updates) // size, send) * size
        for sobject, record_id in updates[:moved]:
            taken._updates[sobject][record_id] = self._updates[sobject].pop(record_id)
            taken._owners[(sobject, record_id)] = self._owners.pop((sobject, record_id))
        logs = (send - moved // size) * size
        taken._logs, self._logs = self._logs[:logs], self._logs[logs:]
        taken._verify = {i for i in self._verify if i < logs}
        self._verify = {i - logs for i in self._verify if i >= logs}
        key = self.fields.sync_log_sync_key
        taken._log_at = {row[key]: i for i, (_, row) in enumerate(taken._logs)}
        self._log_at = {row[key]: i for i, (_, row) in enumerate(self._logs)}
        return taken

    def orders_waiting(self) -> set[str]:
        """The orders that have a record (an update they share, or a log) in this batch."""
        waiting = {order_id for owners in self._owners.values() for order_id in owners}
        waiting.update(order_id for order_id, _ in self._logs)
        return waiting

    def _update_order(self) -> list[str]:
        """The sObjects with updates, parents first (any other after, as recorded)."""
        known = [s for s in PARENTS_FIRST if self._updates.get(s)]
        return known + [s for s in self._updates if s not in PARENTS_FIRST and self._updates[s]]

    def _update(self, order_id: str, sobject: str, record_id: str, values: dict[str, Any]) -> None:
        record = self._updates[sobject].setdefault(record_id, {"Id": record_id})
        record.update(values)
        self._owners[(sobject, record_id)].add(order_id)

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
        log: bool = True,
        verify_log: bool = False,
        status: str = STATUS_SYNCED,
    ) -> None:
        """``status``: the Order's sync status (``operations``: what the operation's row
        says). ``verify_log``: an interrupted run may have written this log already; it
        is looked up first (by order, status and idempotency key) and not written twice."""
        f = self.fields
        order_id = str(order["Id"])
        wanted = {f.order_schedule: schedule_id, f.sync_status: status, f.sync_error: None}
        if any(order.get(k) != v for k, v in wanted.items()):
            self._update(order_id, "Order", order_id,
                         {**wanted, f.last_synced_at: iso_z(self.now)})
        if contract_id and contract_schedule_id != schedule_id:
            self._update(order_id, "Contract", contract_id, {f.contract_schedule: schedule_id})
        if account_id and customer_id and known_customer_id != customer_id:
            self._update(order_id, "Account", account_id, {f.account_customer: customer_id})
        if log:
            index = self._log(order_id, operation, "Success", message, idempotency_key,
                              request_ids, idempotency_key
                              or failure_log_key(order_id, "", operation, "", message))
            if verify_log:
                self._verify.add(index)

    def add_failure(
        self,
        *,
        order: dict[str, Any],
        operation: str,
        message: str,
        idempotency_key: str | None = None,
        request_ids: tuple[str, ...] = (),
    ) -> bool:
        """Record a failure; returns False when the Order already says exactly this."""
        f = self.fields
        order_id = str(order["Id"])
        short = _clip(message, MESSAGE_LIMIT)
        if order.get(f.sync_status) == STATUS_ERROR and order.get(f.sync_error) == short:
            return False
        self._update(order_id, "Order", order_id, {
            f.sync_status: STATUS_ERROR, f.sync_error: short, f.last_synced_at: iso_z(self.now),
        })
        version = str(order.get("SystemModstamp") or order.get("LastModifiedDate") or "")
        sync_key = failure_log_key(order_id, version, operation, idempotency_key or "", message)
        self._log(order_id, operation, "Failed", message, idempotency_key, request_ids, sync_key)
        return True

    def _log(
        self,
        order_id: str,
        operation: str,
        status: str,
        message: str,
        idempotency_key: str | None,
        request_ids: tuple[str, ...],
        sync_key: str,
    ) -> int:
        """Add (or replace: one operation, one log, as an upsert may not name one key
        twice) the log of ``sync_key``; its index in ``_logs``."""
        f = self.fields
        row = {
            f.sync_log_order: order_id,
            f.sync_log_operation: operation,
            f.sync_log_status: status,
            f.sync_log_message: _clip(message, LOG_MESSAGE_LIMIT),
            f.sync_log_idempotency_key: idempotency_key,
            f.sync_log_request_id: ",".join(request_ids)[:255] or None,
            f.sync_log_sync_key: sync_key,
        }
        index = self._log_at.get(sync_key)
        if index is not None:
            self._logs[index] = (order_id, row)
            return index
        self._log_at[sync_key] = len(self._logs)
        self._logs.append((order_id, row))
        return len(self._logs) - 1

    def flush(self, writer: WriteBack) -> dict[str, list[str]]:
        """Send everything; returns ``{order_id: [problems]}`` for orders not fully written."""
        problems: dict[str, list[str]] = defaultdict(list)
        if not self._flush_together(writer, problems):
            self._flush_apart(writer, problems)
        self._updates.clear()
        self._owners.clear()
        self._logs.clear()
        self._verify.clear()
        self._log_at.clear()
        return dict(problems)

    def _flush_together(self, writer: WriteBack, problems: dict[str, list[str]]) -> bool:
        """Updates and log upserts (or inserts) in one ``write_many`` (one composite call a
        page). False when the writer cannot batch, or when the answer was lost with logs
        in it: the caller then writes apart, upserting again or looking inserted logs up
        first (the updates are safe to repeat)."""
        if not isinstance(writer, BatchWriteBack):
            return False
        updates = self._update_batches()
        upsert = isinstance(writer, Upserter)
        pending = list(range(len(self._logs))) if upsert else self._logs_to_insert(writer)
        ops = [WriteOp("update", sobject, records) for sobject, records in updates]
        if pending:
            ops.append(WriteOp("upsert" if upsert else "insert", self.fields.sync_log_object,
                               [self._logs[i][1] for i in pending],
                               self.fields.sync_log_sync_key if upsert else ""))
        if not ops:
            return True
        try:
            results = writer.write_many(ops)
        except TransientError:
            if not pending or not (upsert or isinstance(writer, RecordFinder)):
                raise
            if not upsert:  # an upsert is safe to send again as it is
                self._verify.update(pending)
            return False
        crashpoint("mid_writeback")
        for (sobject, records), outcome in zip(updates, results, strict=False):
            self._collect(problems, sobject, records, outcome)
        if pending:
            self._note_log_failures(problems, pending, results[-1])
        return True

    def _flush_apart(self, writer: WriteBack, problems: dict[str, list[str]]) -> None:
        for sobject, records in self._update_batches():
            results = writer.update(sobject, records)
            self._collect(problems, sobject, records, results)
        crashpoint("mid_writeback")
        if self._logs and isinstance(writer, Upserter):
            results = writer.upsert(self.fields.sync_log_object, self.fields.sync_log_sync_key,
                                    [row for _, row in self._logs])
            self._note_log_failures(problems, list(range(len(self._logs))), results)
        elif self._logs:
            self._insert_logs(writer, problems)

    def _insert_logs(self, writer: WriteBack, problems: dict[str, list[str]]) -> None:
        """Insert the logs, never one twice: logs a resumed write-back may have written
        are looked up first, and an insert whose answer was lost (or whose retries ran
        out) is followed by a look-up and one insert of only what is still missing."""
        log_object = self.fields.sync_log_object
        pending = self._logs_to_insert(writer)
        if not pending:
            return
        try:
            results = writer.insert(log_object, [self._logs[i][1] for i in pending])
        except TransientError:
            if not isinstance(writer, RecordFinder):
                raise
            landed = self._landed(writer, pending)
            pending = [i for i in pending if i not in landed]
            if not pending:
                return
            results = writer.insert(log_object, [self._logs[i][1] for i in pending])
        self._note_log_failures(problems, pending, results)

    def _update_batches(self) -> list[tuple[str, list[dict[str, Any]]]]:
        """The record updates per sObject, parents first, leaving out empty ones."""
        return [(sobject, list(self._updates[sobject].values()))
                for sobject in self._update_order()]

    def _logs_to_insert(self, writer: WriteBack) -> list[int]:
        """Indexes of the logs still to insert: all, less those a resumed write-back
        may already have written (looked up, so none is written twice)."""
        pending = list(range(len(self._logs)))
        if self._verify:
            landed = self._landed(writer, sorted(self._verify))
            pending = [i for i in pending if i not in landed]
        return pending

    def _note_log_failures(
        self, problems: dict[str, list[str]], pending: list[int], results: list[RecordResult]
    ) -> None:
        log_object = self.fields.sync_log_object
        for index, result in zip(pending, results, strict=True):
            if not result.success:
                problems[self._logs[index][0]].append(
                    f"{log_object}: {'; '.join(result.errors)}")

    def _landed(self, writer: WriteBack, indexes: list[int]) -> set[int]:
        """Which of these logs Salesforce already holds (none known without a finder)."""
        if not isinstance(writer, RecordFinder) or not indexes:
            return set()
        f = self.fields
        orders = [str(self._logs[i][1][f.sync_log_order]) for i in indexes]
        wanted = [f.sync_log_order, f.sync_log_status, f.sync_log_operation,
                  f.sync_log_idempotency_key, f.sync_log_message]
        existing = {self._identity(record)
                    for record in writer.find(f.sync_log_object, f.sync_log_order, orders, wanted)}
        return {i for i in indexes if self._identity(self._logs[i][1]) in existing}

    def _identity(self, row: dict[str, Any]) -> tuple[str, ...]:
        """What makes two logs the same: order, status and key (else operation and text)."""
        f = self.fields
        order = str(row.get(f.sync_log_order) or "")[:15]
        status = str(row.get(f.sync_log_status) or "")
        key = row.get(f.sync_log_idempotency_key)
        if key:
            return (order, status, str(key))
        return (order, status, str(row.get(f.sync_log_operation) or ""),
                str(row.get(f.sync_log_message) or ""))

    def _collect(
        self,
        problems: dict[str, list[str]],
        sobject: str,
        records: list[dict[str, Any]],
        results: list[RecordResult],
    ) -> None:
        for record, result in zip(records, results, strict=True):
            if result.success:
                continue
            for order_id in self._owners[(sobject, record["Id"])]:
                problems[order_id].append(
                    f"{sobject} {record['Id']}: {'; '.join(result.errors) or 'not written'}")
