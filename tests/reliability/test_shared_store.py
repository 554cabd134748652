"""Never twice on one shared PostgreSQL store: overlapping runs, and a killed run.

The scenarios of ``test_concurrency`` and ``test_crashes`` (``test_multi_host`` has the
racing hosts), with every run on one PostgreSQL store (``state.url``), as a team
running several hosts against one database does. The store's leases now span
hosts: one host waits while another holds a contract (its runs report it pending and a
later run picks it up), and a host killed mid-run frees its contracts only when its
leases expire (no pid checks across hosts). Every scenario ends with nothing made twice
and nothing lost.

PostgreSQL only; skipped without a test server, except under CI.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.backends import pg_schema
from tests.reliability.audit import audit
from tests.reliability.cli_runs import Finished, run_sync, start_sync
from tests.reliability.conftest import Figures
from tests.reliability.generate import generate_org
from tests.reliability.rig import Rig, running


@contextmanager
def shared(state_dir: Path, url: str) -> Iterator[Rig]:
    """A rig whose runs (in-process and ``sync`` subprocesses) use the store at ``url``."""
    with running(state_dir, SNAPSHOT) as rig:
        rig.overrides["state"] = {"url": url}
        yield rig

pytestmark = pytest.mark.reliability

SNAPSHOT = generate_org(44, contracts=12)
SHORT_TTL = {"SF_STRIPE_SYNC__STATE__LEASE_TTL_SECONDS": "2"}


def test_two_overlapping_sync_processes_on_one_shared_store_make_nothing_twice(
        tmp_path: Path, figures: Figures) -> None:
    with running(tmp_path / "oracle", SNAPSHOT) as clean:
        clean.converge()
        oracle = clean.census()
    with pg_schema() as url, shared(tmp_path / "state", url) as rig:
        rig.open_store().close()
        processes = (start_sync(rig), start_sync(rig))
        outputs = [p.communicate(timeout=180) for p in processes]
        finished = [Finished(p.returncode, out, err)
                    for p, (out, err) in zip(processes, outputs, strict=True)]
        settled = _settle(rig)
        for run in finished:
            assert run.returncode == 0, run.stderr[-2000:]
        creates = [r for r in rig.emulator.requests()
                   if r["method"] == "POST" and r["path"] == "/v1/subscription_schedules"
                   and r["status"] == 200 and not r["replayed"]]
        result = audit(rig.census(), oracle, [o["Id"] for o in SNAPSHOT["Order"]])
        figures.runs += 2 + settled
        figures.duplicates += len(result.duplicates)
        figures.losses += len(result.losses)
        assert len(creates) == len(SNAPSHOT["Contract"])
        assert result.duplicates == []
        assert result.losses == []


def _settle(rig: Rig, *, env: dict[str, str] | None = None, max_runs: int = 20) -> int:
    """Rerun ``sync`` until a run finds nothing pending and nothing unfinished (a lease
    another host held, or a killed run's lease that has yet to expire, leaves its
    contract pending for a later run); the number of runs it took."""
    for run in range(1, max_runs + 1):
        finished = run_sync(rig, env=env)
        assert finished.returncode == 0, finished.stderr[-2000:]
        summary = finished.summary()
        counts = summary["counts"]
        if not summary["pending_orders"] and rig.unfinished() == 0 and (
                counts["create"] == counts["amend"] == counts["replace"] == 0):
            return run
        time.sleep(1)  # a held lease expires on its own clock; the next run looks again
    raise AssertionError(f"still pending after {max_runs} runs")


@pytest.mark.parametrize("point", ["after_stripe", "after_journal"])
def test_a_run_killed_on_a_shared_store_is_taken_over_once_its_leases_expire(
        tmp_path: Path, figures: Figures, point: str) -> None:
    with running(tmp_path / "oracle", SNAPSHOT) as clean:
        clean.converge()
        oracle = clean.census()
    with pg_schema() as url, shared(tmp_path / "state", url) as rig:
        crashed = run_sync(rig, crash_at=point, env=SHORT_TTL)
        assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
        with psycopg.connect(url) as conn:  # the dead run's leases are still there
            assert (conn.execute("SELECT count(*) FROM leases").fetchone() or (0,))[0] >= 1
        runs = _settle(rig, env=SHORT_TTL)
        result = audit(rig.census(), oracle, [o["Id"] for o in SNAPSHOT["Order"]])
        figures.crashes_survived[f"shared_store_{point}"] += 1
        figures.runs += 1 + runs
        figures.duplicates += len(result.duplicates)
        figures.losses += len(result.losses)
        assert result.duplicates == []
        assert result.losses == []
