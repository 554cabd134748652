"""Process-wide events the engine's adapters report, for whoever listens (metrics).

Theory of operation: the adapters call the module functions below at the moments that
matter to an operator: a Stripe HTTP answer (method, endpoint, status), a retry of a
transient failure (per system), a contract lease found held by another run. Nothing
listens by default, so each call costs a lookup of an empty tuple; ``serve`` registers
its Prometheus metrics with ``listen``. Listeners must be quick and must not raise;
one that does is ignored, so an observer can never break a sync. Endpoints carry no
ids (``/v1/subscription_schedules/{id}/cancel``), so labels stay few.
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Protocol

_ID_SEGMENT = re.compile(r"^[A-Za-z]+_[A-Za-z0-9_]*[A-Z0-9][A-Za-z0-9_]*$")


class Listener(Protocol):
    def stripe_response(self, method: str, endpoint: str, status: int) -> None: ...

    def retry(self, system: str) -> None: ...

    def lease_wait(self) -> None: ...


_lock = threading.Lock()
_listeners: tuple[Listener, ...] = ()


def listen(listener: Listener) -> None:
    global _listeners
    with _lock:
        _listeners = (*_listeners, listener)


def forget(listener: Listener) -> None:
    global _listeners
    with _lock:
        _listeners = tuple(x for x in _listeners if x is not listener)


def endpoint_of(path: str) -> str:
    """``/v1/customers/cus_123`` -> ``/v1/customers/{id}``: API paths without ids."""
    parts = path.split("?", 1)[0].split("/")
    kept = [("{id}" if i >= 3 and _ID_SEGMENT.match(p) else p) for i, p in enumerate(parts)]
    return "/".join(kept)


def stripe_response(method: str, path: str, status: int) -> None:
    if not _listeners:
        return
    endpoint = endpoint_of(path)
    for listener in _listeners:
        with contextlib.suppress(Exception):
            listener.stripe_response(method.upper(), endpoint, status)


def retry(system: str) -> None:
    for listener in _listeners:
        with contextlib.suppress(Exception):
            listener.retry(system)


def lease_wait() -> None:
    for listener in _listeners:
        with contextlib.suppress(Exception):
            listener.lease_wait()
