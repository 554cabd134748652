"""The page runner: contracts in parallel, one contract's orders in order, results in order."""

from __future__ import annotations

from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.page_runner import contract_key_of, group_in_order


def test_groups_keep_first_seen_order_of_groups_and_members() -> None:
    items = ["a1", "b1", "a2", "c1", "b2", "a3"]

    groups = group_in_order(items, key=lambda s: s[0])

    assert groups == [[0, 2, 5], [1, 4], [3]]


def test_contract_key_is_the_contract_else_the_order() -> None:
    on_contract = OrderBundle(order={"Id": "801A", "ContractId": "800X"})
    alone = OrderBundle(order={"Id": "801B", "ContractId": None})

    assert contract_key_of(on_contract) == "800X"
    assert contract_key_of(alone) == "801B"
