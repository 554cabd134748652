"""The task queue in one process: intake per contract, durable triggers, a worker's run.

PostgreSQL only (the queue lives in the shared store's database); skipped without a
test server, except under CI.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sf_stripe_sync.config import Settings, load_settings
from sf_stripe_sync.queue import intake
from sf_stripe_sync.queue.app import (
    ROUTE_ORDERS,
    SYNC_CONTRACT,
    contract_lock,
    enqueue_orders,
    ensure_schema,
    make_app,
)
from sf_stripe_sync.queue.worker import run_worker
from sf_stripe_sync.runtime import SandboxOptions, open_runtime
from sf_stripe_sync.state.store import StateStore
from tests.backends import StoreSpec
from tests.reliability.generate import generate_org
from tests.reliability.rig import NO_WAITS, Rig, running

pytestmark = pytest.mark.integration

SNAPSHOT = generate_org(7, contracts=4)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with running(tmp_path / "state", SNAPSHOT) as made:
        yield made


def _settings(rig: Rig, spec: StoreSpec) -> Settings:
    return load_settings(None, state_dir=rig.state_dir, retry=NO_WAITS,
                         state={"url": spec.target},
                         queue={"heartbeat_seconds": 0.5, "poll_seconds": 0.2,
                                "retry_wait_seconds": 0})


def _sandbox(rig: Rig) -> SandboxOptions:
    return SandboxOptions(org=rig.org, emulator=rig.emulator)


def _jobs(spec: StoreSpec) -> list[dict[str, Any]]:
    with psycopg.connect(spec.target) as conn:
        rows = conn.execute(
            "SELECT task_name, lock, args, status::text FROM procrastinate_jobs ORDER BY id"
        ).fetchall()
    return [{"task": t, "lock": lock, "args": args, "status": s} for t, lock, args, s in rows]


def test_the_scheduled_intake_queues_one_job_per_contract_and_moves_the_watermark(
    rig: Rig, pg_spec: StoreSpec,
) -> None:
    settings = _settings(rig, pg_spec)
    ensure_schema(settings)
    app = make_app(settings)
    with open_runtime(settings, _sandbox(rig)) as rt, app.open():
        read, queued = intake.enqueue_changed(app, settings, rt.source, rt.store, NOW)
        again = intake.enqueue_changed(app, settings, rt.source, rt.store, NOW)
        watermark = rt.store.get_watermark(intake.SOURCE_NAME)
    jobs = _jobs(pg_spec)
    contracts = {c["Id"] for c in SNAPSHOT["Contract"]}
    assert read == len(SNAPSHOT["Order"])
    assert queued == len(contracts) == len(jobs)
    assert again[1] == 0  # the same work is queued once (queueing locks)
    assert {j["task"] for j in jobs} == {SYNC_CONTRACT}
    assert {j["lock"] for j in jobs} == {contract_lock("default", c) for c in contracts}
    for job in jobs:
        contract = job["args"]["contract_key"]
        wanted = {o["Id"] for o in SNAPSHOT["Order"] if o["ContractId"] == contract}
        assert set(job["args"]["order_ids"]) == wanted
    assert watermark is not None


def test_a_trigger_is_queued_durably_without_reading_salesforce(
    rig: Rig, pg_spec: StoreSpec,
) -> None:
    settings = _settings(rig, pg_spec)
    calls_before = rig.org.api_calls
    order_ids = [o["Id"] for o in SNAPSHOT["Order"][:2]]
    job_id = enqueue_orders(settings, order_ids)
    [job] = _jobs(pg_spec)
    assert job_id > 0
    assert (job["task"], job["args"], job["status"]) == (
        ROUTE_ORDERS, {"order_ids": order_ids}, "todo")
    assert rig.org.api_calls == calls_before


def test_a_worker_routes_triggered_orders_and_syncs_each_contract_once(
    rig: Rig, pg_spec: StoreSpec,
) -> None:
    settings = _settings(rig, pg_spec)
    order_ids = [o["Id"] for o in SNAPSHOT["Order"]]
    for order_id in order_ids:  # one trigger per order: several jobs per contract
        enqueue_orders(settings, [order_id])
    run_worker(settings, _sandbox(rig), name="only", wait=False)

    jobs = _jobs(pg_spec)
    assert {j["status"] for j in jobs} == {"succeeded"}
    assert len([j for j in jobs if j["task"] == ROUTE_ORDERS]) == len(order_ids)
    schedules = rig.emulator.objects("subscription_schedule")
    keys = [s["metadata"].get("salesforce_contract_key") for s in schedules]
    assert sorted(keys) == sorted(c["Id"] for c in SNAPSHOT["Contract"])
    synced = {o["Id"]: o.get("Stripe_Sync_Status__c") for o in rig.org.records("Order")}
    assert set(synced.values()) == {"Synced"}
    with StateStore.open_url(pg_spec.target) as store:
        assert store.journal_unfinished() == []


def test_the_trigger_endpoint_hands_its_orders_to_the_workers_on_a_shared_store(
    rig: Rig, pg_spec: StoreSpec,
) -> None:
    from sf_stripe_sync.queue.triggers import TaskQueueTriggers, open_trigger_queue
    from sf_stripe_sync.triggers import SqliteTriggerQueue

    local = open_trigger_queue(load_settings(None, state_dir=rig.state_dir))
    assert isinstance(local, SqliteTriggerQueue)
    local.close()
    queue = open_trigger_queue(_settings(rig, pg_spec))
    assert isinstance(queue, TaskQueueTriggers)
    try:
        queue.ping()
        order_id = SNAPSHOT["Order"][0]["Id"]
        assert queue.enqueue([order_id, order_id, ""], source="outbound") == [order_id]
        assert queue.depth() == 1
        assert queue.claim(50) is None  # the workers take it, not the endpoint's runner
    finally:
        queue.close()
    [job] = _jobs(pg_spec)
    assert (job["task"], job["args"]) == (ROUTE_ORDERS, {"order_ids": [order_id]})


def test_sync_enqueue_queues_the_changed_orders_per_contract_from_the_command_line(
    rig: Rig, pg_spec: StoreSpec, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from sf_stripe_sync.cli import main

    monkeypatch.setenv("SF_STRIPE_SYNC__STATE__URL", pg_spec.target)
    common = ["--state-dir", str(rig.state_dir), "--salesforce-sandbox-url", rig.org.base_url,
              "--stripe-emulator-url", rig.emulator.url, "--format", "json"]
    assert main(["sync", "--enqueue", *common]) == 0
    first = json.loads(capsys.readouterr().out)
    assert main(["sync", "--enqueue", *common]) == 0
    second = json.loads(capsys.readouterr().out)
    assert first == {"orders_read": len(SNAPSHOT["Order"]),
                     "jobs_queued": len(SNAPSHOT["Contract"])}
    assert second["jobs_queued"] == 0  # re-read through the overlap, already queued
    assert {j["task"] for j in _jobs(pg_spec)} == {SYNC_CONTRACT}
    assert rig.emulator.objects("subscription_schedule") == []  # the workers sync, not sync


def test_sync_enqueue_without_a_shared_store_is_a_usage_error(
    rig: Rig, capsys: pytest.CaptureFixture[str],
) -> None:
    from sf_stripe_sync.cli import main

    code = main(["sync", "--enqueue", "--state-dir", str(rig.state_dir),
                 "--salesforce-sandbox-url", rig.org.base_url,
                 "--stripe-emulator-url", rig.emulator.url])
    assert code == 2
    assert "state.url" in capsys.readouterr().err
