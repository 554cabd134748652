"""Writes, describe and limits against the local org through simple-salesforce."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.salesforce_org.store import to_18

pytestmark = pytest.mark.integration

ACME = to_18("001000000000001")
O1, O2, O3 = (to_18(f"80100000000000{n}") for n in range(1, 4))


def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {
        "Account": [{"Id": ACME, "Name": "Acme", "Region__c": "EU"}],
        "Order": [
            {"Id": oid, "AccountId": ACME, "Status": "Activated", "EffectiveDate": "2027-01-01",
             "SystemModstamp": "2026-01-01T00:00:00.000+0000",
             "LastModifiedDate": "2026-01-01T00:00:00.000+0000"}
            for oid in (O1, O2, O3)
        ],
    }


@pytest.fixture
def org() -> Iterator[LocalOrg]:
    with LocalOrg(snapshot()).running() as running:
        yield running


@pytest.fixture
def sf(org: LocalOrg) -> Salesforce:
    return Salesforce(instance_url=org.instance_url, session_id=org.session_id,
                      session=org.requests_session())


def _by_id(org: LocalOrg, sobject: str) -> dict[str, dict[str, Any]]:
    return {r["Id"]: r for r in org.records(sobject)}


def test_composite_update_reports_the_bad_record_and_keeps_the_others(
    org: LocalOrg, sf: Salesforce
) -> None:
    records = [
        {"attributes": {"type": "Order"}, "Id": O1, "Stripe_Sync_Status__c": "Synced"},
        {"attributes": {"type": "Order"}, "Id": O2, "No_Such_Field__c": "x"},
        {"attributes": {"type": "Order"}, "Id": O3, "Stripe_Sync_Status__c": "Synced"},
    ]
    results = sf.restful("composite/sobjects", method="PATCH",
                         json={"allOrNone": False, "records": records})
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1]["id"] == O2
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD"
    assert results[1]["errors"][0]["fields"] == ["No_Such_Field__c"]
    stored = _by_id(org, "Order")
    assert stored[O1]["Stripe_Sync_Status__c"] == "Synced"
    assert stored[O3]["Stripe_Sync_Status__c"] == "Synced"
    assert "No_Such_Field__c" not in stored[O2]


def test_composite_all_or_none_writes_nothing_when_one_fails(org: LocalOrg, sf: Salesforce) -> None:
    records = [
        {"attributes": {"type": "Order"}, "Id": O1, "Stripe_Sync_Status__c": "Synced"},
        {"attributes": {"type": "Order"}, "Id": O2, "SystemModstamp": "2030-01-01T00:00:00Z"},
    ]
    results = sf.restful("composite/sobjects", method="PATCH",
                         json={"allOrNone": True, "records": records})
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"
    assert _by_id(org, "Order")[O1].get("Stripe_Sync_Status__c") is None


def test_composite_update_without_id_or_with_a_bad_id_fails_that_record(sf: Salesforce) -> None:
    records = [
        {"attributes": {"type": "Order"}, "Stripe_Sync_Status__c": "x"},
        {"attributes": {"type": "Order"}, "Id": ACME, "Stripe_Sync_Status__c": "x"},
        {"attributes": {"type": "Order"}, "Id": O1, "Stripe_Sync_Status__c": "x"},
    ]
    results = sf.restful("composite/sobjects", method="PATCH",
                         json={"allOrNone": False, "records": records})
    assert results[0]["errors"][0]["statusCode"] == "MISSING_ARGUMENT"
    assert results[1]["errors"][0]["statusCode"] == "MALFORMED_ID"
    assert results[2]["success"] is True


def test_composite_over_two_hundred_records_is_refused_whole(org: LocalOrg, sf: Salesforce) -> None:
    records = [{"attributes": {"type": "Order"}, "Id": O1, "Stripe_Sync_Status__c": "x"}] * 201
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.restful("composite/sobjects", method="PATCH", json={"records": records})
    assert caught.value.content[0]["errorCode"] == "EXCEEDED_ID_LIMIT"
    assert _by_id(org, "Order")[O1].get("Stripe_Sync_Status__c") is None


def test_a_mixed_collection_of_more_than_ten_chunks_is_refused_whole() -> None:
    accounts = [to_18(f"0010000000001{n:02d}") for n in range(6)]
    orders = [to_18(f"8010000000001{n:02d}") for n in range(6)]
    org = LocalOrg({
        "Account": [{"Id": a, "Name": f"A{n}"} for n, a in enumerate(accounts)],
        "Order": [{"Id": o, "AccountId": accounts[n], "Status": "Activated",
                   "EffectiveDate": "2027-01-01"} for n, o in enumerate(orders)],
    })
    # Order, Account, Order, Account, ...: 11 runs of one type are 11 chunks.
    interleaved = [record for pair in zip(orders, accounts, strict=True) for record in (
        {"attributes": {"type": "Order"}, "Id": pair[0], "Stripe_Sync_Status__c": "x"},
        {"attributes": {"type": "Account"}, "Id": pair[1], "Name": "Renamed"})][:11]
    with org.running() as running:
        sf = Salesforce(instance_url=running.instance_url, session_id=running.session_id,
                        session=running.requests_session())
        with pytest.raises(SalesforceMalformedRequest) as caught:
            sf.restful("composite/sobjects", method="PATCH", json={"records": interleaved})
        assert "10 chunks" in caught.value.content[0]["message"]
        assert all(r.get("Stripe_Sync_Status__c") is None for r in running.records("Order"))

        grouped = sorted(interleaved, key=lambda r: r["attributes"]["type"])  # 2 chunks
        results = sf.restful("composite/sobjects", method="PATCH", json={"records": grouped})
        assert [r["success"] for r in results] == [True] * 11, results


def test_composite_insert_creates_sync_logs_with_their_key_prefix(
    org: LocalOrg, sf: Salesforce
) -> None:
    records = [{"attributes": {"type": "Sync_Log__c"}, "Order__c": O1, "Status__c": s}
               for s in ("ok", "failed")]
    results = sf.restful("composite/sobjects", method="POST",
                         json={"allOrNone": True, "records": records})
    assert all(r["success"] for r in results)
    new_ids = [r["id"] for r in results]
    assert len(set(new_ids)) == 2
    assert all(len(i) == 18 and i.startswith("a01") for i in new_ids)
    assert sorted(r["Status__c"] for r in org.records("Sync_Log__c")) == ["failed", "ok"]


def test_insert_sync_log_even_though_the_snapshot_has_none(org: LocalOrg, sf: Salesforce) -> None:
    created = sf.Sync_Log__c.create({"Order__c": O1, "Operation__c": "create",
                                     "Idempotency_Key__c": "k1"})
    assert created["success"] is True and len(created["id"]) == 18
    fetched = sf.Sync_Log__c.get(created["id"])
    assert fetched["Idempotency_Key__c"] == "k1" and fetched["Order__c"] == O1


def test_update_bumps_system_modstamp_from_the_org_clock(org: LocalOrg, sf: Salesforce) -> None:
    org.set_now(datetime(2027, 6, 1, 12, 30, tzinfo=UTC))
    status = sf.Order.update(O1, {"Stripe_Sync_Status__c": "Synced"})
    assert status == 204
    stored = _by_id(org, "Order")
    assert stored[O1]["SystemModstamp"] == "2027-06-01T12:30:00.000+0000"
    assert stored[O1]["LastModifiedDate"] == "2027-06-01T12:30:00.000+0000"
    assert stored[O2]["SystemModstamp"] == "2026-01-01T00:00:00.000+0000"
    changed = sf.query_all("SELECT Id FROM Order WHERE SystemModstamp > 2027-01-01T00:00:00Z")
    assert [r["Id"] for r in changed["records"]] == [O1]


def test_datetime_writes_are_stored_in_salesforce_format(org: LocalOrg, sf: Salesforce) -> None:
    sf.Order.update(O1, {"Stripe_Last_Synced_At__c": "2027-01-01T10:00:00+02:00"})
    assert _by_id(org, "Order")[O1]["Stripe_Last_Synced_At__c"] == "2027-01-01T08:00:00.000+0000"


def test_single_update_of_unknown_field_or_readonly_field_is_refused(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Order.update(O1, {"Bogus__c": 1})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Order.update(O1, {"StatusCode": "Activated"})
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_update_of_missing_record_is_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.Order.update(to_18("801000000000099"), {"Stripe_Sync_Status__c": "x"})


def test_describe_lists_standard_snapshot_and_project_fields(sf: Salesforce) -> None:
    fields = {f["name"]: f for f in sf.Account.describe()["fields"]}
    assert fields["Id"]["type"] == "id" and fields["Id"]["updateable"] is False
    assert fields["Region__c"]["custom"] is True
    assert fields["Stripe_Customer_Id__c"]["updateable"] is True
    order = {f["name"]: f for f in sf.Order.describe()["fields"]}
    assert order["EffectiveDate"]["type"] == "date"
    assert order["AccountId"]["referenceTo"] == ["Account"]
    assert order["AccountId"]["relationshipName"] == "Account"
    sync_log = sf.Sync_Log__c.describe()
    assert sync_log["custom"] is True and sync_log["keyPrefix"] == "a01"


def test_describe_of_unknown_sobject_is_not_found(sf: Salesforce) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.Invoice__c.describe()


def test_limits_and_usage_header_count_api_calls(org: LocalOrg, sf: Salesforce) -> None:
    sf.query("SELECT Id FROM Order")
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] - limits["DailyApiRequests"]["Remaining"] == 2
    assert org.api_calls == 2
    assert sf.api_usage["api-usage"].used == 2


def test_status_code_follows_a_status_write_only_where_the_snapshot_has_one() -> None:
    data = snapshot()
    data["Order"][0]["StatusCode"] = "Activated"
    with LocalOrg(data).running() as org:
        sf = Salesforce(instance_url=org.instance_url, session_id=org.session_id,
                        session=org.requests_session())
        sf.Order.update(O1, {"Status": "Draft"})
        sf.Order.update(O2, {"Status": "Draft"})
        stored = _by_id(org, "Order")
    assert stored[O1]["StatusCode"] == "Draft"
    assert "StatusCode" not in stored[O2]


def test_clock_can_be_set_over_http_for_out_of_process_runs(org: LocalOrg, sf: Salesforce) -> None:
    http = requests.Session()
    assert http.post(f"{org.base_url}/_org/now",
                     json={"now": "2028-02-03T04:05:06+00:00"}).status_code == 204
    sf.Order.update(O3, {"Stripe_Sync_Status__c": "x"})
    assert _by_id(org, "Order")[O3]["SystemModstamp"] == "2028-02-03T04:05:06.000+0000"
    assert http.post(f"{org.base_url}/_org/now", json={"now": "yesterday"}).status_code == 400


def test_concurrent_clients_get_unique_ids_and_lose_no_write(org: LocalOrg) -> None:
    def insert_batch(worker: int) -> list[str]:
        client = Salesforce(instance_url=org.instance_url, session_id=org.session_id,
                            session=org.requests_session())
        records = [{"attributes": {"type": "Sync_Log__c"}, "Order__c": O1,
                    "Idempotency_Key__c": f"{worker}-{n}"} for n in range(10)]
        results = client.restful("composite/sobjects", method="POST",
                                 json={"allOrNone": True, "records": records})
        return [r["id"] for r in results]

    with ThreadPoolExecutor(max_workers=6) as pool:
        ids = [i for batch in pool.map(insert_batch, range(6)) for i in batch]
    assert len(set(ids)) == 60
    keys = {r["Idempotency_Key__c"] for r in org.records("Sync_Log__c")}
    assert keys == {f"{w}-{n}" for w in range(6) for n in range(10)}
