"""``sf-stripe-sync worker``: one process taking sync jobs from the queue until stopped.

Theory of operation: a worker opens one runtime for its life (Salesforce, Stripe
gateways with their shared rate limits, the Postgres store), runs the same preflight
as ``sync`` (not ready: it refuses to start), registers the job bodies
on a procrastinate app and runs procrastinate's worker on the event loop; sync job
bodies are ordinary blocking functions, which procrastinate runs in threads.

* ``sync_contract`` is one engine run over the job's orders (a triggered run: the
  watermark stays, other contracts' unfinished entries are left to their own jobs).
  An order left pending (contract lease held elsewhere, a transient Stripe or
  Salesforce failure) makes the job raise ``RetryLater``: procrastinate runs it again
  ``queue.retry_wait_seconds`` later, by which time a dead holder's lease has expired.
* ``route_orders`` and the periodic ``scheduled_sync`` only queue per-contract jobs
  (``intake``).

A worker killed mid-job leaves its job ``doing``. Every worker beats
(``queue.heartbeat_seconds``) and, beside its jobs, looks for jobs of workers silent
for ``queue.stalled_after_seconds`` and puts them back in the queue; the contract's
store lease, no longer renewed by the dead worker, expires after
``state.lease_ttl_seconds``, and the retried job then takes the contract over.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import procrastinate

from sf_stripe_sync.config import Settings
from sf_stripe_sync.errors import SyncError, TransientError
from sf_stripe_sync.preflight.run import require_ready
from sf_stripe_sync.queue import intake
from sf_stripe_sync.queue.app import (
    ROUTE_ORDERS,
    SCHEDULED_LOCK,
    SCHEDULED_SYNC,
    SYNC_CONTRACT,
    ensure_schema,
    make_app,
)
from sf_stripe_sync.run_report import RunOptions
from sf_stripe_sync.runtime import Runtime, SandboxOptions, open_runtime

log = logging.getLogger("sf_stripe_sync.queue")


class RetryLater(TransientError):
    """Some of the job's orders could not be synced yet; the queue runs it again."""


class JobRunner:
    """The job bodies, bound to one worker's runtime and queue app."""

    def __init__(self, settings: Settings, rt: Runtime, app: procrastinate.App) -> None:
        self.settings = settings
        self.rt = rt
        self.app = app

    def sync_contract(self, account: str, contract_key: str,
                      order_ids: list[str]) -> dict[str, Any]:
        from sf_stripe_sync.catalog.context import price_resolver_for

        engine = self.rt.engine(price_resolver=price_resolver_for(self.rt))
        report = engine.run(RunOptions(order_ids=order_ids, mode="worker",
                                       resume_unfinished=False))
        pending = [o for o in report.outcomes if o.transient]
        if pending:
            raise RetryLater(
                f"contract {contract_key} ({account}): {len(pending)} order(s) pending: "
                + "; ".join(f"{o.order_id}: {o.message}" for o in pending[:3]))
        return {"run_id": report.run_id, "counts": dict(report.counts),
                "failed": [o.order_id for o in report.failed]}

    def route_orders(self, order_ids: list[str]) -> int:
        return intake.route(self.app, self.settings, self.rt.source, order_ids)

    def scheduled_sync(self) -> dict[str, int]:
        read, queued = intake.enqueue_changed(self.app, self.settings, self.rt.source,
                                              self.rt.store, datetime.now(UTC))
        return {"read": read, "queued": queued}


def register(app: procrastinate.App, settings: Settings, runner: JobRunner) -> None:
    queue = settings.queue
    retry = procrastinate.RetryStrategy(
        max_attempts=queue.max_attempts, wait=max(0, round(queue.retry_wait_seconds)),
        retry_exceptions={TransientError})

    @app.task(name=SYNC_CONTRACT, queue=queue.name, retry=retry)
    def sync_contract(account: str, contract_key: str, order_ids: list[str]) -> dict[str, Any]:
        return runner.sync_contract(account, contract_key, order_ids)

    @app.task(name=ROUTE_ORDERS, queue=queue.name, retry=retry)
    def route_orders(order_ids: list[str]) -> int:
        return runner.route_orders(order_ids)

    @app.task(name=SCHEDULED_SYNC, queue=queue.name, retry=retry)
    def scheduled_sync(timestamp: int) -> dict[str, int]:
        return runner.scheduled_sync()

    if queue.schedule.strip():
        app.periodic(cron=queue.schedule, periodic_id="scheduled",
                     lock=SCHEDULED_LOCK)(scheduled_sync)


async def recover_stalled(app: procrastinate.App, settings: Settings) -> None:
    """Put the running jobs of silent workers back in the queue, every heartbeat."""
    queue = settings.queue
    while True:
        await asyncio.sleep(queue.heartbeat_seconds)
        try:
            stalled = await app.job_manager.get_stalled_jobs(
                queue=queue.name, seconds_since_heartbeat=queue.stalled_after_seconds)
            for job in stalled:
                log.warning("job %s (%s) was left running by a stalled worker; queueing it "
                            "again", job.id, job.lock or job.task_name)
                await app.job_manager.retry_job(job)
        except Exception as exc:  # the next round tries again
            log.warning("could not look for stalled jobs: %s", exc)


async def _serve(app: procrastinate.App, settings: Settings, name: str | None,
                 wait: bool) -> None:
    queue = settings.queue
    async with app.open_async():
        recovery = asyncio.create_task(recover_stalled(app, settings))
        try:
            await app.run_worker_async(
                queues=[queue.name], concurrency=queue.concurrency, name=name or "worker",
                wait=wait,
                update_heartbeat_interval=queue.heartbeat_seconds,
                stalled_worker_timeout=queue.stalled_after_seconds,
                fetch_job_polling_interval=queue.poll_seconds,
                abort_job_polling_interval=queue.poll_seconds)
        finally:
            recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recovery


def run_worker(settings: Settings, sandbox: SandboxOptions | None = None, *,
               name: str | None = None, wait: bool = True) -> None:
    """Take jobs until stopped (SIGINT/SIGTERM), or until the queue is empty when
    ``wait`` is False."""
    ensure_schema(settings)
    app = make_app(settings)
    with open_runtime(settings, sandbox) as rt:
        if rt.store.backend != "postgresql":
            raise SyncError("a worker needs the shared PostgreSQL store (state.url)")
        # As sync and serve: a worker that is not ready refuses to start, so it never
        # writes a configuration fault into an Order.
        require_ready(rt)
        register(app, settings, JobRunner(settings, rt, app))
        asyncio.run(_serve(app, settings, name, wait))
