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


def test_a_flush_takes_what_waits_once_enough_waits() -> None:
    pending = _pending()
    flushed: list[int] = []
    done = threading.Event()

    def flush(batch: PendingWriteBack, _confirmed: dict[str, int]) -> None:
        flushed.append(len(batch))
        done.set()

    with FlushTimer(pending, flush, threshold=4, interval=0.001):
        _failure(pending, "801A")
        _failure(pending, "801B")
        assert done.wait(10)
    assert flushed == [4] and len(pending) == 0


def test_records_and_confirmed_entries_are_taken_together() -> None:
    pending = _pending()
    _failure(pending, "801A")
    pending.confirmed["801A"] = 7
    batch, confirmed = pending.take()
    assert len(batch) == 2 and confirmed == {"801A": 7}
    assert len(pending) == 0 and pending.take()[1] == {}
