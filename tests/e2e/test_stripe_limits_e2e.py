"""The engine never sends what Stripe would refuse for its size or its dates.

Each over-limit input becomes a clear per-order error, or a cut with a visible marker,
before any Stripe request for that order: the emulator's request log shows nothing
for a refused order (not even the customer search or create).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.core.limits import CUSTOMER_NAME_MAX, METADATA_VALUE_MAX, TRUNCATION_MARKER
from sf_stripe_sync.engine import RunOptions, RunReport
from sf_stripe_sync.runtime import SandboxOptions, open_runtime
from tests.e2e.harness import AS_OF, DEMO_ORG, Harness, load_json, running

pytestmark = pytest.mark.e2e

ANCIENT_ORDER, ANCIENT_ACCOUNT = "801000000000001AAA", "001000000000001AAA"
LONG_NAME_ORDER, LONG_NAME_ACCOUNT = "801000000000003AAA", "001000000000003AAA"
LONG_NOTE_ORDER, LONG_NOTE_ACCOUNT = "801000000000004AAA", "001000000000004AAA"
NOTE_KEY = "salesforce_description"


def _snapshot() -> dict[str, Any]:
    org = copy.deepcopy(load_json(DEMO_ORG))
    next(i for i in org["OrderItem"] if i["OrderId"] == ANCIENT_ORDER)["ServiceDate"] = (
        "0001-01-01")
    next(a for a in org["Account"] if a["Id"] == LONG_NAME_ACCOUNT)["Name"] = "N" * 5000
    next(i for i in org["OrderItem"] if i["OrderId"] == LONG_NOTE_ORDER)["Description"] = (
        "d" * 600)
    return org


@pytest.fixture
def org(tmp_path: Path) -> Iterator[Harness]:
    with running(tmp_path, _snapshot()) as harness:
        yield harness


def _sync(h: Harness, **rules: Any) -> RunReport:
    settings = h.settings(rules={"metadata_map": {"Description": NOTE_KEY}, **rules})
    with open_runtime(settings, SandboxOptions(org=h.org, emulator=h.emulator)) as rt:
        return rt.engine().run(RunOptions(as_of=AS_OF))


def _requests_naming(h: Harness, *ids: str) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in h.emulator.requests()
            if any(i in json.dumps(r["params"]) for i in ids)]


def test_a_service_date_in_year_one_is_invalid_dates_and_nothing_is_sent(org: Harness) -> None:
    report = _sync(org)

    failure = next(f for f in report.failed if f.order_id == ANCIENT_ORDER)
    assert failure.code == "invalid_dates"
    assert "0001-01-01" in failure.message and "OrderItem" in failure.message
    assert _requests_naming(org, ANCIENT_ORDER, ANCIENT_ACCOUNT) == []
    assert org.record("Order", ANCIENT_ORDER)["Stripe_Sync_Error__c"]


def test_a_five_thousand_character_account_name_is_cut_to_stripes_limit(org: Harness) -> None:
    _sync(org)

    customer = next(c for c in org.objects("customer")
                    if c["metadata"].get("salesforce_account_id") == LONG_NAME_ACCOUNT)
    assert len(customer["name"]) == CUSTOMER_NAME_MAX
    assert customer["name"].endswith(TRUNCATION_MARKER)


def test_a_long_mapped_value_is_cut_with_a_visible_marker(org: Harness) -> None:
    report = _sync(org)

    assert LONG_NOTE_ORDER not in {f.order_id for f in report.failed}
    schedule = next(s for s in org.schedules()
                    if s["metadata"].get("salesforce_order_id") == LONG_NOTE_ORDER)
    notes = [item["metadata"][NOTE_KEY] for phase in schedule["phases"]
             for item in phase["items"] if NOTE_KEY in item["metadata"]]
    assert notes and all(len(n) == METADATA_VALUE_MAX for n in notes)
    assert all(n.endswith(TRUNCATION_MARKER) for n in notes)


def test_a_long_mapped_value_can_be_refused_before_anything_is_sent(org: Harness) -> None:
    report = _sync(org, metadata_overflow="refuse")

    failure = next(f for f in report.failed if f.order_id == LONG_NOTE_ORDER)
    assert failure.code == "invalid_record"
    assert "Description" in failure.message and "600" in failure.message
    assert _requests_naming(org, LONG_NOTE_ORDER, LONG_NOTE_ACCOUNT) == []
