"""Webhook deliveries: every event an endpoint wants, POSTed to it, signed as Stripe signs.

Theory of operation: ``WebhookDispatcher.deliver`` looks, under the emulator's lock, for
the events each enabled endpoint (``resources.webhook_endpoints``) has not been offered
yet, in the order they were made, moves the endpoint's count past them, and only then,
with the lock released (a receiver may call the emulator back), POSTs each wanted event
as JSON with ``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.payload">`` under
the endpoint's secret (the wall clock's time, which receivers check a tolerance against).
A delivery answered with anything but 2xx, or not answered, is tried again up to
``attempts`` times, then given up and logged (Stripe retries for days; a test wants an
answer). One delivery round runs at a time: a background thread runs one every
``interval`` seconds while the emulator serves, and tests call ``deliver`` to have every
pending event delivered before they look.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from sf_stripe_sync.sandbox.stripe_emulator.resources import webhook_endpoints
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

if TYPE_CHECKING:
    from sf_stripe_sync.sandbox.stripe_emulator.api import ApiCore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    url: str
    secret: str
    event: JSON


def signature(payload: str, secret: str, at: int) -> str:
    digest = hmac.new(secret.encode(), f"{at}.{payload}".encode(), hashlib.sha256)
    return f"t={at},v1={digest.hexdigest()}"


class WebhookDispatcher:
    def __init__(self, core: ApiCore, *, interval: float = 0.2, attempts: int = 3) -> None:
        self.core = core
        self.interval = interval
        self.attempts = attempts
        self.delivered = 0
        self.failed = 0
        self._round = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _pending(self) -> list[Delivery]:
        found: list[Delivery] = []
        store = self.core.store
        with self.core.lock:
            for account in store.accounts():
                endpoints = store.all(account, webhook_endpoints.KIND)
                if not endpoints:
                    continue
                events = store.all(account, "event")
                for endpoint in endpoints:
                    offered = store.get(account, webhook_endpoints.OFFERED, endpoint["id"])
                    if offered is None or endpoint["status"] != "enabled":
                        continue
                    fresh = events[int(offered["count"]):]
                    offered["count"] = len(events)
                    found += [Delivery(endpoint["url"], endpoint["secret"], dict(e))
                              for e in fresh if webhook_endpoints.wants(endpoint, e["type"])]
        return found

    def _post(self, delivery: Delivery) -> bool:
        payload = json.dumps(delivery.event)
        for attempt in range(self.attempts):
            headers = {"Content-Type": "application/json; charset=utf-8",
                       "Stripe-Signature": signature(payload, delivery.secret,
                                                     int(time.time()))}
            try:
                answer = requests.post(delivery.url, data=payload.encode(), headers=headers,
                                       timeout=10)
                if 200 <= answer.status_code < 300:
                    return True
            except requests.RequestException as exc:
                log.debug("webhook delivery to %s failed: %s", delivery.url, exc)
            if attempt + 1 < self.attempts:
                time.sleep(0.05 * (attempt + 1))
        log.warning("webhook %s (%s) not delivered to %s", delivery.event.get("id"),
                    delivery.event.get("type"), delivery.url)
        return False

    def deliver(self) -> int:
        """Deliver every pending event now; how many were accepted."""
        with self._round:
            accepted = 0
            for delivery in self._pending():
                if self._post(delivery):
                    accepted += 1
                else:
                    self.failed += 1
            self.delivered += accepted
            return accepted

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="stripe-webhooks-out",
                                        daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.deliver()
            except Exception:  # a delivery round must never kill the emulator
                log.exception("webhook delivery round failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
