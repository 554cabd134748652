"""One Stripe API request, start to finish, independent of the HTTP server.

Theory of operation: ``ApiCore.handle`` takes the method, path, query, headers and body
and returns a ``Reply`` (status, headers, JSON body, or "drop the connection"). In order:

1. authenticate (``Authorization: Bearer sk_test_...`` or basic auth); 401 otherwise;
2. route; 404 ``Unrecognized request URL`` otherwise;
3. draw an injected fault (global or per-endpoint rate limit, 500, lock timeout, drop;
   "lost" is remembered);
4. decode the bracket-notation parameters and validate them against the SDK TypedDict
   (and ``expand``) and Stripe's size limits (``limits``: string lengths from the
   published spec, metadata, idempotency key length); failures here are never saved
   under an idempotency key;
5. claim the idempotency key (POST only): replay, 400 mismatch or 409 in flight;
6. wait a latency drawn from the configured distribution, then run the handler under
   the state lock; a write runs in a store transaction (``journal``): a refused write
   is undone, leaving the store exactly as before, at the cost of what it touched; a
   handler's ``ApiError`` is an answer like any other and is saved under the key; an
   unexpected exception is a 500 that is not saved; a change marks the state file for
   saving (``persist``);
7. for a "lost" fault, drop the connection after the result was saved.

Every API request (not ``/_emulator/*``) is logged: method, path, idempotency key,
parameters, status, account, replayed flag, request id and fault. Secrets never are.
"""

from __future__ import annotations

import base64
import copy
import json
import random
import string
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.clock import EmulatorClock
from sf_stripe_sync.sandbox.stripe_emulator.errors import API_ERROR, ApiError
from sf_stripe_sync.sandbox.stripe_emulator.faults import FaultInjector
from sf_stripe_sync.sandbox.stripe_emulator.forms import FormError, parse_form
from sf_stripe_sync.sandbox.stripe_emulator.idempotency import (
    IdempotencyLedger,
    SavedResult,
    fingerprint,
    scope_for,
)
from sf_stripe_sync.sandbox.stripe_emulator.limits import check_idempotency_key, check_limits
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    check_expand,
    expand,
)
from sf_stripe_sync.sandbox.stripe_emulator.routes import match
from sf_stripe_sync.sandbox.stripe_emulator.search_index import SearchIndex
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON, PLATFORM, ObjectStore
from sf_stripe_sync.sandbox.stripe_emulator.validation import validate

API_VERSION = "2026-10-28.endive"
_ALPHABET = string.ascii_letters + string.digits


@dataclass
class Reply:
    status: int
    body: JSON | None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def _api_key(headers: Mapping[str, str]) -> str:
    raw = headers.get("Authorization", "").strip()
    if not raw:
        raise ApiError(
            401,
            "You did not provide an API key. You need to provide your API key in the "
            "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
            "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
            "or we can help at https://support.stripe.com/.",
        )
    scheme, _, value = raw.partition(" ")
    key = value.strip()
    if scheme.lower() == "basic":
        try:
            key = base64.b64decode(key).decode("utf-8").partition(":")[0]
        except ValueError:
            key = ""
    elif scheme.lower() != "bearer":
        key = ""
    if not key.startswith(("sk_test_", "rk_test_")) or len(key) <= len("sk_test_"):
        masked = f"{key[:8]}****{key[-4:]}" if len(key) > 12 else "****"
        raise ApiError(401, f"Invalid API Key provided: {masked}")
    return key


