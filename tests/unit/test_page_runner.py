"""The page runner: contracts in parallel, one contract's orders in order, results in order."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.page_runner import FlushTimer, RunWriteBack, group_in_order
from sf_stripe_sync.ports import PendingWriteBack
from sf_stripe_sync.salesforce.records import contract_key
from sf_stripe_sync.salesforce.writeback import WriteBackBatch


def test_groups_keep_first_seen_order_of_groups_and_members() -> None:
    items = ["a1", "b1", "a2", "c1", "b2", "a3"]

    groups = group_in_order(items, key=lambda s: s[0])

    assert groups == [[0, 2, 5], [1, 4], [3]]


def test_contract_key_is_the_contract_else_the_order() -> None:
    on_contract = OrderBundle(order={"Id": "801A", "ContractId": "800X"})
    alone = OrderBundle(order={"Id": "801B", "ContractId": None})

    assert contract_key(on_contract) == "800X"
    assert contract_key(alone) == "801B"


def _pending() -> RunWriteBack:
    return RunWriteBack(lambda: WriteBackBatch(FieldMap(), datetime(2027, 1, 1, tzinfo=UTC)))


def _failure(pending: RunWriteBack, order_id: str) -> None:
    pending.add_failure(order={"Id": order_id, "SystemModstamp": "2027-01-01T00:00:00Z"},
                        operation="create", message="refused")


def _failures(pending: RunWriteBack, count: int, start: int = 0) -> list[str]:
    """``count`` failed orders: an Order update and a log each."""
    ids = [f"801{n:012d}AAA" for n in range(start, start + count)]
    for order_id in ids:
        _failure(pending, order_id)
    return ids


def _shape(batch: PendingWriteBack) -> tuple[int, int]:
    """(record updates, logs) a batch holds."""
    assert isinstance(batch, WriteBackBatch)
    updates = sum(len(records) for _, records in batch._update_batches())
    return updates, len(batch) - updates


def test_a_mid_run_flush_takes_whole_calls_of_full_collections_and_leaves_the_rest() -> None:
    pending = _pending()
    _failures(pending, 600)  # 600 updates + 600 logs: 6 full collections

    taken, _ = pending.take_ready(1000) or (None, None)

    assert taken is not None and _shape(taken) == (600, 400)  # 5 collections, one call
    rest, _ = pending.take()
    assert _shape(rest) == (0, 200)


def test_nothing_is_taken_mid_run_until_a_whole_call_of_full_collections_waits() -> None:
    pending = _pending()
    _failures(pending, 500)  # 1,000 records, but 500 + 500: only 4 full collections

    assert pending.take_ready(1000) is None
    _failures(pending, 100, start=500)
    taken, _ = pending.take_ready(1000) or (None, None)
    assert taken is not None and _shape(taken) == (600, 400)


def test_a_threshold_below_a_call_still_sends_only_full_collections() -> None:
    pending = _pending()
    _failures(pending, 150)  # 150 updates + 150 logs: no collection full yet

    assert pending.take_ready(50) is None
    _failures(pending, 60, start=150)
    taken, _ = pending.take_ready(50) or (None, None)
    assert taken is not None and _shape(taken) == (200, 200)
    assert len(pending) == 20


def test_an_entry_goes_with_the_flush_that_carries_its_orders_last_record() -> None:
    pending = _pending()
    ids = _failures(pending, 600)
    for number, order_id in enumerate(ids):
        pending.confirmed[order_id] = number

    _, confirmed = pending.take_ready(1000) or (None, {})

    # Every Order update went; the logs of the first 400 orders went, the others wait.
    assert confirmed == {order_id: n for n, order_id in enumerate(ids[:400])}
    _, at_the_end = pending.take()
    assert at_the_end == {order_id: n for n, order_id in enumerate(ids) if n >= 400}


def test_the_flush_timer_flushes_whole_calls_while_the_run_goes_on() -> None:
    pending = _pending()
    flushed: list[tuple[int, int]] = []
    done = threading.Event()

    def flush(batch: PendingWriteBack, _confirmed: dict[str, int]) -> None:
        flushed.append(_shape(batch))
        done.set()

    with FlushTimer(pending, flush, threshold=1000, interval=0.001):
        _failures(pending, 600)
        assert done.wait(10)
    assert flushed == [(600, 400)] and len(pending) == 200


def test_records_and_confirmed_entries_are_taken_together() -> None:
    pending = _pending()
    _failure(pending, "801A")
    pending.confirmed["801A"] = 7
    batch, confirmed = pending.take()
    assert len(batch) == 2 and confirmed == {"801A": 7}
    assert len(pending) == 0 and pending.take()[1] == {}
