"""Flattening REST answers into bundles, and following top-level and child pages."""

from __future__ import annotations

from typing import Any

from sf_stripe_sync.salesforce.reader import OrderReader


def _attrs(sobject: str) -> dict[str, str]:
    return {"type": sobject, "url": f"/services/data/v65.0/sobjects/{sobject}/x"}


def _item(item_id: str, entry_id: str = "01u1") -> dict[str, Any]:
    return {
        "attributes": _attrs("OrderItem"), "Id": item_id, "OrderId": "8011", "Quantity": 1,
        "PricebookEntryId": entry_id, "Product2Id": "01t1",
        "PricebookEntry": {"attributes": _attrs("PricebookEntry"), "Id": entry_id,
                           "Stripe_Price_Id__c": f"price_{entry_id}"},
        "Product2": {"attributes": _attrs("Product2"), "Id": "01t1", "Name": "Widget"},
    }


class FakeRunner:
    def __init__(self, first: dict[str, Any], more: dict[str, dict[str, Any]]) -> None:
        self.first = first
        self.more = more
        self.calls: list[str] = []

    def query(self, soql: str) -> dict[str, Any]:
        self.calls.append("query")
        return self.first

    def query_more(self, next_records_url: str) -> dict[str, Any]:
        self.calls.append(next_records_url)
        return self.more[next_records_url]


def _order(order_id: str, items: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "attributes": _attrs("Order"), "Id": order_id, "Status": "Activated",
        "AccountId": "0011",
        "Account": {"attributes": _attrs("Account"), "Id": "0011", "Name": "Acme"},
        "Contract": None,
        "OrderItems": items,
    }


def test_bundle_looks_like_the_snapshot_format() -> None:
    record = _order("8011", {"totalSize": 1, "done": True, "records": [_item("8021")]})
    bundle = OrderReader(FakeRunner({}, {})).bundle(record)
    assert bundle.order == {"Id": "8011", "Status": "Activated", "AccountId": "0011"}
    assert bundle.account == {"Id": "0011", "Name": "Acme"}
    assert bundle.contract is None
    assert bundle.items == ({"Id": "8021", "OrderId": "8011", "Quantity": 1,
                             "PricebookEntryId": "01u1", "Product2Id": "01t1"},)
    assert bundle.pricebook_entries == {"01u1": {"Id": "01u1", "Stripe_Price_Id__c": "price_01u1"}}
    assert bundle.products == {"01t1": {"Id": "01t1", "Name": "Widget"}}


def test_child_pages_are_followed_until_done() -> None:
    first_child = {"totalSize": 3, "done": False, "records": [_item("8023")],
                   "nextRecordsUrl": "/q/child-1"}
    runner = FakeRunner(
        {"totalSize": 1, "done": True, "records": [_order("8011", first_child)]},
        {
            "/q/child-1": {"totalSize": 3, "done": False, "records": [_item("8021", "01u2")],
                           "nextRecordsUrl": "/q/child-2"},
            "/q/child-2": {"totalSize": 3, "done": True, "records": [_item("8022")]},
        },
    )
    (bundle,) = OrderReader(runner).bundles("SELECT ...")
    assert [item["Id"] for item in bundle.items] == ["8021", "8022", "8023"]
    assert set(bundle.pricebook_entries) == {"01u1", "01u2"}
    assert runner.calls == ["query", "/q/child-1", "/q/child-2"]


def test_top_level_pages_are_read_lazily() -> None:
    empty = {"totalSize": 0, "done": True, "records": []}
    runner = FakeRunner(
        {"totalSize": 3, "done": False, "records": [_order("8011", None)],
         "nextRecordsUrl": "/q/top-1"},
        {"/q/top-1": {"totalSize": 3, "done": True,
                      "records": [_order("8012", empty), _order("8013", None)]}},
    )
    bundles = OrderReader(runner).bundles("SELECT ...")
    assert next(bundles).order_id == "8011"
    assert runner.calls == ["query"]
    assert [b.order_id for b in bundles] == ["8012", "8013"]
    assert runner.calls == ["query", "/q/top-1"]


def test_done_without_next_url_does_not_loop() -> None:
    runner = FakeRunner({"totalSize": 1, "done": False, "records": [_order("8011", None)]}, {})
    assert [b.order_id for b in OrderReader(runner).bundles("q")] == ["8011"]
