"""The preview JSON contract (DESIGN 3) and the terminal table."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from rich.console import Console

from sf_stripe_sync.core.issues import IssueCode, OrderIssue, warning
from sf_stripe_sync.core.models import (
    DesiredSchedule,
    Discount,
    OperationKind,
    OrderBundle,
    OrderPlan,
    Phase,
    PhaseItem,
    PhaseProperties,
)
from sf_stripe_sync.core.render import display_names, preview_document
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.render_terminal import render_table

JAN = datetime(2027, 1, 1, tzinfo=UTC)
JUN = datetime(2027, 6, 1, tzinfo=UTC)


def created_plan() -> OrderPlan:
    usd = PhaseProperties(currency="usd", discount=Discount(amount_off=550, currency="usd"))
    phases = (
        Phase(start=JAN, end=JUN, properties=usd,
              items=(PhaseItem(price="price_A", quantity=1, order_item_ids=("802A",),
                               discount=Discount(percent_off=Decimal(10))),)),
        Phase(start=JUN, end=None, properties=usd,
              items=(PhaseItem(price="price_A", quantity=1, order_item_ids=("802A",)),
                     PhaseItem(price="price_B", quantity=2, order_item_ids=("802B", "802C")))),
    )
    return OrderPlan(
        order_id="801A", contract_key="801A", operation=OperationKind.CREATE,
        stripe_account="default", account_id="001A",
        schedule=DesiredSchedule(phases=phases, end_behavior="release"), fingerprint="f" * 64,
        issues=(warning(IssueCode.DRIFT, "Stripe differs [phase 2]", order_item_ids=("802B",)),),
    )


def failed_plan() -> OrderPlan:
    return OrderPlan(
        order_id="801G", contract_key="801G", operation=OperationKind.FAIL,
        stripe_account="default",
        issues=(OrderIssue(code=IssueCode.GAP, message="nothing billed between",
                           order_item_ids=("802X", "802Y")),),
    )


def test_preview_json_has_the_contract_shape() -> None:
    doc = preview_document([created_plan()])
    [entry] = doc["orders"]
    assert entry["order_id"] == "801A"
    assert entry["operation"] == "create"
    assert entry["end_behavior"] == "release"
    first, second = entry["phases"]
    item_keys = ("price", "quantity", "order_item_ids", "discount")
    assert {k: v for k, v in first.items() if k != "items"} == {
        "start": "2027-01-01T00:00:00Z", "end": "2027-06-01T00:00:00Z",
        "collection_method": "charge_automatically", "days_until_due": None,
        "currency": "usd", "discount": {"amount_off": 550, "currency": "usd"},
        "recurring_amount": None, "one_time_items": [],
    }
    assert [{k: i[k] for k in item_keys} for i in first["items"]] == [
        {"price": "price_A", "quantity": 1, "order_item_ids": ["802A"],
         "discount": {"percent_off": 10}}]
    assert second["end"] is None
    assert {k: second["items"][1][k] for k in item_keys} == {
        "price": "price_B", "quantity": 2, "order_item_ids": ["802B", "802C"],
        "discount": None}
    assert {k: second["items"][1][k] for k in ("unit_amount", "amount", "custom_price")} == {
        "unit_amount": None, "amount": None, "custom_price": False}
    assert (entry["billing_total"], entry["salesforce_total"]) == (None, None)
    assert entry["errors"] == []
    assert entry["warnings"] == [{"code": "drift", "message": "Stripe differs [phase 2]",
                                  "order_item_ids": ["802B"]}]
    assert entry["fingerprint"] == "f" * 64


def test_failed_plan_lists_errors_with_code_message_and_item_ids() -> None:
    [entry] = preview_document([failed_plan()])["orders"]
    assert entry["operation"] == "fail"
    assert entry["phases"] == [] and entry["end_behavior"] is None
    assert entry["errors"] == [{"code": "gap", "message": "nothing billed between",
                                "order_item_ids": ["802X", "802Y"]}]


def test_labels_add_names_beside_ids() -> None:
    labels = {"801A": "Platform 2027", "001A": "Müller GmbH", "price_B": "Product B"}
    [entry] = preview_document([created_plan()], labels)["orders"]
    assert entry["order_name"] == "Platform 2027"
    assert entry["account_name"] == "Müller GmbH"
    assert entry["phases"][1]["items"][1]["product_name"] == "Product B"
    assert "product_name" not in entry["phases"][1]["items"][0]


def test_display_names_come_from_accounts_orders_and_products() -> None:
    bundle = OrderBundle(
        order={"Id": "801A", "Name": "Platform"},
        items=({"Id": "802A", "PricebookEntryId": "01uA", "Product2Id": "01tA",
                "Stripe_Price_Id__c": None},),
        account={"Id": "001A", "Name": "Acme"},
        pricebook_entries={"01uA": {"Id": "01uA", "Product2Id": "01tA",
                                    "Stripe_Price_Id__c": "price_A"}},
        products={"01tA": {"Id": "01tA", "Name": "サポート"}},
    )
    names = display_names([bundle], fields=FieldMap())
    assert names == {"801A": "Platform", "001A": "Acme", "802A": "サポート",
                     "price_A": "サポート"}


def render(plans: list[OrderPlan], labels: dict[str, str] | None = None) -> str:
    buffer = io.StringIO()
    render_table(plans, Console(file=buffer, width=140, color_system=None), labels)
    return buffer.getvalue()


def test_table_shows_phases_items_discounts_and_a_summary() -> None:
    text = render([created_plan(), failed_plan()], {"price_A": "Product A"})
    assert "801A  create" in text and "801G  fail" in text
    assert "2027-01-01" in text and "open" in text
    assert "price_A (Product A) x 1, 10% off" in text
    assert "5.50 USD off" in text
    assert "error gap: nothing billed between" in text
    assert "warning drift" in text
    assert "2 orders (create: 1, fail: 1)" in text


def test_table_shows_names_with_brackets_as_written() -> None:
    text = render([created_plan()], {"801A": "[bold]Acme[/bold]"})
    assert "[bold]Acme[/bold]" in text


def test_table_colours_errors_red_and_warnings_yellow() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=140, force_terminal=True, color_system="standard")
    render_table([failed_plan(), created_plan()], console)
    text = buffer.getvalue()
    red, yellow = "\x1b[31m", "\x1b[33m"
    assert red + "error gap" in text
    assert yellow + "warning drift" in text


def test_a_phase_column_added_once_shows_in_the_terminal_table_and_on_the_page(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sf_stripe_sync.core import render as model
    from sf_stripe_sync.render_html import render_html

    ends = model.PhaseColumn("ends", lambda p: "renews" if p.end is None else "",
                             terminal_when_set=True, html_when_set=True)
    monkeypatch.setattr(model, "PHASE_COLUMNS", (*model.PHASE_COLUMNS, ends))
    page = render_html([created_plan()])
    assert "<th>ends</th>" in page and "<td>renews</td>" in page
    assert "ends" in render([created_plan()]) and "renews" in render([created_plan()])
    schedule = created_plan().schedule
    assert schedule is not None
    closed = created_plan().model_copy(update={"schedule": DesiredSchedule(
        phases=schedule.phases[:1], end_behavior="cancel")})
    assert "<th>ends</th>" not in render_html([closed])
    assert "ends" not in render([closed])
