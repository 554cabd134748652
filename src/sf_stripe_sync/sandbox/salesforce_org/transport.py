"""A requests transport that sends simple-salesforce's https URLs to the local org.

Theory of operation: simple-salesforce always builds ``https://`` URLs (the instance,
and ``https://<domain>.salesforce.com`` for logins). The local org serves plain HTTP on
loopback and generates no certificate. ``LocalOrgAdapter`` is mounted on ``https://`` in
the session the org hands out; it rewrites the URL of any request for the org's own
host:port, or for any ``*.salesforce.com`` host (the login endpoints), to the org's
``http://127.0.0.1:<port>`` before sending (``https://``, verified against the org's
CA, when the org serves TLS). Anything else is refused, so a test session
can never reach a real org by mistake.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter


class LocalOrgAdapter(HTTPAdapter):
    def __init__(self, http_netloc: str, served_netlocs: set[str],
                 ca_path: Path | None = None) -> None:
        super().__init__()
        self.http_netloc = http_netloc
        self.served_netlocs = served_netlocs
        self.ca_path = ca_path

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        parts = urlsplit(request.url or "")
        host = (parts.hostname or "").lower()
        if parts.netloc.lower() not in self.served_netlocs and not host.endswith(
            ".salesforce.com"
        ):
            raise requests.ConnectionError(
                f"this session only reaches the local org, not {parts.scheme}://{parts.netloc}"
            )
        scheme = "https" if self.ca_path is not None else "http"
        request.url = urlunsplit((scheme, self.http_netloc, parts.path, parts.query, ""))
        check: bool | str = str(self.ca_path) if self.ca_path is not None else False
        return super().send(request, stream=stream, timeout=timeout, verify=check,
                            cert=cert, proxies={})


def local_org_session(host: str, port: int, ca_path: Path | None = None) -> requests.Session:
    """A ``requests.Session`` whose https traffic to the org (and logins) is served locally
    (over TLS checked against ``ca_path`` when the org serves HTTPS)."""
    session = requests.Session()
    session.trust_env = False  # no proxies from the environment on loopback
    served = {f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"}
    session.mount("https://", LocalOrgAdapter(f"{host}:{port}", served, ca_path))
    if ca_path is not None:
        session.verify = str(ca_path)
    return session
