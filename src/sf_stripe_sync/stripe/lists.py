"""What Stripe told one gateway about each customer's schedules, kept for the run.

Theory of operation: before any create the engine asks Stripe whether the customer
already has a live schedule for the contract (``StripeGateway.find_schedule``). The
answer comes from one listing of the customer's schedules, made once per gateway (one
gateway lives one run) and kept here; schedules the gateway writes afterwards replace
their listed copy, so a later contract of the same customer is answered without a
request and without missing what this run made itself. A customer the gateway created
(not an idempotent replay of someone else's create: ``replayed``) starts with an empty
list: a customer made by this very request cannot have schedules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class ScheduleLists:
    """Each customer's schedules (ours only, raw) as Stripe last listed them to this gateway,
    kept up to date with what this gateway wrote since."""

    def __init__(self) -> None:
        self._lists: dict[str, list[dict[str, Any]]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, customer_id: str, load: Callable[[str], list[dict[str, Any]]], *,
            fresh: bool = False) -> list[dict[str, Any]]:
        """The customer's list, ``load``ed once (again when ``fresh``); one load at a time
        per customer, so parallel contracts of one customer cost one listing."""
        with self._lock:
            customer_lock = self._locks.setdefault(customer_id, threading.Lock())
        with customer_lock:
            with self._lock:
                known = None if fresh else self._lists.get(customer_id)
            if known is None:
                known = load(customer_id)
                with self._lock:
                    self._lists[customer_id] = known
            with self._lock:
                return list(self._lists[customer_id])

    def start_empty(self, customer_id: str) -> None:
        """A customer this gateway just created has no schedules."""
        with self._lock:
            self._lists.setdefault(customer_id, [])

    def put(self, raw: dict[str, Any]) -> None:
        """A schedule this gateway wrote: replaces its old copy, or goes first (newest)."""
        customer = raw.get("customer")
        customer_id = customer.get("id") if isinstance(customer, dict) else customer
        with self._lock:
            listed = self._lists.get(str(customer_id))
            if listed is None:
                return
            others = [r for r in listed if r.get("id") != raw.get("id")]
            self._lists[str(customer_id)] = [raw, *others]


def replayed(obj: object) -> bool:
    """Whether Stripe answered with a saved response (``Idempotent-Replayed: true``)."""
    response = getattr(obj, "last_response", None)
    headers = getattr(response, "headers", None) or {}
    return any(k.lower() == "idempotent-replayed" and str(v).lower() == "true"
               for k, v in dict(headers).items())
