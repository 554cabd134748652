"""HTTP front of the local org, and the ``sandbox salesforce`` command.

Theory of operation: a ``ThreadingHTTPServer`` (one thread per connection, HTTP/1.1
keep-alive) turns each request into an ``OrgRequest``, hands it to the org and writes the
``OrgResponse`` back. Request logging is off: request lines and headers can carry
session ids, which must not end up in logs.

With ``tls`` (``sandbox salesforce --tls``) each accepted connection is wrapped in TLS
with a certificate from the org's own CA (``tls``) before the handler reads it.

``run_cli`` serves a snapshot file until Ctrl-C, printing the address and a session id.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from sf_stripe_sync.errors import UsageError
from sf_stripe_sync.sandbox.http import SandboxHttpServer
from sf_stripe_sync.sandbox.salesforce_org.faults import OrgFaults
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


def run_cli(args: argparse.Namespace) -> int:
    """``sf-stripe-sync sandbox salesforce --snapshot FILE``: serve until Ctrl-C."""
    from sf_stripe_sync.sandbox.salesforce_org.org import LocalOrg

    try:
        org = LocalOrg(args.snapshot, batch_size=args.batch_size, tls=args.tls,
                       ca_dir=args.ca_dir)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    if args.latency_ms:
        org.set_faults(OrgFaults(latency_ms=float(args.latency_ms)))
    try:
        org.start(args.host, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc}") from exc
    print(f"Local Salesforce org serving {org.base_url}", flush=True)
    if org.ca_path is not None:
        print(f"Certificate authority (trust it to verify the org): {org.ca_path}", flush=True)
    else:
        print(f"Instance URL (simple-salesforce, via LocalOrg.requests_session()): "
              f"{org.instance_url}", flush=True)
    print(f"Session id: {org.session_id}", flush=True)
    print("Press Ctrl-C to stop.", flush=True)
    stopped = threading.Event()
    try:
        stopped.wait()
    except KeyboardInterrupt:
        print("stopping", file=sys.stderr)
    finally:
        org.stop()
    return 0
