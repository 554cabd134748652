"""The ``serve`` command: the trigger endpoint, its background runner, until stopped.

Theory of operation: ``run_serve`` loads settings and opens the runtime exactly as
``sync`` does (real systems, or the sandbox flags), runs the preflight (a server that
is not ready refuses to start, exit 2, so it never writes a configuration fault into
an Order), opens the trigger queue (in the state directory; on a shared PostgreSQL
store, the workers' task queue: ``queue.triggers``), starts the ``SyncRunner``
thread, registers the metrics with ``observe`` and serves the Starlette app with uvicorn
on ``--host``/``--port`` until SIGINT/SIGTERM; then the runner finishes its current
batch and everything closes. Ids still queued are synced on the next start.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

from sf_stripe_sync import observe
from sf_stripe_sync.catalog.context import price_resolver_for
from sf_stripe_sync.cli import inputs
from sf_stripe_sync.cli.exits import EXIT_OK
from sf_stripe_sync.config import resolve_secret
from sf_stripe_sync.engine import RunOptions
from sf_stripe_sync.logs import configure_logging
from sf_stripe_sync.preflight.run import require_ready
from sf_stripe_sync.queue.triggers import open_trigger_queue
from sf_stripe_sync.run_report import RunReport
from sf_stripe_sync.runtime import Runtime, open_runtime
from sf_stripe_sync.serve.app import Endpoint, build_app
from sf_stripe_sync.serve.metrics import SyncMetrics
from sf_stripe_sync.serve.runner import RunBatch, SyncRunner

log = logging.getLogger(__name__)


def _run_batch(rt: Runtime) -> RunBatch:
    resolver = price_resolver_for(rt)

    def run(order_ids: Sequence[str]) -> RunReport:
        engine = rt.engine(price_resolver=resolver)
        return engine.run(RunOptions(order_ids=list(order_ids), mode="triggered"))

    return run


def run_serve(args: argparse.Namespace) -> int:
    """``sf-stripe-sync serve --port N``: accept triggers, sync them, until stopped."""
    import uvicorn

    configure_logging(args.log_format, verbose=args.verbose)
    settings = inputs.settings(args)
    with open_runtime(settings, inputs.sandbox(args)) as rt:
        require_ready(rt)
        # On a shared store (state.url) the triggers go to the workers' task queue.
        queue = open_trigger_queue(rt.settings)
        metrics = SyncMetrics(queue.depth)
        runner = SyncRunner(queue, _run_batch(rt), batch_size=settings.serve.batch_size,
                            poll_seconds=settings.serve.poll_seconds,
                            retry_delay_seconds=settings.serve.retry_delay_seconds,
                            on_run=metrics.record_run)
        secret_name = settings.serve.trigger_secret_env

        def trigger_secret() -> str | None:
            found = resolve_secret(secret_name, settings, required=False)
            return found.get_secret_value() if found is not None else None

        if trigger_secret() is None:
            log.warning("%s is not set: POST /v1/orders/sync answers 503", secret_name)
        endpoint = Endpoint(settings=settings.serve, queue=queue, metrics=metrics,
                            trigger_secret=trigger_secret, wake=runner.wake,
                            store_ping=lambda: rt.store.watermarks())
        observe.listen(metrics)
        runner.start()
        try:
            uvicorn.run(build_app(endpoint), host=args.host, port=args.port,
                        log_level="debug" if args.verbose else "info", access_log=False)
        finally:
            runner.stop()
            observe.forget(metrics)
            queue.close()
    return EXIT_OK
