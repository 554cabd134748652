"""Idempotency keys as Stripe documents them for API v1.

Theory of operation: a POST carrying ``Idempotency-Key`` first ``claim``s the key in its
scope (a hash of the API key plus the ``Stripe-Account``: keys never cross accounts and
the secret itself is never kept). Then:

* no live entry: the key is marked in flight and the request runs; ``save`` stores the
  status and body once execution has begun, whatever the outcome (a 400 business-rule
  refusal is saved too); ``release`` forgets the claim for requests that never began
  executing (parameter validation failures, injected faults), so they may be retried;
* an entry still in flight: 409 ``idempotency_key_in_use`` (Stripe-Should-Retry: true;
  the SDK raises APIError, which callers treat as retryable);
* a finished entry for the same endpoint and parameters: replay its status and body;
* a finished entry for another endpoint or other parameters: 400 ``idempotency_error``
  (the SDK raises IdempotencyError).

Entries expire ``ttl`` seconds (24 h by default) after they were created, measured on the
emulator clock, after which the key is new again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.errors import IDEMPOTENCY, ApiError

DEFAULT_TTL_SECONDS = 24 * 60 * 60


def scope_for(api_key: str, account: str) -> str:
    digest = hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:16]
    return f"{digest}|{account}"


def fingerprint(params: dict[str, Any]) -> str:
    canonical = json.dumps(params, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class SavedResult:
    status: int
    body: dict[str, Any]
    request_id: str


@dataclass
class KeyEntry:
    method: str
    path: str
    fingerprint: str
    created: int
    result: SavedResult | None = None


class IdempotencyLedger:
    """Keys per scope; not thread-safe on its own (the emulator's state lock guards it)."""

    def __init__(self, ttl: int = DEFAULT_TTL_SECONDS) -> None:
        self.ttl = ttl
        self._entries: dict[tuple[str, str], KeyEntry] = {}

    def claim(
        self, scope: str, key: str, method: str, path: str, params_fingerprint: str, now: int
    ) -> SavedResult | None:
        """Start using a key; a SavedResult means "replay this"; raises on misuse."""
        entry = self._entries.get((scope, key))
        if entry is not None and now - entry.created >= self.ttl:
            entry = None
        if entry is None:
            self._entries[(scope, key)] = KeyEntry(method, path, params_fingerprint, now)
            return None
        if entry.result is None:
            raise ApiError(
                409,
                "There is currently another in-progress request using this Idempotency Key "
                f"('{key}'). Please try again later.",
                code="idempotency_key_in_use", type=IDEMPOTENCY, should_retry=True,
            )
        if (entry.method, entry.path) != (method, path):
            raise ApiError(
                400,
                "Keys for idempotent requests can only be used for the same endpoint they "
                f"were first used for ('{entry.method} {entry.path}' vs '{method} {path}'). "
                f"Try using a key other than '{key}' if you meant to execute a different "
                "request.",
                type=IDEMPOTENCY,
            )
        if entry.fingerprint != params_fingerprint:
            raise ApiError(
                400,
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                "execute a different request.",
                type=IDEMPOTENCY,
            )
        return entry.result

    def save(self, scope: str, key: str, result: SavedResult) -> None:
        entry = self._entries.get((scope, key))
        if entry is not None:
            entry.result = result

    def release(self, scope: str, key: str) -> None:
        entry = self._entries.get((scope, key))
        if entry is not None and entry.result is None:
            del self._entries[(scope, key)]

    def in_flight(self) -> int:
        return sum(1 for e in self._entries.values() if e.result is None)

    def clear(self) -> None:
        self._entries.clear()

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"scope": scope, "key": key, **asdict(entry)}
            for (scope, key), entry in self._entries.items()
            if entry.result is not None
        ]

    def load_json(self, rows: list[dict[str, Any]]) -> None:
        self._entries = {}
        for row in rows:
            result = row.get("result")
            self._entries[(row["scope"], row["key"])] = KeyEntry(
                method=row["method"], path=row["path"], fingerprint=row["fingerprint"],
                created=int(row["created"]),
                result=SavedResult(**result) if result else None,
            )
