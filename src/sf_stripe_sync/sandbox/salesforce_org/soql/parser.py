"""Parse the supported SOQL subset into a ``soql.ast.Query``.

Theory of operation: recursive descent over the token list.

    query      := SELECT item (, item)* FROM name [WHERE cond] [ORDER BY key (, key)*]
                  [LIMIT n] [OFFSET n]
    item       := COUNT() | path | ( query )           -- ( query ) is a child subquery
    cond       := unary ((AND unary)* | (OR unary)*)   -- AND and OR never mix unbracketed
    unary      := NOT unary | ( cond ) | predicate
    predicate  := path op value | path [NOT] IN ( values | query ) | path LIKE string
    key        := path [ASC|DESC] [NULLS FIRST|LAST]

Keywords are case-insensitive. ``Order`` is both an sObject and a keyword: it is the
keyword only where ``ORDER BY`` can start. Like Salesforce, mixing AND with OR without
parentheses is a MALFORMED_QUERY, and so is anything outside the subset (GROUP BY,
aggregate functions other than COUNT(), bind variables).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sf_stripe_sync.sandbox.salesforce_org.soql.ast import (
    BoolOp,
    ChildQuery,
    Comparison,
    Condition,
    CountAll,
    FieldPath,
    InList,
    Like,
    Not,
    OrderKey,
    Query,
    SelectItem,
    SemiJoin,
    SoqlError,
    Value,
    malformed,
)
from sf_stripe_sync.sandbox.salesforce_org.soql.lexer import Token, tokenize

RELATIVE_DATES = ("TODAY", "YESTERDAY", "TOMORROW")
_UNSUPPORTED = ("GROUP", "HAVING", "WITH", "FOR", "TYPEOF", "USING")


def parse_datetime_literal(text: str) -> datetime:
    normalised = text.replace("Z", "+00:00")
    if len(normalised) >= 5 and normalised[-5] in "+-" and normalised[-3] != ":":
        normalised = normalised[:-2] + ":" + normalised[-2:]
    try:
        parsed = datetime.fromisoformat(normalised)
    except ValueError as exc:
        raise malformed(f"Invalid datetime: {text}") from exc
    return parsed.astimezone(UTC)


def parse_date_literal(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise malformed(f"Invalid date: {text}") from exc


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = tokenize(source)
        self.pos = 0

    # -- token helpers -------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.pos]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tok
        self.pos += 1
        return token

    def error(self, expected: str) -> SoqlError:
        token = self.tok
        shown = token.text or "<EOF>"
        return malformed(
            f"\n{self.source}\nERROR at Row:1:Column:{token.pos + 1}\n"
            f"unexpected token: '{shown}' (expected {expected})"
        )

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            raise self.error(what)
        return self.advance()

    def expect_keyword(self, word: str) -> None:
        if not self.tok.is_keyword(word):
            raise self.error(word)
        self.advance()

    def at_order_by(self) -> bool:
        return self.tok.is_keyword("ORDER") and self.peek().is_keyword("BY")

    # -- grammar -------------------------------------------------------------------
    def query(self) -> Query:
        self.expect_keyword("SELECT")
        items: list[SelectItem] = [self.select_item()]
        while self.tok.kind == "COMMA":
            self.advance()
            items.append(self.select_item())
        self.expect_keyword("FROM")
        sobject = self.expect("IDENT", "an sObject name").text
        where = order_by = limit = offset = None
        if self.tok.is_keyword("WHERE"):
            self.advance()
            where = self.condition()
        if self.at_order_by():
            self.advance()
            self.advance()
            order_by = self.order_keys()
        if self.tok.is_keyword("LIMIT"):
            self.advance()
            limit = self.integer()
        if self.tok.is_keyword("OFFSET"):
            self.advance()
            offset = self.integer()
        if self.tok.is_keyword(*_UNSUPPORTED):
            raise malformed(f"{self.tok.text.upper()} is not supported by the local org")
        counts = [i for i in items if isinstance(i, CountAll)]
        if counts and len(items) > 1:
            raise malformed("COUNT() must be the only element in the SELECT list")
        return Query(tuple(items), sobject, where, tuple(order_by or ()), limit, offset)

    def integer(self) -> int:
        token = self.expect("NUMBER", "a whole number")
        if not token.text.isdigit():
            raise self.error("a whole number")
        return int(token.text)

    def select_item(self) -> SelectItem:
        if self.tok.kind == "LPAREN":
            self.advance()
            child = self.query()
            self.expect("RPAREN", "')'")
            return ChildQuery(child)
        if self.tok.is_keyword("COUNT") and self.peek().kind == "LPAREN":
            self.advance()
            self.advance()
            self.expect("RPAREN", "COUNT()")
            return CountAll()
        if self.tok.kind == "IDENT" and self.peek().kind == "LPAREN":
            raise malformed(f"function {self.tok.text}() is not supported by the local org")
        return self.path()

    def path(self) -> FieldPath:
        parts = [self.expect("IDENT", "a field name").text]
        while self.tok.kind == "DOT":
            self.advance()
            parts.append(self.expect("IDENT", "a field name").text)
        return FieldPath(tuple(parts))

    def condition(self) -> Condition:
        operands = [self.unary()]
        joiner: str | None = None
        while self.tok.is_keyword("AND", "OR"):
            word = self.tok.text.upper()
            if joiner is not None and word != joiner:
                raise self.error("parentheses around mixed AND / OR")
            joiner = word
            self.advance()
            operands.append(self.unary())
        if joiner is None:
            return operands[0]
        return BoolOp("AND" if joiner == "AND" else "OR", tuple(operands))

    def unary(self) -> Condition:
        if self.tok.is_keyword("NOT"):
            self.advance()
            return Not(self.unary())
        if self.tok.kind == "LPAREN":
            self.advance()
            inner = self.condition()
            self.expect("RPAREN", "')'")
            return inner
        return self.predicate()

    def predicate(self) -> Condition:
        field = self.path()
        token = self.tok
        if token.kind == "OP":
            self.advance()
            return Comparison(field, token.text, self.value())
        negated = False
        if token.is_keyword("NOT") and self.peek().is_keyword("IN"):
            negated = True
            self.advance()
        if self.tok.is_keyword("IN"):
            self.advance()
            self.expect("LPAREN", "'('")
            if self.tok.is_keyword("SELECT"):
                sub = self.query()
                self.expect("RPAREN", "')'")
                return SemiJoin(field, sub, negated)
            values = [self.value()]
            while self.tok.kind == "COMMA":
                self.advance()
                values.append(self.value())
            self.expect("RPAREN", "')'")
            return InList(field, tuple(values), negated)
        if self.tok.is_keyword("LIKE"):
            self.advance()
            pattern = self.value()
            if pattern.kind != "string":
                raise malformed("LIKE takes a string literal")
            return Like(field, pattern)
        raise self.error("a comparison operator, IN, NOT IN or LIKE")

    def value(self) -> Value:
        token = self.advance()
        if token.kind == "STRING":
            return Value("string", token.text, token.raw)
        if token.kind == "NUMBER":
            return Value("number", Decimal(token.text), token.text)
        if token.kind == "DATE":
            return Value("date", parse_date_literal(token.text), token.text)
        if token.kind == "DATETIME":
            return Value("datetime", parse_datetime_literal(token.text), token.text)
        if token.is_keyword("NULL"):
            return Value("null", None, "null")
        if token.is_keyword("TRUE", "FALSE"):
            return Value("boolean", token.text.upper() == "TRUE", token.text)
        if token.is_keyword(*RELATIVE_DATES):
            return Value("relative", token.text.upper(), token.text)
        self.pos -= 1
        raise self.error("a literal value")

    def order_keys(self) -> list[OrderKey]:
        keys = [self.order_key()]
        while self.tok.kind == "COMMA":
            self.advance()
            keys.append(self.order_key())
        return keys

    def order_key(self) -> OrderKey:
        field = self.path()
        descending = False
        if self.tok.is_keyword("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        nulls_last = False
        if self.tok.is_keyword("NULLS"):
            self.advance()
            if not self.tok.is_keyword("FIRST", "LAST"):
                raise self.error("FIRST or LAST")
            nulls_last = self.advance().text.upper() == "LAST"
        return OrderKey(field, descending, nulls_last)


def parse_soql(source: str) -> Query:
    """Parse one SOQL statement; raises ``SoqlError`` (MALFORMED_QUERY) when invalid."""
    parser = _Parser(source)
    query = parser.query()
    if parser.tok.kind != "EOF":
        raise parser.error("end of query")
    return query
