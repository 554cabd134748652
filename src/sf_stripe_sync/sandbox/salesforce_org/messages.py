"""Transport-free request and response values passed between the HTTP server and the org.

Theory of operation: the HTTP handler turns each request into an ``OrgRequest`` and
writes back whatever ``OrgResponse`` the org returns, so every behaviour of the org can
be reached (and reasoned about) without sockets. Error bodies follow Salesforce's REST
shape: a JSON list of ``{"message", "errorCode"}``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

JSON_TYPE = "application/json;charset=UTF-8"


@dataclass(frozen=True)
class OrgRequest:
    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class OrgResponse:
    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None


def json_response(status: int, payload: Any) -> OrgResponse:
    return OrgResponse(status, json.dumps(payload).encode("utf-8"))


def sf_error(status: int, error_code: str, message: str, fields: list[str] | None = None
             ) -> OrgResponse:
    error: dict[str, Any] = {"message": message, "errorCode": error_code}
    if fields is not None:
        error["fields"] = fields
    return json_response(status, [error])


def no_content() -> OrgResponse:
    return OrgResponse(204)
