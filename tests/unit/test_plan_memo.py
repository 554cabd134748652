"""A run's PlanMemo: a contract's orders share its desired state, never a stale one."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

from sf_stripe_sync.core import plan as plan_module
from sf_stripe_sync.core.models import OperationKind, Order, OrderPlan
from sf_stripe_sync.core.plan import KnownState, plan_order
from sf_stripe_sync.core.plan_memo import PlanMemo
from sf_stripe_sync.core.rules import SyncRules
from tests.unit.test_plan import line, order

AS_OF = datetime(2026, 11, 20, tzinfo=UTC)
RULES = SyncRules()


def contract() -> list[Order]:
    first = order(line("802A", "price_A", "2027-01-01", "2028-01-01", order_id="801A"),
                  order_id="801A", contract_id="800A")
    second = order(line("802B", "price_B", "2027-04-01", "2028-01-01", order_id="801B"),
                   order_id="801B", contract_id="800A")
    third = order(line("802C", "price_A", "2027-01-01", "2028-01-01", quantity=2,
                       order_id="801C", original="802A"),
                  order_id="801C", contract_id="800A")
    return [first, second, third]


def plan(subject: Order, orders: list[Order], memo: PlanMemo | None) -> OrderPlan:
    return plan_order(subject, contract_orders=orders, known=KnownState(), rules=RULES,
                      as_of=AS_OF, stripe_account="default", memo=memo)


def test_each_order_of_a_contract_plans_the_same_with_a_shared_memo_as_without() -> None:
    orders = contract()
    memo = PlanMemo()
    for subject in orders:
        assert plan(subject, orders, memo) == plan(subject, orders, None)


def test_a_contract_is_consolidated_once_for_all_its_orders() -> None:
    orders = contract()
    memo = PlanMemo()
    with mock.patch.object(plan_module, "consolidate", wraps=plan_module.consolidate) as spy:
        plans = [plan(subject, orders, memo) for subject in orders]
    assert spy.call_count == 1
    assert len({p.fingerprint for p in plans}) == 1
    assert {p.operation for p in plans} == {OperationKind.CREATE}


def test_a_changed_sibling_is_planned_anew_not_from_the_memo() -> None:
    orders = contract()
    memo = PlanMemo()
    before = plan(orders[0], orders, memo)
    changed = orders[1].model_copy(update={"lines": (
        orders[1].lines[0].model_copy(update={"quantity": 5}),)})
    after = plan(orders[0], [orders[0], changed, orders[2]], memo)
    assert after.fingerprint != before.fingerprint
    assert after == plan(orders[0], [orders[0], changed, orders[2]], None)


def test_equal_but_distinct_objects_are_computed_again() -> None:
    memo = PlanMemo()
    calls: list[int] = []
    first, twin = [1, 2], [1, 2]
    assert memo.once("k", (first,), None, lambda: calls.append(1) or "a") == "a"
    assert memo.once("k", (first,), None, lambda: calls.append(2) or "b") == "a"
    assert memo.once("k", (twin,), None, lambda: calls.append(3) or "c") == "c"
    assert memo.once("k", (first,), "other", lambda: calls.append(4) or "d") == "d"
    assert calls == [1, 3, 4]


def test_the_memo_forgets_its_oldest_entries_beyond_its_size() -> None:
    memo = PlanMemo(size=3)
    kept = [object() for _ in range(5)]
    for n, key in enumerate(kept):
        memo.once("k", (key,), None, lambda n=n: n)  # type: ignore[misc]
    assert [memo.once("k", (key,), None, lambda: -1) for key in reversed(kept)] == [
        4, 3, 2, -1, -1]
