"""Pipelined pages: order kept per contract, pages given back in order, limits honoured."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import Future

import pytest

from sf_stripe_sync.pipeline import Pipeline, _Group, _Page, _Queues

Item = tuple[str, str]
"""(contract key, name)."""


def pipeline(work, *, limit: int = 8, pool: int = 8, **kwargs) -> Pipeline[Item]:  # type: ignore[no-untyped-def]
    return Pipeline(work=work, key=lambda item: item[0], start_page=lambda page: None,
                    limit=lambda: limit, pool_size=pool, **kwargs)


def test_every_page_comes_back_in_order_with_its_results_in_page_order() -> None:
    pages = [[(f"c{p}{i % 3}", f"p{p}-{i}") for i in range(7)] for p in range(5)]
    got = list(pipeline(lambda item: item[1].upper()).run(pages))
    assert [items for items, _ in got] == pages
    assert [results for _, results in got] == [[i[1].upper() for i in page] for page in pages]


def test_a_contract_runs_in_page_order_and_never_twice_at_once() -> None:
    lock = threading.Lock()
    running: Counter[str] = Counter()
    seen: list[str] = []

    def work(item: Item) -> None:
        with lock:
            running[item[0]] += 1
            assert running[item[0]] == 1
            seen.append(item[1])
        with lock:
            running[item[0]] -= 1

    pages = [[("shared", f"{p}"), (f"own{p}", f"own{p}")] for p in range(6)]
    list(pipeline(work, pages_ahead=6).run(pages))
    assert [s for s in seen if not s.startswith("own")] == [str(p) for p in range(6)]


def test_no_more_groups_run_at_once_than_the_limit() -> None:
    lock = threading.Lock()
    now = [0]
    peak = [0]

    def work(_item: Item) -> None:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        with lock:
            now[0] -= 1

    pages = [[(f"c{p}-{i}", "x") for i in range(30)] for p in range(3)]
    list(pipeline(work, limit=3, pool=16).run(pages))
    assert 1 <= peak[0] <= 3


def test_a_group_without_a_prefetch_need_runs_before_its_page_is_started() -> None:
    started = threading.Event()
    early_ran = threading.Event()

    def start(_page: list[Item]) -> None:
        assert early_ran.wait(5), "the early group did not run while the page was starting"
        started.set()

    def work(item: Item) -> str:
        if item[0] == "early":
            early_ran.set()
        else:
            assert started.is_set()
        return item[1]

    run = Pipeline(work=work, key=lambda item: item[0], start_page=start, limit=lambda: 4,
                   pool_size=4, ready_early=lambda item: item[0] == "early")
    (_items, results), = run.run([[("late", "a"), ("early", "b")]])
    assert results == ["a", "b"]


def test_a_page_whose_groups_all_ran_early_comes_back_only_once_it_is_started() -> None:
    ran, given_back = threading.Event(), threading.Event()
    seen_by_start: list[bool] = []

    def start(items: list[Item]) -> None:
        assert ran.wait(10)  # the early group finished first
        seen_by_start.append(given_back.wait(0.5))  # was the page handed out meanwhile?

    run = Pipeline(work=lambda item: ran.set() or item[1], key=lambda item: item[0],
                   start_page=start, limit=lambda: 4, pool_size=4,
                   ready_early=lambda item: True)
    for _items, results in run.run([[("early", "a")]]):
        given_back.set()
        assert results == ["a"]
    assert seen_by_start == [False]


def test_a_failing_order_stops_the_run_with_its_error() -> None:
    def work(item: Item) -> None:
        if item[1] == "bad":
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        list(pipeline(work).run([[("a", "ok"), ("b", "bad")], [("c", "ok")]]))


def test_one_worker_runs_everything_on_the_calling_thread() -> None:
    names: set[str] = set()
    list(pipeline(lambda item: names.add(threading.current_thread().name), pool=1)
         .run([[("a", "1"), ("b", "2")]]))
    assert names == {threading.current_thread().name}


def _groups(kind: str, count: int, page: _Page[Item]) -> list[_Group[Item]]:
    return [_Group(page, [0], f"{kind}{n}", kind, early=True) for n in range(count)]


def test_work_of_each_kind_is_taken_in_proportion_to_what_waits() -> None:
    done: Future[object] = Future()
    done.set_result(None)
    page: _Page[Item] = _Page([], done, [], 0)
    queues: _Queues[Item] = _Queues()
    for group in _groups("create", 6, page) + _groups("update", 3, page):
        queues.add(group)
    order = []
    while (group := queues.take(set())) is not None:
        order.append(group.kind)
    # Two creates per update throughout, not all creates first.
    assert order[:3].count("update") == 1 and order[3:6].count("update") == 1
    assert Counter(order) == {"create": 6, "update": 3}


def test_a_running_contract_holds_back_its_next_group() -> None:
    done: Future[object] = Future()
    done.set_result(None)
    page: _Page[Item] = _Page([], done, [], 0)
    queues: _Queues[Item] = _Queues()
    first, second = (_Group(page, [0], "same", "update", early=True) for _ in range(2))
    queues.add(first)
    queues.add(second)
    queues.add(_Group(page, [0], "other", "create", early=True))
    assert queues.take({"same"}) is not None  # "other"
    assert queues.take({"same"}) is None
    assert queues.take(set()) is first


def test_no_more_groups_of_one_kind_run_at_once_than_its_limit() -> None:
    lock = threading.Lock()
    now: Counter[str] = Counter()
    peak: Counter[str] = Counter()

    def work(item: Item) -> None:
        kind = item[1]
        with lock:
            now[kind] += 1
            peak[kind] = max(peak[kind], now[kind])
        with lock:
            now[kind] -= 1

    pages = [[(f"c{p}-{i}", "create" if i % 3 else "update") for i in range(30)]
             for p in range(3)]
    run = Pipeline(work=work, key=lambda item: item[0], start_page=lambda page: None,
                   limit=lambda: 8, pool_size=8, kind=lambda item: item[1],
                   kind_limit=lambda: 2)
    list(run.run(pages))
    assert 1 <= peak["create"] <= 2 and 1 <= peak["update"] <= 2


def test_a_page_read_while_the_open_ones_were_busy_is_taken_once_one_is_given_back() -> None:
    # One page open at a time: page 1's only group finishes just after the reader queued
    # page 2 (the reader is already asking for page 3), so nothing runs when page 1 is
    # given back: the coordinator must take page 2 then, not wait for an event.
    asked_for_third = threading.Event()

    def pages():  # type: ignore[no-untyped-def]
        yield [("c1", "a")]
        yield [("c2", "b")]
        asked_for_third.set()
        yield [("c3", "c")]

    def work(item: Item) -> str:
        if item[0] == "c1":
            asked_for_third.wait(timeout=10)
        return item[1]

    got: list[list[str]] = []
    runner = threading.Thread(target=lambda: got.extend(
        results for _, results in pipeline(work, pages_ahead=1).run(pages())), daemon=True)
    runner.start()
    runner.join(timeout=30)

    assert not runner.is_alive(), "the pipeline stopped with a page read and nothing running"
    assert got == [["a"], ["b"], ["c"]]
