"""SOQL building: values quoted by format_soql, relationship fields, chunking, watermarks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from sf_stripe_sync.core.rules import FieldMap, SyncRules
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.salesforce import soql
from sf_stripe_sync.salesforce.describe import FieldSelection, resolve_fields

SELECTION = FieldSelection(
    order=("Id", "Status", "AccountId", "ContractId", "EffectiveDate"),
    item=("Id", "OrderId", "Quantity", "PricebookEntryId", "Product2Id"),
    account=("Id", "Name"),
    contract=("Id", "Stripe_Subscription_Schedule_Id__c"),
    pricebook_entry=("Id", "Stripe_Price_Id__c"),
    product=("Id", "Name"),
)


def test_order_select_reads_parents_and_items_in_one_query() -> None:
    query = soql.order_select(SELECTION)
    assert query.startswith("SELECT Id, Status, AccountId, ContractId, EffectiveDate, ")
    assert "Account.Name" in query
    assert "Contract.Stripe_Subscription_Schedule_Id__c" in query
    subquery = query[query.index("(SELECT"): query.index("FROM OrderItems)")]
    assert "PricebookEntry.Stripe_Price_Id__c" in subquery
    assert "Product2.Name" in subquery
    assert query.endswith("FROM OrderItems) FROM Order")


def test_order_select_skips_parent_fields_when_the_lookup_is_not_read() -> None:
    selection = FieldSelection(
        order=("Id", "Status", "AccountId"), item=("Id", "OrderId", "Quantity"),
        account=("Id",), contract=("Id",), pricebook_entry=("Id",), product=("Id",),
    )
    query = soql.order_select(selection)
    assert "Contract." not in query
    assert "PricebookEntry." not in query
    assert "Product2." not in query


def test_ids_are_quoted_and_escaped_never_concatenated() -> None:
    query = soql.orders_by_ids_query(SELECTION, ["801A", "x' OR Id != '"])
    assert query.endswith("WHERE Id IN ('801A','x\\' OR Id != \\'') ORDER BY Id")


def test_chunked_removes_duplicates_and_keeps_slices_small() -> None:
    ids = [f"801{i:015d}" for i in range(450)]
    ids.append(ids[3])
    chunks = list(soql.chunked(ids))
    assert [len(c) for c in chunks] == [200, 200, 50]
    assert [i for chunk in chunks for i in chunk] == list(dict.fromkeys(ids))


def test_chunked_drops_ids_salesforce_would_reject_the_whole_query_for() -> None:
    good = "801000000000001AAA"
    assert list(soql.chunked([good, "x' OR Id != '", "801short", good[:15]])) == [
        [good, good[:15]]]


def test_a_full_chunk_of_ids_stays_far_below_the_soql_length_limit() -> None:
    ids = [f"801{i:015d}" for i in range(soql.IDS_PER_QUERY)]
    assert len(soql.orders_by_ids_query(SELECTION, ids)) < soql.SOQL_MAX_CHARS / 5


def test_changed_since_without_watermark_reads_every_synced_status() -> None:
    (query,) = soql.changed_since_queries(SELECTION, ["Activated", "Cancelled"], None)
    assert query.endswith("WHERE Status IN ('Activated','Cancelled') ORDER BY Id")


def test_changed_since_uses_two_disjoint_queries_because_salesforce_refuses_semijoin_in_or(
) -> None:
    mark = datetime(2025, 3, 1, 12, 30, 15, 999_000, tzinfo=UTC)
    own, items = soql.changed_since_queries(SELECTION, ["Activated"], mark)
    assert "SystemModstamp > 2025-03-01T12:30:15Z" in own
    assert " OR " not in own and " OR " not in items
    assert "SystemModstamp <= 2025-03-01T12:30:15Z" in items
    assert ("Id IN (SELECT OrderId FROM OrderItem WHERE SystemModstamp > "
            "2025-03-01T12:30:15Z)") in items


def test_watermark_in_another_zone_is_sent_as_utc() -> None:
    mark = datetime(2025, 3, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
    assert soql.soql_datetime(mark) == "2025-03-01T12:00:00Z"


def test_naive_watermark_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        soql.soql_datetime(datetime(2025, 3, 1))


def test_contract_and_activated_queries_quote_their_values() -> None:
    assert soql.activated_ids_query("Act'ivated") == (
        "SELECT Id FROM Order WHERE Status = 'Act\\'ivated' ORDER BY Id"
    )
    query = soql.contract_orders_query(SELECTION, "800X", "Activated")
    assert "WHERE ContractId = '800X' AND Status = 'Activated'" in query


# ----------------------------------------------------------------- field resolution

FULL_ORG = {
    "Order": {"Id", "Status", "AccountId", "EffectiveDate", "ContractId", "SystemModstamp",
              "Stripe_Subscription_Schedule_Id__c", "Discount_Amount_Off__c", "Region__c"},
    "OrderItem": {"Id", "OrderId", "Quantity", "PricebookEntryId", "Product2Id",
                  "Stripe_Price_Id__c", "OriginalOrderItemId"},
    "Account": {"Id", "Name", "Stripe_Customer_Id__c"},
    "Contract": {"Id", "Stripe_Subscription_Schedule_Id__c"},
    "PricebookEntry": {"Id", "UnitPrice", "Stripe_Price_Id__c"},
    "Product2": {"Id", "Name"},
}


def _available(org: dict[str, set[str]]):  # type: ignore[no-untyped-def]
    return lambda sobject: frozenset(org.get(sobject, set()))


def test_optional_fields_the_org_lacks_are_left_out() -> None:
    selection = resolve_fields(FieldMap(), SyncRules(), _available(FULL_ORG))
    assert "CurrencyIsoCode" not in selection.order
    assert "Stripe_Collection_Method__c" not in selection.item
    assert "Discount_Amount_Off__c" in selection.order
    assert "OriginalOrderItemId" in selection.item
    assert "Stripe_Customer_Id__c" in selection.account


def test_missing_required_custom_field_is_a_config_error_naming_object_and_field() -> None:
    org = {**FULL_ORG, "Account": {"Id", "Name"}}
    with pytest.raises(ConfigError) as caught:
        resolve_fields(FieldMap(), SyncRules(), _available(org))
    assert "Account.Stripe_Customer_Id__c" in caught.value.message
    assert "fields.account_customer" in caught.value.message


def test_field_differing_only_in_case_gets_a_hint() -> None:
    fields = FieldMap(order_item_price="stripe_price_id__c")
    with pytest.raises(ConfigError, match="spells it Stripe_Price_Id__c"):
        resolve_fields(fields, SyncRules(), _available(FULL_ORG))


def test_metadata_field_is_read_where_it_exists_and_refused_where_it_does_not() -> None:
    rules = SyncRules(metadata_map={"Region__c": "region"})
    selection = resolve_fields(FieldMap(), rules, _available(FULL_ORG))
    assert "Region__c" in selection.order and "Region__c" not in selection.item
    with pytest.raises(ConfigError, match="Nowhere__c"):
        resolve_fields(FieldMap(), SyncRules(metadata_map={"Nowhere__c": "x"}),
                       _available(FULL_ORG))


def test_field_names_that_are_not_identifiers_never_reach_a_query() -> None:
    fields = FieldMap(account_customer="Name FROM User --")
    with pytest.raises(ConfigError, match="not a valid Salesforce API name"):
        resolve_fields(fields, SyncRules(), _available(FULL_ORG))
