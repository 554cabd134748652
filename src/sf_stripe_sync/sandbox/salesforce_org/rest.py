"""The REST API of the local org: routing, sessions, faults, API usage, handlers.

Theory of operation: ``OrgApi.handle`` takes one transport-free ``OrgRequest`` and
returns an ``OrgResponse``. Login endpoints (SOAP ``/services/Soap/u/<v>`` and OAuth
``/services/oauth2/token``) and control endpoints are not API calls. Control endpoints:
``GET /_org/snapshot``, ``POST|DELETE /_org/faults`` (body: ``OrgFaults`` fields),
``POST /_org/expire-sessions``, ``POST /_org/now`` (``{"now": iso | null}``) and
``GET /_org/stats``.
Every call under ``/services/data/v<version>/`` goes through the same gate, in order:

1. injected latency (slept outside any lock);
2. a live session in ``Authorization: Bearer`` (else 401 INVALID_SESSION_ID);
3. the daily allowance (else 403 REQUEST_LIMIT_EXCEEDED);
4. the injected call-level fault, if any (401 / 403 / 503 / 400 UNABLE_TO_LOCK_ROW);
5. the handler, run under the store's lock, so each call is atomic.

Calls that pass step 3 count towards ``api_calls`` (an injected 401 does not); every
answer under ``/services/data`` carries ``Sforce-Limit-Info: api-usage=<used>/<max>``.
``POST composite`` and ``POST composite/batch`` (``composite.py``) pass the gate once,
so each counts as ONE API call whatever it holds; a batch of GETs (describes) draws
``describe`` faults, every other composite call ``write`` faults.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sf_stripe_sync.sandbox.salesforce_org import composite
from sf_stripe_sync.sandbox.salesforce_org.auth import Authenticator, SessionRegistry, bearer_token
from sf_stripe_sync.sandbox.salesforce_org.describe import OrgSchema
from sf_stripe_sync.sandbox.salesforce_org.faults import FaultInjector, OrgFaults
from sf_stripe_sync.sandbox.salesforce_org.ids import is_valid_id, malformed_id_message
from sf_stripe_sync.sandbox.salesforce_org.messages import (
    OrgRequest,
    OrgResponse,
    json_response,
    no_content,
    sf_error,
)
from sf_stripe_sync.sandbox.salesforce_org.pages import QueryPages
from sf_stripe_sync.sandbox.salesforce_org.soql.ast import SoqlError
from sf_stripe_sync.sandbox.salesforce_org.soql.evaluator import Evaluator
from sf_stripe_sync.sandbox.salesforce_org.store import OrgClock, OrgStore
from sf_stripe_sync.sandbox.salesforce_org.writes import (
    MAX_CHUNKS,
    MAX_COLLECTION_SIZE,
    RecordWriter,
)

DEFAULT_DAILY_API_LIMIT = 15000
_DATA_PATH = re.compile(r"^/services/data/v(\d+\.\d)(?:/(.*))?$")
_NOT_FOUND = "The requested resource does not exist"


class OrgApi:
    def __init__(
        self,
        *,
        schema: OrgSchema,
        store: OrgStore,
        clock: OrgClock,
        sessions: SessionRegistry,
        authenticator: Authenticator,
        faults: FaultInjector,
        batch_size: int,
        api_version: str,
        instance_url: Callable[[], str],
    ) -> None:
        self.schema = schema
        self.store = store
        self.clock = clock
        self.sessions = sessions
        self.authenticator = authenticator
        self.faults = faults
        self.pages = QueryPages(batch_size)
        self.batch_size = batch_size
        self.api_version = api_version
        self.instance_url = instance_url
        self.writer = RecordWriter(schema, store, faults)
        self._count_lock = threading.Lock()
        self.api_calls = 0
        self.request_log: list[tuple[str, str, str]] = []
        """(method, path, kind) of every API call that reached the gate; kind ``write``
        for anything that may change a record (a batch of describes is ``describe``)."""

    # -- entry -------------------------------------------------------------------------
    def handle(self, request: OrgRequest) -> OrgResponse:
        path = request.path.rstrip("/") or "/"
        if path.startswith("/_org/"):
            return self._control(request, path)
        if request.method == "POST" and re.fullmatch(r"/services/Soap/u/\d+\.\d", path):
            return self.authenticator.soap_login(request, self.instance_url(), self.api_version)
        if request.method == "POST" and path == "/services/oauth2/token":
            return self.authenticator.oauth_token(request, self.instance_url())
        if path == "/services/data":
            return json_response(200, [{"label": "Local", "version": self.api_version,
                                        "url": f"/services/data/v{self.api_version}"}])
        match = _DATA_PATH.match(path)
        if match is None:
            return sf_error(404, "NOT_FOUND", _NOT_FOUND)
        base_path = f"/services/data/v{match.group(1)}"
        parts = [p for p in (match.group(2) or "").split("/") if p]
        response = self._gate(request, base_path, parts)
        limit = self.faults.daily_api_limit(DEFAULT_DAILY_API_LIMIT)
        response.headers["Sforce-Limit-Info"] = f"api-usage={self.api_calls}/{limit}"
        return response

    def _gate(self, request: OrgRequest, base_path: str, parts: list[str]) -> OrgResponse:
        latency = self.faults.latency_seconds()
        if latency:
            time.sleep(latency)
        if not self.sessions.is_live(bearer_token(request)):
            return _invalid_session()
        limit = self.faults.daily_api_limit(DEFAULT_DAILY_API_LIMIT)
        with self._count_lock:
            if self.api_calls >= limit:
                return sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        kind = _call_kind(request.method, parts)
        if parts == ["composite", "batch"]:
            with contextlib.suppress(ValueError, UnicodeDecodeError):
                kind = composite.call_kind(request.json())
        with self._count_lock:
            self.request_log.append((request.method, request.path, kind))
        fault = self.faults.draw(kind)
        if fault == "invalid_session":
            return _invalid_session()
        with self._count_lock:
            self.api_calls += 1
        if fault == "request_limit":
            return sf_error(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if fault == "unavailable":
            return sf_error(503, "SERVER_UNAVAILABLE", "Server temporarily unavailable")
        if fault == "lock_row":
            return sf_error(400, "UNABLE_TO_LOCK_ROW",
                            "unable to obtain exclusive access to this record or 1 records")
        try:
            body = request.json() if request.method in ("POST", "PATCH") else None
        except (ValueError, UnicodeDecodeError):
            return sf_error(400, "JSON_PARSER_ERROR", "The request body is not valid JSON")
        with self.store.lock:
            return self._route(request, base_path, parts, body)

    # -- routing -----------------------------------------------------------------------
    def _route(self, request: OrgRequest, base_path: str, parts: list[str], body: Any
               ) -> OrgResponse:
        method = request.method
        head = parts[0] if parts else ""
        if not parts:
            return json_response(200, {name: f"{base_path}/{name}" for name in
                                       ("sobjects", "query", "queryAll", "limits", "composite")})
        if head in ("query", "queryAll") and method == "GET":
            if len(parts) == 2:
                page = self.pages.page(parts[1], base_path)
                if page is None:
                    return sf_error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
                return json_response(200, page)
            return self._query(request, base_path, include_deleted=head == "queryAll")
        if head == "limits" and method == "GET":
            limit = self.faults.daily_api_limit(DEFAULT_DAILY_API_LIMIT)
            return json_response(200, {
                "DailyApiRequests": {"Max": limit, "Remaining": max(limit - self.api_calls, 0)},
            })
        if head == "sobjects":
            return self._sobjects(method, base_path, parts[1:], body, request)
        if parts == ["composite", "sobjects"] and method in ("POST", "PATCH"):
            return self._collection("insert" if method == "POST" else "update", body)
        if parts[:2] == ["composite", "sobjects"] and len(parts) == 4 and method == "PATCH":
            return self._upsert(parts[2], parts[3], body)
        if parts == ["composite"] and method == "POST":
            return composite.run_composite(
                body, lambda sub, sub_parts, sub_body: self._route(sub, base_path, sub_parts,
                                                                   sub_body))
        if parts == ["composite", "batch"] and method == "POST":
            return composite.run_batch(
                body, lambda sub, sub_parts, sub_body: self._route(sub, base_path, sub_parts,
                                                                   sub_body))
        return sf_error(404, "NOT_FOUND", _NOT_FOUND)

    def _query(self, request: OrgRequest, base_path: str, *, include_deleted: bool
               ) -> OrgResponse:
        source = request.param("q")
        if not source:
            return sf_error(400, "MALFORMED_QUERY", "A query string has to be specified")
        evaluator = Evaluator(
            self.schema, self.store, base_path=base_path, batch_size=self.batch_size,
            today=lambda: self.clock.now().date(),
            register_pages=lambda records: self.pages.register(records, base_path),
        )
        try:
            outcome = evaluator.execute(source, include_deleted=include_deleted)
        except SoqlError as exc:
            return sf_error(400, exc.error_code, exc.message)
        if outcome.count_only:
            return json_response(200, {"totalSize": len(outcome.records), "done": True,
                                       "records": []})
        return json_response(200, self.pages.first_page(outcome.records, base_path))

    def _sobjects(self, method: str, base_path: str, rest: list[str], body: Any,
                  request: OrgRequest) -> OrgResponse:
        if not rest:
            if method == "GET":
                return json_response(200, self.schema.describe_global(base_path))
            return sf_error(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed")
        obj = self.schema.find(rest[0])
        if obj is None:
            return sf_error(404, "NOT_FOUND", _NOT_FOUND)
        if len(rest) == 1:
            if method == "POST":
                prepared = self.writer.prepare("insert", obj.name, body)
                if prepared.errors:
                    return _write_failure(prepared.errors)
                return json_response(201, {"id": self.writer.apply(prepared), "success": True,
                                           "errors": []})
            if method == "GET":
                described = self.schema.describe(obj, base_path)
                summary = {k: v for k, v in described.items() if k not in ("fields",)}
                return json_response(200, {"objectDescribe": summary, "recentItems": []})
            return sf_error(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed")
        if len(rest) == 2 and rest[1] == "describe" and method == "GET":
            return json_response(200, self.schema.describe(obj, base_path))
        if len(rest) != 2:
            return sf_error(404, "NOT_FOUND", _NOT_FOUND)
        record_id = rest[1]
        if not is_valid_id(record_id):
            return sf_error(400, "MALFORMED_ID", malformed_id_message(obj.name, record_id))
        record = self.store.get(record_id)
        if record is None or self.store.sobject_of(record_id) != obj.name:
            return sf_error(404, "NOT_FOUND", _NOT_FOUND)
        if method == "GET":
            wanted = request.param("fields")
            names = ([n.strip() for n in wanted.split(",")] if wanted
                     else [f.name for f in obj.fields.values()])
            out: dict[str, Any] = {"attributes": {
                "type": obj.name, "url": f"{base_path}/sobjects/{obj.name}/{record['Id']}"}}
            for name in names:
                spec = obj.field(name)
                if spec is None:
                    return sf_error(400, "INVALID_FIELD",
                                    f"No such column '{name}' on entity '{obj.name}'")
                value = record.get(spec.name)
                out[spec.name] = bool(value) if spec.type == "boolean" else value
            return json_response(200, out)
        if method == "PATCH":
            prepared = self.writer.prepare("update", obj.name, body, record_id)
            if prepared.errors:
                return _write_failure(prepared.errors)
            self.writer.apply(prepared)
            return no_content()
        if method == "DELETE":
            self.store.delete(record)
            return no_content()
        return sf_error(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed")

    def _collection(self, mode: str, body: Any) -> OrgResponse:
        refused = _collection_refusal(body)
        if refused is not None:
            return refused
        records = body["records"]
        all_or_none = bool(body.get("allOrNone", False))
        results = self.writer.collection("insert" if mode == "insert" else "update",
                                         records, all_or_none)
        return json_response(200, results)

    def _upsert(self, sobject: str, external: str, body: Any) -> OrgResponse:
        """sObject Collections upsert on an external-id field (API 46.0 and later)."""
        obj = self.schema.find(sobject)
        if obj is None:
            return sf_error(404, "NOT_FOUND", _NOT_FOUND)
        spec = obj.field(external)
        if spec is None or not spec.external_id:
            return sf_error(400, "INVALID_FIELD",
                            f"Field name provided, {external} is not an External ID or "
                            f"indexed field for {obj.name}")
        refused = _collection_refusal(body)
        if refused is not None:
            return refused
        records = body["records"]
        return json_response(200, self.writer.upsert_collection(
            obj, spec.name, records, bool(body.get("allOrNone", False))))

    # -- control endpoints (not API calls) --------------------------------------------
    def _control(self, request: OrgRequest, path: str) -> OrgResponse:
        name, method = path.removeprefix("/_org/"), request.method
        if name == "snapshot" and method == "GET":
            with self.store.lock:
                return json_response(200, self.store.snapshot())
        if name == "faults" and method == "POST":
            try:
                self.faults.set(OrgFaults.from_json(request.json() or {}))
            except (ValueError, TypeError) as exc:
                return json_response(400, {"error": str(exc)})
            return no_content()
        if name == "faults" and method == "DELETE":
            self.faults.clear()
            return no_content()
        if name == "expire-sessions" and method == "POST":
            self.sessions.expire_all()
            return json_response(200, {"session_id": self.sessions.default})
        if name == "now" and method == "POST":
            try:
                raw = (request.json() or {}).get("now")
                self.clock.set(None if raw is None else datetime.fromisoformat(raw))
            except (ValueError, TypeError, AttributeError) as exc:
                message = f"now must be an ISO datetime with an offset: {exc}"
                return json_response(400, {"error": message})
            return no_content()
        if name == "stats" and method == "GET":
            return json_response(200, {"api_calls": self.api_calls})
        return json_response(404, {"error": f"no control endpoint {method} /_org/{name}"})


def _invalid_session() -> OrgResponse:
    return sf_error(401, "INVALID_SESSION_ID", "Session expired or invalid")


def _write_failure(errors: list[dict[str, Any]]) -> OrgResponse:
    payload = [{"message": e["message"], "errorCode": e["statusCode"], "fields": e["fields"]}
               for e in errors]
    return OrgResponse(400, json.dumps(payload).encode("utf-8"))


def _call_kind(method: str, parts: list[str]) -> str:
    head = parts[0] if parts else ""
    if head in ("query", "queryAll"):
        return "query"
    if head == "limits":
        return "limits"
    if method in ("POST", "PATCH", "DELETE", "PUT"):
        return "write"
    if head == "sobjects" and len(parts) == 3 and parts[2] != "describe":
        return "read"
    return "describe"


def _collection_refusal(body: Any) -> OrgResponse | None:
    """Why an sObject Collections body is refused as a whole, or None when it is not:
    it must be an object with a ``records`` list of at most 200 records, in at most
    ``MAX_CHUNKS`` runs of one sObject type."""
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        return sf_error(400, "JSON_PARSER_ERROR",
                        "The request body must be an object with a records list")
    if len(body["records"]) > MAX_COLLECTION_SIZE:
        return sf_error(400, "EXCEEDED_ID_LIMIT",
                        "record limit reached. cannot submit more than 200 records into "
                        "this call")
    if _chunks(body["records"]) > MAX_CHUNKS:
        # Salesforce documents the limit ("a single request can process up to 10
        # chunks"), not the error code: the one its Apex DML gives is used here.
        return sf_error(400, "INVALID_BATCH_REQUEST",
                        "Cannot have more than 10 chunks in a single operation. Please "
                        "rearrange the data to reduce chunking.")
    return None


def _chunks(records: list[Any]) -> int:
    """How many runs of one sObject type the records make, in their order (Salesforce
    processes a mixed collection chunk by chunk)."""
    types = [r.get("attributes", {}).get("type") if isinstance(r, dict) else None
             for r in records]
    return sum(1 for i, kind in enumerate(types) if i == 0 or kind != types[i - 1])
