"""Stripe's search query language, the subset the emulator understands.

Theory of operation: a query is clauses joined by all-``AND`` or all-``OR`` (Stripe
refuses mixing them). A clause is ``field:'value'`` (exact), ``field~'value'``
(substring, at least 3 characters), ``-field:'value'`` (negation), ``field:null`` or a
numeric comparison ``created>123``. Fields are top-level names (``email``, ``name``,
``created``...) or ``metadata['key']``. Results come newest first; ``page`` is an opaque
cursor (an offset) handed out as ``next_page``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sf_stripe_sync.sandbox.stripe_emulator.errors import invalid
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

_CLAUSE = re.compile(
    r"""^(?P<neg>-)?(?P<field>[a-z_]+|metadata\[(?P<q>['"])(?P<key>.+?)(?P=q)\])"""
    r"""(?P<op>:|~|>=|<=|>|<)(?P<value>'[^']*'|"[^"]*"|-?\d+|null)$""",
)
Predicate = Callable[[JSON], bool]


def _field_value(obj: JSON, field: str, key: str | None) -> Any:
    if key is not None:
        return (obj.get("metadata") or {}).get(key)
    return obj.get(field)


def _text(value: Any) -> str:
    """How a stored value reads in a query: booleans as Stripe writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _clause(text: str) -> Predicate:
    match = _CLAUSE.match(text.strip())
    if not match:
        raise invalid(f"Invalid search query: could not parse '{text.strip()}'.", param="query")
    field, key, op = match["field"], match["key"], match["op"]
    raw = match["value"]
    negate = bool(match["neg"])
    value: Any = None if raw == "null" else raw[1:-1] if raw[0] in "'\"" else int(raw)
    if op == "~" and (not isinstance(value, str) or len(value) < 3):
        raise invalid("Invalid search query: substring match needs at least 3 characters.",
                      param="query")

    def test(obj: JSON) -> bool:
        actual = _field_value(obj, field, key)
        if op == ":":
            result = actual is None if value is None else _text(actual) == str(value)
        elif op == "~":
            result = actual is not None and str(value).lower() in str(actual).lower()
        else:
            if not isinstance(actual, int) or not isinstance(value, int):
                return False
            result = {">": actual > value, "<": actual < value,
                      ">=": actual >= value, "<=": actual <= value}[op]
        return not result if negate else result

    return test


def compile_query(query: str) -> Predicate:
    has_and = re.search(r"\sAND\s", query) is not None
    has_or = re.search(r"\sOR\s", query) is not None
    if has_and and has_or:
        raise invalid("Invalid search query: AND and OR cannot be combined.", param="query")
    parts = re.split(r"\s(?:AND|OR)\s", query)
    tests = [_clause(p) for p in parts if p.strip()]
    if not tests:
        raise invalid("Invalid search query: the query is empty.", param="query")
    if has_or:
        return lambda obj: any(t(obj) for t in tests)
    return lambda obj: all(t(obj) for t in tests)


def search_result(objects_oldest_first: list[JSON], params: JSON, url: str) -> JSON:
    matches = [o for o in reversed(objects_oldest_first)
               if compile_query(str(params["query"]))(o)]
    limit = int(params.get("limit", 10))
    if not 1 <= limit <= 100:
        raise invalid("Invalid limit: must be between 1 and 100", param="limit")
    page = str(params.get("page") or "")
    offset = int(page[len("page_"):]) if page.startswith("page_") and page[5:].isdigit() else 0
    if page and not page.startswith("page_"):
        raise invalid(f"Invalid page: {page}", param="page")
    data = matches[offset:offset + limit]
    has_more = offset + limit < len(matches)
    return {
        "object": "search_result", "data": data, "has_more": has_more,
        "next_page": f"page_{offset + limit}" if has_more else None,
        "url": url, "total_count": len(matches),
    }
