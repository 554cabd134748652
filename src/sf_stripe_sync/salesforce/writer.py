"""``ports.WriteBack`` through sObject collections (``composite/sobjects``), and
``ports.BatchWriteBack`` through the Composite API (``composite``).

Theory of operation: records go out 200 a collection (Salesforce's collection limit)
with ``allOrNone: false``, PATCH for updates, POST for inserts, and PATCH on
``composite/sobjects/<type>/<external id field>`` for upserts (API 46.0+; each result
says ``created``). An upsert is safe to send again, so its lost answer is retried. ``update`` and
``insert`` send one collection per call. ``write_many`` packs the collections of
several writes (the Account, Contract and Order updates and the Sync_Log__c upserts of
a write-back) into ``POST composite`` calls, five collections a call (Salesforce allows
25 subrequests, at most 5 of them sObject Collections or queries), with ``allOrNone:
false`` and ``collateSubrequests: false`` so they run in the order given and one failed
subrequest does not roll back the others; the whole call is one API call. Updates of
consecutive writes share collections whatever their sObject (an update collection may
hold several types, each record naming its own; Salesforce runs them in the order given,
in chunks of one type, at most ``MAX_CHUNKS`` a collection), so 120 Contract and 430
Order updates fill three collections, not four. Inserts and upserts keep one write a
collection (an upsert names its type and external id in its path). HTTP 200 only
means a call was accepted: every subrequest's status and every record's own result is
read and returned as a ``RecordResult``, in the order the records were given.

Failures are handled at two levels:

* the whole call (5xx, whole-call ``UNABLE_TO_LOCK_ROW``, timeouts, connection errors)
  is retried by the connection's ``RetryPolicy``; an insert whose answer was lost
  (read timeout) is not re-sent, because it may already have created the records;
* a record that failed with ``UNABLE_TO_LOCK_ROW`` while others succeeded (or a
  composite subrequest that failed whole with it) is sent again, with backoff, under
  ``lock_retry``; when its tries run out it is reported as failed, like any other
  per-record error. A composite call that holds an insert is not re-sent when its
  answer was lost, for the same reason as a lone insert.

An expired session is re-authenticated by the connection; ``REQUEST_LIMIT_EXCEEDED``
raises ``ApiLimitExceeded`` and stops the caller. Values are JSON-encoded here:
``Decimal`` as an exact JSON number (never through float), aware datetimes as
Salesforce DateTimes in UTC, dates as ``YYYY-MM-DD``. An update without ``Id`` fails
locally without a call.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from simple_salesforce.format import format_soql

from sf_stripe_sync.errors import TerminalError
from sf_stripe_sync.ports import RecordResult, WriteOp
from sf_stripe_sync.salesforce.auth import SalesforceConnection
from sf_stripe_sync.salesforce.describe import check_identifier
from sf_stripe_sync.salesforce.reader import OrderReader, plain
from sf_stripe_sync.salesforce.retry import RetryPolicy
from sf_stripe_sync.salesforce.soql import IDS_PER_QUERY

COLLECTION_LIMIT = 200
COLLECTIONS_PER_COMPOSITE = 5
"""Salesforce: 25 subrequests a composite call, at most 5 sObject Collections/queries."""
MAX_CHUNKS = 10
"""Salesforce: an update collection holding several types runs them in chunks (a run of
records of one type), at most 10 a collection; here at most 10 writes share one."""
LOCK_CODE = "UNABLE_TO_LOCK_ROW"
UPSERT = "UPSERT"
"""The internal name of an upsert (sent as PATCH on the external-id path)."""
_NUMBER_TAG = f"decimal-{uuid.uuid4().hex}:"
"""Marks a Decimal during encoding; random so no real string value can look like it."""
_NUMBER_MARK = "\u0000" + _NUMBER_TAG
_NUMBER_TOKEN = re.compile(r'"\\u0000' + _NUMBER_TAG + r'([-+0-9.Ee]+)"')


@dataclass
class _Piece:
    """One collection subrequest: records of one write, or updates of several, as
    ``(write number, record index)`` pairs; ``sobject`` and ``external_id`` are the first
    write's (an upsert's path)."""

    method: str
    sobject: str
    parts: list[tuple[int, int]]
    external_id: str = ""

    def joins(self, number: int, method: str) -> bool:
        """Whether a record of write ``number`` may go in this collection too."""
        if self.parts[-1][0] == number:
            return True
        writes = len({op for op, _ in self.parts})
        return method == self.method == "PATCH" and writes < MAX_CHUNKS


class SalesforceWriteBack:
    def __init__(
        self,
        conn: SalesforceConnection,
        *,
        batch_size: int = COLLECTION_LIMIT,
        lock_retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.conn = conn
        self.batch_size = max(1, min(batch_size, COLLECTION_LIMIT))
        self.lock_retry = lock_retry or conn.retry
        self._sleep = sleep

    def update(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """PATCH records (each carries ``Id``); one result per record, in order."""
        return self._write("PATCH", sobject, records)

    def insert(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """POST new records; one result per record, in order."""
        return self._write("POST", sobject, records)

    def upsert(self, sobject: str, external_id: str,
               records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        """Upsert records on the external-id field; one result per record, in order."""
        check_identifier(external_id, "field")
        return self._write(UPSERT, sobject, records, external_id)

    def write_many(self, ops: Sequence[WriteOp]) -> list[list[RecordResult]]:
        """Apply ``ops`` in order through composite calls (5 collections each; updates of
        consecutive writes share collections); per op, one result per record, in order."""
        results: list[list[RecordResult | None]] = []
        pieces: list[_Piece] = []
        for number, op in enumerate(ops):
            method = {"update": "PATCH", "insert": "POST", "upsert": UPSERT}[op.action]
            check_identifier(op.sobject, "sObject")
            if op.action == "upsert":
                check_identifier(op.external_id, "field")
            slots, sendable = _local_checks(method, op.records)
            results.append(slots)
            for index in sendable:
                last = pieces[-1] if pieces else None
                if (last is None or len(last.parts) >= self.batch_size
                        or not last.joins(number, method)):
                    last = _Piece(method, op.sobject, [], op.external_id)
                    pieces.append(last)
                last.parts.append((number, index))
        attempt = 1
        while pieces:
            may_retry = attempt < self.lock_retry.attempts
            retry_later: list[_Piece] = []
            for start in range(0, len(pieces), COLLECTIONS_PER_COMPOSITE):
                group = pieces[start:start + COLLECTIONS_PER_COMPOSITE]
                answers = self._send_composite(ops, group)
                for piece, answer in zip(group, answers, strict=True):
                    again = _settle(piece, answer, ops, results, may_retry)
                    if again.parts:
                        retry_later.append(again)
            if retry_later:
                self._sleep(self.lock_retry.wait_before(attempt))
            pieces = retry_later
            attempt += 1
        return [[r if r is not None else RecordResult(id=None, success=False) for r in slots]
                for slots in results]

    def find(
        self, sobject: str, where_field: str, values: Sequence[str], fields: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Records of ``sobject`` whose ``where_field`` is one of ``values`` (all pages)."""
        check_identifier(sobject, "sObject")
        for name in (where_field, *fields):
            check_identifier(name, "field")
        wanted = sorted(set(values))
        found: list[dict[str, Any]] = []
        reader = OrderReader(self.conn)
        for start in range(0, len(wanted), IDS_PER_QUERY):
            soql = format_soql(
                f"SELECT {', '.join(dict.fromkeys(fields))} FROM {sobject} "
                f"WHERE {where_field} IN {{values}}", values=wanted[start:start + IDS_PER_QUERY])
            found += [plain(record) for record in reader.records(soql)]
        return found

    # ------------------------------------------------------------------ internals

    def _write(
        self, method: str, sobject: str, records: Sequence[dict[str, Any]],
        external_id: str = "",
    ) -> list[RecordResult]:
        check_identifier(sobject, "sObject")
        results, sendable = _local_checks(method, records)
        for start in range(0, len(sendable), self.batch_size):
            self._write_chunk(method, sobject, records, sendable[start : start + self.batch_size],
                              results, external_id)
        return [r if r is not None else RecordResult(id=None, success=False) for r in results]

    def _write_chunk(
        self,
        method: str,
        sobject: str,
        records: Sequence[dict[str, Any]],
        chunk: list[int],
        results: list[RecordResult | None],
        external_id: str = "",
    ) -> None:
        pending = chunk
        attempt = 1
        while pending:
            answer = self._send(method, sobject, [records[i] for i in pending], external_id)
            retry_later: list[int] = []
            may_retry = attempt < self.lock_retry.attempts
            for index, outcome in zip(pending, answer, strict=True):
                result = _record_result(outcome, records[index], method)
                if not result.success and may_retry and _is_lock(outcome):
                    retry_later.append(index)
                else:
                    results[index] = result
            if retry_later:
                self._sleep(self.lock_retry.wait_before(attempt))
            pending = retry_later
            attempt += 1

    def _send_composite(
        self, ops: Sequence[WriteOp], group: list[_Piece]
    ) -> list[dict[str, Any]]:
        """One composite call holding ``group``; the subrequests' answers, in order."""
        version = getattr(self.conn.client, "sf_version", None) or "60.0"
        references = [f"write{number}" for number in range(len(group))]
        body = encode_json({
            "allOrNone": False,
            "collateSubrequests": False,
            "compositeRequest": [
                {"method": _http_method(piece.method),
                 "url": f"/services/data/v{version}/"
                        + _collection_path(piece.sobject, piece.external_id),
                 "referenceId": reference,
                 "body": _collection_body([(ops[op].sobject, ops[op].records[i])
                                           for op, i in piece.parts])}
                for piece, reference in zip(group, references, strict=True)
            ],
        })
        answer = self.conn.rest("POST", "composite", body=body,
                                retry_ambiguous=all(p.method != "POST" for p in group))
        found = answer.get("compositeResponse") if isinstance(answer, dict) else None
        by_reference = {str(a.get("referenceId")): a for a in found or []
                        if isinstance(a, dict)}
        if not isinstance(found, list) or set(by_reference) != set(references):
            raise TerminalError(
                f"Salesforce answered a composite call of {len(group)} subrequests without "
                f"one answer per subrequest")
        return [by_reference[reference] for reference in references]

    def _send(
        self, method: str, sobject: str, batch: list[dict[str, Any]], external_id: str = ""
    ) -> list[dict[str, Any]]:
        body = encode_json(_collection_body([(sobject, record) for record in batch]))
        answer = self.conn.rest(
            _http_method(method), _collection_path(sobject, external_id), body=body,
            retry_ambiguous=(method != "POST")
        )
        if not isinstance(answer, list) or len(answer) != len(batch):
            got = len(answer) if isinstance(answer, list) else type(answer).__name__
            raise TerminalError(
                f"Salesforce answered a {method} of {len(batch)} {sobject} records with "
                f"{got} results"
            )
        return [a if isinstance(a, dict) else {} for a in answer]


