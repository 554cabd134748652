"""Stripe forgets idempotency keys after about a day: coupons must still never be made twice.

A create whose coupons landed but whose schedule create failed every retry leaves the
coupons behind. When the next run comes after Stripe forgot the keys, the same coupon
creates are new requests to Stripe; only the coupon ids derived from the keys make Stripe
refuse them (``resource_already_exists``) so the engine reuses the coupons made before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.config import StripeAccountSettings
from sf_stripe_sync.sandbox.stripe_emulator import FaultConfig
from sf_stripe_sync.sandbox.stripe_emulator.idempotency import DEFAULT_TTL_SECONDS
from tests.reliability.audit import audit
from tests.reliability.conftest import Figures
from tests.reliability.generate import generate_org
from tests.reliability.rig import running

pytestmark = pytest.mark.reliability

SCHEDULES_PATH = "/v1/subscription_schedules"


def _discounted_contract() -> dict[str, Any]:
    snapshot = generate_org(33, contracts=1)
    first, second = snapshot["OrderItem"][:2]
    first["Discount_Percent_Off__c"], first["Discount_Amount_Off__c"] = 10.0, None
    second["Discount_Amount_Off__c"], second["Discount_Percent_Off__c"] = 2.5, None
    return snapshot


def test_coupons_made_before_a_failed_create_are_reused_after_the_keys_expired(
        tmp_path: Path, figures: Figures) -> None:
    snapshot = _discounted_contract()
    with running(tmp_path / "oracle", snapshot) as clean:
        clean.converge()
        oracle = clean.census()
        posts = [r["path"] for r in clean.emulator.requests() if r["method"] == "POST"]
    coupons_first = posts.index(SCHEDULES_PATH)
    assert len(oracle.coupons) >= 2 and coupons_first >= 2
    tries = StripeAccountSettings(name="default").max_retries + 1
    orders = len(snapshot["Order"])

    with running(tmp_path / "state", snapshot) as rig:
        # Every order of the contract tries the one create (its key is the contract's)
        # and fails every retry after the coupons landed.
        rig.emulator.set_faults(FaultConfig(
            script=("none",) * coupons_first + ("error",) * tries * orders * 2,
            methods=("POST",)))
        first = rig.sync()
        assert {o.code for o in first.pending} == {"transient"}
        assert len(rig.census().coupons) == len(oracle.coupons)
        rig.emulator.clear_faults()
        rig.emulator.advance(DEFAULT_TTL_SECONDS + 3600)

        rig.converge()

        found = rig.census()
        figures.add_rig(rig)
        figures.faults["stripe:error"] += 0  # counted by add_rig from the request log
        result = audit(found, oracle, [o["Id"] for o in snapshot["Order"]])
        figures.duplicates += len(result.duplicates)
        figures.losses += len(result.losses)
        refused = [r for r in rig.emulator.requests()
                   if r["path"] == "/v1/coupons" and r["status"] == 400]
        assert len(refused) == len(oracle.coupons)
        assert result.duplicates == []
        assert result.losses == []
