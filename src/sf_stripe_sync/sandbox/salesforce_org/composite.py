"""The local org's Composite API: ``POST composite`` and ``POST composite/batch``.

Theory of operation: both resources bundle subrequests into one HTTP call that counts
as ONE API call (the gate in ``rest.py`` counts the outer call, and draws its fault,
once). Each subrequest is routed like a call of its own (same handlers, same per-record
errors and injected record locks) but without the gate: no second count, no second
fault.

* ``composite``: ``{"allOrNone": false, "compositeRequest": [{"method", "url",
  "referenceId", "body"}]}``, at most 25 subrequests of which at most 5 are sObject
  Collections or queries (Salesforce's limits). Subrequests run in the order given;
  with ``allOrNone: false`` a failed one does not undo the others. The answer is
  ``{"compositeResponse": [{"body", "httpHeaders", "httpStatusCode", "referenceId"}]}``.
  ``allOrNone: true`` (roll everything back when one fails) is not modelled here and
  is refused with a 400, so nothing relies on it by accident. References between
  subrequests (``@{ref.id}``) are not resolved either.
* ``composite/batch``: ``{"haltOnError": bool, "batchRequests": [{"method", "url"}]}``,
  at most 25 independent subrequests (urls like ``v60.0/sobjects/Account/describe``);
  the answer is ``{"hasErrors": bool, "results": [{"statusCode", "result"}]}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sf_stripe_sync.sandbox.salesforce_org.messages import (
    OrgRequest,
    OrgResponse,
    json_response,
    sf_error,
)

MAX_SUBREQUESTS = 25
MAX_COLLECTIONS_OR_QUERIES = 5
_REFERENCE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_SUBREQUEST_PATH = re.compile(r"^(?:/services/data/)?v(\d+\.\d)(?:/(.*))?$")

Route = Callable[[OrgRequest, list[str], Any], OrgResponse]
"""Routes one subrequest (request, path parts below the version, parsed body)."""


def call_kind(body: Any) -> str:
    """The fault kind of a ``composite/batch`` call: ``describe`` when every subrequest
    is a read, else ``write``."""
    requests = body.get("batchRequests") if isinstance(body, dict) else None
    if isinstance(requests, list) and requests and all(
            isinstance(r, dict) and str(r.get("method", "")).upper() == "GET"
            for r in requests):
        return "describe"
    return "write"


def run_composite(body: Any, route: Route) -> OrgResponse:
    requests = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        return sf_error(400, "JSON_PARSER_ERROR",
                        "The request body must have a non-empty compositeRequest list")
    if body.get("allOrNone") is True:
        return sf_error(400, "NOT_SUPPORTED",
                        "the local org does not model allOrNone: true on composite calls")
    if len(requests) > MAX_SUBREQUESTS:
        return sf_error(400, "LIMIT_EXCEEDED",
                        f"A composite request can have at most {MAX_SUBREQUESTS} subrequests")
    parsed: list[tuple[str, OrgRequest, list[str], Any]] = []
    heavy = 0
    seen: set[str] = set()
    for sub in requests:
        if not isinstance(sub, dict):
            return sf_error(400, "JSON_PARSER_ERROR", "Each subrequest must be an object")
        reference = str(sub.get("referenceId") or "")
        if not _REFERENCE.match(reference) or reference in seen:
            return sf_error(400, "INVALID_INPUT",
                            f"referenceId {reference!r} is missing, invalid or repeated")
        seen.add(reference)
        found = _subrequest(sub)
        if found is None:
            return sf_error(400, "INVALID_INPUT", f"subrequest {reference} has an invalid url")
        method_request, parts = found
        if parts[:2] == ["composite", "sobjects"] or parts[:1] in (["query"], ["queryAll"]):
            heavy += 1
        elif parts[:1] == ["composite"]:
            return sf_error(400, "INVALID_INPUT", "a composite call cannot nest another")
        parsed.append((reference, method_request, parts, sub.get("body")))
    if heavy > MAX_COLLECTIONS_OR_QUERIES:
        return sf_error(400, "LIMIT_EXCEEDED",
                        f"A composite request can have at most {MAX_COLLECTIONS_OR_QUERIES} "
                        f"sObject Collections or query subrequests")
    answers = []
    for reference, request, parts, sub_body in parsed:
        response = route(request, parts, sub_body)
        answers.append({"body": response.json(), "httpHeaders": _headers(response),
                        "httpStatusCode": response.status, "referenceId": reference})
    return json_response(200, {"compositeResponse": answers})


def run_batch(body: Any, route: Route) -> OrgResponse:
    requests = body.get("batchRequests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        return sf_error(400, "JSON_PARSER_ERROR",
                        "The request body must have a non-empty batchRequests list")
    if len(requests) > MAX_SUBREQUESTS:
        return sf_error(400, "LIMIT_EXCEEDED",
                        f"A batch request can have at most {MAX_SUBREQUESTS} subrequests")
    halt = body.get("haltOnError") is True
    results: list[dict[str, Any]] = []
    has_errors = False
    for sub in requests:
        if halt and has_errors:
            results.append({"statusCode": 412, "result": [{
                "errorCode": "BATCH_PROCESSING_HALTED",
                "message": "Batch processing halted per request"}]})
            continue
        request = _subrequest(sub) if isinstance(sub, dict) else None
        if request is None or request[1][:1] == ["composite"]:
            response = sf_error(400, "INVALID_INPUT", "invalid batch subrequest")
        else:
            response = route(request[0], request[1], sub.get("richInput"))
        has_errors = has_errors or response.status >= 400
        results.append({"statusCode": response.status, "result": response.json()})
    return json_response(200, {"hasErrors": has_errors, "results": results})


def _subrequest(sub: dict[str, Any]) -> tuple[OrgRequest, list[str]] | None:
    url = sub.get("url")
    method = str(sub.get("method") or "").upper()
    if not isinstance(url, str) or method not in ("GET", "POST", "PATCH", "DELETE"):
        return None
    split = urlsplit(url)
    match = _SUBREQUEST_PATH.match(split.path.rstrip("/"))
    if match is None:
        return None
    parts = [p for p in (match.group(2) or "").split("/") if p]
    body = sub.get("body")
    request = OrgRequest(method, f"/services/data/v{match.group(1)}/{'/'.join(parts)}",
                         query=parse_qs(split.query),
                         body=json.dumps(body).encode("utf-8") if body is not None else b"")
    return request, parts


def _headers(response: OrgResponse) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k != "Sforce-Limit-Info"}
