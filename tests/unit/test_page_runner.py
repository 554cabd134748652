"""The page runner: contracts in parallel, one contract's orders in order, results in order."""

from __future__ import annotations

import threading
import time

import pytest

from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.page_runner import contract_key_of, group_in_order, run_grouped


def test_groups_keep_first_seen_order_of_groups_and_members() -> None:
    items = ["a1", "b1", "a2", "c1", "b2", "a3"]

    groups = group_in_order(items, key=lambda s: s[0])

    assert groups == [[0, 2, 5], [1, 4], [3]]


def test_contract_key_is_the_contract_else_the_order() -> None:
    on_contract = OrderBundle(order={"Id": "801A", "ContractId": "800X"})
    alone = OrderBundle(order={"Id": "801B", "ContractId": None})

    assert contract_key_of(on_contract) == "800X"
    assert contract_key_of(alone) == "801B"


def test_one_groups_items_run_in_order_while_groups_overlap() -> None:
    items = [(key, n) for n in range(5) for key in "abcd"]
    seen: dict[str, list[int]] = {k: [] for k in "abcd"}
    threads: dict[str, set[str]] = {k: set() for k in "abcd"}
    running = 0
    most_at_once = 0
    lock = threading.Lock()

    def work(item: tuple[str, int]) -> str:
        nonlocal running, most_at_once
        key, n = item
        with lock:
            running += 1
            most_at_once = max(most_at_once, running)
        time.sleep(0.002)  # let the other workers in; no timing is asserted
        with lock:
            seen[key].append(n)
            threads[key].add(threading.current_thread().name)
            running -= 1
        return f"{key}{n}"

    results = run_grouped(items, work, key=lambda i: i[0], workers=4)

    assert results == [f"{k}{n}" for k, n in items]
    assert all(seen[k] == [0, 1, 2, 3, 4] for k in "abcd")
    assert all(len(names) == 1 for names in threads.values())
    assert most_at_once > 1


def test_done_reports_every_item_once() -> None:
    finished: list[int] = []

    run_grouped(list(range(10)), lambda n: n, key=lambda n: n % 3, workers=3,
                done=finished.append)

    assert sum(finished) == 10
    assert sorted(finished) == [3, 3, 4]


def test_a_failing_item_raises_after_the_pool_stops() -> None:
    def work(n: int) -> int:
        if n == 3:
            raise ValueError("boom")
        return n

    with pytest.raises(ValueError, match="boom"):
        run_grouped(list(range(8)), work, key=lambda n: n % 4, workers=2)


def test_one_worker_runs_sequentially_on_the_calling_thread() -> None:
    names: set[str] = set()

    run_grouped(list(range(6)), lambda n: names.add(threading.current_thread().name),
                key=lambda n: n % 2, workers=1)

    assert names == {threading.current_thread().name}
