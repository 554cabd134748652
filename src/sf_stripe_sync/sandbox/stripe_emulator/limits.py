"""Stripe's server-side size limits: string lengths, metadata, idempotency keys.

Theory of operation: after a request's parameters pass type validation, ``check_limits``
walks them alongside the endpoint's tree in ``limits_table`` (generated from Stripe's
published OpenAPI spec, so every parameter of every endpoint the emulator serves, and of
those it may serve later, is covered without hand-written rules). A string longer than
its ``maxLength`` is refused the way Stripe refuses it: 400 ``invalid_request_error``,
``Invalid string: <abbreviated value>; must be at most N characters``, ``param`` the
full bracket path. Every hash named ``metadata``, wherever it sits, follows Stripe's
documented metadata rules: at most 50 keys (the request's here; the object's after a
merge in ``resources.common.apply_metadata``), keys at most 40 characters and without
square brackets, values at most 500 characters (``param`` the metadata's path).
A string the table does not know (a parameter newer than the spec it was generated
from) gets the spec's common 5000. ``check_idempotency_key`` enforces the 1-255
character key length. All of these are
parameter-validation failures: they are never saved under an idempotency key.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.errors import invalid
from sf_stripe_sync.sandbox.stripe_emulator.limits_table import LIMITS

METADATA_MAX_KEYS = 50
METADATA_KEY_MAX = 40
METADATA_VALUE_MAX = 500
IDEMPOTENCY_KEY_MAX = 255
DEFAULT_STRING_MAX = 5000
"""The spec's ``maxLength`` of almost every string; used for parameters newer than the
table (a stricter limit of theirs is then not enforced)."""


@functools.cache
def _patterns() -> tuple[tuple[str, re.Pattern[str], dict[str, Any]], ...]:
    compiled = []
    for key, tree in LIMITS.items():
        method, _, template = key.partition(" ")
        regex = "^" + re.escape(template).replace(r"\{\}", "[^/]+") + "$"
        compiled.append((method, re.compile(regex), tree))
    return tuple(compiled)


def tree_for(method: str, path: str) -> dict[str, Any] | None:
    """The limits tree of an endpoint, or None when the table has nothing for it."""
    for candidate, pattern, tree in _patterns():
        if candidate == method and pattern.match(path):
            return tree
    return None


def _join(path: str, key: str | int) -> str:
    return f"{path}[{key}]" if path else str(key)


def _abbreviate(value: str) -> str:
    return value if len(value) <= 23 else f"{value[:10]}...{value[-10:]}"


def _too_long(value: str, limit: int, path: str) -> None:
    if len(value) > limit:
        raise invalid(f"Invalid string: {_abbreviate(value)}; must be at most {limit} "
                      "characters", param=path)


def check_metadata(metadata: dict[str, Any], path: str) -> None:
    """Stripe's metadata rules (https://docs.stripe.com/api/metadata)."""
    setting = [key for key, value in metadata.items() if value != ""]  # "" unsets a key
    if len(setting) > METADATA_MAX_KEYS:
        raise invalid(f"Metadata can have up to {METADATA_MAX_KEYS} keys, but you've set "
                      f"{len(setting)}.", param=path)
    for key, value in metadata.items():
        if len(key) > METADATA_KEY_MAX or "[" in key or "]" in key:
            raise invalid(f"Invalid key: {key} must be a string under {METADATA_KEY_MAX} "
                          "characters without square brackets", param=path)
        if isinstance(value, str) and len(value) > METADATA_VALUE_MAX:
            raise invalid(f"Invalid val: {_abbreviate(value)} must be a string under "
                          f"{METADATA_VALUE_MAX} characters", param=path)


def _walk(value: Any, tree: Any, path: str) -> None:
    if isinstance(value, dict):
        named = isinstance(tree, dict)
        for key, item in value.items():
            where = _join(path, key)
            if key == "metadata" and isinstance(item, dict):
                check_metadata(item, where)
                continue
            _walk(item, tree.get(key, tree.get("*")) if named else None, where)
    elif isinstance(value, list):
        child = tree.get("*") if isinstance(tree, dict) else None
        for index, item in enumerate(value):
            _walk(item, child, _join(path, index))
    elif isinstance(value, str):
        _too_long(value, tree if isinstance(tree, int) else DEFAULT_STRING_MAX, path)


def check_limits(method: str, path: str, params: dict[str, Any]) -> None:
    """Refuse parameters over Stripe's size limits (raises ``ApiError``)."""
    _walk(params, tree_for(method, path) or {}, "")


def check_idempotency_key(key: str) -> None:
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX:
        raise invalid(f"Idempotency key length is {len(key)}, which is outside accepted "
                      f"lengths. Idempotency Keys must be 1-{IDEMPOTENCY_KEY_MAX} characters "
                      "long. If you're looking for a decent generator, try using a UUID "
                      "defined by IETF RFC 4122.")
