"""State store runs, failed orders and the status document."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from sf_stripe_sync.state.errors import StateUsageError
from sf_stripe_sync.state.store import FailedOrder, JournalState, StateStore
from tests.backends import StoreSpec

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(store_spec: StoreSpec) -> StateStore:
    return store_spec.open(clock=lambda: T0)


def _run(store: StateStore, run_id: str, *, failed: tuple[FailedOrder, ...] = (),
         succeeded: tuple[str, ...] = (), counts: dict[str, int] | None = None,
         started: datetime = T0) -> None:
    store.run_start(run_id, mode="scheduled", started_at=started)
    store.run_finish(run_id, finished_at=started + timedelta(minutes=5),
                     counts=counts if counts is not None else {"create": 2},
                     stripe_writes=7, salesforce_calls=3,
                     failed_orders=failed, succeeded_orders=succeeded)


def _failure(order_id: str, code: str = "gap") -> FailedOrder:
    return FailedOrder(order_id=order_id, code=code, message=f"{order_id} has a {code}")


def _fail_in_journal(store: StateStore, order_id: str, code: str) -> int:
    entry = store.journal_begin(
        run_id="run-j", order_id=order_id, contract_key=order_id, account="default",
        operation="create", fingerprint="fp", idempotency_key=f"key-{order_id}")
    store.journal_mark(entry.id, JournalState.FAILED, error_code=code, error_message="boom")
    return entry.id


# --------------------------------------------------------------------- runs


def test_last_run_is_none_before_any_run(store: StateStore) -> None:
    assert store.last_run() is None


def test_a_finished_run_is_summarised(store: StateStore) -> None:
    _run(store, "run-1", failed=(_failure("801A"),), counts={"create": 2, "noop": 1})
    summary = store.last_run()
    assert summary is not None
    assert (summary.run_id, summary.mode) == ("run-1", "scheduled")
    assert summary.started_at == T0
    assert summary.finished_at == T0 + timedelta(minutes=5)
    assert summary.counts == {"create": 2, "noop": 1}
    assert (summary.stripe_writes, summary.salesforce_calls) == (7, 3)
    assert summary.failed_orders == (_failure("801A"),)


def test_a_run_still_going_has_no_finish_time(store: StateStore) -> None:
    _run(store, "run-1")
    store.run_start("run-2", mode="triggered", started_at=T0 + timedelta(hours=1))
    summary = store.last_run()
    assert summary is not None
    assert (summary.run_id, summary.finished_at) == ("run-2", None)


def test_last_run_is_the_one_started_last_even_with_an_earlier_clock(
    store: StateStore,
) -> None:
    _run(store, "run-1", started=T0)
    _run(store, "run-2", started=T0 - timedelta(days=30))  # e.g. a backdated --as-of
    summary = store.last_run()
    assert summary is not None and summary.run_id == "run-2"
    assert store.get_run("run-1") is not None


def test_starting_a_run_twice_is_a_usage_error(store: StateStore) -> None:
    store.run_start("run-1", mode="scheduled", started_at=T0)
    with pytest.raises(StateUsageError, match="already started"):
        store.run_start("run-1", mode="scheduled", started_at=T0)


def test_finishing_an_unknown_or_finished_run_is_a_usage_error(store: StateStore) -> None:
    with pytest.raises(StateUsageError, match="never started"):
        store.run_finish("ghost", finished_at=T0, counts={}, stripe_writes=0,
                         salesforce_calls=0, failed_orders=())
    _run(store, "run-1")
    with pytest.raises(StateUsageError, match="already finished"):
        store.run_finish("run-1", finished_at=T0, counts={}, stripe_writes=0,
                         salesforce_calls=0, failed_orders=())


@pytest.mark.parametrize("counts", [{"create": -1}, {"create": 1.5}, {"noop": True}])
def test_run_counts_must_be_whole_non_negative_numbers(
    store: StateStore, counts: dict[str, int]
) -> None:
    store.run_start("run-1", mode="scheduled", started_at=T0)
    with pytest.raises(StateUsageError, match="whole number"):
        store.run_finish("run-1", finished_at=T0, counts=counts, stripe_writes=0,
                         salesforce_calls=0, failed_orders=())
    summary = store.last_run()
    assert summary is not None and summary.finished_at is None


# --------------------------------------------------------------------- failed orders


def test_failed_orders_of_a_run_are_listed(store: StateStore) -> None:
    _run(store, "run-1", failed=(_failure("801A"), _failure("801B", "missing_price")))
    assert {(f.order_id, f.code) for f in store.failed_orders()} == {
        ("801A", "gap"), ("801B", "missing_price")}


def test_only_the_latest_failure_of_an_order_is_kept(store: StateStore) -> None:
    _run(store, "run-1", failed=(_failure("801A", "gap"),))
    _run(store, "run-2", failed=(_failure("801A", "quantity_conflict"),))
    assert store.failed_orders() == [_failure("801A", "quantity_conflict")]


def test_an_order_that_succeeds_later_is_no_longer_failed(store: StateStore) -> None:
    _run(store, "run-1", failed=(_failure("801A"), _failure("801B")))
    _run(store, "run-2", succeeded=("801A",))
    assert [f.order_id for f in store.failed_orders()] == ["801B"]


def test_a_journal_failure_is_listed_even_when_the_run_never_finished(
    store: StateStore,
) -> None:
    store.run_start("run-1", mode="scheduled", started_at=T0)
    _fail_in_journal(store, "801A", "api_error")
    assert store.failed_orders() == [
        FailedOrder(order_id="801A", code="api_error", message="boom")]


def test_a_written_back_operation_clears_the_order_failure(store: StateStore) -> None:
    _fail_in_journal(store, "801A", "api_error")
    retry = store.journal_begin(
        run_id="run-2", order_id="801A", contract_key="801A", account="default",
        operation="create", fingerprint="fp", idempotency_key="key-801A")
    for state in (JournalState.SENT, JournalState.CONFIRMED, JournalState.WRITTEN_BACK):
        store.journal_mark(retry.id, state)
    assert store.failed_orders() == []


# --------------------------------------------------------------------- status document


def test_status_document_of_an_empty_store(store: StateStore) -> None:
    doc = store.status_document()
    assert doc["last_run"] is None
    assert doc["watermark"] is None
    assert doc["watermarks"] == {}
    assert doc["failed_orders"] == []
    assert doc["journal"] == {"planned": 0, "sent": 0, "confirmed": 0,
                              "written_back": 0, "failed": 0}


def test_status_document_shape_after_a_run(store: StateStore) -> None:
    store.set_watermark("orders", datetime(2025, 2, 1, 8, 30, tzinfo=UTC))
    _fail_in_journal(store, "801B", "api_error")
    store.journal_begin(run_id="run-1", order_id="801C", contract_key="801C",
                        account="default", operation="create", fingerprint="fp",
                        idempotency_key="key-801C")
    _run(store, "run-1", failed=(_failure("801A"),), counts={"create": 2, "skip": 1})
    store.acquire_lease("801C", "run-1", 60, T0)

    doc = json.loads(json.dumps(store.status_document(now=T0)))

    run = doc["last_run"]
    assert run["counts"] == {"create": 2, "amend": 0, "replace": 0, "cancel": 0,
                             "noop": 0, "failed": 0, "skip": 1}
    assert (run["stripe_writes"], run["salesforce_calls"]) == (7, 3)
    assert run["started_at"] == "2025-03-01T12:00:00Z"
    assert run["finished_at"] == "2025-03-01T12:05:00Z"
    assert run["failed_orders"] == [{"order_id": "801A", "code": "gap",
                                     "message": "801A has a gap"}]
    assert doc["watermark"] == "2025-02-01T08:30:00Z"
    assert doc["watermarks"] == {"orders": "2025-02-01T08:30:00Z"}
    assert sorted(f["order_id"] for f in doc["failed_orders"]) == ["801A", "801B"]
    assert set(doc["failed_orders"][0]) == {"order_id", "code", "message"}
    assert doc["journal"]["failed"] == 1 and doc["journal"]["planned"] == 1
    assert doc["unfinished_operations"] == 1
    assert doc["active_leases"] == 1


def test_status_watermark_is_the_earliest_of_several_sources(store: StateStore) -> None:
    store.set_watermark("orders", datetime(2025, 2, 2, tzinfo=UTC))
    store.set_watermark("order_items", datetime(2025, 2, 1, tzinfo=UTC))
    doc = store.status_document()
    assert doc["watermark"] == "2025-02-01T00:00:00Z"
    assert set(doc["watermarks"]) == {"orders", "order_items"}