class ApiCore:
    """The emulator's state and the request pipeline over it."""

    def __init__(self, clock: EmulatorClock, store: ObjectStore, ledger: IdempotencyLedger,
                 faults: FaultInjector, persist: Callable[[], None],
                 search_index: SearchIndex | None = None) -> None:
        self.clock = clock
        self.search_index = search_index or SearchIndex()
        self.store = store
        self.ledger = ledger
        self.faults = faults
        self.persist = persist
        self.lock = threading.RLock()
        self.log: list[JSON] = []
        self._request_rng = random.Random()

    def request_id(self) -> str:
        with self.lock:
            return "req_" + "".join(self._request_rng.choice(_ALPHABET) for _ in range(14))

    def _record(self, entry: JSON) -> None:
        with self.lock:
            self.log.append(entry)

    def handle(self, method: str, path: str, query: str, headers: Mapping[str, str],
               body: str) -> Reply:
        request_id = self.request_id()
        account = headers.get("Stripe-Account", "").strip() or PLATFORM
        key = headers.get("Idempotency-Key", "").strip() or None
        entry: JSON = {
            "method": method, "path": path, "idempotency_key": key, "params": {},
            "status": None, "stripe_account": account or None, "replayed": False,
            "request_id": request_id, "fault": None,
        }
        reply = self._pipeline(method, path, query, headers, body, account, key, entry)
        reply.headers.setdefault("Request-Id", request_id)
        reply.headers.setdefault("Stripe-Version",
                                 headers.get("Stripe-Version", "") or API_VERSION)
        if key and method == "POST":
            reply.headers.setdefault("Idempotency-Key", key)
        entry["status"] = None if reply.drop else reply.status
        self._record(entry)
        return reply

    @staticmethod
    def _error(exc: ApiError) -> Reply:
        reply = Reply(exc.status, exc.body())
        retry = exc.retry_header()
        if retry is not None:
            reply.headers["Stripe-Should-Retry"] = retry
        return reply

    def _fault_reply(self, fault: str) -> Reply:
        if fault == "rate_limit":
            return self._error(ApiError(
                429, "Request rate limit exceeded. Learn more about rate limits here "
                "https://stripe.com/docs/rate-limits.", code="rate_limit"))
        if fault == "lock_timeout":
            return self._error(ApiError(
                429, "This object cannot be accessed right now because another API request "
                "or Stripe process is currently accessing it. If you see this error "
                "intermittently, retry the request.", code="lock_timeout", should_retry=True))
        if fault == "error":
            return self._error(ApiError(
                500, "An unknown error occurred while processing the request.",
                type=API_ERROR, should_retry=True))
        return Reply(0, None, drop=True)

    def _pipeline(self, method: str, path: str, query: str, headers: Mapping[str, str],
                  body: str, account: str, key: str | None, entry: JSON) -> Reply:
        try:
            api_key = _api_key(headers)
            found = match(method, path)
            if found is None:
                raise ApiError(404, f"Unrecognized request URL ({method}: {path}). Please see "
                               "https://stripe.com/docs or we can help at "
                               "https://support.stripe.com/.")
            route, path_id = found
            if key is not None and method == "POST":
                check_idempotency_key(key)
            fault = self.faults.draw(method, f"{method} {route.pattern.pattern}",
                                     search=path.endswith("/search"))
            entry["fault"] = fault
            if fault is not None and fault != "lost":
                return self._fault_reply(fault)
            try:
                raw = parse_form(body if method == "POST" else query)
            except FormError as exc:
                raise ApiError(400, str(exc)) from exc
            entry["params"] = raw
            params = validate(raw, route.params)
            expand_paths = [str(p) for p in params.get("expand", [])]
            check_expand(expand_paths, route.kind, listed=route.listed)
            check_limits(method, path, params)
        except ApiError as exc:
            return self._error(exc)
        scope = scope_for(api_key, account)
        use_key = key if method == "POST" else None
        if use_key is not None:
            try:
                with self.lock:
                    saved = self.ledger.claim(scope, use_key, method, path, fingerprint(raw),
                                              self.clock.now())
            except ApiError as exc:
                return self._error(exc)
            if saved is not None:
                entry["replayed"] = True
                return Reply(saved.status, copy.deepcopy(saved.body), {
                    "Idempotent-Replayed": "true", "Original-Request": saved.request_id})
        latency = self.faults.draw_latency()
        if latency > 0:
            time.sleep(latency)
        reply = self._execute(route.handler, route.mutates, params, expand_paths, account,
                              path_id, scope, use_key, entry["request_id"])
        if fault == "lost":
            return Reply(reply.status, None, drop=True)
        return reply

    def _execute(self, handler: Callable[[Context], JSON], mutates: bool, params: JSON,
                 expand_paths: list[str], account: str, path_id: str, scope: str,
                 key: str | None, request_id: str) -> Reply:
        with self.lock:
            if mutates:
                self.store.begin()
            ctx = Context(self.store, account, self.clock.now(), params, path_id,
                          self.search_index)
            try:
                result = expand(handler(ctx), expand_paths, ctx)
                reply = Reply(200, copy.deepcopy(result))
            except Exception as exc:
                if mutates:  # a refused request changes nothing
                    self.store.rollback()
                if not isinstance(exc, ApiError):  # an emulator bug: Stripe's unsaved 500
                    if key is not None:
                        self.ledger.release(scope, key)
                    return self._error(ApiError(500, "An unknown error occurred.",
                                                type=API_ERROR))
                reply = self._error(exc)
            else:
                if mutates:
                    self.search_index.committed(self.store.commit(), self.store, ctx.now)
            if key is not None and reply.body is not None:
                self.ledger.save(scope, key, SavedResult(reply.status, reply.body, request_id))
            if mutates or key is not None:
                self.persist()
            return reply


def snapshot(value: Any) -> Any:
    """A JSON-safe deep copy for handing state to callers."""
    return json.loads(json.dumps(value, default=str))
