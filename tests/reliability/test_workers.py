"""Workers on one PostgreSQL database: three at once, and one killed mid-contract.

Real ``sf-stripe-sync worker`` subprocesses share one Postgres store and task queue and
work against the org and the Stripe emulator this test process serves (they outlive the
workers, as a real org and Stripe do). Each order is triggered on its own, so a contract
has several jobs under one lock, and three workers compete for them. What must hold:

* the queue never runs two jobs of one contract at once (from the queue's own event
  history), and Stripe never sees a schedule created twice (from the emulator's request
  log); the end state audits clean against a one-process run;
* a worker killed just after Stripe answered leaves its job running and its contract
  lease held; another worker puts the job back in the queue once the dead one stops
  beating, waits while the lease lasts (the job is retried), then takes the contract
  over after the TTL and finishes it: one schedule, every order synced.

PostgreSQL only; skipped without a test server, except under CI.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from sf_stripe_sync.config import load_settings
from sf_stripe_sync.queue.app import enqueue_orders
from tests.backends import StoreSpec
from tests.reliability.audit import audit
from tests.reliability.cli_runs import ROOT, _environment
from tests.reliability.conftest import Figures
from tests.reliability.generate import generate_org
from tests.reliability.rig import Rig, running

pytestmark = pytest.mark.reliability

SNAPSHOT = generate_org(91, contracts=9)
QUEUE_ENV = {
    "SF_STRIPE_SYNC__QUEUE__HEARTBEAT_SECONDS": "0.5",
    "SF_STRIPE_SYNC__QUEUE__STALLED_AFTER_SECONDS": "2",
    "SF_STRIPE_SYNC__QUEUE__RETRY_WAIT_SECONDS": "1",
    "SF_STRIPE_SYNC__QUEUE__POLL_SECONDS": "0.3",
    "SF_STRIPE_SYNC__QUEUE__SCHEDULE": "",  # only the triggers bring work
}
DEADLINE_SECONDS = 150


def _env(spec: StoreSpec, lease_ttl: float, crash_at: str | None = None,
         stalled_after: float | None = None) -> dict[str, str]:
    queue = dict(QUEUE_ENV)
    if stalled_after is not None:
        queue["SF_STRIPE_SYNC__QUEUE__STALLED_AFTER_SECONDS"] = str(stalled_after)
    return _environment(4, crash_at, {
        **queue, "SF_STRIPE_SYNC__STATE__URL": spec.target,
        "SF_STRIPE_SYNC__STATE__LEASE_TTL_SECONDS": str(lease_ttl)})


def _start_worker(rig: Rig, spec: StoreSpec, name: str, *, lease_ttl: float,
                  crash_at: str | None = None,
                  stalled_after: float | None = None) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "sf_stripe_sync.cli", "worker",
               "--state-dir", str(rig.state_dir / name), "--name", name,
               "--salesforce-sandbox-url", rig.org.base_url,
               "--stripe-emulator-url", rig.emulator.url]
    return subprocess.Popen(command, env=_env(spec, lease_ttl, crash_at, stalled_after),
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@contextmanager
def _workers(processes: list[subprocess.Popen[str]]) -> Iterator[list[str]]:
    """Stop the workers on exit (SIGTERM, then SIGKILL); their stderr, for the asserts."""
    logs: list[str] = []
    try:
        yield logs
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                _, err = process.communicate(timeout=30)
            except subprocess.TimeoutExpired:  # pragma: no cover - only when failing
                process.kill()
                _, err = process.communicate()
            logs.append(err)


def _trigger_each_order(rig: Rig, spec: StoreSpec) -> None:
    settings = load_settings(None, state_dir=rig.state_dir, state={"url": spec.target})
    for order in SNAPSHOT["Order"]:
        enqueue_orders(settings, [order["Id"]])


def _wait_until_done(spec: StoreSpec, processes: list[subprocess.Popen[str]]) -> None:
    """Until every job has finished (bounded; a worker that exits early is a failure)."""
    query = ("SELECT count(*) FILTER (WHERE status IN ('todo', 'doing')), count(*) "
             "FROM procrastinate_jobs")
    for _ in range(DEADLINE_SECONDS * 4):
        with psycopg.connect(spec.target) as conn:
            open_jobs, total = conn.execute(query).fetchone() or (0, 0)
        if total and not open_jobs:
            return
        if any(p.poll() is not None and p.returncode not in (None, -signal.SIGKILL)
               for p in processes):
            break
        time.sleep(0.25)
    pytest.fail("the workers did not finish the queue")


def _overlapping_jobs(spec: StoreSpec) -> list[str]:
    """Pairs of jobs of one lock whose 'doing' spans overlap, from the queue's events.

    Ordered by event id, not by ``at``: ``at`` is ``NOW()``, the start of the
    transaction that changed the job, so a fetch whose transaction began a moment before
    the previous job's finish committed is stamped before that finish, although it could
    only take the job once the finish was visible. The id comes from a sequence drawn
    when the status actually changes, so it orders the changes as they happened."""
    with psycopg.connect(spec.target) as conn:
        rows = conn.execute(
            "SELECT j.id, j.lock, e.type::text, e.id FROM procrastinate_events e "
            "JOIN procrastinate_jobs j ON j.id = e.job_id "
            "WHERE j.lock IS NOT NULL ORDER BY e.id").fetchall()
    spans: dict[str, list[tuple[int, int, int]]] = defaultdict(list)
    started: dict[int, int] = {}
    for job_id, lock, kind, event_id in rows:
        if kind == "started":
            started[job_id] = event_id
        elif kind in ("succeeded", "failed", "deferred_for_retry", "cancelled", "aborted",
                      "retried") and job_id in started:
            spans[lock].append((started.pop(job_id), event_id, job_id))
    overlaps = []
    for lock, intervals in spans.items():
        intervals.sort()
        latest_end, latest_job = intervals[0][1], intervals[0][2]
        for start, end, job in intervals[1:]:
            if start < latest_end:
                overlaps.append(f"jobs {latest_job} and {job} of {lock} ran at once")
            if end > latest_end:
                latest_end, latest_job = end, job
    return overlaps


def _schedule_creates(rig: Rig) -> list[str]:
    return [r["idempotency_key"] for r in rig.emulator.requests()
            if r["method"] == "POST" and r["path"] == "/v1/subscription_schedules"
            and r["status"] == 200 and not r["replayed"]]


def test_three_workers_never_run_one_contract_at_once_and_make_nothing_twice(
    tmp_path: Path, pg_spec: StoreSpec, figures: Figures,
) -> None:
    with running(tmp_path / "oracle", SNAPSHOT) as clean:
        clean.converge()
        oracle = clean.census()
    with running(tmp_path / "state", SNAPSHOT) as rig:
        pg_spec.open().close()  # the store exists before the workers race to open it
        _trigger_each_order(rig, pg_spec)
        # Healthy workers here: one is taken for dead only after 30 s without a beat (the
        # default), not QUEUE_ENV's 2 s, which a busy 2-core machine can starve a live
        # worker's heartbeat past. A live worker's job put back in the queue does run
        # beside it (the contract lease then keeps Stripe safe, as the kill test shows),
        # and that is not what this test is about.
        processes = [_start_worker(rig, pg_spec, f"w{n}", lease_ttl=30, stalled_after=30)
                     for n in range(3)]
        with _workers(processes):
            _wait_until_done(pg_spec, processes)
        with psycopg.connect(pg_spec.target) as conn:
            statuses = dict(conn.execute(
                "SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY 1").fetchall())
        found = rig.census()
        result = audit(found, oracle, [o["Id"] for o in SNAPSHOT["Order"]])
        figures.runs += 1
        figures.duplicates += len(result.duplicates)
        figures.losses += len(result.losses)
        assert set(statuses) == {"succeeded"}, statuses
        assert _overlapping_jobs(pg_spec) == []
        creates = _schedule_creates(rig)
        assert len(creates) == len(SNAPSHOT["Contract"]) == len(set(creates))
        assert result.duplicates == []
        assert result.losses == []


def test_a_worker_killed_mid_contract_has_its_lease_taken_over_after_the_ttl(
    tmp_path: Path, pg_spec: StoreSpec, figures: Figures,
) -> None:
    one_contract = SNAPSHOT["Contract"][0]["Id"]
    orders = [o["Id"] for o in SNAPSHOT["Order"] if o["ContractId"] == one_contract]
    with running(tmp_path / "state", SNAPSHOT) as rig:
        pg_spec.open().close()
        settings = load_settings(None, state_dir=rig.state_dir, state={"url": pg_spec.target})
        enqueue_orders(settings, orders)
        doomed = _start_worker(rig, pg_spec, "doomed", lease_ttl=8, crash_at="after_stripe")
        doomed.communicate(timeout=120)
        assert doomed.returncode == -signal.SIGKILL
        assert len(_schedule_creates(rig)) == 1  # Stripe answered, then the worker died
        with psycopg.connect(pg_spec.target) as conn:
            [(holder,)] = conn.execute(
                "SELECT owner FROM leases WHERE key LIKE 'contract:%'").fetchall()
        survivor = _start_worker(rig, pg_spec, "survivor", lease_ttl=8)
        with _workers([survivor]) as logs:
            _wait_until_done(pg_spec, [survivor])
        figures.crashes_survived["worker_killed_after_stripe"] += 1
        found = rig.census()
        assert "another run is working on this contract" in logs[0]  # waited for the TTL
        assert found.schedules_by_contract_key()[one_contract] == 1
        assert len(_schedule_creates(rig)) == 1
        assert {found.orders[o].get("Stripe_Sync_Status__c") for o in orders} == {"Synced"}
        with psycopg.connect(pg_spec.target) as conn:
            statuses = {s for (s,) in conn.execute(
                "SELECT status::text FROM procrastinate_jobs WHERE lock IS NOT NULL")}
            leases = conn.execute("SELECT count(*) FROM leases WHERE key LIKE 'contract:%'"
                                  ).fetchone()
        assert statuses == {"succeeded"}
        assert holder.startswith("run-")
        assert leases == (0,)  # the survivor released what it took over
        assert os.environ.get("SF_STRIPE_SYNC_CRASH_AT") is None
