"""Write-back, re-authentication and fault paths against the local org."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from sf_stripe_sync.config import SalesforceSettings, Settings
from sf_stripe_sync.errors import (
    ApiLimitExceeded,
    AuthenticationError,
    SyncError,
    TransientError,
)
from sf_stripe_sync.salesforce.auth import SalesforceConnection, connect
from sf_stripe_sync.salesforce.retry import RetryPolicy
from sf_stripe_sync.salesforce.source import SalesforceOrderSource
from sf_stripe_sync.salesforce.writer import SalesforceWriteBack
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.salesforce_org.faults import OrgFaults

pytestmark = pytest.mark.integration

USERNAME = "sync@example.com"
PASSWORD = "correct-horse-battery"


def sf_id(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}AAA"


def snapshot(orders: int = 3) -> dict[str, list[dict[str, Any]]]:
    return {
        "Account": [{"Id": sf_id("001", 1), "Name": "Acme", "Stripe_Customer_Id__c": None}],
        "Order": [{"Id": sf_id("801", n), "Status": "Activated", "AccountId": sf_id("001", 1),
                   "EffectiveDate": "2025-01-01", "Stripe_Sync_Status__c": None}
                  for n in range(1, orders + 1)],
    }


@pytest.fixture
def org() -> Iterator[LocalOrg]:
    local = LocalOrg(snapshot(250), batch_size=2, username=USERNAME, password=PASSWORD)
    local.start(host="127.0.0.1", port=0)
    try:
        yield local
    finally:
        local.stop()


def https(org: LocalOrg) -> str:
    return org.instance_url.replace("http://", "https://")


def session_conn(org: LocalOrg, attempts: int = 3) -> SalesforceConnection:
    settings = Settings(salesforce=SalesforceSettings(auth="session", instance_url=https(org)))
    return connect(settings, session=org.requests_session(),
                   environ={"SF_SESSION_ID": org.session_id},
                   retry=RetryPolicy.immediate(attempts))


def password_conn(org: LocalOrg, password: str = PASSWORD) -> SalesforceConnection:
    settings = Settings(salesforce=SalesforceSettings(auth="password", username=USERNAME))
    return connect(settings, session=org.requests_session(),
                   environ={"SF_PASSWORD": password}, retry=RetryPolicy.immediate())


def status_of(org: LocalOrg, order_n: int) -> Any:
    record = next(r for r in org.records("Order") if r["Id"] == sf_id("801", order_n))
    return record.get("Stripe_Sync_Status__c")


def test_one_bad_record_is_reported_and_the_others_are_kept(org: LocalOrg) -> None:
    writer = SalesforceWriteBack(session_conn(org))
    results = writer.update("Order", [
        {"Id": sf_id("801", 1), "Stripe_Sync_Status__c": "Synced"},
        {"Id": sf_id("801", 2), "No_Such_Field__c": "x"},
        {"Id": sf_id("801", 3), "Stripe_Sync_Status__c": "Synced"},
    ])
    assert [r.success for r in results] == [True, False, True]
    assert "INVALID_FIELD" in results[1].errors[0]
    assert results[1].id == sf_id("801", 2)
    assert (status_of(org, 1), status_of(org, 3)) == ("Synced", "Synced")


def test_250_records_take_two_calls(org: LocalOrg) -> None:
    conn = session_conn(org)
    before = conn.api_calls
    results = SalesforceWriteBack(conn).update(
        "Order", [{"Id": sf_id("801", n), "Stripe_Sync_Status__c": "Synced"}
                  for n in range(1, 251)])
    assert conn.api_calls - before == 2
    assert all(r.success for r in results)
    assert all(r.get("Stripe_Sync_Status__c") == "Synced" for r in org.records("Order"))


def test_sync_log_inserts_return_new_ids(org: LocalOrg) -> None:
    results = SalesforceWriteBack(session_conn(org)).insert("Sync_Log__c", [
        {"Order__c": sf_id("801", 1), "Operation__c": "create", "Status__c": "ok"},
        {"Order__c": sf_id("801", 2), "Operation__c": "create", "Status__c": "ok"},
    ])
    assert all(r.success and r.id for r in results)
    assert {r["Id"] for r in org.records("Sync_Log__c")} == {r.id for r in results}


def test_expired_session_logs_in_again_in_password_mode(org: LocalOrg) -> None:
    conn = password_conn(org)
    logins = conn.logins
    org.expire_sessions()
    (result,) = SalesforceWriteBack(conn).update(
        "Order", [{"Id": sf_id("801", 1), "Stripe_Sync_Status__c": "Synced"}])
    assert result.success
    assert conn.logins == logins + 1
    assert status_of(org, 1) == "Synced"


def test_wrong_password_is_an_authentication_error_without_the_password(org: LocalOrg) -> None:
    with pytest.raises(AuthenticationError) as caught:
        password_conn(org, password="wrong-password-value")
    assert "wrong-password-value" not in str(caught.value)


def test_expired_session_in_session_mode_is_a_clear_authentication_error(org: LocalOrg) -> None:
    conn = session_conn(org)
    org.expire_sessions()
    with pytest.raises(AuthenticationError, match="session"):
        SalesforceOrderSource(conn).activated_order_ids()


def test_503_is_retried_and_then_succeeds(org: LocalOrg) -> None:
    conn = session_conn(org, attempts=3)
    org.set_faults(OrgFaults(next_unavailable=2))
    (result,) = SalesforceWriteBack(conn).update(
        "Order", [{"Id": sf_id("801", 1), "Stripe_Sync_Status__c": "Synced"}])
    assert result.success


def test_503_that_persists_ends_in_a_transient_error(org: LocalOrg) -> None:
    conn = session_conn(org, attempts=2)
    org.set_faults(OrgFaults(unavailable_rate=1.0))
    with pytest.raises(TransientError, match="503"):
        SalesforceOrderSource(conn).activated_order_ids()


def test_whole_call_lock_is_retried(org: LocalOrg) -> None:
    conn = session_conn(org)
    org.set_faults(OrgFaults(next_lock_row=1))
    (result,) = SalesforceWriteBack(conn).update(
        "Order", [{"Id": sf_id("801", 1), "Stripe_Sync_Status__c": "Synced"}])
    assert result.success


def test_record_that_stays_locked_is_reported_and_the_others_written(org: LocalOrg) -> None:
    conn = session_conn(org)
    org.set_faults(OrgFaults(locked_record_ids=(sf_id("801", 2),)))
    results = SalesforceWriteBack(conn).update("Order", [
        {"Id": sf_id("801", n), "Stripe_Sync_Status__c": "Synced"} for n in (1, 2, 3)])
    assert [r.success for r in results] == [True, False, True]
    assert results[1].errors[0].startswith("UNABLE_TO_LOCK_ROW")
    assert status_of(org, 2) is None


def test_request_limit_exceeded_stops_with_api_limit_exceeded(org: LocalOrg) -> None:
    conn = session_conn(org)
    org.set_faults(OrgFaults(next_request_limit=1))
    with pytest.raises(ApiLimitExceeded, match="limit"):
        SalesforceWriteBack(conn).update(
            "Order", [{"Id": sf_id("801", 1), "Stripe_Sync_Status__c": "Synced"}])


def test_usage_comes_from_the_limit_header(org: LocalOrg) -> None:
    conn = session_conn(org)
    assert conn.usage() is None or conn.api_calls == 0
    SalesforceOrderSource(conn).activated_order_ids()
    usage = conn.usage()
    assert usage is not None
    used, limit = usage
    assert 0 < used <= limit


def test_no_library_exception_escapes_an_unreachable_org(org: LocalOrg) -> None:
    conn = session_conn(org, attempts=1)
    org.stop()
    with pytest.raises(SyncError):
        SalesforceOrderSource(conn).activated_order_ids()
