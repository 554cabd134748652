"""Faults: every Stripe and Salesforce call fails at random, and still nothing is lost or doubled.

Each test syncs an org twice: once cleanly (the oracle) and once with every call failing
with probability 0.2 (Stripe: 500, 429 lock timeout, dropped connection, applied-then-
lost; Salesforce: 503, UNABLE_TO_LOCK_ROW for the call or single records, dropped
connection, connect timeout, applied-then-lost), repeating runs until the engine reports
nothing pending. The audit then compares both end states. A last test changes synced
orders (amend, replace, cancel) and syncs the changes through faults as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.reliability.audit import audit
from tests.reliability.changes import change_org
from tests.reliability.conftest import Figures
from tests.reliability.generate import generate_org
from tests.reliability.rig import DEMO_ORG, Census, load_json, running

pytestmark = pytest.mark.reliability

FAULT_RATE = 0.2
GENERATED_SEED = 6
CHANGES_SEED = 6


def _oracle(tmp_path: Path, snapshot: dict[str, Any]) -> tuple[Census, set[str]]:
    with running(tmp_path / "oracle", snapshot) as clean:
        clean.converge()
        census = clean.census()
        failed = {o.order_id for r in clean.reports for o in r.failed}
    valid = {oid for oid, o in census.orders.items()
             if o["Status"] == "Activated" and oid not in failed}
    return census, valid


def _sync_through_faults(tmp_path: Path, snapshot: dict[str, Any], seed: int, figures: Figures,
                         *, page_size: int, overrides: dict[str, Any] | None = None
                         ) -> tuple[Census, int, int]:
    with running(tmp_path / f"faulty-{seed}", snapshot) as rig:
        rig.overrides = overrides or {}
        rig.set_faults(rate=FAULT_RATE, seed=seed)
        rig.converge(page_size=page_size)
        rig.clear_faults()
        figures.add_rig(rig)
        injected = sum(rig.counts.values()) + sum(rig.stripe_fault_counts().values())
        return rig.census(), injected, len(rig.reports) + rig.aborted_runs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_demo_org_under_faults_bills_exactly_what_a_clean_run_bills(
        tmp_path: Path, figures: Figures, seed: int) -> None:
    snapshot = load_json(DEMO_ORG)
    oracle, valid = _oracle(tmp_path, snapshot)

    found, injected, _runs = _sync_through_faults(tmp_path, snapshot, seed, figures, page_size=3)

    result = audit(found, oracle, valid)
    figures.duplicates += len(result.duplicates)
    figures.losses += len(result.losses)
    assert injected > 0
    assert result.duplicates == []
    assert result.losses == []


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Census, set[str]]:
    snapshot = generate_org(GENERATED_SEED)
    oracle, valid = _oracle(tmp_path_factory.mktemp("generated"), snapshot)
    return snapshot, oracle, valid


@pytest.mark.parametrize(("seed", "stripe_retries"), [(6, 5), (7, 5), (8, 1)],
                         ids=["seed6", "seed7", "seed8-one-retry"])
def test_generated_org_under_faults_syncs_every_order_exactly_once(
        tmp_path: Path, figures: Figures, generated: tuple[dict[str, Any], Census, set[str]],
        seed: int, stripe_retries: int) -> None:
    snapshot, oracle, valid = generated
    assert len(snapshot["Order"]) >= 200 and len(snapshot["Contract"]) >= 50
    assert valid == {o["Id"] for o in snapshot["Order"]}, "the generator makes only valid orders"

    found, injected, runs = _sync_through_faults(
        tmp_path, snapshot, seed, figures, page_size=20,
        overrides={"stripe_accounts": [{"name": "default", "max_retries": stripe_retries}]})

    result = audit(found, oracle, valid)
    figures.duplicates += len(result.duplicates)
    figures.losses += len(result.losses)
    assert injected >= 100
    assert result.duplicates == []
    assert result.losses == []
    assert len(found.schedules) == len(snapshot["Contract"])
    assert set(found.customers_by_account()) >= {a["Id"] for a in snapshot["Account"]}
    assert len(found.coupons) == len(oracle.coupons)
    if stripe_retries == 1:  # failures outlast the retries: later runs must pick them up
        assert runs > 1


def test_the_generator_is_seeded() -> None:
    assert generate_org(11) == generate_org(11)
    assert generate_org(11) != generate_org(12)


def test_amend_replace_and_cancel_under_faults_end_where_a_clean_run_ends(
        tmp_path: Path, figures: Figures) -> None:
    snapshot = generate_org(CHANGES_SEED, contracts=12)
    with running(tmp_path / "oracle", snapshot) as clean:
        clean.converge()
        made = change_org(clean.org, snapshot)
        clean.converge()
        oracle = clean.census()
        done = clean.reports[-1].counts
    assert made == {"replace": 3, "amend": made["amend"], "cancel": 2} and made["amend"] >= 1
    assert done["amend"] == made["amend"] and done["cancel"] == made["cancel"]
    assert done["replace"] >= made["replace"]

    with running(tmp_path / "faulty", snapshot) as rig:
        rig.set_faults(rate=FAULT_RATE, seed=CHANGES_SEED)
        rig.converge(page_size=5)
        rig.clear_faults()
        change_org(rig.org, snapshot)
        rig.set_faults(rate=FAULT_RATE, seed=CHANGES_SEED + 100)
        rig.converge(page_size=5)
        rig.clear_faults()
        found = rig.census()
        figures.add_rig(rig)
        injected = sum(rig.counts.values()) + sum(rig.stripe_fault_counts().values())

    canceled = {c["Id"] for c in sorted(snapshot["Contract"], key=lambda c: c["Id"])[6:8]}
    still_synced = [o["Id"] for o in snapshot["Order"] if o["ContractId"] not in canceled]
    result = audit(found, oracle, still_synced)
    figures.duplicates += len(result.duplicates)
    figures.losses += len(result.losses)
    assert injected > 0
    assert result.duplicates == []
    assert result.losses == []
    assert sorted(s["status"] for s in found.schedules).count("canceled") == len(canceled)
