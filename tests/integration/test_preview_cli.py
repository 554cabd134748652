"""`sf-stripe-sync preview` end to end over the demo snapshot (no network at all)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.cli import main

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo-org.json"
AS_OF = "2026-11-20"
GLOBEX = "801000000000002AAA"  # the DESIGN overlap example, in 2027
WAYNE_GAP = "801000000000008AAA"
WONKA_PROPERTY = "801000000000009AAA"
TYRELL_QUANTITY = "801000000000010AAA"
CYBERDYNE = ("801000000000011AAA", "801000000000012AAA")
DRAFTS = ("801000000000014AAA", "801000000000015AAA")


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No config file or environment from the developer's machine leaks in."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SF_STRIPE_SYNC"):
            monkeypatch.delenv(name)


def preview_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["preview", *args, "--source", str(DEMO), "--format", "json", "--as-of", AS_OF])
    out = capsys.readouterr().out
    return code, json.loads(out)


def by_id(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {o["order_id"]: o for o in document["orders"]}


def test_design_example_comes_back_as_exactly_two_phases(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, document = preview_json(capsys, GLOBEX)
    assert code == 0
    [entry] = document["orders"]
    assert entry["operation"] == "create"
    assert entry["end_behavior"] == "cancel"
    assert [(p["start"], p["end"], [i["price"] for i in p["items"]])
            for p in entry["phases"]] == [
        ("2027-01-01T00:00:00Z", "2027-06-01T00:00:00Z", ["price_A"]),
        ("2027-06-01T00:00:00Z", "2028-01-01T00:00:00Z", ["price_A", "price_B"]),
    ]
    assert entry["errors"] == [] and entry["warnings"] == []


def test_all_activated_orders_are_previewed_and_drafts_ignored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, document = preview_json(capsys)
    orders = by_id(document)
    assert code == 1  # the demo holds orders with errors on purpose
    assert len(orders) >= 12
    assert not set(DRAFTS) & set(orders)


@pytest.mark.parametrize(
    ("order_id", "code", "item_ids"),
    [
        (WAYNE_GAP, "gap", {"802000000000015AAA", "802000000000016AAA"}),
        (WONKA_PROPERTY, "property_conflict", {"802000000000017AAA", "802000000000018AAA"}),
        (TYRELL_QUANTITY, "quantity_conflict", {"802000000000019AAA", "802000000000020AAA"}),
    ],
)
def test_conflicting_orders_fail_with_their_code_and_items(
    capsys: pytest.CaptureFixture[str], order_id: str, code: str, item_ids: set[str]
) -> None:
    exit_code, document = preview_json(capsys, order_id)
    [entry] = document["orders"]
    assert exit_code == 1
    assert entry["operation"] == "fail"
    matching = [e for e in entry["errors"] if e["code"] == code]
    assert matching and set(matching[0]["order_item_ids"]) == item_ids


def test_contract_orders_are_consolidated_with_their_linked_change_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, document = preview_json(capsys, *CYBERDYNE)
    assert code == 0
    original, change = (by_id(document)[i] for i in CYBERDYNE)
    assert original["phases"] == change["phases"]
    # One schedule per contract: the first order's create already holds the change.
    assert (original["operation"], change["operation"]) == ("create", "noop")
    quantities = [{i["price"]: i["quantity"] for i in p["items"]} for p in change["phases"]]
    assert quantities == [
        {"price_seat": 10, "price_support": 2},
        {"price_seat": 12, "price_support": 2},
        {"price_seat": 12, "price_support": 1},
    ]


def test_discounts_render_in_minor_units_of_the_orders_currency(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, document = preview_json(capsys, "801000000000005AAA", "801000000000006AAA")
    usd, jpy = by_id(document)["801000000000005AAA"], by_id(document)["801000000000006AAA"]
    usd_items = {i["price"]: i["discount"] for i in usd["phases"][0]["items"]}
    assert usd_items == {"price_A": {"percent_off": 10},
                         "price_B": {"amount_off": 550, "currency": "usd"}}
    assert jpy["phases"][0]["discount"] == {"amount_off": 1000, "currency": "jpy"}


def test_unknown_order_id_is_reported_not_crashed(capsys: pytest.CaptureFixture[str]) -> None:
    code, document = preview_json(capsys, GLOBEX, "801DOESNOTEXIST")
    orders = by_id(document)
    assert code == 1
    assert orders[GLOBEX]["operation"] == "create"
    assert [e["code"] for e in orders["801DOESNOTEXIST"]["errors"]] == ["invalid_record"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "missing.json"], "not found"),
        (["--source", str(DEMO), "--as-of", "2027-13-45"], "--as-of"),
        (["--source", "bad.json"], "not valid JSON"),
    ],
)
def test_usage_errors_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "bad.json").write_text("{oops", encoding="utf-8")
    code = main(["preview", *args])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and err.count("\n") == 1


def test_html_output_file_is_self_contained_and_escapes_names(
    capsys: pytest.CaptureFixture[str], tmp_path: Path,
) -> None:
    target = tmp_path / "preview.html"
    code = main(["preview", "--source", str(DEMO), "--format", "html", "--as-of", AS_OF,
                 "-o", str(target)])
    page = target.read_text(encoding="utf-8")
    assert code == 1
    assert capsys.readouterr().out == ""
    assert "http://" not in page and "https://" not in page
    assert "Stark &amp; Sons &lt;Holdings&gt;" in page
    assert "Müller Gärten" in page and "プレミアムサポート" in page


def test_table_is_the_default_format(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["preview", GLOBEX, "--source", str(DEMO), "--as-of", AS_OF])
    out = capsys.readouterr().out
    assert code == 0
    assert "Globex platform and reporting" in out and "price_B (Product B) x 1" in out


def test_preview_runs_as_a_real_process(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_STRIPE_SYNC")}
    completed = subprocess.run(
        [sys.executable, "-m", "sf_stripe_sync.cli", "preview", GLOBEX, "--source", str(DEMO),
         "--format", "json", "--as-of", AS_OF],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    [entry] = json.loads(completed.stdout)["orders"]
    assert [(p["start"], p["end"]) for p in entry["phases"]] == [
        ("2027-01-01T00:00:00Z", "2027-06-01T00:00:00Z"),
        ("2027-06-01T00:00:00Z", "2028-01-01T00:00:00Z"),
    ]
