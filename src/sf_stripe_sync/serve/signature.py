"""``X-Signature`` checking and Order id validation for the trigger endpoint.

Theory of operation: the caller signs ``"<t>.<raw body>"`` with HMAC-SHA256 under the
shared secret and sends ``X-Signature: t=<unix seconds>,v1=<hex digest>`` (several
``v1`` values are allowed, so a secret can be rotated). ``verify`` recomputes the digest
over the exact bytes received, compares in constant time, and refuses a timestamp
outside the replay window either way (a captured request cannot be replayed later, a
clock far ahead cannot pre-sign). ``sign`` is the caller's side, for tests and docs.

``order_ids`` accepts 15- or 18-character Salesforce ids of the Order key prefix
``801``; an 18-character id must carry the right case-checksum suffix, and a 15-character
id is widened to 18 so both spellings of one Order coalesce in the queue.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence

ORDER_PREFIX = "801"
_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


class SignatureError(ValueError):
    """The request is not signed as it must be; the message says how."""


class OrderIdError(ValueError):
    """An id is not an Order id; ``bad`` lists the offending values."""

    def __init__(self, message: str, bad: Sequence[str]) -> None:
        super().__init__(message)
        self.bad = list(bad)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body,
                      hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(header: str | None, body: bytes, secret: str, *, now: float,
           window_seconds: int) -> None:
    """Return when ``header`` signs ``body`` within the window, else ``SignatureError``."""
    if not header:
        raise SignatureError("missing X-Signature header (t=<unix seconds>,v1=<hex "
                             "HMAC-SHA256 of '<t>.<body>'>)")
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            digests.append(value.lower())
    if timestamp is None or not digests:
        raise SignatureError("malformed X-Signature header: expected t=<unix seconds>,"
                             "v1=<hex digest>")
    if abs(now - timestamp) > window_seconds:
        raise SignatureError(f"X-Signature timestamp is outside the {window_seconds}-second "
                             "window: sign each request when it is sent")
    expected = sign(secret, body, timestamp).rpartition("v1=")[2]
    if not any(hmac.compare_digest(expected, d) for d in digests):
        raise SignatureError("X-Signature does not match the body under the configured secret")


def id18(value: str) -> str:
    """The 18-character form of a 15-character Salesforce id (case-safe suffix)."""
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, char in enumerate(value[chunk * 5:chunk * 5 + 5])
                   if "A" <= char <= "Z")
        suffix += _SUFFIX_ALPHABET[bits]
    return value + suffix


def order_ids(values: object, *, limit: int) -> list[str]:
    """Validated, 18-character, deduplicated Order ids, or ``OrderIdError``."""
    if not isinstance(values, list) or not values:
        raise OrderIdError("order_ids must be a non-empty list of Order ids", [])
    if len(values) > limit:
        raise OrderIdError(f"too many order_ids: {len(values)} (at most {limit} a request)",
                           [])
    bad = [str(v) for v in values if not _is_order_id(v)]
    if bad:
        raise OrderIdError("not Order ids (15 or 18 characters, key prefix 801): "
                           + ", ".join(repr(b) for b in bad[:10]), bad)
    return list(dict.fromkeys(id18(str(v)[:15]) for v in values))


def _is_order_id(value: object) -> bool:
    if not isinstance(value, str) or not _ID.match(value) or not value.startswith(ORDER_PREFIX):
        return False
    return len(value) == 15 or id18(value[:15]) == value
