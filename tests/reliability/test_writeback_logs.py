"""Sync_Log inserts whose answer was lost, or that a crash may have half-done, land exactly once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.errors import TransientError
from sf_stripe_sync.ports import RecordResult
from sf_stripe_sync.salesforce.writeback import WriteBackBatch

pytestmark = pytest.mark.reliability

ORDER_A, ORDER_B = "801000000000001AAA", "801000000000002AAA"


class LosingWriter:
    """Keeps records like an org; its first log insert is applied and then 'times out'."""

    def __init__(self, *, lose_first_insert: bool) -> None:
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.lose_next = lose_first_insert
        self.inserts = 0

    def update(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        return [RecordResult(id=r["Id"], success=True) for r in records]

    def insert(self, sobject: str, records: Sequence[dict[str, Any]]) -> list[RecordResult]:
        self.inserts += 1
        self.records.setdefault(sobject, []).extend(dict(r) for r in records)
        if self.lose_next:
            self.lose_next = False
            raise TransientError("Salesforce did not answer in time")
        return [RecordResult(id=f"a00{n}", success=True) for n, _ in enumerate(records)]

    def find(self, sobject: str, where_field: str, values: Sequence[str],
             fields: Sequence[str]) -> list[dict[str, Any]]:
        return [r for r in self.records.get(sobject, []) if r.get(where_field) in values]


def _batch(*, verify: bool = False) -> WriteBackBatch:
    batch = WriteBackBatch(FieldMap(), datetime(2027, 1, 1, tzinfo=UTC))
    for order_id in (ORDER_A, ORDER_B):
        batch.add_success(order={"Id": order_id}, operation="create", schedule_id="sub_sched_1",
                          contract_id=None, contract_schedule_id=None, account_id=None,
                          customer_id=None, known_customer_id=None,
                          idempotency_key=f"key-{order_id}", request_ids=("req_1",),
                          message="create schedule sub_sched_1 (1 phases)", verify_log=verify)
    return batch


def test_a_log_insert_whose_answer_was_lost_is_not_written_twice() -> None:
    writer = LosingWriter(lose_first_insert=True)

    problems = _batch().flush(writer)

    assert problems == {}
    assert len(writer.records["Sync_Log__c"]) == 2
    assert writer.inserts == 1


def test_a_resumed_write_back_writes_only_the_logs_salesforce_lacks() -> None:
    writer = LosingWriter(lose_first_insert=False)
    writer.records["Sync_Log__c"] = [{
        "Order__c": ORDER_A, "Status__c": "Success", "Operation__c": "create",
        "Idempotency_Key__c": f"key-{ORDER_A}", "Message__c": "written before the crash"}]

    problems = _batch(verify=True).flush(writer)

    assert problems == {}
    logged = sorted(r["Order__c"] for r in writer.records["Sync_Log__c"])
    assert logged == [ORDER_A, ORDER_B]


def test_a_failed_insert_without_a_way_to_look_up_still_raises() -> None:
    class BlindWriter(LosingWriter):
        find = None  # type: ignore[assignment]

    writer = BlindWriter(lose_first_insert=True)

    with pytest.raises(TransientError):
        _batch().flush(writer)
