"""Invariants of SOQL evaluation, checked on generated data against plain Python."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sf_stripe_sync.sandbox.salesforce_org.describe import OrgSchema
from sf_stripe_sync.sandbox.salesforce_org.pages import QueryPages
from sf_stripe_sync.sandbox.salesforce_org.soql.evaluator import Evaluator
from sf_stripe_sync.sandbox.salesforce_org.soql.values import like_pattern
from sf_stripe_sync.sandbox.salesforce_org.store import OrgClock, OrgStore, to_18

quantities = st.lists(st.one_of(st.none(), st.integers(-50, 50)), min_size=0, max_size=12)


def _evaluator(values: list[int | None]) -> Evaluator:
    items: list[dict[str, Any]] = [
        {"Id": to_18(f"802000000{n:06d}"), "Quantity": q, "Description": f"item {n}"}
        for n, q in enumerate(values)
    ]
    data = {"OrderItem": items}
    schema = OrgSchema(data)
    store = OrgStore(data, schema, OrgClock())
    pages = QueryPages(2000)
    return Evaluator(schema, store, base_path="/x", batch_size=2000,
                     today=lambda: OrgClock().now().date(),
                     register_pages=lambda rs: pages.register(rs, "/x"))


@settings(max_examples=60, deadline=None)
@given(quantities, st.integers(-60, 60), st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
def test_numeric_comparison_selects_what_python_selects(
    values: list[int | None], threshold: int, op: str
) -> None:
    rows = _evaluator(values).execute(f"SELECT Quantity FROM OrderItem WHERE Quantity {op} "
                                      f"{threshold}").records
    python = {
        "=": lambda q: q == threshold, "!=": lambda q: q != threshold,
        "<": lambda q: q < threshold, "<=": lambda q: q <= threshold,
        ">": lambda q: q > threshold, ">=": lambda q: q >= threshold,
    }[op]
    expected = [q for q in values if (q is None and op == "!=") or (q is not None and python(q))]
    assert [r["Quantity"] for r in rows] == expected


@settings(max_examples=60, deadline=None)
@given(quantities, st.booleans(), st.booleans(), st.integers(0, 5), st.integers(0, 5))
def test_order_by_limit_offset_match_a_python_sort_and_slice(
    values: list[int | None], descending: bool, nulls_last: bool, limit: int, offset: int
) -> None:
    direction = "DESC" if descending else "ASC"
    nulls = "LAST" if nulls_last else "FIRST"
    soql = (f"SELECT Quantity FROM OrderItem ORDER BY Quantity {direction} NULLS {nulls} "
            f"LIMIT {limit} OFFSET {offset}")
    got = [r["Quantity"] for r in _evaluator(values).execute(soql).records]
    present = sorted((q for q in values if q is not None), reverse=descending)
    missing = [None] * values.count(None)
    ordered: list[int | None] = [*present, *missing] if nulls_last else [*missing, *present]
    assert got == ordered[offset : offset + limit]


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="abAB%_", max_size=6), st.text(alphabet="abAB", max_size=6))
def test_like_agrees_with_a_reference_matcher(pattern: str, text: str) -> None:
    def reference(p: str, t: str) -> bool:
        if not p:
            return not t
        head, rest = p[0], p[1:]
        if head == "%":
            return any(reference(rest, t[i:]) for i in range(len(t) + 1))
        if not t:
            return False
        return (head == "_" or head.lower() == t[0].lower()) and reference(rest, t[1:])

    assert (like_pattern(pattern).fullmatch(text) is not None) == reference(pattern, text)


@given(st.text(alphabet="abcXYZ0129", min_size=15, max_size=15))
def test_eighteen_character_ids_are_stable_and_case_safe(id15: str) -> None:
    full = to_18(id15)
    assert full[:15] == id15 and len(full) == 18
    assert to_18(id15) == full
    if id15.lower() != id15:
        assert to_18(id15.lower())[15:] != full[15:]


def test_stored_numbers_compare_as_their_decimal_text_not_as_binary_floats() -> None:
    evaluator = _evaluator([0.3, 0.1 + 0.2])  # type: ignore[list-item]
    rows = evaluator.execute("SELECT Quantity FROM OrderItem WHERE Quantity = 0.3").records
    assert [r["Quantity"] for r in rows] == [0.3]
