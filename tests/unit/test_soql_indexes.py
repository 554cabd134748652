"""The local org's indexed queries answer exactly what reading every record answers.

A generated org (contracts, orders on them or on none, items on orders or on none, some
deleted), changed by random updates that move orders between contracts and items
between orders, inserts and deletes, is queried by id and by lookup (the engine's
``Id IN``, ``ContractId IN ... AND Status = ...`` and ``OrderItems`` subqueries, and
shapes the index must not misread: OR, NOT IN, 15-character ids) with the store's
indexes and without them: the answers must be the same records in the same order.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sf_stripe_sync.sandbox.salesforce_org.describe import OrgSchema
from sf_stripe_sync.sandbox.salesforce_org.soql.evaluator import Evaluator
from sf_stripe_sync.sandbox.salesforce_org.store import OrgClock, OrgStore, to_18

CONTRACTS = [to_18(f"800000000{n:06d}") for n in range(4)]
ORDERS = [to_18(f"801000000{n:06d}") for n in range(8)]
STATUSES = ["Activated", "Draft"]


def _org(orders: list[tuple[int | None, int, bool]],
         items: list[tuple[int | None, bool]]) -> tuple[OrgSchema, OrgStore]:
    data: dict[str, list[dict[str, Any]]] = {
        "Contract": [{"Id": c, "Status": "Activated"} for c in CONTRACTS],
        "Order": [{"Id": ORDERS[n], "ContractId": None if c is None else CONTRACTS[c],
                   "Status": STATUSES[s], "IsDeleted": deleted}
                  for n, (c, s, deleted) in enumerate(orders)],
        "OrderItem": [{"Id": to_18(f"802000000{n:06d}"),
                       "OrderId": None if o is None else ORDERS[o], "IsDeleted": deleted,
                       "Quantity": n} for n, (o, deleted) in enumerate(items)],
    }
    schema = OrgSchema(data)
    return schema, OrgStore(data, schema, OrgClock())


def _evaluator(schema: OrgSchema, store: OrgStore, *, use_indexes: bool) -> Evaluator:
    # child results past 3 records page: the full list stands in for its cursor's url
    return Evaluator(schema, store, base_path="/x", batch_size=3,
                     today=lambda: OrgClock().now().date(), use_indexes=use_indexes,
                     register_pages=lambda rs: repr(rs))


def _change(store: OrgStore, change: tuple[str, int, int | None]) -> None:
    kind, n, target = change
    orders = list(store.rows("Order", include_deleted=True))
    items = list(store.rows("OrderItem", include_deleted=True))
    if kind == "move order" and orders:
        contract = None if target is None else CONTRACTS[target % len(CONTRACTS)]
        store.update(orders[n % len(orders)], {"ContractId": contract})
    elif kind == "move item" and items:
        order = None if target is None else ORDERS[target % len(ORDERS)][:15]
        store.update(items[n % len(items)], {"OrderId": order})
    elif kind == "delete item" and items:
        store.delete(items[n % len(items)])
    elif kind == "insert item":
        spec = store.schema.find("OrderItem")
        assert spec is not None
        store.insert(spec, {"OrderId": None if target is None else ORDERS[target % 8],
                            "Quantity": 100 + n})


def _ids(picks: list[int], names: list[str]) -> str:
    # alternate 18- and 15-character forms: both name the same record
    return ", ".join(f"'{names[p][: 15 if k % 2 else 18]}'" for k, p in enumerate(picks))


ITEMS_SUBQUERY = "(SELECT Id, OrderId, Quantity FROM OrderItems ORDER BY Quantity)"
order_rows = st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 3)), st.integers(0, 1),
                                st.booleans()), min_size=0, max_size=8)
item_rows = st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 9)).map(
    lambda o: o if o is None or o < 8 else None), st.booleans()), max_size=20)
changes = st.lists(st.tuples(st.sampled_from(["move order", "move item", "delete item",
                                              "insert item"]),
                             st.integers(0, 30), st.one_of(st.none(), st.integers(0, 9))),
                   max_size=8)
picks = st.lists(st.integers(0, 7), min_size=1, max_size=4)
contract_picks = st.lists(st.integers(0, 3), min_size=1, max_size=3)


def _wheres(order_picks: list[int], contracts: list[int]) -> list[str]:
    by_id, by_contract = _ids(order_picks, ORDERS), _ids(contracts, CONTRACTS)
    one = CONTRACTS[contracts[0]]
    return [
        f"Id IN ({by_id})",
        f"Id = '{ORDERS[order_picks[0]][:15]}'",
        f"ContractId IN ({by_contract}) AND Status = 'Activated'",
        f"Status = 'Activated' AND ContractId = '{one}' AND Id IN ({by_id})",
        f"ContractId = '{one}' OR Id IN ({by_id})",
        f"ContractId NOT IN ({by_contract})",
        "ContractId = null",
        f"NOT (ContractId = '{one}')",
        f"Id IN (SELECT OrderId FROM OrderItem WHERE OrderId IN ({by_id}))",
    ]


@settings(max_examples=80, deadline=None)
@given(order_rows, item_rows, changes, picks, contract_picks, st.booleans())
def test_indexed_queries_answer_what_a_full_scan_answers(
    orders: list[tuple[int | None, int, bool]], items: list[tuple[int | None, bool]],
    applied: list[tuple[str, int, int | None]], order_picks: list[int],
    contracts: list[int], include_deleted: bool,
) -> None:
    schema, store = _org(orders, items)
    indexed = _evaluator(schema, store, use_indexes=True)
    scan = _evaluator(schema, store, use_indexes=False)
    # a first query builds the indexes, so the changes below must keep them current
    indexed.execute(f"SELECT Id, {ITEMS_SUBQUERY} FROM Order WHERE ContractId = "
                    f"'{CONTRACTS[0]}'")
    for change in applied:
        _change(store, change)
    for where in _wheres(order_picks, contracts):
        soql = f"SELECT Id, ContractId, {ITEMS_SUBQUERY} FROM Order WHERE {where}"
        got = indexed.execute(soql, include_deleted=include_deleted).records
        assert got == scan.execute(soql, include_deleted=include_deleted).records, where
    soql = f"SELECT Id FROM OrderItem WHERE OrderId IN ({_ids(order_picks, ORDERS)})"
    assert indexed.execute(soql).records == scan.execute(soql).records


def test_an_id_query_reads_only_its_candidates() -> None:
    schema, store = _org([(0, 0, False)] * 8, [(n % 8, False) for n in range(40)])
    read: list[str] = []
    rows = store.rows

    def counting(sobject: str, *, include_deleted: bool = False) -> Any:
        read.append(sobject)
        return rows(sobject, include_deleted=include_deleted)

    store.rows = counting  # type: ignore[method-assign]
    found = _evaluator(schema, store, use_indexes=True).execute(
        f"SELECT Id, {ITEMS_SUBQUERY} FROM Order WHERE Id IN ('{ORDERS[2]}')").records
    assert [r["Id"] for r in found] == [ORDERS[2]]
    assert found[0]["OrderItems"]["totalSize"] == 5
    assert read == []  # neither the Orders nor the OrderItems were scanned
