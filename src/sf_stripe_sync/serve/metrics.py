"""Prometheus metrics of the endpoint and of the syncs it runs.

Theory of operation: one ``SyncMetrics`` per app owns its own ``CollectorRegistry`` (so
two apps in one process, as in tests, never clash) and is an ``observe`` listener:
Stripe answers, retries and lease waits reported by the adapters land here while it is
registered. The runner adds what a run did (``record_run``); the queue depth is read
when Prometheus scrapes. ``render`` is the text exposition format.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST as PROMETHEUS_CONTENT_TYPE
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from sf_stripe_sync.run_report import RunReport

__all__ = ["PROMETHEUS_CONTENT_TYPE", "SyncMetrics"]

PREFIX = "sf_stripe_sync"


class SyncMetrics:
    def __init__(self, queue_depth: Callable[[], int]) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.orders = Counter(f"{PREFIX}_orders", "Orders synced, by operation and outcome",
                              ["operation", "outcome"], registry=r)
        self.stripe_requests = Counter(f"{PREFIX}_stripe_requests",
                                       "Stripe API requests, by endpoint and HTTP status",
                                       ["method", "endpoint", "status"], registry=r)
        self.rate_limited = Counter(f"{PREFIX}_stripe_rate_limited",
                                    "Stripe answers with HTTP 429", registry=r)
        self.retries = Counter(f"{PREFIX}_retries", "Retries of transient failures",
                               ["system"], registry=r)
        self.lease_waits = Counter(f"{PREFIX}_lease_waits",
                                   "Contract leases found held by another run", registry=r)
        self.runs = Counter(f"{PREFIX}_runs", "Triggered runs, by result", ["result"],
                            registry=r)
        self.run_duration = Histogram(f"{PREFIX}_run_duration_seconds",
                                      "Duration of triggered runs", registry=r,
                                      buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300))
        self.triggers = Counter(f"{PREFIX}_trigger_requests",
                                "Trigger requests, by route and HTTP status",
                                ["route", "status"], registry=r)
        self.enqueued = Counter(f"{PREFIX}_orders_enqueued", "Order ids accepted for sync",
                                ["source"], registry=r)
        depth = Gauge(f"{PREFIX}_queue_depth", "Order ids waiting or being synced",
                      registry=r)
        depth.set_function(lambda: float(queue_depth()))

    # -- observe.Listener ----------------------------------------------------------------
    def stripe_response(self, method: str, endpoint: str, status: int) -> None:
        self.stripe_requests.labels(method, endpoint, str(status)).inc()
        if status == 429:
            self.rate_limited.inc()

    def retry(self, system: str) -> None:
        self.retries.labels(system).inc()

    def lease_wait(self) -> None:
        self.lease_waits.inc()

    # -- runs ----------------------------------------------------------------------------
    def record_run(self, report: RunReport | None, seconds: float) -> None:
        self.run_duration.observe(seconds)
        if report is None:
            self.runs.labels("error").inc()
            return
        self.runs.labels("failed_orders" if report.failed else "ok").inc()
        for outcome in report.outcomes:
            operation = outcome.plan.operation if outcome.plan is not None else outcome.result
            result = "failed" if outcome.result == "failed" else (
                "retry" if outcome.transient else "ok")
            self.orders.labels(str(operation), result).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
