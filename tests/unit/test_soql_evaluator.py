"""The SOQL evaluator, run directly against an in-memory org (no HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sf_stripe_sync.sandbox.salesforce_org.describe import OrgSchema
from sf_stripe_sync.sandbox.salesforce_org.pages import QueryPages
from sf_stripe_sync.sandbox.salesforce_org.soql import SoqlError
from sf_stripe_sync.sandbox.salesforce_org.soql.evaluator import Evaluator
from sf_stripe_sync.sandbox.salesforce_org.store import OrgClock, OrgStore, to_18

ACME, GLOBEX = to_18("001000000000001"), to_18("001000000000002")
CONTRACT = to_18("800000000000001")
O1, O2, O3, O4 = (to_18(f"80100000000000{n}") for n in range(1, 5))
ITEMS = [to_18(f"80200000000000{n}") for n in range(1, 6)]
LOG = to_18("a01000000000001")


def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {
        "Account": [
            {"Id": ACME, "Name": "Acme Corp", "Stripe_Customer_Id__c": "cus_1"},
            {"Id": GLOBEX, "Name": "Globex_Inc", "Stripe_Customer_Id__c": None},
        ],
        "Contract": [{"Id": CONTRACT, "AccountId": ACME, "StartDate": "2027-01-01"}],
        "Order": [
            {"Id": O1, "AccountId": ACME, "ContractId": CONTRACT, "Status": "Activated",
             "EffectiveDate": "2027-01-01", "SystemModstamp": "2027-01-05T10:00:00.000+0000",
             "Description": "first"},
            {"Id": O2, "AccountId": ACME, "ContractId": None, "Status": "Draft",
             "EffectiveDate": "2027-02-01", "SystemModstamp": "2027-01-04T10:00:00.000+0000",
             "Description": None},
            {"Id": O3, "AccountId": GLOBEX, "ContractId": None, "Status": "Activated",
             "EffectiveDate": "2026-12-31", "SystemModstamp": "2027-01-06T10:00:00.000+0000",
             "Description": "O'Brien's order"},
            {"Id": O4, "AccountId": None, "ContractId": None, "Status": "activated",
             "EffectiveDate": "2027-03-01", "SystemModstamp": "2027-01-01T00:00:00.000+0000",
             "Description": "100% done"},
        ],
        "OrderItem": [
            {"Id": ITEMS[0], "OrderId": O1, "Quantity": 1, "UnitPrice": 10.5},
            {"Id": ITEMS[1], "OrderId": O1, "Quantity": 3, "UnitPrice": 20},
            {"Id": ITEMS[2], "OrderId": O1, "Quantity": 2, "UnitPrice": None},
            {"Id": ITEMS[3], "OrderId": O3, "Quantity": 5, "UnitPrice": 1},
            {"Id": ITEMS[4], "OrderId": O2, "Quantity": 1, "UnitPrice": 1},
        ],
        "Sync_Log__c": [{"Id": LOG, "Order__c": O1, "Status__c": "ok"}],
    }


class Org:
    def __init__(self, batch_size: int = 2000) -> None:
        data = snapshot()
        self.clock = OrgClock()
        self.clock.set(datetime(2027, 1, 1, 12, tzinfo=UTC))
        self.schema = OrgSchema(data)
        self.store = OrgStore(data, self.schema, self.clock)
        self.pages = QueryPages(batch_size)
        self.evaluator = Evaluator(
            self.schema, self.store, base_path="/services/data/v65.0",
            batch_size=batch_size, today=lambda: self.clock.now().date(),
            register_pages=lambda rs: self.pages.register(rs, "/services/data/v65.0"),
        )

    def query(self, soql: str) -> list[dict[str, Any]]:
        return self.evaluator.execute(soql).records

    def ids(self, soql: str) -> set[str]:
        return {r["Id"] for r in self.query(soql)}


@pytest.fixture
def org() -> Org:
    return Org()


def test_equality_filter_excludes_drafts_and_is_case_insensitive(org: Org) -> None:
    assert org.ids("SELECT Id FROM Order WHERE Status = 'Activated'") == {O1, O3, O4}


def test_date_literal_is_compared_as_a_date(org: Org) -> None:
    assert org.ids("SELECT Id FROM Order WHERE EffectiveDate >= 2027-01-01") == {O1, O2, O4}
    assert org.ids("SELECT Id FROM Order WHERE EffectiveDate < 2027-01-01") == {O3}


def test_datetime_literals_compare_as_instants_whatever_their_offset(org: Org) -> None:
    utc = org.ids("SELECT Id FROM Order WHERE SystemModstamp > 2027-01-05T09:59:59Z")
    offset = org.ids("SELECT Id FROM Order WHERE SystemModstamp > 2027-01-05T10:59:59+0100")
    millis = org.ids("SELECT Id FROM Order WHERE SystemModstamp > 2027-01-05T09:59:59.000+0000")
    assert utc == offset == millis == {O1, O3}


def test_quoted_date_is_rejected_like_salesforce(org: Org) -> None:
    with pytest.raises(SoqlError) as caught:
        org.query("SELECT Id FROM Order WHERE EffectiveDate > '2027-01-01'")
    assert caught.value.error_code == "INVALID_FIELD"


def test_date_literal_against_datetime_field_is_rejected(org: Org) -> None:
    with pytest.raises(SoqlError) as caught:
        org.query("SELECT Id FROM Order WHERE SystemModstamp > 2027-01-01")
    assert caught.value.error_code == "INVALID_FIELD"


def test_like_is_case_insensitive_with_both_wildcards(org: Org) -> None:
    assert org.ids("SELECT Id FROM Account WHERE Name LIKE 'acme%'") == {ACME}
    assert org.ids("SELECT Id FROM Account WHERE Name LIKE 'Globex_inc'") == {GLOBEX}
    assert org.ids("SELECT Id FROM Account WHERE Name LIKE 'Globex\\_%'") == {GLOBEX}
    assert org.ids("SELECT Id FROM Account WHERE Name LIKE 'Acme\\_%'") == set()


def test_escaped_percent_in_like_matches_a_literal_percent(org: Org) -> None:
    assert org.ids("SELECT Id FROM Order WHERE Description LIKE '%\\% done'") == {O4}


def test_string_literal_escapes_are_decoded(org: Org) -> None:
    assert org.ids("SELECT Id FROM Order WHERE Description = 'o\\'brien\\'s ORDER'") == {O3}


def test_in_and_not_in_where_not_in_keeps_nulls(org: Org) -> None:
    assert org.ids(f"SELECT Id FROM Order WHERE AccountId IN ('{GLOBEX}')") == {O3}
    assert org.ids(f"SELECT Id FROM Order WHERE AccountId NOT IN ('{ACME}')") == {O3, O4}


def test_not_and_parentheses_group_conditions(org: Org) -> None:
    soql = ("SELECT Id FROM Order WHERE NOT (Status = 'Draft' OR EffectiveDate < 2027-01-01)"
            " AND Description != null")
    assert org.ids(soql) == {O1, O4}


def test_null_compares_only_with_equals_and_not_equals(org: Org) -> None:
    assert org.ids("SELECT Id FROM Order WHERE AccountId = null") == {O4}
    assert org.ids("SELECT Id FROM Order WHERE AccountId != null") == {O1, O2, O3}
    assert org.ids("SELECT Id FROM OrderItem WHERE UnitPrice < 100") == {
        ITEMS[0], ITEMS[1], ITEMS[3], ITEMS[4]}


def test_not_equals_matches_records_whose_value_is_null(org: Org) -> None:
    assert org.ids("SELECT Id FROM Order WHERE Description != 'first'") == {O2, O3, O4}


def test_mixing_and_with_or_without_parentheses_is_malformed(org: Org) -> None:
    with pytest.raises(SoqlError) as caught:
        org.query("SELECT Id FROM Order WHERE Status = 'Draft' AND Id != null OR Id = null")
    assert caught.value.error_code == "MALFORMED_QUERY"


def test_unknown_field_is_invalid_field_even_without_rows(org: Org) -> None:
    with pytest.raises(SoqlError) as caught:
        org.query("SELECT Id, Nope__c FROM Order WHERE Id = null")
    assert caught.value.error_code == "INVALID_FIELD"
    assert "Nope__c" in caught.value.message


def test_unknown_sobject_is_invalid_type(org: Org) -> None:
    with pytest.raises(SoqlError) as caught:
        org.query("SELECT Id FROM Invoice__c")
    assert caught.value.error_code == "INVALID_TYPE"


def test_semi_join_selects_parents_of_matching_children(org: Org) -> None:
    soql = "SELECT Id FROM Order WHERE Id IN (SELECT OrderId FROM OrderItem WHERE Quantity > 2)"
    assert org.ids(soql) == {O1, O3}
    anti = "SELECT Id FROM Order WHERE Id NOT IN (SELECT OrderId FROM OrderItem)"
    assert org.ids(anti) == {O4}


def test_order_by_several_keys_with_directions_and_nulls(org: Org) -> None:
    rows = org.query("SELECT Id FROM OrderItem ORDER BY UnitPrice DESC NULLS LAST, Quantity ASC")
    assert [r["Id"] for r in rows] == [ITEMS[1], ITEMS[0], ITEMS[4], ITEMS[3], ITEMS[2]]
    rows = org.query("SELECT Id FROM OrderItem ORDER BY UnitPrice ASC NULLS FIRST, Quantity DESC")
    assert [r["Id"] for r in rows] == [ITEMS[2], ITEMS[3], ITEMS[4], ITEMS[0], ITEMS[1]]


def test_limit_and_offset_cut_the_ordered_rows(org: Org) -> None:
    rows = org.query("SELECT Id FROM OrderItem ORDER BY Quantity DESC LIMIT 2 OFFSET 1")
    assert [r["Id"] for r in rows] == [ITEMS[1], ITEMS[2]]


def test_count_answers_the_number_of_matching_rows(org: Org) -> None:
    outcome = org.evaluator.execute("SELECT COUNT() FROM Order WHERE Status = 'Activated'")
    assert outcome.count_only and len(outcome.records) == 3


def test_parent_fields_nest_under_relationship_or_are_null(org: Org) -> None:
    rows = {r["Id"]: r for r in org.query("SELECT Id, Account.Name FROM Order")}
    assert rows[O1]["Account"]["Name"] == "Acme Corp"
    assert rows[O1]["Account"]["attributes"]["type"] == "Account"
    assert rows[O4]["Account"] is None


def test_two_level_parent_path_and_filter_on_parent_field(org: Org) -> None:
    soql = ("SELECT Id, Order.Account.Name, Order.Status FROM OrderItem "
            "WHERE Order.Account.Name LIKE 'Glob%'")
    rows = org.query(soql)
    assert [r["Id"] for r in rows] == [ITEMS[3]]
    assert rows[0]["Order"]["Account"]["Name"] == "Globex_Inc"
    assert rows[0]["Order"]["Status"] == "Activated"


def test_child_subquery_is_nested_filtered_and_null_when_empty(org: Org) -> None:
    soql = ("SELECT Id, (SELECT Id, Quantity FROM OrderItems WHERE Quantity > 1 "
            "ORDER BY Quantity) FROM Order")
    rows = {r["Id"]: r for r in org.query(soql)}
    assert [c["Quantity"] for c in rows[O1]["OrderItems"]["records"]] == [2, 3]
    assert rows[O1]["OrderItems"]["totalSize"] == 2
    assert rows[O2]["OrderItems"] is None
    assert rows[O4]["OrderItems"] is None


def test_custom_child_relationship_is_derived_from_the_lookup(org: Org) -> None:
    soql = "SELECT Id, (SELECT Status__c FROM Sync_Logs__r) FROM Order"
    rows = {r["Id"]: r for r in org.query(soql)}
    assert rows[O1]["Sync_Logs__r"]["records"][0]["Status__c"] == "ok"
    assert rows[O3]["Sync_Logs__r"] is None


def test_unknown_child_relationship_is_invalid_type(org: Org) -> None:
    with pytest.raises(SoqlError) as caught:
        org.query("SELECT Id, (SELECT Id FROM Items) FROM Order")
    assert caught.value.error_code == "INVALID_TYPE"


def test_fifteen_character_id_matches_the_eighteen_character_one(org: Org) -> None:
    assert org.ids(f"SELECT Id FROM Order WHERE Id = '{O1[:15]}'") == {O1}


def test_malformed_id_literal_is_rejected(org: Org) -> None:
    with pytest.raises(SoqlError) as caught:
        org.query("SELECT Id FROM Order WHERE Id = 'nope'")
    assert caught.value.error_code == "INVALID_QUERY_FILTER_OPERATOR"


def test_field_names_are_case_insensitive_and_answered_canonically(org: Org) -> None:
    rows = org.query(f"select id, status from order where id = '{O2}'")
    assert rows[0]["Status"] == "Draft" and rows[0]["Id"] == O2


def test_today_is_a_day_range_from_the_org_clock(org: Org) -> None:
    org.clock.set(datetime(2027, 2, 1, 23, 59, tzinfo=UTC))
    assert org.ids("SELECT Id FROM Order WHERE EffectiveDate = TODAY") == {O2}
    assert org.ids("SELECT Id FROM Order WHERE SystemModstamp < TODAY") == {O1, O2, O3, O4}


def test_child_results_page_at_the_batch_size() -> None:
    org = Org(batch_size=2)
    rows = {r["Id"]: r for r in org.query("SELECT Id, (SELECT Id FROM OrderItems) FROM Order")}
    block = rows[O1]["OrderItems"]
    assert block["done"] is False and len(block["records"]) == 2
    locator = block["nextRecordsUrl"].rsplit("/", 1)[1]
    page = org.pages.page(locator, "/services/data/v65.0")
    assert page is not None and page["done"] is True
    assert {r["Id"] for r in block["records"] + page["records"]} == set(ITEMS[:3])
