"""Records of the local org: ids, lookups by id, writes that stamp audit fields.

Theory of operation: records are kept exactly in the snapshot format (Salesforce field
names, REST value formats), one ordered dict per sObject keyed by the 15-character
form of the Id, so lookups by 15- or 18-character ids both work and query results come
back in insertion order. Every write stamps ``LastModifiedDate`` and ``SystemModstamp``
from the org's clock (real UTC time unless a test fixes it with ``set_now``). Records
loaded without audit fields get them at load, so watermark queries always have a value.

The store does no locking itself: the REST layer holds ``OrgStore.lock`` for the whole
of each call, which makes every call atomic (and a composite call all-or-none).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from sf_stripe_sync.sandbox.salesforce_org.describe import ID_PATTERN, ObjectSpec, OrgSchema
from sf_stripe_sync.sandbox.salesforce_org.ids import id_key, is_valid_id, to_18

__all__ = ["OrgStore", "id_key", "to_18"]

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Salesforce derives the read-only StatusCode (the status *category*) from Status.
_STATUS_CATEGORIES: dict[str, frozenset[str]] = {
    "Order": frozenset({"Draft", "Activated", "Cancelled", "Expired"}),
    "Contract": frozenset({"Draft", "InApproval", "Activated", "Terminated", "Expired"}),
}


def follow_status(sobject: str, record: dict[str, Any]) -> None:
    """Keep a record's StatusCode in step after its Status was written.

    Only records that carry a StatusCode get one: what a snapshot loads is exactly what
    queries read back, so nothing is invented for records that never had the field.
    Custom statuses count as Draft.
    """
    categories = _STATUS_CATEGORIES.get(sobject)
    status = record.get("Status")
    if categories is not None and isinstance(status, str) and "StatusCode" in record:
        record["StatusCode"] = status if status in categories else "Draft"


def format_datetime(moment: datetime) -> str:
    """A datetime in Salesforce's REST format: ``2025-01-01T10:00:00.000+0000`` (UTC)."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


_SCALARS = (str, int, float, bool, type(None))


def _own(value: Any) -> Any:
    """A copy the org owns (scalars are immutable: shared, which loads big orgs faster)."""
    return value if type(value) in _SCALARS else copy.deepcopy(value)


def _file(buckets: dict[str, dict[str, None]], value: Any, key: str) -> None:
    if value is not None:
        buckets.setdefault(str(value)[:15], {})[key] = None


def _unfile(buckets: dict[str, dict[str, None]], value: Any, key: str) -> None:
    if value is not None:
        bucket = buckets.get(str(value)[:15])
        if bucket is not None:
            bucket.pop(key, None)


class OrgClock:
    """Real UTC time, or a fixed instant a test sets."""

    def __init__(self) -> None:
        self._fixed: datetime | None = None

    def set(self, moment: datetime | None) -> None:
        if moment is not None and moment.tzinfo is None:
            raise ValueError("the org clock takes timezone-aware datetimes only")
        self._fixed = moment

    def now(self) -> datetime:
        return self._fixed if self._fixed is not None else datetime.now(UTC)


