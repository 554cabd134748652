"""One Sync_Log__c per operation: sObject Collections upsert on the unique Sync_Key__c.

The local org answers ``PATCH composite/sobjects/Sync_Log__c/Sync_Key__c`` as Salesforce
does (insert when no record holds the key, update when one does, ``created`` in each
result, the same key twice in one request refused, a field that is not an external id
refused whole); the writer upserts through it, alone and inside a composite call; and
two write-backs of one operation (two hosts, or a rerun) leave one record.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.ports import Upserter, WriteOp
from sf_stripe_sync.salesforce.writeback import WriteBackBatch
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from tests.integration.test_salesforce_composite_write import (
    session_conn,
    sf_id,
    snapshot,
    writer_for,
)

pytestmark = pytest.mark.integration

LOG, KEY = "Sync_Log__c", "Sync_Key__c"


@pytest.fixture
def org() -> Iterator[LocalOrg]:
    with LocalOrg(snapshot()).running() as running:
        yield running


def _log(key: str, message: str, order: int = 1) -> dict[str, Any]:
    return {"Order__c": sf_id("801", order), "Operation__c": "create", "Status__c": "Success",
            "Message__c": message, KEY: key}


def _upsert(org: LocalOrg, records: list[dict[str, Any]],
            field: str = KEY) -> tuple[int, Any]:
    conn = session_conn(org)
    body = {"allOrNone": False,
            "records": [{"attributes": {"type": LOG}, **r} for r in records]}
    answer = org.requests_session().patch(
        f"{org.instance_url}/services/data/v60.0/composite/sobjects/{LOG}/{field}",
        json=body, headers={"Authorization": f"Bearer {conn.client.session_id}"})
    return answer.status_code, answer.json()


def test_an_upsert_inserts_a_new_key_and_updates_the_record_holding_it(org: LocalOrg) -> None:
    status, first = _upsert(org, [_log("sfss-create-1", "first")])
    _, second = _upsert(org, [_log("sfss-create-1", "second", order=2)])

    assert status == 200
    assert first[0]["success"] and first[0]["created"] is True
    assert second[0]["success"] and second[0]["created"] is False
    assert second[0]["id"] == first[0]["id"]
    (log,) = org.records(LOG)
    assert log["Message__c"] == "second" and log["Order__c"] == sf_id("801", 2)


def test_one_key_twice_in_a_request_fails_both_records(org: LocalOrg) -> None:
    _, results = _upsert(org, [_log("sfss-k", "a"), _log("SFSS-K", "b"), _log("other", "c")])

    assert [r["success"] for r in results] == [False, False, True]
    assert results[0]["errors"][0]["statusCode"] == "DUPLICATE_VALUE"
    assert len(org.records(LOG)) == 1


def test_an_upsert_on_a_field_that_is_not_an_external_id_is_refused_whole(
        org: LocalOrg) -> None:
    status, errors = _upsert(org, [_log("sfss-k", "a")], field="Idempotency_Key__c")

    assert status == 400 and errors[0]["errorCode"] == "INVALID_FIELD"
    assert org.records(LOG) == []


def test_an_upsert_of_more_than_two_hundred_records_is_refused_whole(org: LocalOrg) -> None:
    status, errors = _upsert(org, [_log(f"sfss-k{n}", "a") for n in range(201)])

    assert status == 400 and errors[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert org.records(LOG) == []


def test_an_insert_of_a_key_another_record_holds_is_a_duplicate_value(org: LocalOrg) -> None:
    writer = writer_for(session_conn(org))
    writer.insert(LOG, [_log("sfss-k", "a")])

    (again,) = writer.insert(LOG, [_log("sfss-k", "b")])

    assert not again.success and again.errors[0].startswith("DUPLICATE_VALUE")
    assert len(org.records(LOG)) == 1


def test_the_describe_marks_the_sync_key_as_a_unique_external_id(org: LocalOrg) -> None:
    spec = org.schema.find(LOG)
    assert spec is not None
    fields = {f["name"]: f for f in org.schema.describe(spec, "/x")["fields"]}
    assert fields[KEY]["externalId"] is True and fields[KEY]["unique"] is True
    assert fields["Idempotency_Key__c"]["externalId"] is False


def test_the_writer_upserts_alone_and_inside_a_composite_call(org: LocalOrg) -> None:
    writer = writer_for(session_conn(org))
    assert isinstance(writer, Upserter)

    (alone,) = writer.upsert(LOG, KEY, [_log("sfss-1", "alone")])
    orders, logs = writer.write_many([
        WriteOp("update", "Order", [{"Id": sf_id("801", 1), "Stripe_Sync_Status__c": "Synced"}]),
        WriteOp("upsert", LOG, [_log("sfss-1", "again"), _log("sfss-2", "new")], KEY),
    ])

    assert alone.success and orders[0].success
    assert [r.success for r in logs] == [True, True]
    assert logs[0].id == alone.id
    assert sorted(r["Message__c"] for r in org.records(LOG)) == ["again", "new"]


def _write_back_of_one_operation(order: int, when: datetime) -> WriteBackBatch:
    batch = WriteBackBatch(FieldMap(), when)
    batch.add_success(order={"Id": sf_id("801", order)}, operation="create",
                      schedule_id="sub_sched_1", contract_id=None, contract_schedule_id=None,
                      account_id=None, customer_id=None, known_customer_id=None,
                      idempotency_key="sfss-create-contract-key", request_ids=("req_1",),
                      message="create schedule sub_sched_1 (1 phases)")
    return batch


def test_two_hosts_writing_back_one_operation_leave_one_log(org: LocalOrg) -> None:
    writer = writer_for(session_conn(org))
    first = _write_back_of_one_operation(1, datetime(2027, 1, 1, tzinfo=UTC))
    second = _write_back_of_one_operation(2, datetime(2027, 1, 1, 0, 5, tzinfo=UTC))

    assert first.flush(writer) == {}
    assert second.flush(writer) == {}

    (log,) = org.records(LOG)
    assert log[KEY] == "sfss-create-contract-key"


def test_the_same_failure_reported_by_two_hosts_is_one_log(org: LocalOrg) -> None:
    writer = writer_for(session_conn(org))
    order = {"Id": sf_id("801", 3), "SystemModstamp": "2027-01-01T00:00:00.000+0000"}
    for minute in (0, 7):
        batch = WriteBackBatch(FieldMap(), datetime(2027, 1, 1, 0, minute, tzinfo=UTC))
        assert batch.add_failure(order=dict(order), operation="create",
                                 message="[gap] items leave a gap")
        assert batch.flush(writer) == {}

    (log,) = org.records(LOG)
    assert log["Status__c"] == "Failed" and log[KEY].startswith("sfss-failed-")


def test_a_key_a_record_gave_up_is_free_and_the_new_key_finds_it(org: LocalOrg) -> None:
    writer = writer_for(session_conn(org))
    (made,) = writer.upsert(LOG, KEY, [_log("sfss-old", "a")])
    (changed,) = writer.update(LOG, [{"Id": made.id, KEY: "sfss-new"}])
    assert changed.success

    (again,) = writer.upsert(LOG, KEY, [_log("sfss-new", "b")])
    (fresh,) = writer.upsert(LOG, KEY, [_log("sfss-old", "c")])

    assert again.id == made.id and fresh.id != made.id
    assert sorted(r[KEY] for r in org.records(LOG)) == ["sfss-new", "sfss-old"]
