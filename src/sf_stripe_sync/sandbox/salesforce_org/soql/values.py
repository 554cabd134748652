"""Comparison semantics of SOQL filters, by field type, as Salesforce applies them.

Theory of operation: a stored value (REST format: strings, JSON numbers, booleans,
null) and a literal are both turned into one comparable Python value chosen by the
*field's* type: ids compare on their first 15 characters, text case-insensitively,
numbers as Decimal, dates as ``date`` and datetimes as aware UTC ``datetime`` (so
``2027-01-01T00:00:00Z`` equals ``2027-01-01T01:00:00+0100``). A literal of the wrong kind
for the field (a quoted date, a number against text) is rejected with the error
Salesforce gives. Null compares only with ``=`` and ``!=``; ``!=`` and ``NOT IN`` match
null values (SOQL is not SQL here). Relative date literals (TODAY...) are day ranges.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sf_stripe_sync.sandbox.salesforce_org.ids import is_valid_id
from sf_stripe_sync.sandbox.salesforce_org.soql.ast import SoqlError, Value
from sf_stripe_sync.sandbox.salesforce_org.soql.parser import (
    parse_date_literal,
    parse_datetime_literal,
)

TEXT_TYPES = frozenset({"string", "picklist", "multipicklist", "textarea", "email", "phone",
                        "url"})
NUMBER_TYPES = frozenset({"double", "currency", "percent", "int"})
ID_TYPES = frozenset({"id", "reference"})

_EXPECTED_KIND = {
    **dict.fromkeys(TEXT_TYPES, ("string",)),
    **dict.fromkeys(NUMBER_TYPES, ("number",)),
    **dict.fromkeys(ID_TYPES, ("string",)),
    "boolean": ("boolean",),
    "date": ("date", "relative"),
    "datetime": ("datetime", "relative"),
}
_TYPE_WORDS = {"date": "date", "datetime": "dateTime", "boolean": "boolean"}

Comparable = Any  # str | Decimal | date | datetime | bool
DayRange = tuple[Comparable, Comparable]  # [start, end)


def _type_word(field_type: str) -> str:
    if field_type in NUMBER_TYPES:
        return "number"
    return _TYPE_WORDS.get(field_type, "string")


def check_literal(field_name: str, field_type: str, literal: Value) -> None:
    """Raise the Salesforce error for a literal of the wrong kind for this field."""
    expected = _EXPECTED_KIND.get(field_type)
    if literal.kind == "null" or expected is None or literal.kind in expected:
        if field_type in ID_TYPES and literal.kind == "string":
            text = str(literal.value)
            if not is_valid_id(text):
                raise SoqlError("INVALID_QUERY_FILTER_OPERATOR", f"\ninvalid ID field: {text}")
        return
    quoted = "should be enclosed in quotes" if literal.kind != "string" else (
        "should not be enclosed in quotes"
    )
    raise SoqlError(
        "INVALID_FIELD",
        f"value of filter criterion for field '{field_name}' must be of type "
        f"{_type_word(field_type)} and {quoted}",
    )


def effective_type(field_type: str, literal_kind: str) -> str:
    if field_type != "anyType":
        return field_type
    return {"string": "string", "number": "double", "date": "date", "datetime": "datetime",
            "boolean": "boolean", "relative": "date"}.get(literal_kind, "string")


def stored_comparable(field_type: str, raw: Any) -> Comparable | None:
    """A stored REST value as a comparable Python value (None stays None)."""
    if field_type == "boolean":
        return bool(raw)
    if raw is None:
        return None
    try:
        if field_type in ID_TYPES:
            return str(raw)[:15]
        if field_type in NUMBER_TYPES:
            return Decimal(str(raw))
        if field_type == "date":
            return date.fromisoformat(str(raw)[:10])
        if field_type == "datetime":
            return parse_datetime_literal(str(raw))
    except (ValueError, InvalidOperation, SoqlError):
        return str(raw).casefold()
    if isinstance(raw, bool | int | float):
        return Decimal(str(raw)) if not isinstance(raw, bool) else raw
    return str(raw).casefold()


def literal_comparable(field_type: str, literal: Value, today: date) -> Comparable | DayRange:
    """A literal as a comparable value, or a [start, end) range for TODAY and friends."""
    if literal.kind == "relative":
        offset = {"TODAY": 0, "YESTERDAY": -1, "TOMORROW": 1}[str(literal.value)]
        day = today + timedelta(days=offset)
        if effective_type(field_type, "relative") == "datetime":
            start = datetime.combine(day, time(0), tzinfo=UTC)
            return (start, start + timedelta(days=1))
        return (day, day + timedelta(days=1))
    if literal.kind == "null":
        return None
    effective = effective_type(field_type, literal.kind)
    value = literal.value
    if effective in ID_TYPES:
        return str(value)[:15]
    if effective in TEXT_TYPES or effective == "string":
        return str(value).casefold()
    if effective == "date" and isinstance(value, str):
        return parse_date_literal(value)
    if effective == "datetime" and isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time(0), tzinfo=UTC)
    return value


def compare(op: str, stored: Comparable | None, literal: Comparable | DayRange | None,
            is_range: bool) -> bool:
    if literal is None:
        return (stored is None) if op == "=" else (stored is not None) if op == "!=" else False
    if stored is None:
        return op == "!="
    try:
        if is_range:
            start, end = literal
            return bool({
                "=": start <= stored < end, "!=": not start <= stored < end,
                "<": stored < start, "<=": stored < end,
                ">": stored >= end, ">=": stored >= start,
            }[op])
        return bool({
            "=": stored == literal, "!=": stored != literal,
            "<": stored < literal, "<=": stored <= literal,
            ">": stored > literal, ">=": stored >= literal,
        }[op])
    except TypeError:
        return op == "!="


def like_pattern(raw: str) -> re.Pattern[str]:
    """SOQL LIKE (case-insensitive; % any run, _ one char; \\% and \\_ literal)."""
    out: list[str] = []
    pos = 0
    while pos < len(raw):
        char = raw[pos]
        if char == "\\" and pos + 1 < len(raw):
            nxt = raw[pos + 1]
            escaped = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}.get(nxt, nxt)
            out.append(re.escape(escaped))
            pos += 2
            continue
        out.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        pos += 1
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)