class OrgStore:
    def __init__(
        self,
        snapshot: Mapping[str, list[dict[str, Any]]],
        schema: OrgSchema,
        clock: OrgClock,
    ) -> None:
        self.schema = schema
        self.clock = clock
        self.lock = threading.RLock()
        self._tables: dict[str, dict[str, dict[str, Any]]] = {
            obj.name: {} for obj in schema.objects.values()
        }
        self._index: dict[str, str] = {}  # id15 -> sObject name
        self._counter = 0
        self._values: dict[tuple[str, str], dict[str, str]] = {}
        """(sObject, field) -> {value in lower case: record id}, for fields looked up by value
        (external ids); built on first use, kept current by every insert and update."""
        self._seq: dict[str, int] = {}  # id15 -> insertion position
        self._refs: dict[tuple[str, str], dict[str, dict[str, None]]] = {}
        """(sObject, id field) -> {first 15 characters of the value: {id15 of holder}}."""
        loaded_at = format_datetime(clock.now())
        for name, records in snapshot.items():
            obj = schema.find(name)
            if obj is None:
                continue
            for raw in records:
                record = {k: _own(v) for k, v in raw.items() if k != "attributes"}
                rid = record.get("Id")
                if isinstance(rid, str) and ID_PATTERN.match(rid) and not is_valid_id(rid):
                    raise ValueError(f"{name} {rid}: the last three characters of an "
                                     "18-character id must encode the case of the first 15")
                if not (isinstance(rid, str) and ID_PATTERN.match(rid)):
                    rid = self.new_id(obj)
                elif len(rid) == 15:
                    rid = to_18(rid)
                record["Id"] = rid
                stamp = record.get("SystemModstamp") or record.get("LastModifiedDate")
                stamp = stamp or record.get("CreatedDate") or loaded_at
                record.setdefault("CreatedDate", stamp)
                record.setdefault("LastModifiedDate", stamp)
                record.setdefault("SystemModstamp", stamp)
                self._put(obj.name, record)

    def _put(self, sobject: str, record: dict[str, Any]) -> None:
        key = id_key(record["Id"])
        self._tables[sobject][key] = record
        self._index[key] = sobject
        self._seq.setdefault(key, len(self._seq))
        self._note_values(sobject, record)
        for (indexed, field_name), buckets in self._refs.items():
            if indexed == sobject:
                _file(buckets, record.get(field_name), key)

    def _note_values(self, sobject: str, record: dict[str, Any]) -> None:
        for (indexed, field_name), values in self._values.items():
            held = record.get(field_name)
            if indexed == sobject and isinstance(held, str) and held:
                values[held.lower()] = record["Id"]

    def find_by(self, sobject: str, field_name: str, value: str) -> dict[str, Any] | None:
        """The live record of ``sobject`` whose ``field_name`` holds ``value`` (compared
        without regard to case, as Salesforce's default external ids are)."""
        values = self._values.get((sobject, field_name))
        if values is None:
            values = {}
            for row in self.rows(sobject):
                held = row.get(field_name)
                if isinstance(held, str) and held:
                    values.setdefault(held.lower(), row["Id"])
            self._values[(sobject, field_name)] = values
        record_id = values.get(value.lower())
        found = self.get(record_id) if record_id else None
        current = found.get(field_name) if found is not None else None
        # An entry may be stale (the record changed its value, or was deleted since).
        if isinstance(current, str) and current.lower() == value.lower():
            return found
        return None

    def with_ids(self, sobject: str, ids: Iterable[str]) -> list[dict[str, Any]]:
        """The records of ``sobject`` (deleted ones too) among ``ids`` (15 or 18
        characters), in insertion order."""
        table = self._tables.get(sobject, {})
        keys = {id_key(i) for i in ids} & table.keys()
        return [table[k] for k in sorted(keys, key=self._seq.__getitem__)]

    def referencing(self, sobject: str, field_name: str,
                    ids: Iterable[str]) -> list[dict[str, Any]]:
        """The records of ``sobject`` (deleted ones too) whose ``field_name`` starts with
        one of ``ids``' first 15 characters, in insertion order (maybe more: the caller
        filters)."""
        buckets = self._refs.get((sobject, field_name))
        if buckets is None:
            buckets = {}
            for key, record in self._tables.get(sobject, {}).items():
                _file(buckets, record.get(field_name), key)
            self._refs[(sobject, field_name)] = buckets
        keys: set[str] = set()
        for value in ids:
            keys.update(buckets.get(id_key(value), ()))
        table = self._tables[sobject]
        return [table[k] for k in sorted(keys, key=self._seq.__getitem__) if k in table]

    def new_id(self, obj: ObjectSpec) -> str:
        while True:
            self._counter += 1
            n, digits = self._counter, ""
            while n:
                n, rem = divmod(n, 62)
                digits = _BASE62[rem] + digits
            candidate = obj.key_prefix + "000" + digits.rjust(9, "0")
            if id_key(candidate) not in self._index:
                return to_18(candidate)

    def rows(self, sobject: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        """The live records of one sObject, in insertion order (not copies)."""
        for record in self._tables.get(sobject, {}).values():
            if include_deleted or not record.get("IsDeleted"):
                yield record

    def get(self, record_id: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
        sobject = self._index.get(id_key(record_id))
        if sobject is None:
            return None
        record = self._tables[sobject].get(id_key(record_id))
        if record is None or (record.get("IsDeleted") and not include_deleted):
            return None
        return record

    def sobject_of(self, record_id: str) -> str | None:
        return self._index.get(id_key(record_id))

    def insert(self, obj: ObjectSpec, values: Mapping[str, Any]) -> str:
        stamp = format_datetime(self.clock.now())
        rid = self.new_id(obj)
        record = {"Id": rid, **copy.deepcopy(dict(values))}
        record.update(CreatedDate=stamp, LastModifiedDate=stamp, SystemModstamp=stamp)
        self._put(obj.name, record)
        return rid

    def update(self, record: dict[str, Any], values: Mapping[str, Any]) -> None:
        key = id_key(record["Id"])
        sobject = self._index.get(key, "")
        moved = [(buckets, name) for (indexed, name), buckets in self._refs.items()
                 if indexed == sobject and name in values]
        for buckets, name in moved:
            _unfile(buckets, record.get(name), key)
        record.update(copy.deepcopy(dict(values)))
        for buckets, name in moved:
            _file(buckets, record.get(name), key)
        self._note_values(sobject, record)
        if "Status" in values:
            follow_status(sobject, record)
        stamp = format_datetime(self.clock.now())
        record.update(LastModifiedDate=stamp, SystemModstamp=stamp)

    def delete(self, record: dict[str, Any]) -> None:
        self.update(record, {"IsDeleted": True})

    def records(self, sobject: str) -> list[dict[str, Any]]:
        obj = self.schema.find(sobject)
        if obj is None:
            return []
        return [copy.deepcopy(r) for r in self.rows(obj.name)]

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        return {
            name: [copy.deepcopy(r) for r in self.rows(name)]
            for name, table in self._tables.items()
            if table
        }