def _http_method(method: str) -> str:
    return "PATCH" if method == UPSERT else method


def _collection_path(sobject: str, external_id: str) -> str:
    """``composite/sobjects``, or ``composite/sobjects/<type>/<field>`` for an upsert."""
    return f"composite/sobjects/{sobject}/{external_id}" if external_id else "composite/sobjects"


def _collection_body(batch: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """A collection's body: each record with its own type in ``attributes``."""
    return {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": sobject},
             **{k: v for k, v in record.items() if k != "attributes"}}
            for sobject, record in batch
        ],
    }


def _local_checks(
    method: str, records: Sequence[dict[str, Any]]
) -> tuple[list[RecordResult | None], list[int]]:
    """Results known without a call (an update without Id), and the indexes to send."""
    results: list[RecordResult | None] = [None] * len(records)
    sendable: list[int] = []
    for index, record in enumerate(records):
        if method == "PATCH" and not record.get("Id"):
            results[index] = RecordResult(
                id=None, success=False,
                errors=("MISSING_ARGUMENT: an update needs the record's Id",),
            )
        else:
            sendable.append(index)
    return results, sendable


def _settle(
    piece: _Piece,
    answer: dict[str, Any],
    ops: Sequence[WriteOp],
    results: list[list[RecordResult | None]],
    may_retry: bool,
) -> _Piece:
    """Record one subrequest's outcome in ``results``; what should be sent again."""
    status = answer.get("httpStatusCode")
    body = answer.get("body")
    again = _Piece(piece.method, piece.sobject, [], piece.external_id)
    if isinstance(status, int) and 200 <= status < 300:
        if not isinstance(body, list) or len(body) != len(piece.parts):
            raise TerminalError(
                f"Salesforce answered a {piece.method} of {len(piece.parts)} "
                f"{piece.sobject} records inside a composite call without one result each")
        outcomes = [o if isinstance(o, dict) else {} for o in body]
    else:
        # The whole subrequest failed: every record in it shares the error.
        errors = [e for e in body if isinstance(e, dict)] if isinstance(body, list) else []
        if not errors:
            errors = [{"errorCode": f"HTTP_{status}", "message": "subrequest failed"}]
        outcomes = [{"success": False, "errors": errors}] * len(piece.parts)
    for (op, index), outcome in zip(piece.parts, outcomes, strict=True):
        result = _record_result(outcome, ops[op].records[index], piece.method)
        if not result.success and may_retry and _is_lock(outcome):
            again.parts.append((op, index))
        else:
            results[op][index] = result
    return again


