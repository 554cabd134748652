"""Inserts and updates, single and in sObject collections, checked like Salesforce does.

Theory of operation: every write is *prepared* first (type known, Id valid and present,
every field known and writable, values of the right shape, a unique field's value not
held by another record, record not locked by an injected fault) and only then *applied*.
An upsert (``upsert_collection``, Salesforce's ``PATCH composite/sobjects/<type>/<field>``)
names an external-id field; each record is matched on that field's value: no record holds
it, it is inserted (``created: true``); one does, it is updated (``created: false``); the
same value twice in one request fails both records with ``DUPLICATE_VALUE``. A
composite call prepares all its records before applying any, so ``allOrNone`` needs no
rollback: when one record fails and allOrNone is true, the others are reported
ALL_OR_NONE_OPERATION_ROLLED_BACK and nothing is written. Datetime values are stored in
Salesforce's own format (``...T10:00:00.000+0000``) whatever offset the client sent, as
a real org does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from sf_stripe_sync.sandbox.salesforce_org.describe import (
    DATETIME_PATTERN,
    ObjectSpec,
    OrgSchema,
)
from sf_stripe_sync.sandbox.salesforce_org.faults import FaultInjector
from sf_stripe_sync.sandbox.salesforce_org.ids import is_valid_id, malformed_id_message
from sf_stripe_sync.sandbox.salesforce_org.soql.ast import SoqlError
from sf_stripe_sync.sandbox.salesforce_org.soql.parser import parse_datetime_literal
from sf_stripe_sync.sandbox.salesforce_org.soql.values import NUMBER_TYPES
from sf_stripe_sync.sandbox.salesforce_org.store import OrgStore, format_datetime

MAX_COLLECTION_SIZE = 200
MAX_CHUNKS = 10
"""Runs of one sObject type a mixed collection may hold (Salesforce: "up to 10 chunks")."""
ROLLED_BACK = {
    "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "message": "Record rolled back because not all records were valid and the request was "
    "using AllOrNone header",
    "fields": [],
}

Mode = Literal["insert", "update"]


def write_error(code: str, message: str, fields: list[str] | None = None) -> dict[str, Any]:
    return {"statusCode": code, "message": message, "fields": fields or []}


@dataclass
class Prepared:
    mode: Mode
    obj: ObjectSpec | None = None
    record: dict[str, Any] | None = None  # the stored record an update changes
    values: dict[str, Any] = field(default_factory=dict)
    record_id: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)


class RecordWriter:
    def __init__(self, schema: OrgSchema, store: OrgStore, faults: FaultInjector) -> None:
        self.schema = schema
        self.store = store
        self.faults = faults

    def prepare(self, mode: Mode, type_name: str | None, body: Any,
                record_id: str | None = None) -> Prepared:
        prepared = Prepared(mode)
        if not isinstance(body, Mapping):
            prepared.errors.append(write_error("JSON_PARSER_ERROR", "a record must be an object"))
            return prepared
        values = {k: v for k, v in body.items() if k != "attributes"}
        if type_name is None:
            attributes = body.get("attributes")
            type_name = attributes.get("type") if isinstance(attributes, Mapping) else None
        obj = self.schema.find(type_name) if isinstance(type_name, str) else None
        if obj is None:
            prepared.errors.append(write_error(
                "INVALID_TYPE", f"sObject type '{type_name}' is not supported."))
            return prepared
        prepared.obj = obj
        if mode == "update":
            record_id = record_id or _as_str(values.pop("Id", None) or values.pop("id", None))
            if not record_id:
                prepared.errors.append(write_error(
                    "MISSING_ARGUMENT", "Id not specified in an update call", ["Id"]))
                return prepared
            values.pop("Id", None)
            prepared.record_id = record_id
            if not is_valid_id(record_id) or not record_id.startswith(obj.key_prefix):
                prepared.errors.append(write_error(
                    "MALFORMED_ID", malformed_id_message(obj.name, record_id), ["Id"]))
                return prepared
            record = self.store.get(record_id)
            if record is None:
                deleted = self.store.get(record_id, include_deleted=True) is not None
                prepared.errors.append(write_error(
                    "ENTITY_IS_DELETED" if deleted else "INVALID_CROSS_REFERENCE_KEY",
                    "entity is deleted" if deleted else "invalid cross reference id"))
                return prepared
            prepared.record = record
            prepared.record_id = record["Id"]
        elif "Id" in values or "id" in values:
            prepared.errors.append(write_error(
                "INVALID_FIELD_FOR_INSERT_UPDATE", "cannot specify Id in an insert call",
                ["Id"]))
            return prepared
        prepared.values = self._checked_values(obj, mode, values, prepared.errors)
        if not prepared.errors:
            prepared.errors += self._unique_clashes(obj, prepared)
        if not prepared.errors and self.faults.record_locked(prepared.record_id):
            prepared.errors.append(write_error(
                "UNABLE_TO_LOCK_ROW",
                f"unable to obtain exclusive access to this record or 1 records: "
                f"{prepared.record_id or ''}".strip()))
        return prepared

    def _checked_values(self, obj: ObjectSpec, mode: Mode, values: Mapping[str, Any],
                        errors: list[dict[str, Any]]) -> dict[str, Any]:
        checked: dict[str, Any] = {}
        for name, value in values.items():
            spec = obj.field(name)
            if spec is None:
                errors.append(write_error(
                    "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}",
                    [name]))
                continue
            writable = spec.updateable if mode == "update" else spec.createable
            if not writable:
                errors.append(write_error(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {spec.name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile "
                    "or permission set.", [spec.name]))
                continue
            try:
                checked[spec.name] = _coerce(spec.type, value)
            except ValueError:
                if spec.type in ("id", "reference"):
                    errors.append(write_error(
                        "MALFORMED_ID", f"{spec.name}: id value of incorrect type: {value}",
                        [spec.name]))
                    continue
                errors.append(write_error(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{spec.name}: value not of required type: {value}", [spec.name]))
        return checked

    def _unique_clashes(self, obj: ObjectSpec, prepared: Prepared) -> list[dict[str, Any]]:
        """A unique field may not take a value another record of the object holds."""
        clashes = []
        for name, value in prepared.values.items():
            spec = obj.field(name)
            if spec is None or not spec.unique or value in (None, ""):
                continue
            holder = self.find_by(obj, spec.name, str(value))
            if holder is not None and holder["Id"] != prepared.record_id:
                clashes.append(write_error(
                    "DUPLICATE_VALUE", f"duplicate value found: {spec.name} duplicates value "
                    f"on record with id: {holder['Id']}", [spec.name]))
        return clashes

    def find_by(self, obj: ObjectSpec, field_name: str, value: str) -> dict[str, Any] | None:
        """The record of ``obj`` whose ``field_name`` holds ``value`` (external ids match
        without regard to case, as Salesforce's default external ids do)."""
        return self.store.find_by(obj.name, field_name, value)

    def upsert_collection(self, obj: ObjectSpec, external: str, records: list[Any],
                          all_or_none: bool) -> list[dict[str, Any]]:
        """Insert or update each record by its value of the external-id field ``external``;
        results carry ``created``."""
        keys = [_as_str(body.get(external)) if isinstance(body, Mapping) else None
                for body in records]
        repeated = {k.lower() for k in keys if k and sum(
            1 for other in keys if other and other.lower() == k.lower()) > 1}
        prepared: list[Prepared] = []
        for body, key in zip(records, keys, strict=True):
            if not key:
                failed = Prepared("insert")
                failed.errors.append(write_error(
                    "MISSING_ARGUMENT", f"{external} not specified", [external]))
                prepared.append(failed)
            elif key.lower() in repeated:
                failed = Prepared("insert")
                failed.errors.append(write_error(
                    "DUPLICATE_VALUE", f"Duplicate external id specified: {key}", [external]))
                prepared.append(failed)
            else:
                holder = self.find_by(obj, external, key)
                mode: Mode = "insert" if holder is None else "update"
                prepared.append(self.prepare(mode, None, body,
                                             holder["Id"] if holder is not None else None))
        failed_any = any(p.errors for p in prepared)
        results: list[dict[str, Any]] = []
        for p in prepared:
            if p.errors or (failed_any and all_or_none):
                results.append({"id": p.record_id, "success": False, "created": False,
                                "errors": p.errors or [dict(ROLLED_BACK)]})
            else:
                results.append({"id": self.apply(p), "success": True, "errors": [],
                                "created": p.mode == "insert"})
        return results

    def apply(self, prepared: Prepared) -> str:
        assert prepared.obj is not None and not prepared.errors
        if prepared.mode == "insert":
            prepared.record_id = self.store.insert(prepared.obj, prepared.values)
        else:
            assert prepared.record is not None
            self.store.update(prepared.record, prepared.values)
        return prepared.record_id or ""

    def collection(self, mode: Mode, records: list[Any], all_or_none: bool
                   ) -> list[dict[str, Any]]:
        prepared = [self.prepare(mode, None, body) for body in records]
        _refuse_repeated_unique_values(prepared)
        failed = any(p.errors for p in prepared)
        results: list[dict[str, Any]] = []
        for p in prepared:
            if p.errors or (failed and all_or_none):
                result: dict[str, Any] = {"success": False,
                                          "errors": p.errors or [dict(ROLLED_BACK)]}
                if p.record_id:
                    result = {"id": p.record_id, **result}
                results.append(result)
            else:
                results.append({"id": self.apply(p), "success": True, "errors": []})
        return results


def _refuse_repeated_unique_values(prepared: list[Prepared]) -> None:
    """Two records of one request may not give a unique field the same value."""
    seen: dict[tuple[str, str], Prepared] = {}
    for p in prepared:
        if p.errors or p.obj is None:
            continue
        for name, value in p.values.items():
            spec = p.obj.field(name)
            if spec is None or not spec.unique or not isinstance(value, str) or not value:
                continue
            first = seen.setdefault((spec.name, value.lower()), p)
            if first is not p:
                p.errors.append(write_error(
                    "DUPLICATE_VALUE", f"duplicate value found: {spec.name} duplicates value "
                    "on another record of this request", [spec.name]))


def _as_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _coerce(field_type: str, value: Any) -> Any:
    """Check a written value against its field type; datetimes come back normalised."""
    if value is None:
        return None
    if field_type == "boolean" and not isinstance(value, bool):
        raise ValueError(value)
    if field_type in NUMBER_TYPES:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(value)
        float(value)
        return value
    if field_type == "date":
        date.fromisoformat(str(value))
        return str(value)
    if field_type == "datetime":
        text = str(value)
        if not DATETIME_PATTERN.match(text):
            raise ValueError(value)
        try:
            return format_datetime(parse_datetime_literal(text))
        except SoqlError as exc:
            raise ValueError(value) from exc
    is_id = is_valid_id(value)
    if field_type in ("id", "reference") and not is_id:
        raise ValueError(value)
    if field_type in ("string", "picklist", "multipicklist", "textarea") and not isinstance(
            value, str):
        raise ValueError(value)
    return value
