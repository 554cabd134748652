"""The syntax tree of a parsed SOQL query, and the error every SOQL stage raises.

Theory of operation: the parser turns text into these frozen nodes and knows nothing
of the org's schema; the evaluator checks names against the schema and runs the tree.
``SoqlError`` carries the Salesforce ``errorCode`` (MALFORMED_QUERY, INVALID_FIELD,
INVALID_TYPE, ...) the REST layer answers with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal as TypingLiteral


class SoqlError(Exception):
    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message


def malformed(message: str) -> SoqlError:
    return SoqlError("MALFORMED_QUERY", message)


@dataclass(frozen=True)
class FieldPath:
    parts: tuple[str, ...]

    def text(self) -> str:
        return ".".join(self.parts)


@dataclass(frozen=True)
class CountAll:
    """``COUNT()``: the query answers only its totalSize."""


@dataclass(frozen=True)
class ChildQuery:
    """``(SELECT ... FROM <ChildRelationship> ...)`` inside a select list."""

    query: Query


SelectItem = FieldPath | CountAll | ChildQuery

LiteralKind = TypingLiteral["string", "number", "date", "datetime", "boolean", "null", "relative"]


@dataclass(frozen=True)
class Value:
    """A literal. ``relative`` is a date literal like TODAY (value is its name)."""

    kind: LiteralKind
    value: str | Decimal | date | datetime | bool | None
    raw: str = ""


@dataclass(frozen=True)
class Comparison:
    field: FieldPath
    op: str  # = != < > <= >=  (<> is normalised to !=)
    value: Value


@dataclass(frozen=True)
class InList:
    field: FieldPath
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class SemiJoin:
    field: FieldPath
    query: Query
    negated: bool


@dataclass(frozen=True)
class Like:
    field: FieldPath
    pattern: Value


@dataclass(frozen=True)
class Not:
    operand: Condition


@dataclass(frozen=True)
class BoolOp:
    op: TypingLiteral["AND", "OR"]
    operands: tuple[Condition, ...]


Condition = Comparison | InList | SemiJoin | Like | Not | BoolOp


@dataclass(frozen=True)
class OrderKey:
    field: FieldPath
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    select: tuple[SelectItem, ...]
    sobject: str
    where: Condition | None = None
    order_by: tuple[OrderKey, ...] = ()
    limit: int | None = None
    offset: int | None = None
