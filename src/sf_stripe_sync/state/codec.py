"""How values cross into and out of SQLite: datetimes, JSON columns, and secret hygiene.

Theory of operation: datetimes are stored as fixed-width UTC ISO strings with
microseconds (``2025-01-01T00:00:00.000000+00:00``), so they sort as text and read back
as aware datetimes. A naive datetime is refused (it would silently mean local time).

JSON columns (payloads, request ids, counts) are written with sorted keys; ``Decimal``
becomes its exact string, datetimes become UTC ISO strings.

The store must never hold a secret. Its API takes ids, keys, fingerprints, codes and
messages only; as a second line of defence, text that looks like a Stripe secret or
restricted key or a Salesforce session id is masked before it is stored, and a payload
key named like a credential is refused outright.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sf_stripe_sync.state.errors import StateUsageError

_SECRET_PATTERNS = (
    re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{6,}"),
    re.compile(r"\bwhsec_[A-Za-z0-9]{6,}"),
    re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]{20,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=!-]{12,}"),
)
_MASK = "[redacted]"
_CREDENTIAL_KEY = re.compile(
    r"(?i)(password|passwd|secret|api[_-]?key|token|authorization|session[_-]?id|"
    r"private[_-]?key|credential)"
)


def encode_dt(value: datetime, what: str = "datetime") -> str:
    if value.tzinfo is None or value.utcoffset() is None:
        raise StateUsageError(f"{what} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def decode_dt(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:  # written by something else; the store always writes UTC
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def iso_z(value: datetime) -> str:
    """The JSON-facing form: UTC with a ``Z``, seconds precision unless finer is needed."""
    utc = value.astimezone(UTC)
    spec = "microseconds" if utc.microsecond else "seconds"
    return utc.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


def mask_secrets(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(_MASK, text)
    return text


def mask_optional(text: str | None) -> str | None:
    return None if text is None else mask_secrets(text)


def _clean(value: Any, path: str) -> Any:
    if isinstance(value, Mapping):
        cleaned: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if _CREDENTIAL_KEY.search(name):
                raise StateUsageError(
                    f"payload key {path}{name!r} looks like a credential; the state store "
                    "never holds secrets"
                )
            cleaned[name] = _clean(item, f"{path}{name}.")
        return cleaned
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_clean(item, path) for item in items]
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return encode_dt(value, f"payload value {path.rstrip('.')}")
    if value is None or isinstance(value, bool | int | float):
        return value
    raise StateUsageError(
        f"payload value {path.rstrip('.')} of type {type(value).__name__} cannot be stored"
    )


def encode_payload(payload: Mapping[str, Any] | None) -> str:
    return json.dumps(_clean(payload or {}, ""), sort_keys=True, separators=(",", ":"))


def decode_json(text: str | None, default: Any) -> Any:
    return default if not text else json.loads(text)


def encode_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
