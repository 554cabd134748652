"""Concurrency: two ``sync`` processes started together on one state store and one org.

Both are real subprocesses of the ``sync`` command against the same org, emulator and
state directory, as two overlapping cron runs would be. Per-contract leases in the state
store must keep them from working on one contract at once: no schedule, coupon, customer
or Sync_Log may be made twice, both must exit cleanly, and together (plus one settling
run, for contracts one of them had to leave to the other) they reach a clean run's end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sf_stripe_sync.state.store import StateStore
from tests.reliability.audit import audit
from tests.reliability.cli_runs import Finished, run_sync, start_sync
from tests.reliability.conftest import Figures
from tests.reliability.generate import generate_org
from tests.reliability.rig import running

pytestmark = pytest.mark.reliability

SNAPSHOT = generate_org(44, contracts=16)


def test_two_overlapping_syncs_process_no_order_twice_and_both_exit_cleanly(
        tmp_path: Path, figures: Figures) -> None:
    with running(tmp_path / "oracle", SNAPSHOT) as clean:
        clean.converge()
        oracle = clean.census()
    with running(tmp_path / "state", SNAPSHOT) as rig:
        # Overlapping cron runs share a store that exists already (creating a brand-new
        # store from two processes at the same instant is the store's own test).
        StateStore.open(rig.state_dir / "state.db").close()
        first, second = start_sync(rig), start_sync(rig)
        processes = (first, second)
        outputs = [p.communicate(timeout=120) for p in processes]
        finished = [Finished(p.returncode, out, err)
                    for p, (out, err) in zip(processes, outputs, strict=True)]
        settled = run_sync(rig)

        for run in finished:
            assert run.returncode == 0, run.stderr[-2000:]
        assert settled.returncode == 0, settled.stderr[-2000:]
        creates = [r for r in rig.emulator.requests()
                   if r["method"] == "POST" and r["path"] == "/v1/subscription_schedules"
                   and r["status"] == 200 and not r["replayed"]]
        found = rig.census()
        result = audit(found, oracle, [o["Id"] for o in SNAPSHOT["Order"]])
        figures.runs += 3
        for run in (*finished, settled):
            for name, count in run.summary()["counts"].items():
                figures.operations[name] += count
        figures.duplicates += len(result.duplicates)
        figures.losses += len(result.losses)
        assert len(creates) == len(SNAPSHOT["Contract"])
        assert result.duplicates == []
        assert result.losses == []
        both = [run.summary()["counts"] for run in finished]
        assert sum(c["create"] for c in both) + settled.summary()["counts"]["create"] == len(
            SNAPSHOT["Contract"])
