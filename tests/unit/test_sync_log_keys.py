"""Each Sync_Log carries the key it is upserted on: one record per operation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sf_stripe_sync.core.keys import failure_log_key
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.ports import RecordResult
from sf_stripe_sync.salesforce.writeback import WriteBackBatch

NOW = datetime(2027, 1, 1, tzinfo=UTC)
FIELDS = FieldMap()


class UpsertingWriter:
    """Keeps what it was asked to upsert, by sObject."""

    def __init__(self) -> None:
        self.upserts: list[tuple[str, str, list[dict[str, Any]]]] = []

    def update(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        return [RecordResult(id=r["Id"], success=True) for r in records]

    def insert(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        raise AssertionError("logs are upserted, never inserted, when the writer can upsert")

    def upsert(self, sobject: str, external_id: str,
               records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        self.upserts.append((sobject, external_id, [dict(r) for r in records]))
        return [RecordResult(id=f"a00{n}", success=True) for n, _ in enumerate(records)]


def _success(batch: WriteBackBatch, order_id: str, key: str) -> None:
    batch.add_success(order={"Id": order_id}, operation="create", schedule_id="sub_sched_1",
                      contract_id=None, contract_schedule_id=None, account_id=None,
                      customer_id=None, known_customer_id=None, idempotency_key=key,
                      request_ids=(), message="create schedule sub_sched_1 (1 phases)")


def test_a_success_log_is_keyed_by_its_operations_idempotency_key() -> None:
    batch = WriteBackBatch(FIELDS, NOW)
    _success(batch, "801A", "sfss-create-abc")
    writer = UpsertingWriter()

    assert batch.flush(writer) == {}

    ((sobject, field, (log,)),) = writer.upserts
    assert (sobject, field) == ("Sync_Log__c", "Sync_Key__c")
    assert log["Sync_Key__c"] == "sfss-create-abc"


def test_two_orders_logging_one_operation_in_a_batch_send_one_log() -> None:
    batch = WriteBackBatch(FIELDS, NOW)
    _success(batch, "801A", "sfss-create-abc")
    _success(batch, "801B", "sfss-create-abc")
    writer = UpsertingWriter()

    batch.flush(writer)

    ((_, _, logs),) = writer.upserts
    assert [log["Order__c"] for log in logs] == ["801B"]


def test_a_failure_key_changes_with_the_orders_version_and_message_only() -> None:
    key = failure_log_key("801A", "2027-01-01T00:00:00.000+0000", "create", "", "[gap] x")

    assert key == failure_log_key("801A", "2027-01-01T00:00:00.000+0000", "create", "",
                                  "[gap] x")
    assert key != failure_log_key("801A", "2027-01-02T00:00:00.000+0000", "create", "",
                                  "[gap] x")
    assert key != failure_log_key("801A", "2027-01-01T00:00:00.000+0000", "create", "",
                                  "[gap] y")
    assert key.startswith("sfss-failed-") and len(key) <= 255
