"""The HTTP server base both local stand-ins share.

Theory of operation: a stdlib ``ThreadingHTTPServer`` (one daemon thread per
connection, address reuse for quick restarts) that stays quiet when a client goes away
mid-request. Clients do that on purpose here: retry tests drop connections and the
fault injectors close sockets without answering. Any other handler error is still
printed, as the stdlib does.
"""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from typing import Any

CLIENT_GONE = (ConnectionResetError, BrokenPipeError, ConnectionAbortedError, TimeoutError)


class SandboxHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, CLIENT_GONE):
            return
        super().handle_error(request, client_address)
