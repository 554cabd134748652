"""``ports.WriteBack`` through sObject collections (``composite/sobjects``).

Theory of operation: records go out 200 a call (Salesforce's collection limit) with
``allOrNone: false``, PATCH for updates and POST for inserts. HTTP 200 only means the
call was accepted: every record's own result is read and returned as a
``RecordResult``, in the order the records were given.

Failures are handled at two levels:

* the whole call (5xx, whole-call ``UNABLE_TO_LOCK_ROW``, timeouts, connection errors)
  is retried by the connection's ``RetryPolicy``; an insert whose answer was lost
  (read timeout) is not re-sent, because it may already have created the records;
* a record that failed with ``UNABLE_TO_LOCK_ROW`` while others succeeded is sent
  again on its own, with backoff, under ``lock_retry``; when its tries run out it is
  reported as failed, like any other per-record error.

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
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from simple_salesforce.format import format_soql

from sf_stripe_sync.errors import TerminalError
from sf_stripe_sync.ports import RecordResult
from sf_stripe_sync.salesforce.auth import SalesforceConnection
from sf_stripe_sync.salesforce.describe import check_identifier
from sf_stripe_sync.salesforce.reader import OrderReader, plain
from sf_stripe_sync.salesforce.retry import RetryPolicy
from sf_stripe_sync.salesforce.soql import IDS_PER_QUERY

COLLECTION_LIMIT = 200
LOCK_CODE = "UNABLE_TO_LOCK_ROW"
_NUMBER_TAG = f"decimal-{uuid.uuid4().hex}:"
"""Marks a Decimal during encoding; random so no real string value can look like it."""
_NUMBER_MARK = "\u0000" + _NUMBER_TAG
_NUMBER_TOKEN = re.compile(r'"\\u0000' + _NUMBER_TAG + r'([-+0-9.Ee]+)"')


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
        self, method: str, sobject: str, records: Sequence[dict[str, Any]]
    ) -> list[RecordResult]:
        check_identifier(sobject, "sObject")
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
        for start in range(0, len(sendable), self.batch_size):
            self._write_chunk(method, sobject, records, sendable[start : start + self.batch_size],
                              results)
        return [r if r is not None else RecordResult(id=None, success=False) for r in results]

    def _write_chunk(
        self,
        method: str,
        sobject: str,
        records: Sequence[dict[str, Any]],
        chunk: list[int],
        results: list[RecordResult | None],
    ) -> None:
        pending = chunk
        attempt = 1
        while pending:
            answer = self._send(method, sobject, [records[i] for i in pending])
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

    def _send(
        self, method: str, sobject: str, batch: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        body = encode_json({
            "allOrNone": False,
            "records": [
                {"attributes": {"type": sobject},
                 **{k: v for k, v in record.items() if k != "attributes"}}
                for record in batch
            ],
        })
        answer = self.conn.rest(
            method, "composite/sobjects", body=body, retry_ambiguous=(method == "PATCH")
        )
        if not isinstance(answer, list) or len(answer) != len(batch):
            got = len(answer) if isinstance(answer, list) else type(answer).__name__
            raise TerminalError(
                f"Salesforce answered a {method} of {len(batch)} {sobject} records with "
                f"{got} results"
            )
        return [a if isinstance(a, dict) else {} for a in answer]


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
