"""Logging in to Salesforce and making every call through one guarded connection.

Theory of operation: ``connect(settings)`` reads the auth mode from
``settings.salesforce``, resolves the secrets it needs (``credentials.credentials_for``:
environment or secrets file; never logged, never in a message) and builds a
``simple_salesforce.Salesforce`` client pinned to ``settings.salesforce.api_version``.
Numbers in answers are parsed as ``Decimal`` (``parse_float``), never float.

``SalesforceConnection.run`` is the single door to the org. For each call it

1. translates every library or transport exception into ``sf_stripe_sync.errors``
   (``salesforce.errors.translate``), so nothing from simple-salesforce escapes;
2. on an expired session (401 ``INVALID_SESSION_ID``) logs in again where the auth mode
   allows it (password, jwt, client_credentials) and repeats the call once; with a
   bare session id it raises a clear ``AuthenticationError`` instead;
3. retries transient failures under the connection's ``RetryPolicy``.

The session carries an auth that leaves each request as simple-salesforce built it
(``HeadersAsSent``): with none, ``requests`` reads ``~/.netrc`` for every request and an
entry for the org's host would replace the ``Authorization: Bearer`` header with that
entry's Basic credentials (every call then fails as an expired session). The proxy and
CA-bundle variables of the environment are still honoured.

A response hook on the ``requests`` session counts the API calls made (logins are
counted apart) and keeps the last ``Sforce-Limit-Info`` usage, so ``usage()`` is
known even after a failed call. The describe cache lives here too: the first
``fields_of`` fetches the describes of every sObject the sync reads (``PREFETCH``, plus
the one asked for) in ONE ``composite/batch`` call (up to 25 describes a call), so a
run spends one API call on describes; an sObject the batch could not describe (an
error other than "no such object") falls back to its own describe call.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlencode, urlparse

import requests
from simple_salesforce.api import Salesforce

from sf_stripe_sync.config import Settings
from sf_stripe_sync.errors import (
    ApiLimitExceeded,
    AuthenticationError,
    ConfigError,
    TerminalError,
    TransientError,
)
from sf_stripe_sync.salesforce.credentials import SECRET_KEYS, credentials_for
from sf_stripe_sync.salesforce.errors import translate
from sf_stripe_sync.salesforce.retry import RetryPolicy, call_with_retries

T = TypeVar("T")

DEFAULT_TIMEOUT_SECONDS = 60.0
REFRESHABLE_MODES = frozenset({"password", "jwt", "client_credentials"})
_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")
_LOGIN_PATHS = ("/services/oauth2/", "/services/Soap/u/")
QUERIES_PER_COMPOSITE = 5
"""Salesforce: at most 5 sObject Collections or queries among a composite call's
subrequests."""
DESCRIBES_PER_BATCH = 25
"""Salesforce: at most 25 subrequests in a ``composite/batch`` call."""
PREFETCH = ("Order", "OrderItem", "Account", "Contract", "PricebookEntry", "Product2")
"""The sObjects a sync describes (``describe.SOBJECTS``), fetched together."""
_ABSENT_CODES = frozenset({"NOT_FOUND", "INVALID_TYPE"})


class CallMeter:
    """Counts HTTP calls answered by the org and remembers the last API usage header."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.api_calls = 0
        self.logins = 0
        self.last_usage: tuple[int, int] | None = None

    def record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        path = urlparse(response.url or "").path
        header = response.headers.get("Sforce-Limit-Info", "")
        found = _USAGE.search(header) if header else None
        with self._lock:
            if any(marker in path for marker in _LOGIN_PATHS):
                self.logins += 1
            else:
                self.api_calls += 1
            if found:
                self.last_usage = (int(found.group(1)), int(found.group(2)))


