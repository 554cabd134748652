"""The local org's composite and composite/batch resources: one API call each."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.salesforce_org.faults import OrgFaults
from sf_stripe_sync.sandbox.salesforce_org.store import to_18

pytestmark = pytest.mark.integration

ACME = to_18("001000000000001")
ORDERS = [to_18(f"80100000000000{n}") for n in range(1, 4)]


@pytest.fixture
def org() -> Iterator[LocalOrg]:
    snapshot = {
        "Account": [{"Id": ACME, "Name": "Acme"}],
        "Order": [{"Id": oid, "AccountId": ACME, "Status": "Activated",
                   "EffectiveDate": "2027-01-01"} for oid in ORDERS],
    }
    with LocalOrg(snapshot).running() as running:
        yield running


def post(org: LocalOrg, path: str, body: Any) -> requests.Response:
    return org.requests_session().post(
        f"{org.instance_url}/services/data/v{org.api_version}/{path}", json=body,
        headers={"Authorization": f"Bearer {org.session_id}"}, timeout=10)


def collection(org: LocalOrg, reference: str, method: str, records: list[dict[str, Any]]
               ) -> dict[str, Any]:
    return {"method": method, "referenceId": reference,
            "url": f"/services/data/v{org.api_version}/composite/sobjects",
            "body": {"allOrNone": False, "records": records}}


def calls(org: LocalOrg) -> int:
    return int(org.requests_session().get(f"{org.instance_url}/_org/stats",
                                          timeout=10).json()["api_calls"])


def test_a_composite_call_runs_every_subrequest_and_counts_once(org: LocalOrg) -> None:
    before = calls(org)
    answer = post(org, "composite", {"allOrNone": False, "compositeRequest": [
        collection(org, "orders", "PATCH", [
            {"attributes": {"type": "Order"}, "Id": ORDERS[0], "Status": "Draft"},
            {"attributes": {"type": "Order"}, "Id": ORDERS[1], "No_Such_Field__c": 1},
        ]),
        collection(org, "logs", "POST", [
            {"attributes": {"type": "Sync_Log__c"}, "Order__c": ORDERS[0], "Status__c": "ok"}]),
    ]})
    assert answer.status_code == 200 and calls(org) - before == 1
    first, second = answer.json()["compositeResponse"]
    assert (first["referenceId"], first["httpStatusCode"]) == ("orders", 200)
    assert [r["success"] for r in first["body"]] == [True, False]
    assert first["body"][1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert second["body"][0]["success"] is True
    assert {r["Id"]: r["Status"] for r in org.records("Order")}[ORDERS[0]] == "Draft"
    assert [r["Id"] for r in org.records("Sync_Log__c")] == [second["body"][0]["id"]]


def test_a_failed_subrequest_does_not_undo_the_others(org: LocalOrg) -> None:
    answer = post(org, "composite", {"compositeRequest": [
        collection(org, "bad", "PATCH", [{"attributes": {"type": "Nope__c"}, "Id": ORDERS[0]}]),
        {"method": "PATCH", "referenceId": "good",
         "url": f"/services/data/v{org.api_version}/sobjects/Order/{ORDERS[2]}",
         "body": {"Status": "Draft"}},
    ]}).json()["compositeResponse"]
    assert answer[0]["body"][0]["success"] is False
    assert answer[1]["httpStatusCode"] == 204
    assert {r["Id"]: r["Status"] for r in org.records("Order")}[ORDERS[2]] == "Draft"


@pytest.mark.parametrize(("subrequests", "collections"), [(26, 0), (6, 6)])
def test_salesforces_subrequest_limits_are_enforced(
        org: LocalOrg, subrequests: int, collections: int) -> None:
    requests_ = [collection(org, f"c{n}", "PATCH", []) for n in range(collections)]
    requests_ += [{"method": "GET", "referenceId": f"g{n}",
                   "url": f"/services/data/v{org.api_version}/sobjects/Account/{ACME}"}
                  for n in range(subrequests - collections)]
    answer = post(org, "composite", {"compositeRequest": requests_})
    assert answer.status_code == 400
    assert answer.json()[0]["errorCode"] == "LIMIT_EXCEEDED"


def test_a_locked_record_fails_alone_inside_a_composite_call(org: LocalOrg) -> None:
    org.set_faults(OrgFaults(locked_record_ids=(ORDERS[1],)))
    answer = post(org, "composite", {"compositeRequest": [collection(org, "o", "PATCH", [
        {"attributes": {"type": "Order"}, "Id": oid, "Status": "Draft"} for oid in ORDERS])]})
    results = answer.json()["compositeResponse"][0]["body"]
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["errors"][0]["statusCode"] == "UNABLE_TO_LOCK_ROW"


def test_a_call_level_fault_hits_the_whole_composite_call(org: LocalOrg) -> None:
    org.set_faults(OrgFaults(next_unavailable=1, only=("write",)))
    answer = post(org, "composite", {"compositeRequest": [collection(org, "o", "PATCH", [
        {"attributes": {"type": "Order"}, "Id": ORDERS[0], "Status": "Draft"}])]})
    assert answer.status_code == 503
    assert {r["Id"]: r["Status"] for r in org.records("Order")}[ORDERS[0]] == "Activated"


def test_all_or_none_composite_calls_are_refused_rather_than_half_modelled(
        org: LocalOrg) -> None:
    answer = post(org, "composite", {"allOrNone": True, "compositeRequest": [
        collection(org, "o", "PATCH", [])]})
    assert answer.status_code == 400


def test_a_batch_of_describes_is_one_call_with_per_object_results(org: LocalOrg) -> None:
    before = calls(org)
    answer = post(org, "composite/batch", {"batchRequests": [
        {"method": "GET", "url": f"v{org.api_version}/sobjects/Order/describe"},
        {"method": "GET", "url": f"v{org.api_version}/sobjects/Nope__c/describe"},
    ]})
    assert calls(org) - before == 1
    body = answer.json()
    assert body["hasErrors"] is True
    order, missing = body["results"]
    assert order["statusCode"] == 200
    assert "Stripe_Sync_Status__c" in {f["name"] for f in order["result"]["fields"]}
    assert missing["statusCode"] == 404 and missing["result"][0]["errorCode"] == "NOT_FOUND"


def test_a_batch_of_reads_draws_describe_faults_not_write_faults(org: LocalOrg) -> None:
    org.set_faults(OrgFaults(next_unavailable=1, only=("write",)))
    answer = post(org, "composite/batch", {"batchRequests": [
        {"method": "GET", "url": f"v{org.api_version}/sobjects/Order/describe"}]})
    assert answer.status_code == 200
    org.set_faults(OrgFaults(next_unavailable=1, only=("describe",)))
    again = post(org, "composite/batch", {"batchRequests": [
        {"method": "GET", "url": f"v{org.api_version}/sobjects/Order/describe"}]})
    assert again.status_code == 503
