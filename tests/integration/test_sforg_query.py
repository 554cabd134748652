"""Queries against the local org through the unchanged simple-salesforce client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.salesforce_org.store import to_18

pytestmark = pytest.mark.integration

ACME = to_18("001000000000001")
ORDERS = [to_18(f"8010000000000{n:02d}") for n in range(1, 6)]


def snapshot() -> dict[str, list[dict[str, Any]]]:
    orders = [
        {"Id": oid, "AccountId": ACME, "Status": "Draft" if n == 2 else "Activated",
         "EffectiveDate": f"2027-0{n + 1}-01"}
        for n, oid in enumerate(ORDERS)
    ]
    items = [
        {"Id": to_18(f"80200000000{n:04d}"), "OrderId": ORDERS[n % 2], "Quantity": n + 1}
        for n in range(7)
    ]
    return {"Account": [{"Id": ACME, "Name": "Acme"}], "Order": orders, "OrderItem": items}


@pytest.fixture
def org() -> Iterator[LocalOrg]:
    with LocalOrg(snapshot(), batch_size=2).running() as running:
        yield running


@pytest.fixture
def sf(org: LocalOrg) -> Salesforce:
    return Salesforce(instance_url=org.instance_url, session_id=org.session_id,
                      session=org.requests_session())


def test_query_all_follows_top_level_pages_to_every_record(sf: Salesforce) -> None:
    first = sf.query("SELECT Id FROM Order")
    assert first["done"] is False and len(first["records"]) == 2
    assert first["nextRecordsUrl"].startswith("/services/data/v")
    everything = sf.query_all("SELECT Id FROM Order")
    assert sorted(r["Id"] for r in everything["records"]) == sorted(ORDERS)


def test_child_subquery_pages_are_followed_with_query_more(sf: Salesforce) -> None:
    result = sf.query_all(
        "SELECT Id, (SELECT Id, Quantity FROM OrderItems ORDER BY Quantity) FROM Order "
        "ORDER BY EffectiveDate")
    first_order = result["records"][0]
    block = first_order["OrderItems"]
    quantities = [r["Quantity"] for r in block["records"]]
    while not block["done"]:
        block = sf.query_more(block["nextRecordsUrl"], identifier_is_url=True)
        quantities += [r["Quantity"] for r in block["records"]]
    assert quantities == [1, 3, 5, 7]
    assert result["records"][2]["OrderItems"] is None


def test_filter_is_evaluated_not_matched_as_text(sf: Salesforce) -> None:
    result = sf.query_all(
        "SELECT Id FROM Order WHERE Status = 'activated' AND EffectiveDate >= 2027-03-01")
    assert sorted(r["Id"] for r in result["records"]) == [ORDERS[3], ORDERS[4]]  # [2] is a Draft


def test_parent_fields_come_back_nested(sf: Salesforce) -> None:
    result = sf.query(f"SELECT Id, Order.Account.Name FROM OrderItem WHERE OrderId = '{ORDERS[0]}'"
                      " LIMIT 1")
    assert result["records"][0]["Order"]["Account"]["Name"] == "Acme"


def test_semi_join_through_the_api(sf: Salesforce) -> None:
    result = sf.query_all(
        "SELECT Id FROM Order WHERE Id IN (SELECT OrderId FROM OrderItem WHERE Quantity >= 7)")
    assert [r["Id"] for r in result["records"]] == [ORDERS[0]]


def test_count_query_answers_total_size_only(sf: Salesforce) -> None:
    result = sf.query("SELECT COUNT() FROM OrderItem WHERE Quantity > 3")
    assert result["totalSize"] == 4 and result["records"] == []


def test_bad_query_is_a_400_with_salesforce_error_code(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id, Bogus__c FROM Order")
    assert caught.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM Order WHERE")
    assert caught.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_query_all_endpoint_includes_deleted_records(org: LocalOrg, sf: Salesforce) -> None:
    sf.Order.delete(ORDERS[4])
    live = sf.query_all("SELECT Id FROM Order")
    with_deleted = sf.query_all("SELECT Id, IsDeleted FROM Order", include_deleted=True)
    assert ORDERS[4] not in {r["Id"] for r in live["records"]}
    deleted = [r for r in with_deleted["records"] if r["Id"] == ORDERS[4]]
    assert deleted and deleted[0]["IsDeleted"] is True


def test_unknown_query_locator_is_rejected(sf: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query_more("01gXXXXXXXXXXXXXXX-2")
    assert caught.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"
