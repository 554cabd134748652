"""The trigger endpoint's queue port (``triggers.TriggerQueue``) on the shared task queue.

Theory of operation: with ``state.url`` set, ``serve`` hands triggered Order ids to the
workers instead of syncing them itself. ``enqueue`` defers one ``route_orders`` job
(one durable insert, committed before it returns: the endpoint's 202 stays honest);
a worker reads the orders and queues one job per contract, under the contract's lock.
``claim`` therefore never hands anything to the endpoint's own runner (it returns None:
the workers consume), and ``finish`` / ``retry_later`` have nothing to do. ``depth``
counts the queue's unfinished jobs; ``ping`` is one round trip to the database.
``open_trigger_queue`` picks this queue or the state directory's SQLite one.
"""

from __future__ import annotations

from collections.abc import Sequence

import procrastinate
import psycopg

from sf_stripe_sync.config import Settings
from sf_stripe_sync.queue.app import defer_route, ensure_schema, make_app, queue_url
from sf_stripe_sync.triggers import Claim, SqliteTriggerQueue


class TaskQueueTriggers:
    """``TriggerQueue`` whose ids become route jobs for the workers."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = queue_url(settings)
        ensure_schema(settings)
        self.app: procrastinate.App = make_app(settings)
        self.app.open()

    def enqueue(self, order_ids: Sequence[str], *, source: str) -> list[str]:
        wanted = [o for o in dict.fromkeys(order_ids) if o]
        if wanted:
            defer_route(self.app, self.settings, wanted)
        return wanted

    def claim(self, limit: int) -> Claim | None:
        return None  # the workers take the jobs

    def finish(self, claim: Claim, order_ids: Sequence[str]) -> None:
        return None

    def retry_later(self, claim: Claim, order_ids: Sequence[str], delay_seconds: float) -> None:
        return None

    def depth(self) -> int:
        with psycopg.connect(self.url, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM procrastinate_jobs WHERE queue_name = %s "
                "AND status IN ('todo', 'doing')", (self.settings.queue.name,)).fetchone()
        return int(row[0]) if row is not None else 0

    def ping(self) -> None:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            conn.execute("SELECT 1")

    def close(self) -> None:
        self.app.close()


def open_trigger_queue(settings: Settings) -> TaskQueueTriggers | SqliteTriggerQueue:
    """The task queue when the store is shared (``state.url``), else the state dir's."""
    if settings.state.url:
        return TaskQueueTriggers(settings)
    return SqliteTriggerQueue.in_state_dir(settings.state_dir)