class SalesforceConnection:
    """A logged-in client plus the guards every call goes through."""

    def __init__(
        self,
        client: Salesforce,
        *,
        auth_mode: str,
        meter: CallMeter,
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        secrets: tuple[str, ...] = (),
        session_id_env: str = "SF_SESSION_ID",
    ) -> None:
        self.client = client
        self.auth_mode = auth_mode
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._meter = meter
        self._secrets = secrets
        self._session_id_env = session_id_env
        self._describe_cache: dict[str, frozenset[str]] = {}
        self._describe_absent: dict[str, str] = {}
        self._describe_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SalesforceConnection(auth_mode={self.auth_mode!r}, calls={self.api_calls})"

    # ------------------------------------------------------------------ accounting

    @property
    def api_calls(self) -> int:
        """API calls this connection made (logins not included)."""
        return self._meter.api_calls

    @property
    def logins(self) -> int:
        return self._meter.logins

    def usage(self) -> tuple[int, int] | None:
        """``(used, max)`` from the last ``Sforce-Limit-Info`` header, or None."""
        if self._meter.last_usage is not None:
            return self._meter.last_usage
        usage = getattr(self.client, "api_usage", {}).get("api-usage")
        if usage is None:
            return None
        return int(usage.used), int(usage.total)

    @property
    def can_reauthenticate(self) -> bool:
        return self.auth_mode in REFRESHABLE_MODES

    # ------------------------------------------------------------------ calls

    def run(
        self, action: str, call: Callable[[], T], *, retry_ambiguous: bool = True
    ) -> T:
        """``call()`` translated, re-authenticated once if the session expired, and
        retried on transient failures."""
        return call_with_retries(
            self.retry, lambda: self._with_reauth(action, call), retry_ambiguous=retry_ambiguous
        )

    def query(self, soql: str) -> dict[str, Any]:
        result = self.run("query", lambda: self.client.query(soql, timeout=self.timeout))
        return _as_result(result, "query")

    def query_many(self, soqls: Sequence[str]) -> list[dict[str, Any]]:
        """Up to ``QUERIES_PER_COMPOSITE`` queries in one ``composite`` call (one API
        call; Salesforce allows five query subrequests a call), each answer as ``query``
        gives it (a ``nextRecordsUrl`` is then read with ``query_more``). A subrequest
        Salesforce refused raises as the query alone would: 5xx transient, else terminal."""
        if len(soqls) > QUERIES_PER_COMPOSITE:
            raise ValueError(f"at most {QUERIES_PER_COMPOSITE} queries a composite call")
        if len(soqls) == 1:
            return [self.query(soqls[0])]
        version = getattr(self.client, "sf_version", None) or "60.0"
        references = [f"query{n}" for n in range(len(soqls))]
        body = json.dumps({"allOrNone": False, "compositeRequest": [
            {"method": "GET", "url": f"/services/data/v{version}/query/?{urlencode({'q': q})}",
             "referenceId": reference} for q, reference in zip(soqls, references, strict=True)]})
        answer = self.rest("POST", "composite", body=body)
        found = answer.get("compositeResponse") if isinstance(answer, dict) else None
        by_reference = {str(a.get("referenceId")): a for a in found or []
                        if isinstance(a, dict)}
        if set(by_reference) != set(references):
            raise TerminalError("Salesforce answered a composite call of queries without "
                                "one answer per query")
        return [_subquery_result(by_reference[r]) for r in references]

    def query_more(self, next_records_url: str) -> dict[str, Any]:
        result = self.run(
            "query_more",
            lambda: self.client.query_more(
                next_records_url, identifier_is_url=True, timeout=self.timeout
            ),
        )
        return _as_result(result, "query_more")

    def rest(
        self,
        method: str,
        path: str,
        *,
        body: str | None = None,
        retry_ambiguous: bool = True,
    ) -> Any:
        """A REST call below ``/services/data/vXX.X/``; ``body`` is JSON text."""
        return self.run(
            f"{method} {path}",
            lambda: self.client.restful(path, method=method, data=body, timeout=self.timeout),
            retry_ambiguous=retry_ambiguous,
        )

    def describe_many(self, sobjects: Iterable[str]) -> None:
        """Fetch the describes of ``sobjects`` not known yet, 25 per ``composite/batch``
        call. Objects the org lacks are remembered; other failures are left uncached."""
        with self._describe_lock:
            wanted = [s for s in dict.fromkeys(sobjects)
                      if s not in self._describe_cache and s not in self._describe_absent]
        version = getattr(self.client, "sf_version", None) or "60.0"
        for start in range(0, len(wanted), DESCRIBES_PER_BATCH):
            chunk = wanted[start:start + DESCRIBES_PER_BATCH]
            body = json.dumps({"haltOnError": False, "batchRequests": [
                {"method": "GET", "url": f"v{version}/sobjects/{s}/describe"} for s in chunk]})
            answer = self.rest("POST", "composite/batch", body=body)
            results = answer.get("results") if isinstance(answer, dict) else None
            if not isinstance(results, list) or len(results) != len(chunk):
                raise TerminalError("Salesforce answered a batch of describes without one "
                                    "result per describe")
            for sobject, result in zip(chunk, results, strict=True):
                self._keep_described(sobject, result if isinstance(result, dict) else {})

    def fields_of(self, sobject: str) -> frozenset[str]:
        """Field names of ``sobject`` from its describe, fetched once per connection
        (the first call describes ``PREFETCH`` too, in the same call)."""
        with self._describe_lock:
            cached = self._describe_cache.get(sobject)
            absent = self._describe_absent.get(sobject)
            tried = cached is not None or absent is not None
        if not tried:
            try:
                self.describe_many((sobject, *PREFETCH))
            except TerminalError as exc:
                # A batch the org refuses (not the allowance) leaves single describes.
                if isinstance(exc, ApiLimitExceeded | AuthenticationError):
                    raise
            with self._describe_lock:
                cached = self._describe_cache.get(sobject)
                absent = self._describe_absent.get(sobject)
        if cached is not None:
            return cached
        if absent is not None:
            raise ConfigError(
                f"the Salesforce org has no sObject {sobject} (describe: {absent})",
                code="missing_object",
            )
        try:
            described = self.rest("GET", f"sobjects/{sobject}/describe")
        except TerminalError as exc:
            if exc.code in {"NOT_FOUND", "INVALID_TYPE"}:
                raise ConfigError(
                    f"the Salesforce org has no sObject {sobject} (describe: {exc.message})",
                    code="missing_object",
                ) from exc
            raise
        names = _field_names(described)
        with self._describe_lock:
            self._describe_cache[sobject] = names
        return names

    def _keep_described(self, sobject: str, result: Mapping[str, Any]) -> None:
        status, body = result.get("statusCode"), result.get("result")
        errors = [e for e in body if isinstance(e, Mapping)] if isinstance(body, list) else []
        with self._describe_lock:
            if status == 200 and isinstance(body, Mapping):
                self._describe_cache[sobject] = _field_names(body)
            elif any(e.get("errorCode") in _ABSENT_CODES for e in errors):
                self._describe_absent[sobject] = "; ".join(
                    str(e.get("message") or e.get("errorCode")) for e in errors)

    # ------------------------------------------------------------------ internals

    def _secret_values(self) -> tuple[str, ...]:
        current = getattr(self.client, "session_id", None)
        return (*self._secrets, current) if isinstance(current, str) else self._secrets

    def _translated(self, action: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except Exception as exc:
            raise translate(exc, action=action, secrets=self._secret_values()) from exc

    def _with_reauth(self, action: str, call: Callable[[], T]) -> T:
        try:
            return self._translated(action, call)
        except AuthenticationError as first:
            if first.code not in {"INVALID_SESSION_ID", "INVALID_AUTH_HEADER"}:
                raise
            if not self.can_reauthenticate:
                raise AuthenticationError(
                    f"the Salesforce session is expired or invalid ({action}); a bare "
                    f"session id cannot log in again: put a fresh one in "
                    f"{self._session_id_env}, or use auth = password, jwt or "
                    f"client_credentials",
                    code="INVALID_SESSION_ID",
                ) from first
            self._translated("re-authentication", self.client._refresh_session)
            return self._translated(action, call)


def _field_names(described: Any) -> frozenset[str]:
    return frozenset(
        str(field["name"])
        for field in (described or {}).get("fields", [])
        if isinstance(field, Mapping) and field.get("name")
    )


def _subquery_result(answer: Mapping[str, Any]) -> dict[str, Any]:
    status = int(answer.get("httpStatusCode") or 0)
    if status >= 400:
        errors = answer.get("body")
        first = errors[0] if isinstance(errors, list) and errors else {}
        message = (f"Salesforce refused a query: {first.get('errorCode', status)}: "
                   f"{first.get('message', '')}" if isinstance(first, Mapping)
                   else f"Salesforce refused a query ({status})")
        raise TransientError(message) if status >= 500 else TerminalError(message)
    return _as_result(answer.get("body"), "query")


def _as_result(value: Any, action: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not isinstance(value.get("records"), list):
        raise TerminalError(f"Salesforce's {action} answer has no records list")
    return value


# ---------------------------------------------------------------------- connect


class HeadersAsSent(requests.auth.AuthBase):
    """A session auth that changes nothing: its presence keeps ``~/.netrc`` out."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


def connect(
    settings: Settings,
    *,
    session: requests.Session | None = None,
    environ: Mapping[str, str] | None = None,
    retry: RetryPolicy | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> SalesforceConnection:
    """Log in as ``settings.salesforce`` says and return the guarded connection."""
    sf = settings.salesforce
    http = session if session is not None else requests.Session()
    if session is None:
        http.verify = sf.verify_tls
    if http.auth is None:
        http.auth = HeadersAsSent()
    meter = CallMeter()
    http.hooks.setdefault("response", []).append(meter.record)
    credentials = credentials_for(settings, environ)
    secrets = tuple(v for k, v in credentials.items() if k in SECRET_KEYS and v)
    policy = retry or RetryPolicy()

    def login() -> Salesforce:
        try:
            return Salesforce(
                **credentials,
                version=sf.api_version,
                session=http,
                parse_float=Decimal,
                object_pairs_hook=dict,
            )
        except Exception as exc:
            raise translate(exc, action=f"{sf.auth} login", secrets=secrets) from exc

    client = call_with_retries(policy, login)
    return SalesforceConnection(
        client,
        auth_mode=sf.auth,
        meter=meter,
        retry=policy,
        timeout=timeout,
        secrets=secrets,
        session_id_env=sf.session_id_env,
    )
