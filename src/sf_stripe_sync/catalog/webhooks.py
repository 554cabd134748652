"""Stripe webhooks: signature verification and a small loopback endpoint.

Theory of operation: Stripe signs each delivery with the endpoint's secret
(``Stripe-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.payload">``);
``verify_event`` checks it with the SDK's own ``stripe.Webhook.construct_event``
(constant-time comparison, timestamp within the tolerance; 0 turns the age check off for
replaying a saved payload) and returns the event as plain data. A bad signature is a
``TerminalError`` with code ``invalid_signature`` and nothing is applied.

``WebhookEndpoint`` serves ``POST`` deliveries on a local address (put it behind your
HTTPS proxy): a verified event goes to the handler and is answered 200; a bad signature
400 (Stripe does not retry those); a transient failure 503, so Stripe delivers again.
The secret is read once at start and never logged.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import stripe
from pydantic import SecretStr

from sf_stripe_sync.errors import SyncError, TerminalError, TransientError

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1_000_000


def verify_event(payload: bytes | str, signature: str | None, secret: SecretStr, *,
                 tolerance: int = 300) -> dict[str, Any]:
    """The event of a delivery whose signature is valid; ``TerminalError`` otherwise."""
    text = payload.decode("utf-8") if isinstance(payload, bytes) else payload
    try:
        event = stripe.Webhook.construct_event(text, signature, secret.get_secret_value(),
                                               tolerance=tolerance)
    except stripe.SignatureVerificationError as exc:
        raise TerminalError(f"webhook signature refused: {exc.user_message or exc}",
                            code="invalid_signature") from exc
    except ValueError as exc:
        raise TerminalError(f"webhook payload is not a JSON event: {exc}",
                            code="invalid_payload") from exc
    data: dict[str, Any] = event.to_dict()
    return data


EventHandler = Callable[[dict[str, Any]], str]


class WebhookEndpoint:
    """A threaded HTTP endpoint that verifies deliveries and hands events to a handler."""

    def __init__(self, handler: EventHandler, secret: SecretStr, *, tolerance: int = 300
                 ) -> None:
        self.handler = handler
        self._secret = secret
        self.tolerance = tolerance
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def answer(self, body: bytes, signature: str | None) -> tuple[int, dict[str, Any]]:
        """Status and JSON answer for one delivery (the HTTP side only frames it)."""
        try:
            event = verify_event(body, signature, self._secret, tolerance=self.tolerance)
        except TerminalError as exc:
            return 400, {"error": exc.message}
        try:
            with self._lock:  # one event at a time: applying compares before it writes
                outcome = self.handler(event)
        except TransientError as exc:
            log.warning("webhook event %s not applied yet: %s", event.get("id"), exc)
            return 503, {"error": "temporarily unavailable; deliver again"}
        except SyncError as exc:
            log.error("webhook event %s refused: %s", event.get("id"), exc)
            return 200, {"received": True, "applied": False, "error": str(exc)}
        return 200, {"received": True, "applied": True, "outcome": outcome}

    def start(self, host: str = "127.0.0.1", port: int = 0) -> WebhookEndpoint:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    self._reply(413, {"error": "payload too large"})
                    return
                body = self.rfile.read(length)
                status, answer = endpoint.answer(body, self.headers.get("Stripe-Signature"))
                self._reply(status, answer)

            def _reply(self, status: int, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("webhook endpoint: " + format, *args)

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="stripe-webhooks", daemon=True)
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the webhook endpoint is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join()
            self._thread = None
