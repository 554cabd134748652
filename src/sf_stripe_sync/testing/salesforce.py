"""An in-memory Salesforce org: ``ports.OrderSource`` for reads, ``ports.WriteBack``
(with upsert, batches and look-ups) for writes, over one mutable snapshot.

Theory of operation: ``FakeOrg`` holds records per sObject, in the snapshot format of
``sources.file_source`` (and of the local org). Reads are answered by a
``FileOrderSource`` over the records as they are now, so a write-back is seen by the
next read, as in a real org. Writes follow the org's per-record rules, with the org's
schema (``sandbox.salesforce_org.describe.OrgSchema``: standard fields, the project's
custom fields and objects, fields seen in the records): an unknown field is
``INVALID_FIELD``, an unknown id ``INVALID_CROSS_REFERENCE_KEY``, an insert naming an
``Id`` ``INVALID_FIELD_FOR_INSERT_UPDATE``; one bad record fails alone, the others are
written. Every write stamps ``LastModifiedDate`` / ``SystemModstamp`` from the org's
clock, so a changed record is seen again by ``changed_since``. External ids match
without regard to case, as Salesforce's do.

As ``OrgRecords`` it reads its bundles with the real adapter's field names
(``salesforce.records``), on the records its own writes stamped.

``calls`` counts the requests a real org would have received (one per sObject call).
``tests/conformance`` runs the same suite against this fake and the real adapters on the
local org, so the two cannot drift apart.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sf_stripe_sync.core.issues import OrderIssue
from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.core.rules import FieldMap, SyncRules
from sf_stripe_sync.ports import RecordResult, SyncStatus, WriteOp
from sf_stripe_sync.salesforce.records import SalesforceRecords
from sf_stripe_sync.sandbox.salesforce_org.describe import ObjectSpec, OrgSchema
from sf_stripe_sync.sources.file_source import FileOrderSource, load_snapshot

Record = dict[str, Any]


def _stamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _failed(record_id: str | None, code: str, message: str) -> RecordResult:
    return RecordResult(id=record_id, success=False, errors=(f"{code}: {message}",))


class FakeOrg:
    """One org's records in memory, readable as an ``OrderSource``, writable as a
    ``WriteBack``, and read in domain terms as ``OrgRecords``."""

    def __init__(self, snapshot: Mapping[str, Any], *, fields: FieldMap | None = None,
                 rules: SyncRules | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.fields = fields or FieldMap()
        self.rules = rules or SyncRules()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.schema = OrgSchema(snapshot)
        self._records: dict[str, dict[str, Record]] = {}
        for name, records in snapshot.items():
            if isinstance(records, list):
                self._records[name] = {r["Id"]: dict(r) for r in records
                                       if isinstance(r, dict) and r.get("Id")}
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self.calls = 0
        self._shapes = SalesforceRecords(self.fields)

    def records(self, sobject: str) -> list[Record]:
        """Every record of ``sobject`` as it is now (copies)."""
        with self._lock:
            return [dict(r) for r in self._records.get(sobject, {}).values()]

    def _source(self) -> FileOrderSource:
        with self._lock:
            self.calls += 1
            live = {name: [dict(r) for r in by_id.values()]
                    for name, by_id in self._records.items()}
        return FileOrderSource(load_snapshot(live), fields=self.fields, rules=self.rules)

    # ------------------------------------------------------------------ OrderSource

    def orders_by_id(self, order_ids: Sequence[str]) -> list[OrderBundle]:
        return self._source().orders_by_id(order_ids)

    def activated_order_ids(self) -> list[str]:
        return self._source().activated_order_ids()

    def changed_since(self, watermark: datetime | None, page_size: int = 200
                      ) -> Iterator[list[OrderBundle]]:
        return self._source().changed_since(watermark, page_size)

    def contract_orders(self, contract_id: str) -> list[OrderBundle]:
        return self._source().contract_orders(contract_id)

    def contract_orders_many(self, contract_ids: Sequence[str]) -> dict[str, list[OrderBundle]]:
        return self._source().contract_orders_many(contract_ids)

    # ------------------------------------------------------------------ OrgRecords

    def contract_id(self, bundle: OrderBundle) -> str | None:
        return self._shapes.contract_id(bundle)

    def contract_key(self, bundle: OrderBundle) -> str:
        return self._shapes.contract_key(bundle)

    def modstamp(self, bundle: OrderBundle) -> datetime | None:
        return self._shapes.modstamp(bundle)

    def names_schedule(self, bundle: OrderBundle) -> bool:
        return self._shapes.names_schedule(bundle)

    def stripe_account(self, bundle: OrderBundle) -> str | None:
        return self._shapes.stripe_account(bundle)

    def sync_status(self, bundle: OrderBundle) -> SyncStatus | None:
        return self._shapes.sync_status(bundle)

    def unknown_account(self, order_id: str, message: str) -> OrderIssue:
        return self._shapes.unknown_account(order_id, message)

    # ------------------------------------------------------------------ WriteBack

    def update(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        return self._call(sobject, records, self._update_one)

    def insert(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        return self._call(sobject, records, self._insert_one)

    def upsert(self, sobject: str, external_id: str,
               records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        def one(obj: ObjectSpec, record: dict[str, Any]) -> RecordResult:
            key = record.get(external_id)
            if not isinstance(key, str) or not key:
                return _failed(None, "MISSING_ARGUMENT", f"{external_id} not specified")
            holder = self._find_one(obj.name, external_id, key)
            if holder is None:
                return self._insert_one(obj, record)
            return self._update_one(obj, {**record, "Id": holder["Id"]})

        return self._call(sobject, records, one)

    def write_many(self, ops: Sequence[WriteOp]) -> list[list[RecordResult]]:
        out: list[list[RecordResult]] = []
        for op in ops:
            if op.action == "upsert":
                out.append(self.upsert(op.sobject, op.external_id, op.records))
            elif op.action == "insert":
                out.append(self.insert(op.sobject, op.records))
            else:
                out.append(self.update(op.sobject, op.records))
        return out

    def find(self, sobject: str, where_field: str, values: Sequence[str],
             fields: Sequence[str]) -> list[dict[str, Any]]:
        wanted = {v.lower() for v in values}
        with self._lock:
            self.calls += 1
            found = [r for r in self._records.get(sobject, {}).values()
                     if isinstance(r.get(where_field), str) and r[where_field].lower() in wanted]
            return [{f: r.get(f) for f in fields} for r in found]

    # ------------------------------------------------------------------ one record

    def _call(self, sobject: str, records: Sequence[dict[str, Any]],
              one: Callable[[ObjectSpec, dict[str, Any]], RecordResult]) -> list[RecordResult]:
        with self._lock:
            self.calls += max(1, -(-len(records) // 200))
            obj = self.schema.find(sobject)
            if obj is None:
                return [_failed(None, "INVALID_TYPE",
                                f"sObject type '{sobject}' is not supported.")
                        for _ in records]
            return [one(obj, dict(r)) for r in records]

    def _find_one(self, sobject: str, field: str, value: str) -> Record | None:
        return next((r for r in self._records.get(sobject, {}).values()
                     if isinstance(r.get(field), str) and r[field].lower() == value.lower()),
                    None)

    def _checked(self, obj: ObjectSpec, record_id: str | None,
                 values: Mapping[str, Any]) -> RecordResult | None:
        for name in values:
            if obj.field(name) is None:
                return _failed(record_id, "INVALID_FIELD",
                               f"No such column '{name}' on sobject of type {obj.name}")
        return None

    def _update_one(self, obj: ObjectSpec, record: dict[str, Any]) -> RecordResult:
        record_id = record.pop("Id", None)
        if not isinstance(record_id, str) or not record_id:
            return _failed(None, "MISSING_ARGUMENT", "Id not specified in an update call")
        held = self._records.get(obj.name, {}).get(record_id)
        if held is None:
            return _failed(record_id, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        problem = self._checked(obj, record_id, record)
        if problem is not None:
            return problem
        stamp = _stamp(self.clock())
        held.update(record, LastModifiedDate=stamp, SystemModstamp=stamp)
        return RecordResult(id=record_id, success=True)

    def _insert_one(self, obj: ObjectSpec, record: dict[str, Any]) -> RecordResult:
        if "Id" in record:
            return _failed(None, "INVALID_FIELD_FOR_INSERT_UPDATE",
                           "cannot specify Id in an insert call")
        problem = self._checked(obj, None, record)
        if problem is not None:
            return problem
        record_id = f"{obj.key_prefix}{next(self._ids):012d}FAK"[:18]
        stamp = _stamp(self.clock())
        self._records.setdefault(obj.name, {})[record_id] = {
            **record, "Id": record_id, "CreatedDate": stamp, "LastModifiedDate": stamp,
            "SystemModstamp": stamp}
        return RecordResult(id=record_id, success=True)
