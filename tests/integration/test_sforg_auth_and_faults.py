"""Logins, expired sessions and injected faults of the local org."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from sf_stripe_sync.sandbox.salesforce_org import LocalOrg, OrgFaults
from sf_stripe_sync.sandbox.salesforce_org.store import to_18

pytestmark = pytest.mark.integration

ACME = to_18("001000000000001")
O1, O2 = to_18("801000000000001"), to_18("801000000000002")
SNAPSHOT: dict[str, list[dict[str, Any]]] = {
    "Account": [{"Id": ACME, "Name": "Acme"}],
    "Order": [{"Id": O1, "AccountId": ACME, "Status": "Activated"},
              {"Id": O2, "AccountId": ACME, "Status": "Activated"}],
}


@pytest.fixture
def org() -> Iterator[LocalOrg]:
    with LocalOrg(SNAPSHOT, username="ops@example.com", password="s3cret").running() as running:
        yield running


def direct(org: LocalOrg) -> Salesforce:
    return Salesforce(instance_url=org.instance_url, session_id=org.session_id,
                      session=org.requests_session())


def _update(sf: Salesforce, *ids: str) -> list[dict[str, Any]]:
    records = [{"attributes": {"type": "Order"}, "Id": i, "Stripe_Sync_Status__c": "Synced"}
               for i in ids]
    result: list[dict[str, Any]] = sf.restful(
        "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records})
    return result


def test_expired_session_gets_401_invalid_session_id(org: LocalOrg) -> None:
    sf = direct(org)
    old_session = org.session_id
    org.expire_sessions()
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM Order")
    assert caught.value.content[0]["errorCode"] == "INVALID_SESSION_ID"
    assert org.session_id != old_session
    assert direct(org).query("SELECT COUNT() FROM Order")["totalSize"] == 2


def test_soap_password_login_logs_in_again_after_expiry(org: LocalOrg) -> None:
    sf = Salesforce(username="ops@example.com", password="s3cret", security_token="TOKEN",
                    session=org.requests_session())
    assert sf.sf_instance == f"127.0.0.1:{org.port}"
    first_session = sf.session_id
    org.expire_sessions()
    assert sf.query("SELECT COUNT() FROM Order")["totalSize"] == 2
    assert sf.session_id != first_session


def test_soap_login_with_wrong_password_is_refused(org: LocalOrg) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        Salesforce(username="ops@example.com", password="wrong", security_token="",
                   session=org.requests_session())
    assert caught.value.code == "INVALID_LOGIN"


def test_oauth_password_and_client_credentials_grants(org: LocalOrg) -> None:
    by_password = Salesforce(username="ops@example.com", password="s3cret",
                             consumer_key="key", consumer_secret="secret",
                             session=org.requests_session())
    assert by_password.query("SELECT COUNT() FROM Account")["totalSize"] == 1
    by_client = Salesforce(consumer_key="key", consumer_secret="secret", domain="acme.my",
                           session=org.requests_session())
    assert by_client.query("SELECT COUNT() FROM Account")["totalSize"] == 1
    with pytest.raises(SalesforceAuthenticationFailed):
        Salesforce(username="ops@example.com", password="nope", consumer_key="key",
                   consumer_secret="secret", session=org.requests_session())


def test_the_org_session_never_leaves_loopback(org: LocalOrg) -> None:
    with pytest.raises(requests.ConnectionError):
        org.requests_session().get("https://example.com/")


def test_next_call_faults_are_one_shot_and_then_clear(org: LocalOrg) -> None:
    sf = direct(org)
    org.set_faults(OrgFaults(next_unavailable=1, next_request_limit=1))
    with pytest.raises(SalesforceRefusedRequest) as refused:
        sf.query("SELECT Id FROM Order")
    assert refused.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    with pytest.raises(SalesforceGeneralError) as unavailable:
        sf.query("SELECT Id FROM Order")
    assert unavailable.value.status == 503
    assert sf.query("SELECT Id FROM Order")["totalSize"] == 2


def test_injected_invalid_session_is_a_401_for_the_next_call_only(org: LocalOrg) -> None:
    sf = direct(org)
    org.set_faults(OrgFaults(next_invalid_session=1))
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Order")
    assert sf.query("SELECT Id FROM Order")["totalSize"] == 2


def test_whole_call_lock_fault_hits_writes_not_queries(org: LocalOrg) -> None:
    sf = direct(org)
    org.set_faults(OrgFaults(next_lock_row=1))
    assert sf.query("SELECT Id FROM Order")["totalSize"] == 2
    with pytest.raises(SalesforceMalformedRequest) as caught:
        _update(sf, O1)
    assert caught.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    assert _update(sf, O1)[0]["success"] is True


def test_locked_record_fails_alone_inside_a_composite_write(org: LocalOrg) -> None:
    org.set_faults(OrgFaults(locked_record_ids=(O2,)))
    results = _update(direct(org), O1, O2)
    assert results[0]["success"] is True
    assert results[1]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"
    statuses = {r["Id"]: r.get("Stripe_Sync_Status__c") for r in org.records("Order")}
    assert statuses == {O1: "Synced", O2: None}


def test_seeded_fault_rates_replay_the_same_way(org: LocalOrg) -> None:
    def outcomes() -> list[bool]:
        org.set_faults(OrgFaults(seed=7, unavailable_rate=0.5))
        sf = direct(org)
        seen = []
        for _ in range(12):
            try:
                sf.query("SELECT Id FROM Order")
                seen.append(True)
            except SalesforceGeneralError:
                seen.append(False)
        return seen

    first = outcomes()
    assert first == outcomes()
    assert True in first and False in first


def test_daily_api_limit_refuses_calls_once_used_up(org: LocalOrg) -> None:
    sf = direct(org)
    org.set_faults(OrgFaults(daily_api_limit=2))
    sf.query("SELECT Id FROM Order")
    assert sf.limits()["DailyApiRequests"] == {"Max": 2, "Remaining": 0}
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Order")
    assert caught.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"


def test_control_endpoints_steer_the_org_and_are_not_api_calls(org: LocalOrg) -> None:
    http = requests.Session()
    response = http.post(f"{org.base_url}/_org/faults", json={"next_unavailable": 1})
    assert response.status_code == 204
    with pytest.raises(SalesforceGeneralError):
        direct(org).query("SELECT Id FROM Order")
    snapshot = http.get(f"{org.base_url}/_org/snapshot").json()
    assert {r["Id"] for r in snapshot["Order"]} == {O1, O2}
    bad = http.post(f"{org.base_url}/_org/faults", json={"no_such_fault": 1})
    assert bad.status_code == 400
    assert http.delete(f"{org.base_url}/_org/faults").status_code == 204
    assert org.api_calls == 1


def test_cli_serves_a_snapshot_file_until_interrupted(tmp_path: Path) -> None:
    snapshot_file = tmp_path / "org.json"
    snapshot_file.write_text(json.dumps(SNAPSHOT), encoding="utf-8")
    command = [sys.executable, "-m", "sf_stripe_sync.cli", "sandbox", "salesforce",
               "--snapshot", str(snapshot_file), "--port", "0", "--batch-size", "1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        instance_url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        session_id = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:")
        response = requests.get(f"{base_url}/services/data/v65.0/query",
                                params={"q": "SELECT Id FROM Order"},
                                headers={"Authorization": f"Bearer {session_id}"})
        body = response.json()
        assert body["totalSize"] == 2 and len(body["records"]) == 1
        assert instance_url == base_url.replace("http://", "https://")
    finally:
        process.send_signal(signal.SIGINT)
        exit_code = process.wait(timeout=10)
    assert exit_code == 0


def test_cli_reports_a_missing_snapshot_as_a_usage_error(tmp_path: Path) -> None:
    from sf_stripe_sync.cli import main

    assert main(["sandbox", "salesforce", "--snapshot", str(tmp_path / "none.json")]) == 2


def test_faults_limited_to_a_call_kind_spare_the_others(org: LocalOrg) -> None:
    sf = direct(org)
    org.set_faults(OrgFaults(unavailable_rate=1.0, only=("write",)))
    assert sf.query("SELECT Id FROM Order")["totalSize"] == 2
    assert sf.Order.describe()["name"] == "Order"
    with pytest.raises(SalesforceGeneralError):
        _update(sf, O1)
