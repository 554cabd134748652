"""Crashes: the sync process is SIGKILLed at each step boundary, and a rerun converges.

The real ``sync`` command runs as a subprocess against the org and emulator this test
serves, with ``SF_STRIPE_SYNC_CRASH_AT`` naming the boundary where it kills itself:
after Stripe answered but before the journal recorded it, after the journal but before
write-back, and in the middle of a write-back batch. A rerun (optionally after moving
the emulator's clock past Stripe's idempotency-key memory) must converge on exactly the
end state of a clean run: nothing made twice, nothing lost.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from sf_stripe_sync.crashpoints import POINTS
from sf_stripe_sync.sandbox.stripe_emulator.idempotency import DEFAULT_TTL_SECONDS
from tests.reliability.audit import audit
from tests.reliability.cli_runs import run_sync
from tests.reliability.conftest import Figures
from tests.reliability.generate import generate_org
from tests.reliability.rig import Census, running

pytestmark = pytest.mark.reliability

SNAPSHOT = generate_org(21, contracts=8)


@pytest.fixture(scope="module")
def oracle(tmp_path_factory: pytest.TempPathFactory) -> Census:
    with running(tmp_path_factory.mktemp("oracle"), SNAPSHOT) as clean:
        clean.converge()
        return clean.census()


@pytest.mark.parametrize("keys_expired", [False, True], ids=["keys-kept", "keys-expired"])
@pytest.mark.parametrize("point", POINTS)
def test_a_rerun_after_a_kill_converges_with_nothing_twice_and_nothing_lost(
        tmp_path: Path, oracle: Census, figures: Figures, point: str,
        keys_expired: bool) -> None:
    with running(tmp_path / "state", SNAPSHOT) as rig:
        crashed = run_sync(rig, crash_at=point)
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
        if keys_expired:
            rig.emulator.advance(DEFAULT_TTL_SECONDS + 3600)

        rerun = run_sync(rig)
        settled = run_sync(rig)

        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert settled.returncode == 0, settled.stderr[-2000:]
        counts = settled.summary()["counts"]
        assert counts["create"] == counts["amend"] == counts["replace"] == 0
        assert settled.summary()["stripe_writes"] == 0
        assert rig.unfinished() == 0
        result = audit(rig.census(), oracle, [o["Id"] for o in SNAPSHOT["Order"]])
        figures.crashes_survived[point] += 1
        figures.runs += 3
        for run in (rerun, settled):
            for name, count in run.summary()["counts"].items():
                figures.operations[name] += count
        figures.duplicates += len(result.duplicates)
        figures.losses += len(result.losses)
        assert result.duplicates == []
        assert result.losses == []
