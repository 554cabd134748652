"""HTTPS for the local org: a certificate authority made on the spot, trusted by nobody else.

Theory of operation: a real org is reached over TLS with a certificate a client checks
against its CA bundle. ``OrgTls`` makes a fresh certificate authority with ``trustme``
(nothing is downloaded; the key never leaves memory), issues a server certificate for
``127.0.0.1`` and ``localhost`` from it, and writes only the CA's public certificate to
``ca_path`` (a PEM file), so any client can verify the org the way it verifies Salesforce:
``requests.Session().verify = org.ca_path``. The server wraps each accepted connection
in the handler's own thread (``wrap``), so a slow or failed handshake holds up no other
client.
"""

from __future__ import annotations

import socket
import ssl
import tempfile
from pathlib import Path

import trustme

LOOPBACK_NAMES = ("127.0.0.1", "localhost")


class OrgTls:
    """A throwaway CA and the org's server certificate, with the CA written to a file."""

    def __init__(self, ca_dir: Path | None = None) -> None:
        self._ca = trustme.CA(organization_name="sf-stripe-sync local org")
        self._server_cert = self._ca.issue_cert(*LOOPBACK_NAMES)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if ca_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sf-local-org-ca-")
            ca_dir = Path(self._tmp.name)
        ca_dir.mkdir(parents=True, exist_ok=True)
        self.ca_path = ca_dir / "local-org-ca.pem"
        self._ca.cert_pem.write_to_path(str(self.ca_path))
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._server_cert.configure_cert(self.context)

    def wrap(self, connection: socket.socket) -> ssl.SSLSocket:
        return self.context.wrap_socket(connection, server_side=True)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
