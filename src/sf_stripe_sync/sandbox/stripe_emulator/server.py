"""Loopback HTTP for the emulator.

Theory of operation: a stdlib ``ThreadingHTTPServer`` (HTTP/1.1, keep-alive, one thread
per connection) reads each request whole and hands it to the emulator: ``/_emulator/*``
to the control endpoints, everything else to the API pipeline. A reply marked ``drop``
closes the socket without a byte of answer, which the SDK reports as a connection
error.
"""

from __future__ import annotations

import contextlib
import json
import socket
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sf_stripe_sync.sandbox.http import SandboxHttpServer
from sf_stripe_sync.sandbox.stripe_emulator.api import Reply
from sf_stripe_sync.sandbox.stripe_emulator.control import PREFIX, handle_control

if TYPE_CHECKING:
    from sf_stripe_sync.sandbox.stripe_emulator.emulator import StripeEmulator


class _EmulatorServer(SandboxHttpServer):

    def __init__(self, emulator: StripeEmulator, address: tuple[str, int]) -> None:
        self.emulator = emulator
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _EmulatorServer

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the emulator keeps its own request log."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if len(raw) < length:
            # The client went away mid-request (a killed process): Stripe never sees a
            # request whose body did not arrive whole, so nothing is executed or saved.
            self.close_connection = True
            return
        body = raw.decode("utf-8")
        parts = urlsplit(self.path)
        emulator = self.server.emulator
        if parts.path.startswith(PREFIX):
            reply = handle_control(emulator, self.command, parts.path, parts.query, body)
        else:
            headers = {k: v for k, v in self.headers.items()}
            headers = {k.title(): v for k, v in headers.items()}
            reply = emulator.core.handle(self.command, parts.path, parts.query, headers, body)
        self._write(reply)

    def _write(self, reply: Reply) -> None:
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        payload = json.dumps(reply.body, indent=2).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = _serve
    do_POST = _serve
    do_DELETE = _serve


def make_server(emulator: StripeEmulator, host: str, port: int) -> ThreadingHTTPServer:
    return _EmulatorServer(emulator, (host, port))
