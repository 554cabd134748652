"""Bad input: malformed orders fail alone, clearly, and never reach Stripe.

One real ``sync`` process runs over a valid generated org plus a corpus of malformed
orders (every DESIGN error code, broken dates, null / string / fractional / huge /
negative quantities, unknown currency, missing Account, no items, bad discounts, too many
items, no price) and an OrderItem whose Order does not exist. Each bad order must carry
its error code on the Order and in a Failed Sync_Log, the command must exit 1, every
valid order (one with thoroughly non-ASCII names among them) must still sync, and no
Stripe request may mention a bad order or its Account.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.reliability.cli_runs import run_sync
from tests.reliability.conftest import Figures
from tests.reliability.corpus import add_to, add_unicode_order
from tests.reliability.generate import generate_org
from tests.reliability.rig import running

pytestmark = pytest.mark.reliability

DESIGN_CODES = {"gap", "property_conflict", "quantity_conflict", "discount_conflict",
                "invalid_dates", "invalid_quantity", "missing_price", "missing_customer",
                "invalid_currency", "invalid_record", "too_many_items"}


def _snapshot() -> tuple[dict[str, Any], dict[str, Any], set[str]]:
    snapshot = generate_org(5, contracts=4)
    valid = {o["Id"] for o in snapshot["Order"]}
    valid.add(add_unicode_order(snapshot))
    bad = add_to(snapshot)
    return snapshot, bad, valid


def test_each_malformed_order_fails_alone_with_its_code_and_nothing_reaches_stripe(
        tmp_path: Path, figures: Figures) -> None:
    snapshot, bad, valid = _snapshot()
    assert len(bad) >= 25
    assert {case.code for case in bad.values()} == DESIGN_CODES
    bad_accounts = {o["AccountId"] for o in snapshot["Order"] if o["Id"] in bad and o["AccountId"]}

    with running(tmp_path / "state", snapshot) as rig:
        finished = run_sync(rig)

        assert finished.returncode == 1, finished.stderr[-2000:]
        reported = {f["order_id"]: f["code"] for f in finished.summary()["failed_orders"]}
        assert reported == {order_id: case.code for order_id, case in bad.items()}
        census = rig.census()
        failed_logs = {(log["Order__c"][:15], log["Status__c"]): log["Message__c"]
                       for log in census.logs}
        for order_id, case in bad.items():
            order = census.orders[order_id]
            assert order["Stripe_Sync_Status__c"] == "Error", case.name
            assert f"[{case.code}]" in order["Stripe_Sync_Error__c"], case.name
            assert f"[{case.code}]" in failed_logs[(order_id[:15], "Failed")], case.name
            assert order["Stripe_Subscription_Schedule_Id__c"] is None, case.name
        for order_id in valid:
            assert census.orders[order_id]["Stripe_Sync_Status__c"] == "Synced", order_id
        sent = json.dumps(rig.emulator.requests())
        leaked = [i for i in [*bad, *bad_accounts] if i[:15] in sent]
        assert leaked == []
        figures.bad_inputs += len(bad) + 1  # the corpus and the OrderItem without an Order
        figures.runs += 1
        for name, count in finished.summary()["counts"].items():
            figures.operations[name] += count


def test_duplicate_ids_in_a_triggered_run_are_processed_once(
        tmp_path: Path, figures: Figures) -> None:
    snapshot, bad, valid = _snapshot()
    good_id, bad_id = sorted(valid)[0], sorted(bad)[0]

    with running(tmp_path / "state", snapshot) as rig:
        report = rig.sync(order_ids=[good_id, bad_id, good_id, bad_id, good_id])

        seen = [o.order_id for o in report.outcomes]
        assert sorted(seen) == sorted({good_id, bad_id})
        assert {o.order_id: o.result for o in report.outcomes}[bad_id] == "failed"
        figures.bad_inputs += 1
        figures.add_rig(rig)
