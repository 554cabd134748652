"""The ASGI application: routes, authentication, validation, enqueueing, health, metrics.

Theory of operation: every POST reads the raw body once (bounded by
``serve.max_body_bytes``), authenticates it, validates every id, and enqueues all of
them in one durable transaction before answering; any refusal happens before the
queue is touched, so a refused request enqueues nothing. Answers are JSON with an
``error`` code and a ``message`` a person can act on:

* ``POST /v1/orders/sync`` ``{"order_ids": [...]}`` with ``X-Signature`` -> 202
  ``{"accepted": [18-character ids]}``; 401 bad or missing signature or stale
  timestamp; 400 malformed JSON or ids; 413 too many ids or too large a body; 503 when
  no trigger secret is configured or the queue cannot store the ids (send again).
* ``POST /v1/outbound-message`` (SOAP) -> ``<Ack>true</Ack>`` after enqueueing; a SOAP
  fault (403 wrong organization, 400 malformed, 503 not configured) otherwise.
* ``GET /healthz`` (the process answers), ``GET /readyz`` (the state store and the
  queue answer: 200, else 503), ``GET /metrics`` (Prometheus text format).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sf_stripe_sync.serve import outbound, signature
from sf_stripe_sync.serve.metrics import PROMETHEUS_CONTENT_TYPE, SyncMetrics
from sf_stripe_sync.serve.settings import ServeSettings
from sf_stripe_sync.triggers import TriggerQueue

SOAP_CONTENT_TYPE = "text/xml; charset=utf-8"
log = logging.getLogger(__name__)


@dataclass
class Endpoint:
    """What the routes need: settings, the secret, the queue and the runner's doorbell."""

    settings: ServeSettings
    queue: TriggerQueue
    metrics: SyncMetrics
    trigger_secret: Callable[[], str | None]
    wake: Callable[[], None] = lambda: None
    store_ping: Callable[[], object] = lambda: None
    clock: Callable[[], float] = time.time


class _Refused(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _Refused(413, "body_too_large", f"the body exceeds {limit} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _Refused(413, "body_too_large", f"the body exceeds {limit} bytes")
    return body


def _ids_from_json(body: bytes, limit: int) -> list[str]:
    try:
        document: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Refused(400, "malformed_json", f"the body is not JSON: {exc}") from exc
    if not isinstance(document, dict) or "order_ids" not in document:
        raise _Refused(400, "malformed_request", 'expected {"order_ids": ["801...", ...]}')
    values = document["order_ids"]
    if isinstance(values, list) and len(values) > limit:
        raise _Refused(413, "too_many_ids",
                       f"too many order_ids: {len(values)} (at most {limit} a request)")
    try:
        return signature.order_ids(values, limit=limit)
    except signature.OrderIdError as exc:
        raise _Refused(400, "invalid_order_ids", str(exc)) from exc


class _Handlers:
    """The routes of one app; each refusal is raised as ``_Refused`` before enqueueing."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.cfg = endpoint.settings

    async def _trigger_ids(self, request: Request) -> list[str]:
        secret = self.endpoint.trigger_secret()
        if not secret:
            raise _Refused(503, "not_configured", f"{self.cfg.trigger_secret_env} is not set "
                           "on the server: triggers are refused")
        body = await _body(request, self.cfg.max_body_bytes)
        try:
            signature.verify(request.headers.get("x-signature"), body, secret,
                             now=self.endpoint.clock(),
                             window_seconds=self.cfg.replay_window_seconds)
        except signature.SignatureError as exc:
            raise _Refused(401, "bad_signature", str(exc)) from exc
        return _ids_from_json(body, self.cfg.max_ids)

    async def _outbound_ids(self, request: Request) -> list[str]:
        if not self.cfg.organization_id:
            raise _Refused(503, "not_configured", "serve.organization_id is not configured: "
                           "outbound messages are refused")
        body = await _body(request, self.cfg.max_body_bytes)
        try:
            message = outbound.parse(body)
        except outbound.OutboundMessageError as exc:
            raise _Refused(400, "malformed_message", str(exc)) from exc
        if not outbound.same_org(message.organization_id, self.cfg.organization_id):
            raise _Refused(403, "wrong_organization", "the message comes from another "
                           "organization than serve.organization_id")
        try:
            return signature.order_ids(list(message.record_ids), limit=self.cfg.max_ids)
        except signature.OrderIdError as exc:
            raise _Refused(400, "invalid_order_ids", str(exc)) from exc

    async def _enqueue(self, ids: list[str], source: str) -> list[str]:
        try:
            accepted: list[str] = await run_in_threadpool(self.endpoint.queue.enqueue, ids,
                                                          source=source)
        except Exception as exc:  # not stored: the caller must send again
            log.error("trigger queue unavailable: %s", exc)
            raise _Refused(503, "queue_unavailable", "the ids could not be stored; nothing "
                           "was accepted, send them again") from exc
        self.endpoint.metrics.enqueued.labels(source).inc(len(accepted))
        self.endpoint.wake()
        return accepted

    def _count(self, route: str, status: int) -> None:
        self.endpoint.metrics.triggers.labels(route, str(status)).inc()

    async def orders_sync(self, request: Request) -> Response:
        try:
            accepted = await self._enqueue(await self._trigger_ids(request), "api")
        except _Refused as refused:
            self._count("orders_sync", refused.status)
            return JSONResponse({"error": refused.error, "message": refused.message},
                                status_code=refused.status)
        self._count("orders_sync", 202)
        return JSONResponse({"accepted": accepted}, status_code=202)

    async def outbound_message(self, request: Request) -> Response:
        try:
            await self._enqueue(await self._outbound_ids(request), "outbound_message")
        except _Refused as refused:
            self._count("outbound_message", refused.status)
            return Response(outbound.fault(refused.message), status_code=refused.status,
                            media_type=SOAP_CONTENT_TYPE)
        self._count("outbound_message", 200)
        return Response(outbound.ACK, media_type=SOAP_CONTENT_TYPE)

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        checks: dict[str, str] = {}
        for name, ping in (("store", self.endpoint.store_ping),
                           ("queue", self.endpoint.queue.ping)):
            try:
                await run_in_threadpool(ping)
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = f"unreachable: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks},
                            status_code=200 if ready else 503)

    async def metrics(self, request: Request) -> Response:
        return Response(self.endpoint.metrics.render(), media_type=PROMETHEUS_CONTENT_TYPE)


def build_app(endpoint: Endpoint) -> Starlette:
    handlers = _Handlers(endpoint)
    return Starlette(routes=[
        Route("/v1/orders/sync", handlers.orders_sync, methods=["POST"]),
        Route("/v1/outbound-message", handlers.outbound_message, methods=["POST"]),
        Route("/healthz", handlers.healthz, methods=["GET"]),
        Route("/readyz", handlers.readyz, methods=["GET"]),
        Route("/metrics", handlers.metrics, methods=["GET"]),
    ])
