"""The procrastinate app: its connection, its schema, and deferring the three kinds of job.

Theory of operation: ``make_app`` builds a procrastinate ``App`` on the store's
PostgreSQL URL (``state.url``; the queue refuses to run without one). Deferring needs
only task *names* (``App.configure_task``), so the enqueuing side (``sync --enqueue``,
the trigger endpoint) never imports the worker's job bodies. ``ensure_schema`` applies
procrastinate's schema once per database, under a session advisory lock so several
workers starting together do not race. The job kinds:

* ``sync_contract(account, contract_key, order_ids)``: lock ``contract:<account>:<key>``
  (one job of a contract runs at a time, on any worker), queueing lock
  ``<lock>|<digest of the order ids>`` (the same work is queued once);
* ``route_orders(order_ids)``: a trigger's durable intake, no lock;
* ``scheduled_sync``: the periodic scheduled sync (``queue.schedule``), lock
  ``scheduled-sync`` so only one runs at a time.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import procrastinate
import psycopg
from procrastinate import exceptions as pq_exceptions
from procrastinate.schema import SchemaManager

from sf_stripe_sync.config import Settings
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.run_leases import contract_lease

log = logging.getLogger("sf_stripe_sync.queue")

SYNC_CONTRACT = "sf_stripe_sync.sync_contract"
ROUTE_ORDERS = "sf_stripe_sync.route_orders"
SCHEDULED_SYNC = "sf_stripe_sync.scheduled_sync"
SCHEDULED_LOCK = "scheduled-sync"
_SCHEMA_LOCK = (0x5353, 0x5051)
"""Session advisory lock taken while procrastinate's schema is applied."""


def queue_url(settings: Settings) -> str:
    if not settings.state.url:
        raise ConfigError("the task queue needs a shared PostgreSQL store: set "
                          "state.url = \"postgresql://...\" (or SF_STRIPE_SYNC__STATE__URL)")
    return settings.state.url


def make_app(settings: Settings) -> procrastinate.App:
    connector = procrastinate.PsycopgConnector(conninfo=queue_url(settings), min_size=1,
                                               max_size=4)
    return procrastinate.App(connector=connector)


def ensure_schema(settings: Settings) -> bool:
    """Apply procrastinate's schema unless the database has it; True when applied now."""
    url = queue_url(settings)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s, %s)", _SCHEMA_LOCK)
        try:
            row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
            if row is not None and row[0]:
                return False
            conn.execute(SchemaManager.get_schema())
            log.info("applied the task queue's schema")
            return True
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", _SCHEMA_LOCK)


def contract_lock(account: str, contract_key: str) -> str:
    """The queue lock of a contract: the very name of the store's contract lease."""
    return contract_lease(account, contract_key)


def _queueing_lock(lock: str, order_ids: Sequence[str]) -> str:
    digest = hashlib.sha256("\n".join(sorted(set(order_ids))).encode()).hexdigest()[:16]
    return f"{lock}|{digest}"


def defer_contract(app: procrastinate.App, settings: Settings, account: str,
                   contract_key: str, order_ids: Sequence[str]) -> int | None:
    """Queue one contract's orders; None when exactly this work is already queued."""
    lock = contract_lock(account, contract_key)
    deferrer = app.configure_task(SYNC_CONTRACT, queue=settings.queue.name, lock=lock,
                                  queueing_lock=_queueing_lock(lock, order_ids))
    try:
        return int(deferrer.defer(account=account, contract_key=contract_key,
                                  order_ids=list(dict.fromkeys(order_ids))))
    except pq_exceptions.AlreadyEnqueued:
        return None


def defer_route(app: procrastinate.App, settings: Settings, order_ids: Sequence[str]) -> int:
    deferrer = app.configure_task(ROUTE_ORDERS, queue=settings.queue.name)
    return int(deferrer.defer(order_ids=list(dict.fromkeys(order_ids))))


def enqueue_orders(settings: Settings, order_ids: Sequence[str]) -> int:
    """Durably queue these orders for the workers (the trigger endpoint's call).

    One database insert, no Salesforce call: a worker reads the orders and queues one
    job per contract. Returns the intake job's id."""
    wanted = [o for o in dict.fromkeys(order_ids) if o]
    if not wanted:
        raise ConfigError("no order ids to enqueue")
    ensure_schema(settings)
    app = make_app(settings)
    with app.open():
        return defer_route(app, settings, wanted)


def queue_counts(settings: Settings) -> dict[str, Any]:
    """Jobs per status, for ``status`` and the tests."""
    with psycopg.connect(queue_url(settings), autocommit=True) as conn:
        rows = conn.execute("SELECT status::text, count(*) FROM procrastinate_jobs "
                            "GROUP BY status").fetchall()
    return {str(status): int(count) for status, count in rows}
