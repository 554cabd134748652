"""Write-back through the Composite API (``write_many``) against the local org."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from sf_stripe_sync.config import SalesforceSettings, Settings
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.errors import ApiLimitExceeded, TransientError
from sf_stripe_sync.ports import BatchWriteBack, WriteOp
from sf_stripe_sync.salesforce.auth import SalesforceConnection, connect
from sf_stripe_sync.salesforce.retry import RetryPolicy
from sf_stripe_sync.salesforce.writeback import WriteBackBatch
from sf_stripe_sync.salesforce.writer import COLLECTIONS_PER_COMPOSITE, SalesforceWriteBack
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.salesforce_org.faults import OrgFaults

pytestmark = pytest.mark.integration

USERNAME = "sync@example.com"
PASSWORD = "correct-horse-battery"
ORDERS = 1000


def sf_id(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}AAA"


def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {
        "Account": [{"Id": sf_id("001", a), "Name": f"A{a}", "Stripe_Customer_Id__c": None}
                    for a in range(1, 301)],
        "Contract": [{"Id": sf_id("800", c), "AccountId": sf_id("001", 1),
                      "Stripe_Subscription_Schedule_Id__c": None} for c in range(1, 251)],
        "Order": [{"Id": sf_id("801", n), "Status": "Activated", "AccountId": sf_id("001", 1),
                   "EffectiveDate": "2025-01-01", "Stripe_Sync_Status__c": None}
                  for n in range(1, ORDERS + 1)],
    }


@pytest.fixture(scope="module")
def org() -> Iterator[LocalOrg]:
    local = LocalOrg(snapshot(), username=USERNAME, password=PASSWORD)
    local.start(host="127.0.0.1", port=0)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(autouse=True)
def no_faults(org: LocalOrg) -> Iterator[None]:
    org.set_faults(OrgFaults())
    yield
    org.set_faults(OrgFaults())


def session_conn(org: LocalOrg, attempts: int = 3) -> SalesforceConnection:
    settings = Settings(salesforce=SalesforceSettings(
        auth="session", instance_url=org.instance_url.replace("http://", "https://")))
    return connect(settings, session=org.requests_session(),
                   environ={"SF_SESSION_ID": org.session_id},
                   retry=RetryPolicy.immediate(attempts))


def writer_for(conn: SalesforceConnection) -> SalesforceWriteBack:
    return SalesforceWriteBack(conn, lock_retry=RetryPolicy.immediate(3), sleep=lambda _: None)


def field_of(org: LocalOrg, sobject: str, record_id: str, name: str) -> Any:
    return next(r for r in org.records(sobject) if r["Id"] == record_id).get(name)


def logs_for(org: LocalOrg, order_id: str, operation: str = "create") -> list[dict[str, Any]]:
    """The logs of one order and operation (the org is shared by this module's tests)."""
    return [r for r in org.records("Sync_Log__c")
            if str(r.get("Order__c"))[:15] == order_id[:15]
            and r.get("Operation__c") == operation]


def test_the_writer_offers_batched_writes() -> None:
    assert issubclass(SalesforceWriteBack, BatchWriteBack)


def test_one_bad_record_in_a_composite_call_is_reported_and_the_others_kept(
        org: LocalOrg) -> None:
    conn = session_conn(org)
    before = conn.api_calls
    orders, logs = writer_for(conn).write_many([
        WriteOp("update", "Order", [
            {"Id": sf_id("801", 1), "Stripe_Sync_Status__c": "Synced"},
            {"Id": sf_id("801", 2), "No_Such_Field__c": "x"},
            {"Id": sf_id("801", 3), "Stripe_Sync_Status__c": "Synced"},
        ]),
        WriteOp("insert", "Sync_Log__c", [
            {"Order__c": sf_id("801", 1), "Status__c": "Success", "Operation__c": "create"},
        ]),
    ])
    assert conn.api_calls - before == 1
    assert [r.success for r in orders] == [True, False, True]
    assert "INVALID_FIELD" in orders[1].errors[0] and orders[1].id == sf_id("801", 2)
    assert field_of(org, "Order", sf_id("801", 3), "Stripe_Sync_Status__c") == "Synced"
    assert logs[0].success and logs[0].id in {r["Id"] for r in org.records("Sync_Log__c")}


def test_updates_of_several_sobjects_share_collections_five_a_call(org: LocalOrg) -> None:
    conn = session_conn(org)
    ops = [
        WriteOp("update", "Account", [{"Id": sf_id("001", a), "Stripe_Customer_Id__c": f"cus_{a}"}
                                      for a in range(1, 121)]),
        WriteOp("update", "Contract", [
            {"Id": sf_id("800", c), "Stripe_Subscription_Schedule_Id__c": f"sub_sched_{c}"}
            for c in range(1, 81)]),
        WriteOp("update", "Order", [{"Id": sf_id("801", n), "Stripe_Sync_Status__c": "Synced"}
                                    for n in range(1, 801)]),
        WriteOp("insert", "Sync_Log__c", [{"Order__c": sf_id("801", n), "Status__c": "Success"}
                                          for n in range(1, ORDERS + 1)]),
    ]
    # 1,000 updates fill 5 collections (apart they would take 1 + 1 + 4), the logs 5 more.
    before = conn.api_calls
    results = writer_for(conn).write_many(ops)
    assert conn.api_calls - before == 10 // COLLECTIONS_PER_COMPOSITE
    assert [len(r) for r in results] == [len(op.records) for op in ops]
    assert all(r.success for per_op in results for r in per_op)
    assert results[1][79].id == sf_id("800", 80)
    assert field_of(org, "Account", sf_id("001", 120), "Stripe_Customer_Id__c") == "cus_120"
    assert field_of(org, "Contract", sf_id("800", 80),
                    "Stripe_Subscription_Schedule_Id__c") == "sub_sched_80"
    assert field_of(org, "Order", sf_id("801", 800), "Stripe_Sync_Status__c") == "Synced"


def test_a_503_on_the_composite_call_is_retried(org: LocalOrg) -> None:
    conn = session_conn(org, attempts=3)
    org.set_faults(OrgFaults(next_unavailable=2))
    ((result,),) = writer_for(conn).write_many([
        WriteOp("update", "Order", [{"Id": sf_id("801", 4), "Stripe_Sync_Status__c": "Error"}])])
    assert result.success
    assert field_of(org, "Order", sf_id("801", 4), "Stripe_Sync_Status__c") == "Error"


def test_a_whole_call_lock_on_the_composite_call_is_retried(org: LocalOrg) -> None:
    conn = session_conn(org)
    org.set_faults(OrgFaults(next_lock_row=1))
    ((result,), (log,)) = writer_for(conn).write_many([
        WriteOp("update", "Order", [{"Id": sf_id("801", 5), "Stripe_Sync_Status__c": "Error"}]),
        WriteOp("insert", "Sync_Log__c", [{"Order__c": sf_id("801", 5), "Status__c": "x",
                                           "Operation__c": "amend"}]),
    ])
    assert result.success and log.success
    assert len(logs_for(org, sf_id("801", 5), "amend")) == 1


def test_a_record_that_stays_locked_is_reported_and_the_others_written(org: LocalOrg) -> None:
    conn = session_conn(org)
    org.set_faults(OrgFaults(locked_record_ids=(sf_id("801", 7),)))
    before = conn.api_calls
    (results,) = writer_for(conn).write_many([WriteOp("update", "Order", [
        {"Id": sf_id("801", n), "Stripe_Sync_Status__c": "Canceled"} for n in (6, 7, 8)])])
    assert [r.success for r in results] == [True, False, True]
    assert results[1].errors[0].startswith("UNABLE_TO_LOCK_ROW")
    assert conn.api_calls - before == 3  # the first call, then the locked record twice
    assert field_of(org, "Order", sf_id("801", 8), "Stripe_Sync_Status__c") == "Canceled"
    assert field_of(org, "Order", sf_id("801", 7), "Stripe_Sync_Status__c") != "Canceled"


def test_request_limit_exceeded_on_the_composite_call_stops_the_run(org: LocalOrg) -> None:
    org.set_faults(OrgFaults(next_request_limit=1))
    with pytest.raises(ApiLimitExceeded):
        writer_for(session_conn(org)).write_many([
            WriteOp("update", "Order", [{"Id": sf_id("801", 9), "Stripe_Sync_Status__c": "x"}])])


def test_an_expired_session_logs_in_again_for_the_composite_call(org: LocalOrg) -> None:
    settings = Settings(salesforce=SalesforceSettings(auth="password", username=USERNAME))
    conn = connect(settings, session=org.requests_session(),
                   environ={"SF_PASSWORD": PASSWORD}, retry=RetryPolicy.immediate())
    logins = conn.logins
    org.expire_sessions()
    ((result,),) = writer_for(conn).write_many([
        WriteOp("update", "Order", [{"Id": sf_id("801", 10), "Stripe_Sync_Status__c": "Re"}])])
    assert result.success and conn.logins == logins + 1


def test_an_update_without_id_fails_locally_and_the_rest_is_written(org: LocalOrg) -> None:
    (results,) = writer_for(session_conn(org)).write_many([WriteOp("update", "Order", [
        {"Stripe_Sync_Status__c": "Synced"},
        {"Id": sf_id("801", 11), "Stripe_Sync_Status__c": "Synced"}])])
    assert [r.success for r in results] == [False, True]
    assert results[0].errors[0].startswith("MISSING_ARGUMENT")


def _batch_with_one_success(order_n: int) -> WriteBackBatch:
    batch = WriteBackBatch(FieldMap(), datetime(2026, 1, 1, tzinfo=UTC))
    batch.add_success(order={"Id": sf_id("801", order_n)}, operation="create",
                      schedule_id=f"sub_sched_o{order_n}", contract_id=sf_id("800", order_n),
                      contract_schedule_id=None, account_id=None, customer_id=None,
                      known_customer_id=None, idempotency_key=f"key-{order_n}",
                      request_ids=("req_1",), message="created")
    return batch


def test_a_flush_sends_updates_and_logs_in_one_call(org: LocalOrg) -> None:
    conn = session_conn(org)
    before = conn.api_calls
    problems = _batch_with_one_success(20).flush(writer_for(conn))
    assert problems == {}
    assert conn.api_calls - before == 1
    assert field_of(org, "Order", sf_id("801", 20), "Stripe_Sync_Status__c") == "Synced"
    assert field_of(org, "Contract", sf_id("800", 20),
                    "Stripe_Subscription_Schedule_Id__c") == "sub_sched_o20"
    assert len(logs_for(org, sf_id("801", 20))) == 1


def test_a_flush_whose_answer_is_lost_writes_each_log_once(org: LocalOrg) -> None:
    class LosesFirstAnswer(SalesforceWriteBack):
        lost = False

        def write_many(self, ops: Any) -> Any:
            results = super().write_many(ops)
            if not self.lost:
                self.lost = True
                raise TransientError("the answer was lost")
            return results

    conn = session_conn(org)
    problems = _batch_with_one_success(21).flush(
        LosesFirstAnswer(conn, lock_retry=RetryPolicy.immediate(3), sleep=lambda _: None))
    assert problems == {}
    assert len(logs_for(org, sf_id("801", 21))) == 1
    assert field_of(org, "Order", sf_id("801", 21), "Stripe_Sync_Status__c") == "Synced"


def test_a_resumed_flush_does_not_write_a_landed_log_again(org: LocalOrg) -> None:
    conn = session_conn(org)
    _batch_with_one_success(22).flush(writer_for(conn))
    batch = WriteBackBatch(FieldMap(), datetime(2026, 1, 2, tzinfo=UTC))
    batch.add_success(order={"Id": sf_id("801", 22)}, operation="create",
                      schedule_id="sub_sched_o22", contract_id=None, contract_schedule_id=None,
                      account_id=None, customer_id=None, known_customer_id=None,
                      idempotency_key="key-22", request_ids=("req_1",), message="created",
                      verify_log=True)
    assert batch.flush(writer_for(conn)) == {}
    assert len(logs_for(org, sf_id("801", 22))) == 1
