"""``LocalOrg``: one local Salesforce org, its data, its HTTP server and its test knobs.

Theory of operation: the org is built from a snapshot (a dict, or a path to the JSON
file) at construction: schema first (``describe``), then records (``store``). ``start``
binds a threaded HTTP server on loopback (port 0 picks a free port) and serves
``rest.OrgApi``; ``stop`` shuts it down. Tests read and steer the org directly
(``records``, ``snapshot``, ``set_faults``, ``expire_sessions``, ``set_now``); the
same knobs exist over HTTP under ``/_org/`` for out-of-process use.

``instance_url`` is the https form (``https://127.0.0.1:<port>``) that simple-salesforce
expects; pass ``requests_session()`` as its ``session=`` so those URLs reach the org's
plain-HTTP listener (see ``transport``). ``base_url`` is the plain ``http://`` address.
With ``tls=True`` the org serves real HTTPS instead, with a certificate from its own
CA (``tls``; ``ca_path`` is the CA's PEM): any client reaches ``instance_url`` directly
with ``session.verify = org.ca_path``, as it would a real org.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from sf_stripe_sync.sandbox.salesforce_org.auth import Authenticator, SessionRegistry
from sf_stripe_sync.sandbox.salesforce_org.describe import OrgSchema
from sf_stripe_sync.sandbox.salesforce_org.faults import FaultInjector, OrgFaults
from sf_stripe_sync.sandbox.salesforce_org.messages import OrgRequest, OrgResponse
from sf_stripe_sync.sandbox.salesforce_org.rest import OrgApi
from sf_stripe_sync.sandbox.salesforce_org.server import OrgHttpServer
from sf_stripe_sync.sandbox.salesforce_org.store import OrgClock, OrgStore
from sf_stripe_sync.sandbox.salesforce_org.tls import OrgTls
from sf_stripe_sync.sandbox.salesforce_org.transport import local_org_session

Snapshot = Mapping[str, list[dict[str, Any]]]


def load_snapshot(source: Snapshot | Path | str) -> dict[str, list[dict[str, Any]]]:
    """A snapshot from a dict or a JSON file; raises ValueError when it is malformed."""
    if isinstance(source, str | Path):
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read org snapshot {source}: {exc}") from exc
    else:
        data = source
    if not isinstance(data, Mapping):
        raise ValueError("an org snapshot is a JSON object keyed by sObject name")
    snapshot: dict[str, list[dict[str, Any]]] = {}
    for name, records in data.items():
        if name.startswith("_"):
            continue  # room for metadata keys such as "_comment"
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ValueError(f"snapshot key {name!r} must be a list of records")
        snapshot[name] = records
    return snapshot


class LocalOrg:
    def __init__(
        self,
        snapshot: Snapshot | Path | str,
        *,
        batch_size: int = 2000,
        api_version: str = "65.0",
        session_id: str = "00Dlocal!session",
        username: str | None = None,
        password: str | None = None,
        tls: bool = False,
        ca_dir: Path | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        data = load_snapshot(snapshot)
        self.api_version = api_version
        self.clock = OrgClock()
        self.schema = OrgSchema(data)
        self.store = OrgStore(data, self.schema, self.clock)
        self.sessions = SessionRegistry(session_id)
        self.faults = FaultInjector()
        self._host = "127.0.0.1"
        self._port = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.tls = OrgTls(ca_dir) if tls else None
        self.api = OrgApi(
            schema=self.schema,
            store=self.store,
            clock=self.clock,
            sessions=self.sessions,
            authenticator=Authenticator(self.sessions, username, password),
            faults=self.faults,
            batch_size=batch_size,
            api_version=api_version,
            instance_url=lambda: self.instance_url,
        )

    # -- lifecycle -------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0) -> LocalOrg:
        if self._server is not None:
            raise RuntimeError("the local org is already running")
        self._server = OrgHttpServer((host, port), self, self.tls)
        self._host, self._port = host, int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # how quickly stop() is noticed
            name="local-salesforce-org",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join()
        self._server = None
        self._thread = None

    @contextmanager
    def running(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[LocalOrg]:
        self.start(host, port)
        try:
            yield self
        finally:
            self.stop()

    def __enter__(self) -> LocalOrg:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses and credentials -----------------------------------------------------
    @property
    def port(self) -> int:
        return self._port

    @property
    def instance_url(self) -> str:
        return f"https://{self._host}:{self._port}"

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls is not None else "http"
        return f"{scheme}://{self._host}:{self._port}"

    @property
    def ca_path(self) -> Path | None:
        """The PEM certificate of the org's own CA (None when serving plain HTTP)."""
        return self.tls.ca_path if self.tls is not None else None

    @property
    def session_id(self) -> str:
        return self.sessions.default

    def requests_session(self) -> requests.Session:
        if self._server is None:
            raise RuntimeError("start the local org before asking for a session")
        return local_org_session(self._host, self._port, ca_path=self.ca_path)

    # -- test knobs ---------------------------------------------------------------------
    def handle(self, request: OrgRequest) -> OrgResponse:
        return self.api.handle(request)

    def set_faults(self, faults: OrgFaults) -> None:
        self.faults.set(faults)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_now(self, moment: datetime | None) -> None:
        """Fix the org's clock (aware datetimes only); ``None`` returns to real time."""
        self.clock.set(moment)

    def expire_sessions(self) -> None:
        """Every session issued so far dies; ``session_id`` becomes a fresh valid one."""
        self.sessions.expire_all()

    @property
    def api_calls(self) -> int:
        return self.api.api_calls

    def requests(self) -> list[tuple[str, str, str]]:
        """(method, path, kind) of every API call so far; kind ``write`` may change data."""
        with self.api._count_lock:
            return list(self.api.request_log)

    def drop_field(self, sobject: str, name: str) -> None:
        """Remove a field from the schema, as if the org never had it (preflight tests)."""
        spec = self.schema.find(sobject)
        if spec is None or spec.fields.pop(name.lower(), None) is None:
            raise KeyError(f"{sobject}.{name} is not in the local org's schema")

    def drop_object(self, sobject: str) -> None:
        """Remove a whole sObject from the schema (its records stay unreachable)."""
        if self.schema.objects.pop(sobject.lower(), None) is None:
            raise KeyError(f"{sobject} is not in the local org's schema")

    def records(self, sobject: str) -> list[dict[str, Any]]:
        with self.store.lock:
            return self.store.records(sobject)

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        with self.store.lock:
            return self.store.snapshot()
