"""Reading orders from the local org through simple-salesforce, at batch size 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from sf_stripe_sync.config import SalesforceSettings, Settings
from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.core.rules import FieldMap, SyncRules
from sf_stripe_sync.errors import ConfigError, TerminalError
from sf_stripe_sync.salesforce.auth import SalesforceConnection, connect
from sf_stripe_sync.salesforce.retry import RetryPolicy
from sf_stripe_sync.salesforce.source import SalesforceOrderSource, open_source
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.salesforce_org.faults import OrgFaults

pytestmark = pytest.mark.integration

OLD = "2025-01-01T00:00:00.000+0000"
NEW = "2025-06-01T00:00:00.000+0000"
WATERMARK = datetime(2025, 3, 1, tzinfo=UTC)


def sf_id(prefix: str, n: int) -> str:
    return f"{prefix}{n:012d}AAA"


def order(n: int, status: str = "Activated", *, stamp: str = OLD,
          contract: int | None = None) -> dict[str, Any]:
    return {
        "Id": sf_id("801", n), "OrderNumber": f"0000010{n}", "Status": status,
        "AccountId": sf_id("001", 1), "ContractId": sf_id("800", contract) if contract else None,
        "EffectiveDate": "2025-01-01", "EndDate": "2026-01-01",
        "Stripe_Subscription_Schedule_Id__c": None, "Discount_Percent_Off__c": None,
        "SystemModstamp": stamp, "LastModifiedDate": stamp,
    }


def item(order_n: int, n: int, *, stamp: str = OLD, entry: int = 1) -> dict[str, Any]:
    return {
        "Id": sf_id("802", order_n * 10 + n), "OrderId": sf_id("801", order_n),
        "PricebookEntryId": sf_id("01u", entry), "Product2Id": sf_id("01t", entry),
        "Quantity": n, "UnitPrice": 19.99, "ServiceDate": f"2025-0{n}-01", "EndDate": None,
        "Stripe_Price_Id__c": None, "SystemModstamp": stamp, "LastModifiedDate": stamp,
    }


def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {
        "Account": [{"Id": sf_id("001", 1), "Name": "Acme", "Stripe_Customer_Id__c": "cus_A"}],
        "Contract": [{"Id": sf_id("800", 1), "AccountId": sf_id("001", 1),
                      "ContractNumber": "00000100", "StartDate": "2025-01-01",
                      "Stripe_Subscription_Schedule_Id__c": "sub_sched_1"}],
        "Product2": [{"Id": sf_id("01t", n), "Name": f"Product {n}",
                      "Stripe_Product_Id__c": f"prod_{n}"} for n in (1, 2)],
        "PricebookEntry": [{"Id": sf_id("01u", n), "Product2Id": sf_id("01t", n),
                            "UnitPrice": 19.99, "Stripe_Price_Id__c": f"price_{n}"}
                           for n in (1, 2)],
        "Order": [order(1), order(2, contract=1), order(3), order(4, "Draft", stamp=NEW),
                  order(5, "Cancelled", stamp=NEW), order(6, stamp=NEW)],
        "OrderItem": [
            *(item(1, n, entry=1 + n % 2) for n in range(1, 6)),
            item(2, 1), item(3, 1), item(3, 2, stamp=NEW), item(4, 1), item(5, 1),
        ],
    }


@pytest.fixture
def org() -> Iterator[LocalOrg]:
    local = LocalOrg(snapshot(), batch_size=2)
    local.start(host="127.0.0.1", port=0)
    try:
        yield local
    finally:
        local.stop()


def session_connection(org: LocalOrg) -> SalesforceConnection:
    https_url = org.instance_url.replace("http://", "https://")
    settings = Settings(salesforce=SalesforceSettings(auth="session", instance_url=https_url))
    return connect(settings, session=org.requests_session(),
                   environ={"SF_SESSION_ID": org.session_id},
                   retry=RetryPolicy.immediate())


@pytest.fixture
def source(org: LocalOrg) -> SalesforceOrderSource:
    return SalesforceOrderSource(session_connection(org), fields=FieldMap(), rules=SyncRules())


def _without_nulls(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if v is not None}


def _snapshot_record(sobject: str, record_id: str) -> dict[str, Any]:
    data = json.loads(json.dumps(snapshot()), parse_float=Decimal)
    return next(r for r in data[sobject] if r["Id"] == record_id)


def test_every_order_and_every_item_is_read_across_pages(
    source: SalesforceOrderSource,
) -> None:
    pages = list(source.changed_since(None, page_size=2))
    bundles = [b for page in pages for b in page]
    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(b.order_id for b in bundles) == [sf_id("801", n) for n in (1, 2, 3, 5, 6)]
    five = next(b for b in bundles if b.order_id == sf_id("801", 1))
    assert [i["Id"] for i in five.items] == [sf_id("802", 10 + n) for n in range(1, 6)]
    assert set(five.pricebook_entries) == {sf_id("01u", 1), sf_id("01u", 2)}


def test_bundle_holds_what_the_snapshot_holds(source: SalesforceOrderSource) -> None:
    (bundle,) = source.orders_by_id([sf_id("801", 2)])
    for key, value in bundle.order.items():
        assert value == _snapshot_record("Order", bundle.order_id).get(key), key
    assert _without_nulls(_snapshot_record("Order", bundle.order_id)).items() <= (
        bundle.order.items())
    assert bundle.account is not None
    assert _snapshot_record("Account", sf_id("001", 1)).items() <= bundle.account.items()
    assert bundle.contract is not None
    assert bundle.contract["Stripe_Subscription_Schedule_Id__c"] == "sub_sched_1"
    (line,) = bundle.items
    assert _without_nulls(_snapshot_record("OrderItem", line["Id"])).items() <= line.items()
    assert line["UnitPrice"] == Decimal("19.99")
    entry = bundle.pricebook_entries[sf_id("01u", 1)]
    assert _snapshot_record("PricebookEntry", sf_id("01u", 1)).items() <= entry.items()
    product = bundle.products[sf_id("01t", 1)]
    assert _snapshot_record("Product2", sf_id("01t", 1)).items() <= product.items()
    assert "OrderItems" not in bundle.order and "Account" not in bundle.order


def test_orders_by_id_keeps_the_asked_order_and_skips_unknown_ids(
    source: SalesforceOrderSource,
) -> None:
    asked = [sf_id("801", 3), sf_id("801", 404), "not an id'", sf_id("801", 1),
             sf_id("801", 3)]
    assert [b.order_id for b in source.orders_by_id(asked)] == [sf_id("801", 3),
                                                                 sf_id("801", 1)]


def test_activated_ids_exclude_drafts_and_cancelled(source: SalesforceOrderSource) -> None:
    assert source.activated_order_ids() == [sf_id("801", n) for n in (1, 2, 3, 6)]


def test_changed_since_honours_the_watermark_and_item_changes(
    source: SalesforceOrderSource,
) -> None:
    changed = [b.order_id for page in source.changed_since(WATERMARK) for b in page]
    # 5 (cancelled) and 6 changed themselves; 3 only through its item; 4 is a Draft.
    assert sorted(changed) == [sf_id("801", n) for n in (3, 5, 6)]
    assert len(changed) == len(set(changed))


def test_both_change_queries_cost_one_call_when_each_answer_is_whole(org: LocalOrg) -> None:
    conn = session_connection(org)
    source = SalesforceOrderSource(conn, fields=FieldMap(), rules=SyncRules())
    assert source.selection  # the describes: one call
    before = conn.api_calls

    changed = [b.order_id for page in source.changed_since(WATERMARK) for b in page]

    assert sorted(changed) == [sf_id("801", n) for n in (3, 5, 6)]
    assert conn.api_calls - before == 1


def test_an_item_query_answered_in_several_pages_runs_again_when_its_turn_comes() -> None:
    data = snapshot()
    data["OrderItem"] = [{**i, "SystemModstamp": NEW} for i in data["OrderItem"]]
    local = LocalOrg(data, batch_size=2)  # items of orders 1, 2, 3 changed: two pages
    local.start(host="127.0.0.1", port=0)
    try:
        conn = session_connection(local)
        source = SalesforceOrderSource(conn, fields=FieldMap(), rules=SyncRules())
        assert source.selection
        before = conn.api_calls
        changed = [b.order_id for page in source.changed_since(WATERMARK) for b in page]
        calls = conn.api_calls - before
    finally:
        local.stop()
    # Not read from a cursor opened at the start: both queries in one call, then the
    # item query again (its two pages) once the first is read, and two more pages of
    # order 1's five items.
    assert sorted(changed) == [sf_id("801", n) for n in (1, 2, 3, 5, 6)]
    assert calls == 1 + 2 + 2


def test_contract_orders_are_the_activated_orders_on_the_contract(
    source: SalesforceOrderSource,
) -> None:
    bundles = source.contract_orders(sf_id("800", 1))
    assert [b.order_id for b in bundles] == [sf_id("801", 2)]
    assert source.contract_orders(sf_id("800", 9)) == []


def test_many_contracts_are_read_five_queries_a_call(org: LocalOrg) -> None:
    conn = session_connection(org)
    source = SalesforceOrderSource(conn, fields=FieldMap(), rules=SyncRules())
    assert source.selection  # the describes: one call
    before = conn.api_calls
    asked = [sf_id("800", n) for n in range(1, 1202)]  # 1,201 contracts: 7 queries of 200
    found = source.contract_orders_many(asked)
    assert list(found) == asked
    assert [b.order_id for b in found[sf_id("800", 1)]] == [sf_id("801", 2)]
    assert not any(found[c] for c in asked[1:])
    assert conn.api_calls - before == 2  # five queries in one composite call, then two


def test_a_query_refused_inside_a_composite_call_raises_like_the_query_alone(
        org: LocalOrg) -> None:
    conn = session_connection(org)
    with pytest.raises(TerminalError):
        conn.query_many(["SELECT Id FROM Order", "SELECT Nope FROM Nowhere"])
    first, second = conn.query_many(["SELECT Id FROM Order WHERE Status = 'Draft'",
                                     "SELECT Id FROM Order"])
    assert [r["Id"] for r in first["records"]] == [sf_id("801", 4)]
    assert second["done"] is False and second["nextRecordsUrl"]  # batch size 2: paged


def test_describes_cost_one_batch_call_per_connection(org: LocalOrg) -> None:
    paths: list[str] = []
    http = org.requests_session()
    http.hooks["response"].append(lambda response, *a, **k: paths.append(response.url))
    https_url = org.instance_url.replace("http://", "https://")
    settings = Settings(salesforce=SalesforceSettings(auth="session", instance_url=https_url))
    conn = connect(settings, session=http, environ={"SF_SESSION_ID": org.session_id})
    first = SalesforceOrderSource(conn).orders_by_id([sf_id("801", 1)])
    SalesforceOrderSource(conn).orders_by_id([sf_id("801", 2)])
    batches = [p for p in paths if p.endswith("/composite/batch")]
    single = [p for p in paths if p.endswith("/describe")]
    assert len(batches) == 1 and single == []
    assert first[0].order_id == sf_id("801", 1)
    assert "Stripe_Subscription_Schedule_Id__c" in conn.fields_of("Contract")


def test_an_object_the_org_lacks_is_a_config_error_without_more_describe_calls(
        org: LocalOrg) -> None:
    conn = session_connection(org)
    with pytest.raises(ConfigError) as first:
        conn.fields_of("Nope__c")
    calls = conn.api_calls
    with pytest.raises(ConfigError):
        conn.fields_of("Nope__c")
    assert first.value.code == "missing_object" and "Nope__c" in str(first.value)
    assert conn.api_calls == calls == 1
    assert "Status" in conn.fields_of("Order")
    assert conn.api_calls == 1


def test_a_503_on_the_describe_batch_is_retried(org: LocalOrg) -> None:
    conn = session_connection(org)
    org.set_faults(OrgFaults(next_unavailable=1, only=("describe",)))
    assert "AccountId" in conn.fields_of("Order")
    assert conn.api_calls == 2


def test_missing_required_custom_field_is_a_config_error_naming_it(org: LocalOrg) -> None:
    source = SalesforceOrderSource(session_connection(org),
                                   fields=FieldMap(account_customer="Billing_Customer__c"))
    with pytest.raises(ConfigError, match=r"Account\.Billing_Customer__c"):
        source.orders_by_id([sf_id("801", 1)])


def test_optional_field_missing_from_the_org_is_left_out(org: LocalOrg) -> None:
    fields = FieldMap(currency="Not_A_Currency__c", collection_method="Absent__c")
    (bundle,) = SalesforceOrderSource(session_connection(org), fields=fields).orders_by_id(
        [sf_id("801", 1)])
    assert "Not_A_Currency__c" not in bundle.order and "Absent__c" not in bundle.items[0]


def test_bundles_are_order_bundle_values(source: SalesforceOrderSource) -> None:
    (bundle,) = source.orders_by_id([sf_id("801", 6)])
    assert isinstance(bundle, OrderBundle)
    assert bundle.items == ()
    assert bundle.contract is None


def test_open_source_reads_with_the_configured_fields_and_rules(org: LocalOrg) -> None:
    settings = Settings(
        salesforce=SalesforceSettings(
            auth="session", instance_url=org.instance_url.replace("http://", "https://")),
        rules=SyncRules(activated_status="Draft"),
    )
    source = open_source(settings, session=org.requests_session(),
                         environ={"SF_SESSION_ID": org.session_id})
    assert source.activated_order_ids() == [sf_id("801", 4)]
