"""The demo org snapshot and its Stripe catalog stay consistent with each other."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.core.rules import FieldMap, SyncRules
from sf_stripe_sync.sources.file_source import FileOrderSource

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PREFIXES = {"Account": "001", "Contract": "800", "Order": "801", "OrderItem": "802",
            "PricebookEntry": "01u", "Product2": "01t", "Pricebook2": "01s", "Contact": "003"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")


@pytest.fixture(scope="module")
def org() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(
        (FIXTURES / "demo-org.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def catalog() -> dict[str, list[dict[str, Any]]]:
    data: dict[str, list[dict[str, Any]]] = json.loads(
        (FIXTURES / "demo-stripe-catalog.json").read_text(encoding="utf-8"))
    return data


def test_snapshot_has_every_object_with_salesforce_shaped_ids(org: dict[str, Any]) -> None:
    assert set(org) == set(PREFIXES)
    for sobject, prefix in PREFIXES.items():
        ids = [r["Id"] for r in org[sobject]]
        assert len(ids) == len(set(ids)), sobject
        assert all(len(i) == 18 and i.startswith(prefix) for i in ids), sobject


def test_every_record_has_modification_stamps_in_salesforce_format(org: dict[str, Any]) -> None:
    for sobject, records in org.items():
        for record in records:
            for field in ("LastModifiedDate", "SystemModstamp"):
                assert DATETIME.match(record[field]), (sobject, record["Id"], field)


def test_every_date_is_2027_or_later(org: dict[str, Any]) -> None:
    for records in org.values():
        for record in records:
            for value in record.values():
                if isinstance(value, str) and (DATE.match(value) or DATETIME.match(value)):
                    assert value >= "2027", (record["Id"], value)


def test_snapshot_has_enough_activated_orders_and_some_drafts(org: dict[str, Any]) -> None:
    statuses = Counter(o["Status"] for o in org["Order"])
    assert statuses["Activated"] >= 12
    assert statuses["Draft"] >= 1


def test_one_contract_carries_an_original_and_a_linked_change_order(
    org: dict[str, Any]
) -> None:
    by_contract = Counter(o["ContractId"] for o in org["Order"] if o["ContractId"])
    [(contract_id, count)] = by_contract.items()
    assert count == 2
    item_ids = {i["Id"]: i for i in org["OrderItem"]}
    linked = [i for i in org["OrderItem"] if i["OriginalOrderItemId"]]
    assert len(linked) >= 2
    assert any(i["Quantity"] < 0 for i in linked), "a reduction line"
    for change in linked:
        original = item_ids[change["OriginalOrderItemId"]]
        assert original["OrderId"] != change["OrderId"]
        orders = {o["Id"]: o for o in org["Order"]}
        assert orders[original["OrderId"]]["ContractId"] == contract_id


def test_every_reference_in_the_snapshot_resolves(org: dict[str, Any]) -> None:
    ids = {sobject: {r["Id"] for r in records} for sobject, records in org.items()}
    for o in org["Order"]:
        assert o["AccountId"] in ids["Account"]
        assert o["ContractId"] is None or o["ContractId"] in ids["Contract"]
    for i in org["OrderItem"]:
        assert i["OrderId"] in ids["Order"]
        assert i["PricebookEntryId"] in ids["PricebookEntry"]
        assert i["Product2Id"] in ids["Product2"]
    source = FileOrderSource(org, fields=FieldMap(), rules=SyncRules())
    assert source.orphan_items() == ()


def test_every_price_the_snapshot_names_exists_in_the_orders_currency(
    org: dict[str, Any], catalog: dict[str, Any]
) -> None:
    prices = {p["id"]: p for p in catalog["prices"]}
    products = {p["id"] for p in catalog["products"]}
    entries = {e["Id"]: e for e in org["PricebookEntry"]}
    orders = {o["Id"]: o for o in org["Order"]}
    checked = 0
    for i in org["OrderItem"]:
        price_id = i["Stripe_Price_Id__c"] or entries[i["PricebookEntryId"]]["Stripe_Price_Id__c"]
        price = prices[price_id]
        assert price["object"] == "price" and price["active"] is True
        product2 = next(p for p in org["Product2"] if p["Id"] == i["Product2Id"])
        if product2["Billing_Frequency__c"] == "One-Time":
            assert price["recurring"] is None and price["type"] == "one_time"
        else:
            assert price["recurring"]["interval"] in {"day", "week", "month", "year"}
        assert price["currency"] == orders[i["OrderId"]]["CurrencyIsoCode"].lower()
        assert price["product"] in products
        checked += 1
    assert checked == len(org["OrderItem"])


def test_demo_sells_a_negotiated_line_a_setup_fee_and_a_usage_line(
    org: dict[str, Any], catalog: dict[str, Any]
) -> None:
    prices = {p["id"]: p for p in catalog["prices"]}
    entries = {e["Id"]: e for e in org["PricebookEntry"]}
    listed = {i["Id"]: prices[entries[i["PricebookEntryId"]]["Stripe_Price_Id__c"]
                               or i["Stripe_Price_Id__c"]] for i in org["OrderItem"]
              if entries[i["PricebookEntryId"]]["Stripe_Price_Id__c"] or i["Stripe_Price_Id__c"]}
    units = {i["Id"]: round(i["UnitPrice"] * 100) for i in org["OrderItem"]
             if i["Id"] in listed and listed[i["Id"]]["currency"] == "usd"}
    assert any(units[i] != listed[i]["unit_amount"] for i in units), "a negotiated line"
    assert any(p["recurring"] is None for p in listed.values()), "a one-time line"
    metered = [p for p in listed.values()
               if (p["recurring"] or {}).get("usage_type") == "metered"]
    assert metered and all(p["recurring"]["meter"] in {m["id"] for m in catalog["meters"]}
                           for p in metered)


def test_catalog_has_a_customer_for_each_account_that_names_one(
    org: dict[str, Any], catalog: dict[str, Any]
) -> None:
    named = {a["Stripe_Customer_Id__c"] for a in org["Account"] if a["Stripe_Customer_Id__c"]}
    assert named, "some accounts carry a customer id"
    assert any(a["Stripe_Customer_Id__c"] is None for a in org["Account"])
    assert {c["id"] for c in catalog["customers"]} == named
    assert catalog["coupons"] == []
