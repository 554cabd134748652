"""The preview's planning (the engine's dry-run) and the preview command's wiring."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.cli.preview_commands import open_preview_source, preview_as_of, preview_plans
from sf_stripe_sync.config import Settings
from sf_stripe_sync.core.issues import IssueCode
from sf_stripe_sync.core.models import OperationKind, OrderBundle
from sf_stripe_sync.core.rules import FieldMap, SyncRules
from sf_stripe_sync.errors import ConfigError, UsageError
from sf_stripe_sync.ports import OrderSource
from sf_stripe_sync.sources.file_source import FileOrderSource

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)


def order(order_id: str, **extra: Any) -> dict[str, Any]:
    return {"Id": order_id, "Status": "Activated", "AccountId": "001A", "ContractId": None,
            "EffectiveDate": "2027-01-01", "EndDate": "2028-01-01", "CurrencyIsoCode": "USD",
            **extra}


def item(item_id: str, order_id: str, **extra: Any) -> dict[str, Any]:
    return {"Id": item_id, "OrderId": order_id, "PricebookEntryId": "01uA", "Product2Id": "01tA",
            "Quantity": 1, "UnitPrice": 10, "ServiceDate": "2027-01-01", "EndDate": "2028-01-01",
            **extra}


def snapshot() -> dict[str, Any]:
    return {
        "Account": [{"Id": "001A", "Name": "Acme"}],
        "Contract": [{"Id": "800C", "AccountId": "001A"}],
        "Order": [
            order("801A"),
            order("801B", Stripe_Account__c="emea"),
            order("801C", ContractId="800C"),
            order("801D", ContractId="800C", EffectiveDate="2027-06-01"),
        ],
        "OrderItem": [
            item("802A", "801A"),
            item("802B", "801B"),
            item("802C", "801C"),
            item("802D", "801D", Quantity=2.5, ServiceDate="2027-06-01"),
        ],
        "PricebookEntry": [{"Id": "01uA", "Product2Id": "01tA", "Stripe_Price_Id__c": "price_A"}],
        "Product2": [{"Id": "01tA", "Name": "Product A"}],
    }


def source() -> FileOrderSource:
    return FileOrderSource(snapshot(), fields=FieldMap(), rules=SyncRules())


def test_order_naming_an_unconfigured_stripe_account_fails_invalid_record() -> None:
    plans, _ = preview_plans(source(), ["801A", "801B"], Settings(), AS_OF)
    good, bad = plans
    assert good.operation is OperationKind.CREATE and good.stripe_account == "default"
    assert bad.operation is OperationKind.FAIL
    assert [e.code for e in bad.errors] == [IssueCode.INVALID_RECORD]
    assert "emea" in bad.errors[0].message


class CountingSource:
    """The snapshot source, counting contract reads."""

    def __init__(self, inner: FileOrderSource) -> None:
        self.inner = inner
        self.reads: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def contract_orders(self, contract_id: str) -> list[OrderBundle]:
        self.reads.append(contract_id)
        return self.inner.contract_orders(contract_id)

    def contract_orders_many(self, contract_ids: list[str]) -> dict[str, list[OrderBundle]]:
        self.reads.extend(contract_ids)
        return self.inner.contract_orders_many(contract_ids)


def test_a_bad_sibling_order_fails_the_whole_contract_and_each_contract_is_read_once() -> None:
    src = CountingSource(source())
    counted: OrderSource = src  # type: ignore[assignment]
    plans, _ = preview_plans(counted, ["801C", "801D"], Settings(), AS_OF)
    assert src.reads == ["800C"]
    assert [p.operation for p in plans] == [OperationKind.FAIL, OperationKind.FAIL]
    for plan in plans:
        assert {e.code for e in plan.errors} == {IssueCode.INVALID_QUANTITY}
        assert plan.errors[0].order_item_ids == ("802D",)


def test_preview_plans_every_activated_order_when_none_is_named() -> None:
    settings = Settings()
    plans, labels = preview_plans(source(), [], settings, AS_OF)
    assert [p.order_id for p in plans] == ["801A", "801B", "801C", "801D"]
    assert labels["001A"] == "Acme" and labels["price_A"] == "Product A"


def test_preview_plans_reports_an_unknown_id_in_place() -> None:
    plans, _ = preview_plans(source(), ["801X", "801A"], Settings(), AS_OF)
    assert [p.order_id for p in plans] == ["801X", "801A"]
    assert plans[0].operation is OperationKind.FAIL
    assert plans[0].errors[0].code is IssueCode.INVALID_RECORD
    assert plans[1].operation is OperationKind.CREATE


def test_as_of_defaults_to_today_at_midnight_utc() -> None:
    now = datetime(2027, 3, 4, 17, 45, tzinfo=UTC)
    assert preview_as_of(None, now=now) == datetime(2027, 3, 4, tzinfo=UTC)
    assert preview_as_of("2027-05-06") == datetime(2027, 5, 6, tzinfo=UTC)
    with pytest.raises(UsageError):
        preview_as_of("yesterday")


def test_salesforce_source_comes_from_open_source(monkeypatch: pytest.MonkeyPatch) -> None:
    import sf_stripe_sync.salesforce.source as salesforce_source

    seen: list[Settings] = []

    def fake_open_source(settings: Settings) -> FileOrderSource:
        seen.append(settings)
        return source()

    monkeypatch.setattr(salesforce_source, "open_source", fake_open_source)
    settings = Settings()
    opened = open_preview_source("salesforce", settings)
    assert seen == [settings]
    assert opened.activated_order_ids() == ["801A", "801B", "801C", "801D"]


def test_missing_salesforce_adapter_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sf_stripe_sync.salesforce.source", None)
    with pytest.raises(ConfigError):
        open_preview_source("salesforce", Settings())


def test_preview_writes_to_the_output_file(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from sf_stripe_sync.cli.preview_commands import run_preview

    monkeypatch.chdir(tmp_path)
    snapshot_file = tmp_path / "org.json"
    snapshot_file.write_text(json.dumps(snapshot()), encoding="utf-8")
    target = tmp_path / "out.json"
    args = argparse.Namespace(order_ids=["801A"], source=str(snapshot_file), format="json",
                              output=target, as_of="2026-11-20", config=None, state_dir=None,
                              log_format="human", verbose=False)
    assert run_preview(args) == 0
    document = json.loads(target.read_text(encoding="utf-8"))
    assert document["as_of"] == "2026-11-20T00:00:00Z"
    assert [o["order_id"] for o in document["orders"]] == ["801A"]


def test_preview_reads_known_schedules_from_salesforce_id_fields_only() -> None:
    data = snapshot()
    data["OrderItem"][3]["Quantity"] = 2
    data["OrderItem"][3]["OriginalOrderItemId"] = "802C"
    data["Order"][2]["Stripe_Subscription_Schedule_Id__c"] = "sub_sched_C"
    data["Contract"][0]["Stripe_Subscription_Schedule_Id__c"] = "sub_sched_C"
    src = FileOrderSource(data, fields=FieldMap(), rules=SyncRules())
    plans, _ = preview_plans(src, ["801C", "801D"], Settings(), AS_OF)
    synced, new = plans
    assert synced.operation is OperationKind.REPLACE
    # The replace recomputes the contract from all its orders, the new one included,
    # so by the time a run reaches the new order there is nothing left to send.
    assert new.operation is OperationKind.NOOP
    assert synced.schedule_id == new.schedule_id == "sub_sched_C"
    assert new.schedule is not None
    assert [[(i.price, i.quantity) for i in p.items] for p in new.schedule.phases] == [
        [("price_A", 1)], [("price_A", 3)]]


def test_a_new_change_order_previewed_alone_amends_the_known_schedule() -> None:
    data = snapshot()
    data["OrderItem"][3]["Quantity"] = 2
    data["OrderItem"][3]["OriginalOrderItemId"] = "802C"
    data["Order"][2]["Stripe_Subscription_Schedule_Id__c"] = "sub_sched_C"
    data["Contract"][0]["Stripe_Subscription_Schedule_Id__c"] = "sub_sched_C"
    src = FileOrderSource(data, fields=FieldMap(), rules=SyncRules())
    (new,), _ = preview_plans(src, ["801D"], Settings(), AS_OF)
    assert new.operation is OperationKind.AMEND
    assert new.schedule_id == "sub_sched_C"
