"""The SOQL lexer and parser: what is accepted, what it means, what is refused."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from sf_stripe_sync.sandbox.salesforce_org.soql import SoqlError, parse_soql
from sf_stripe_sync.sandbox.salesforce_org.soql.ast import (
    BoolOp,
    ChildQuery,
    Comparison,
    CountAll,
    FieldPath,
    InList,
    Not,
    SemiJoin,
)
from sf_stripe_sync.sandbox.salesforce_org.soql.lexer import tokenize


def test_order_is_an_sobject_after_from_and_a_keyword_before_by() -> None:
    query = parse_soql("SELECT Id FROM Order ORDER BY EffectiveDate DESC NULLS LAST")
    assert query.sobject == "Order"
    key = query.order_by[0]
    assert key.field == FieldPath(("EffectiveDate",)) and key.descending and key.nulls_last


def test_keywords_are_case_insensitive() -> None:
    query = parse_soql("select Id from Account where Name = 'x' limit 5 offset 2")
    assert query.limit == 5 and query.offset == 2 and isinstance(query.where, Comparison)


def test_date_and_datetime_literals_are_typed_values() -> None:
    query = parse_soql(
        "SELECT Id FROM Order WHERE EffectiveDate = 2027-01-01 AND "
        "SystemModstamp > 2027-01-01T00:00:00.000+0000 AND "
        "SystemModstamp < 2027-01-02T01:00:00+01:00"
    )
    assert isinstance(query.where, BoolOp)
    first, second, third = query.where.operands
    assert isinstance(first, Comparison) and first.value.value == date(2027, 1, 1)
    assert isinstance(second, Comparison)
    assert second.value.value == datetime(2027, 1, 1, tzinfo=UTC)
    assert isinstance(third, Comparison)
    assert third.value.value == datetime(2027, 1, 2, tzinfo=UTC)


def test_numbers_are_decimals_including_negative_ones() -> None:
    query = parse_soql("SELECT Id FROM OrderItem WHERE Quantity > -1.5")
    assert isinstance(query.where, Comparison) and query.where.value.value == Decimal("-1.5")


def test_not_equals_has_two_spellings() -> None:
    a = parse_soql("SELECT Id FROM Order WHERE Status <> 'Draft'")
    b = parse_soql("SELECT Id FROM Order WHERE Status != 'Draft'")
    assert a == b


def test_select_list_holds_paths_child_queries_and_count() -> None:
    query = parse_soql("SELECT Id, Order.Account.Name, (SELECT Id FROM OrderItems) FROM OrderItem")
    assert query.select[1] == FieldPath(("Order", "Account", "Name"))
    assert isinstance(query.select[2], ChildQuery)
    assert isinstance(parse_soql("SELECT COUNT() FROM Order").select[0], CountAll)


def test_in_list_not_in_and_semi_join_are_distinguished() -> None:
    in_list = parse_soql("SELECT Id FROM Order WHERE Status IN ('A', 'B')").where
    assert isinstance(in_list, InList) and not in_list.negated and len(in_list.values) == 2
    semi = parse_soql("SELECT Id FROM Order WHERE Id NOT IN (SELECT OrderId FROM OrderItem)").where
    assert isinstance(semi, SemiJoin) and semi.negated


def test_not_binds_to_the_following_condition() -> None:
    where = parse_soql("SELECT Id FROM Order WHERE NOT Status = 'A' AND Name = 'b'").where
    assert isinstance(where, BoolOp) and isinstance(where.operands[0], Not)


def test_string_escapes_keep_raw_text_for_like() -> None:
    token = tokenize(r"'50\% off \'now\''")[0]
    assert token.text == "50% off 'now'"
    assert token.raw == r"50\% off \'now\'"


@pytest.mark.parametrize(
    "soql",
    [
        "SELECT FROM Order",
        "SELECT Id Order",
        "SELECT Id FROM Order WHERE",
        "SELECT Id FROM Order WHERE Status = 'open",
        "SELECT Id FROM Order WHERE A = 1 AND B = 2 OR C = 3",
        "SELECT Id FROM Order GROUP BY Status",
        "SELECT SUM(Quantity) FROM OrderItem",
        "SELECT Id, COUNT() FROM Order",
        "SELECT Id FROM Order WHERE EffectiveDate = 2027-13-01",
        "SELECT Id FROM Order LIMIT 1 extra",
    ],
)
def test_malformed_queries_are_refused(soql: str) -> None:
    with pytest.raises(SoqlError) as caught:
        parse_soql(soql)
    assert caught.value.error_code == "MALFORMED_QUERY"
