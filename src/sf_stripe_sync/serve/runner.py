"""The background runner: queued Order ids -> triggered syncs, promptly and one at a time.

Theory of operation: one daemon thread loops: claim up to ``batch_size`` due ids from
the ``TriggerQueue``, sync them with ``run_batch`` (the engine's triggered run, as
``sync --order``), then ``finish`` the ids that are done and ``retry_later`` those the
run left pending (transient failures, a contract lease held elsewhere). An order that
failed for good (bad data) is done: its error is on the Order and in its Sync_Log__c,
and it is retried when it changes and is triggered again. A run that raises puts the
whole batch back for later. ``wake`` (called after each enqueue) makes the next claim
immediate; otherwise the runner polls every ``poll_seconds`` for ids enqueued by other
processes or that became due again. ``stop`` lets the current run finish.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from sf_stripe_sync.run_report import RunReport
from sf_stripe_sync.triggers import TriggerQueue

log = logging.getLogger(__name__)

RunBatch = Callable[[Sequence[str]], RunReport]


class SyncRunner:
    def __init__(self, queue: TriggerQueue, run_batch: RunBatch, *, batch_size: int = 50,
                 poll_seconds: float = 2.0, retry_delay_seconds: float = 30.0,
                 on_run: Callable[[RunReport | None, float], None] | None = None) -> None:
        self.queue = queue
        self.run_batch = run_batch
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.retry_delay_seconds = retry_delay_seconds
        self.on_run = on_run
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.runs = 0

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="sf-stripe-sync-runner",
                                        daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the queue itself failed: log, wait, try again
                log.exception("trigger runner: the queue failed; trying again shortly")
                worked = False
            if not worked:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def run_once(self) -> bool:
        """Claim and sync one batch; False when nothing was due."""
        claim = self.queue.claim(self.batch_size)
        if claim is None:
            return False
        started = time.monotonic()
        try:
            report = self.run_batch(claim.order_ids)
        except Exception as exc:
            log.error("triggered sync of %d order(s) failed, retrying later: %s",
                      len(claim.order_ids), exc)
            self.queue.retry_later(claim, claim.order_ids, self.retry_delay_seconds)
            self._observe(None, time.monotonic() - started)
            return True
        pending = {o.order_id for o in report.pending}
        self.queue.finish(claim, [i for i in claim.order_ids if i not in pending])
        if pending:
            self.queue.retry_later(claim, sorted(pending), self.retry_delay_seconds)
        self.runs += 1
        self._observe(report, time.monotonic() - started)
        return True

    def _observe(self, report: RunReport | None, seconds: float) -> None:
        if self.on_run is not None:
            self.on_run(report, seconds)
