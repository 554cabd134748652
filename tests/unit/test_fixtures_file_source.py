"""FileOrderSource: the OrderSource port over an org snapshot."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.core.rules import FieldMap, SyncRules
from sf_stripe_sync.errors import UsageError
from sf_stripe_sync.sources import file_source
from sf_stripe_sync.sources.file_source import FileOrderSource


def stamp(day: str) -> str:
    return f"{day}T09:00:00.000+0000"


def order(order_id: str, *, status: str = "Activated", contract: str | None = None,
          effective: str = "2027-01-01", modified: str = "2027-01-05") -> dict[str, Any]:
    return {"Id": order_id, "Status": status, "AccountId": "001A", "ContractId": contract,
            "EffectiveDate": effective, "EndDate": "2028-01-01", "CurrencyIsoCode": "USD",
            "LastModifiedDate": stamp(modified), "SystemModstamp": stamp(modified)}


def item(item_id: str, order_id: str, *, modified: str = "2027-01-05",
         entry: str = "01uA") -> dict[str, Any]:
    return {"Id": item_id, "OrderId": order_id, "PricebookEntryId": entry,
            "Product2Id": "01tA", "Quantity": 1, "ServiceDate": "2027-01-01",
            "EndDate": "2028-01-01",
            "LastModifiedDate": stamp(modified), "SystemModstamp": stamp(modified)}


def snapshot() -> dict[str, Any]:
    return {
        "Account": [{"Id": "001A", "Name": "Acme"}],
        "Contract": [{"Id": "800C", "AccountId": "001A"}],
        "Order": [
            order("801A"),
            order("801B", status="Draft"),
            order("801C", contract="800C", effective="2027-06-01", modified="2027-02-01"),
            order("801D", contract="800C", effective="2027-01-01"),
            order("801E", status="Cancelled"),
        ],
        "OrderItem": [
            item("802A", "801A"),
            item("802C", "801C", modified="2027-03-01"),
            item("802D", "801D"),
            item("802X", "801-missing"),
        ],
        "PricebookEntry": [
            {"Id": "01uA", "Product2Id": "01tA", "Stripe_Price_Id__c": "price_A"},
            {"Id": "01uUnused", "Product2Id": "01tB", "Stripe_Price_Id__c": "price_B"},
        ],
        "Product2": [{"Id": "01tA", "Name": "Product A"}, {"Id": "01tB", "Name": "B"}],
    }


def source(data: dict[str, Any] | None = None) -> FileOrderSource:
    return FileOrderSource(data or snapshot(), fields=FieldMap(), rules=SyncRules())


def test_bundle_carries_items_account_contract_and_only_referenced_catalog_records() -> None:
    [bundle] = source().orders_by_id(["801C"])
    assert bundle.order_id == "801C"
    assert [i["Id"] for i in bundle.items] == ["802C"]
    assert bundle.account is not None and bundle.account["Name"] == "Acme"
    assert bundle.contract is not None and bundle.contract["Id"] == "800C"
    assert set(bundle.pricebook_entries) == {"01uA"}
    assert set(bundle.products) == {"01tA"}


def test_a_bundle_read_again_is_the_same_object_while_recently_built(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_source, "BUNDLES_KEPT", 2)
    src = source()
    [first] = src.orders_by_id(["801C"])
    assert src.contract_orders("800C")[1] is first  # the prefetch meets the page's bundle
    src.orders_by_id(["801A", "801B"])  # two newer bundles push 801C out
    [again] = src.orders_by_id(["801C"])
    assert again is not first and again == first


def test_orders_by_id_returns_any_status_in_the_order_asked_and_leaves_out_unknown_ids() -> None:
    bundles = source().orders_by_id(["801B", "801nope", "801A", "801B"])
    assert [b.order_id for b in bundles] == ["801B", "801A"]


def test_activated_order_ids_leaves_out_drafts_and_cancelled_orders() -> None:
    assert source().activated_order_ids() == ["801A", "801C", "801D"]


def test_changed_since_counts_item_changes_and_includes_cancelled_orders() -> None:
    watermark = datetime(2027, 2, 15, tzinfo=UTC)
    pages = list(source().changed_since(watermark))
    assert [[b.order_id for b in page] for page in pages] == [["801C"]]
    everything = [b.order_id for page in source().changed_since(None) for b in page]
    assert sorted(everything) == ["801A", "801C", "801D", "801E"]


def test_changed_since_pages_oldest_change_first() -> None:
    pages = list(source().changed_since(None, page_size=3))
    assert [len(p) for p in pages] == [3, 1]
    assert pages[-1][0].order_id == "801C"  # its item changed last


def test_unreadable_change_stamp_counts_as_changed() -> None:
    data = snapshot()
    data["Order"][0]["SystemModstamp"] = "not a time"
    changed = [b.order_id for page in source(data).changed_since(
        datetime(2030, 1, 1, tzinfo=UTC)) for b in page]
    assert changed == ["801A"]


def test_contract_orders_are_the_activated_ones_by_effective_date() -> None:
    assert [b.order_id for b in source().contract_orders("800C")] == ["801D", "801C"]


def test_items_of_missing_orders_are_exposed_as_orphans() -> None:
    assert [i["Id"] for i in source().orphan_items()] == ["802X"]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"Order": {"Id": "801A"}}', "Order must be a list"),
        ('{"Order": [42]}', "Order[0] is not a JSON object"),
        ('{"Order": [{"Name": "no id"}]}', "Order[0] has no Id"),
    ],
)
def test_bad_snapshot_files_are_one_line_usage_errors_naming_the_file(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "org.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UsageError) as caught:
        FileOrderSource(path, fields=FieldMap(), rules=SyncRules())
    message = str(caught.value)
    assert expected in message and str(path) in message and "\n" not in message


def test_missing_snapshot_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not found"):
        FileOrderSource(tmp_path / "absent.json", fields=FieldMap(), rules=SyncRules())


def test_snapshot_file_and_dict_give_the_same_bundles(tmp_path: Path) -> None:
    path = tmp_path / "org.json"
    path.write_text(json.dumps(snapshot()), encoding="utf-8")
    from_file = FileOrderSource(path, fields=FieldMap(), rules=SyncRules())
    assert from_file.orders_by_id(["801A"]) == source().orders_by_id(["801A"])
