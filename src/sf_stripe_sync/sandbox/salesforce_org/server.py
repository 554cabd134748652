"""HTTP front of the local org.

Theory of operation: a ``ThreadingHTTPServer`` (one thread per connection, HTTP/1.1
keep-alive) turns each request into an ``OrgRequest``, hands it to the org and writes the
``OrgResponse`` back. Request logging is off: request lines and headers can carry
session ids, which must not end up in logs.

With ``tls`` (``sandbox salesforce --tls``) each accepted connection is wrapped in TLS
with a certificate from the org's own CA (``tls``) before the handler reads it.
"""

from __future__ import annotations

import socket
import ssl
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from sf_stripe_sync.sandbox.http import SandboxHttpServer
from sf_stripe_sync.sandbox.salesforce_org.messages import OrgRequest, sf_error
from sf_stripe_sync.sandbox.salesforce_org.tls import OrgTls

if TYPE_CHECKING:
    from sf_stripe_sync.sandbox.salesforce_org.org import LocalOrg


class OrgHttpServer(SandboxHttpServer):

    def __init__(self, address: tuple[str, int], org: LocalOrg,
                 tls: OrgTls | None = None) -> None:
        self.org = org
        self.tls = tls
        super().__init__(address, _OrgRequestHandler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Runs in the connection's own thread: the TLS handshake happens here."""
        if self.tls is not None:
            try:
                request = self.tls.wrap(request)
            except (ssl.SSLError, OSError):
                return  # a client that does not trust the CA hangs up mid-handshake
        super().finish_request(request, client_address)


class _OrgRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: OrgHttpServer

    def setup(self) -> None:
        super().setup()
        # headers and body go out as separate writes: without this, delayed ACKs add
        # ~40 ms to every keep-alive request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = OrgRequest(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            response = self.server.org.handle(request)
        except Exception as exc:  # a bug in the org must answer, not hang the client
            response = sf_error(500, "UNKNOWN_EXCEPTION",
                                f"the local org failed: {type(exc).__name__}")
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.status != 204:
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if response.status != 204 and response.body:
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

    def log_message(self, format: str, *args: Any) -> None:
        return None