def _errors(outcome: dict[str, Any]) -> tuple[str, ...]:
    found = []
    for error in outcome.get("errors") or []:
        if isinstance(error, dict):
            code = error.get("statusCode") or error.get("errorCode") or "UNKNOWN"
            message = error.get("message") or ""
            fields = error.get("fields") or []
            where = f" [{', '.join(str(f) for f in fields)}]" if fields else ""
            found.append(f"{code}: {message}{where}")
        else:
            found.append(str(error))
    return tuple(found)


def _record_result(outcome: dict[str, Any], record: dict[str, Any], method: str) -> RecordResult:
    success = outcome.get("success") is True
    record_id = outcome.get("id") or (record.get("Id") if method == "PATCH" else None)
    errors = _errors(outcome)
    if not success and not errors:
        errors = ("UNKNOWN: Salesforce reported a failure without details",)
    return RecordResult(id=str(record_id) if record_id else None, success=success, errors=errors)


def _is_lock(outcome: dict[str, Any]) -> bool:
    return any(
        isinstance(e, dict) and (e.get("statusCode") or e.get("errorCode")) == LOCK_CODE
        for e in outcome.get("errors") or []
    )


def _prepare(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} cannot be written to Salesforce")
        return _NUMBER_MARK + str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("a datetime written to Salesforce must be timezone-aware")
        moment = value.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _prepare(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_prepare(v) for v in value]
    return value


def encode_json(payload: Any) -> str:
    """JSON text for Salesforce: Decimals as exact numbers, datetimes in UTC."""
    text = json.dumps(_prepare(payload), allow_nan=False)
    return _NUMBER_TOKEN.sub(lambda match: match.group(1), text)
