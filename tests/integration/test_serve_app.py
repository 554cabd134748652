"""The trigger app's answers when what stands behind it fails, over real HTTP on
loopback (the app served by uvicorn in a thread, with stand-in queue and store)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
import requests
import uvicorn

from sf_stripe_sync.serve.app import Endpoint, build_app
from sf_stripe_sync.serve.metrics import SyncMetrics
from sf_stripe_sync.serve.settings import ServeSettings
from sf_stripe_sync.serve.signature import sign
from sf_stripe_sync.triggers import Claim

pytestmark = pytest.mark.integration

SECRET = "s3cret"


class BrokenQueue:
    """A queue whose disk is gone: every write and ping fails."""

    def enqueue(self, order_ids: Sequence[str], *, source: str) -> list[str]:
        raise OSError("disk I/O error")

    def claim(self, limit: int) -> Claim | None:
        return None

    def finish(self, claim: Claim, order_ids: Sequence[str]) -> None: ...

    def retry_later(self, claim: Claim, order_ids: Sequence[str], delay: float) -> None: ...

    def depth(self) -> int:
        return 0

    def ping(self) -> None:
        raise OSError("disk I/O error")


@contextmanager
def serving(endpoint: Endpoint) -> Iterator[str]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(build_app(endpoint), lifespan="off",
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


def test_ids_the_queue_cannot_store_are_not_accepted(
        ) -> None:
    queue = BrokenQueue()
    endpoint = Endpoint(settings=ServeSettings(), queue=queue,
                        metrics=SyncMetrics(queue.depth), trigger_secret=lambda: SECRET)
    body = json.dumps({"order_ids": ["801000000000001AAA"]}).encode()
    with serving(endpoint) as url:
        answer = requests.post(f"{url}/v1/orders/sync", data=body, timeout=10, headers={
            "X-Signature": sign(SECRET, body, int(time.time()))})
        ready = requests.get(f"{url}/readyz", timeout=10)
    assert answer.status_code == 503 and answer.json()["error"] == "queue_unavailable"
    assert ready.status_code == 503 and ready.json()["checks"]["queue"].startswith("unreachable")


def test_without_a_trigger_secret_triggers_are_refused_as_not_configured() -> None:
    queue = BrokenQueue()
    endpoint = Endpoint(settings=ServeSettings(), queue=queue,
                        metrics=SyncMetrics(queue.depth), trigger_secret=lambda: None)
    with serving(endpoint) as url:
        answer = requests.post(f"{url}/v1/orders/sync", data=b"{}", timeout=10)
        outbound = requests.post(f"{url}/v1/outbound-message", data=b"<x/>", timeout=10)
    assert answer.status_code == 503 and answer.json()["error"] == "not_configured"
    assert outbound.status_code == 503 and "organization_id" in outbound.text
