"""State store journal: the state machine, resuming, retries, payloads and secrets."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from sf_stripe_sync.errors import IdempotencyConflict, TerminalError
from sf_stripe_sync.state.errors import IllegalTransition, StateUsageError
from sf_stripe_sync.state.store import JournalEntry, JournalState, StateStore
from tests.backends import StoreSpec

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
P, S, C, W, F = (JournalState.PLANNED, JournalState.SENT, JournalState.CONFIRMED,
                 JournalState.WRITTEN_BACK, JournalState.FAILED)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(seconds=1)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(store_spec: StoreSpec, clock: Clock) -> StateStore:
    return store_spec.open(clock=clock)


def _begin(store: StateStore, key: str = "sfss-create-1", **changes: Any) -> JournalEntry:
    values: dict[str, Any] = {
        "run_id": "run-1", "order_id": "801A", "contract_key": "800C", "account": "default",
        "operation": "create", "fingerprint": "fp1", "idempotency_key": key,
    }
    values.update(changes)
    return store.journal_begin(**values)


def _walk(store: StateStore, entry: JournalEntry, *states: JournalState) -> JournalEntry:
    for state in states:
        entry = store.journal_mark(entry.id, state)
    return entry


# --------------------------------------------------------------------- begin


def test_begin_records_a_planned_entry_with_its_identity(store: StateStore) -> None:
    entry = _begin(store, payload={"phases": 2})
    assert entry.state is P
    assert (entry.order_id, entry.contract_key, entry.account, entry.operation,
            entry.fingerprint, entry.idempotency_key) == (
        "801A", "800C", "default", "create", "fp1", "sfss-create-1")
    assert entry.payload == {"phases": 2}
    assert entry.attempts == 1
    assert entry.created_at == entry.updated_at == T0


def test_begin_with_the_key_of_an_unfinished_entry_returns_that_entry(
    store: StateStore,
) -> None:
    first = _walk(store, _begin(store), S)
    again = _begin(store, run_id="run-2")
    assert again.id == first.id
    assert again.state is S
    assert again.run_id == "run-1"
    assert len(store.journal_for_order("801A")) == 1


def test_begin_after_a_failure_revives_the_entry_as_a_new_attempt(
    store: StateStore, clock: Clock
) -> None:
    failed = _begin(store)
    failed = store.journal_mark(failed.id, S, request_ids=["req_1"])
    failed = store.journal_mark(failed.id, F, error_code="api_error", error_message="boom")
    clock.tick()
    retried = _begin(store, run_id="run-2")
    assert retried.id == failed.id
    assert retried.state is P
    assert retried.attempts == 2
    assert retried.run_id == "run-2"
    assert (retried.error_code, retried.error_message) == (None, None)
    assert retried.request_ids == ("req_1",)
    assert retried.updated_at == T0 + timedelta(seconds=1)


def test_begin_after_a_finished_entry_starts_a_new_one(store: StateStore) -> None:
    done = _walk(store, _begin(store), S, C, W)
    fresh = _begin(store, run_id="run-2")
    assert fresh.id != done.id
    assert fresh.state is P
    assert [e.state for e in store.journal_for_order("801A")] == [W, P]


@pytest.mark.parametrize("field", ["fingerprint", "operation", "account", "contract_key"])
def test_reusing_a_key_for_a_different_operation_is_an_idempotency_conflict(
    store: StateStore, field: str
) -> None:
    _begin(store)
    with pytest.raises(IdempotencyConflict, match=field):
        _begin(store, **{field: "something-else"})


def test_another_order_of_the_contract_resumes_the_unfinished_entry_of_its_key(
    store: StateStore
) -> None:
    first = _walk(store, _begin(store), S)
    again = _begin(store, order_id="801B", run_id="run-2")
    assert again.id == first.id and again.state is S


def test_another_order_of_the_contract_revives_a_failed_entry_of_its_key_as_its_own(
    store: StateStore
) -> None:
    failed = _walk(store, _begin(store), S, F)
    revived = _begin(store, order_id="801B", run_id="run-2")
    assert revived.id == failed.id and revived.state is P
    assert [e.id for e in store.journal_for_order("801B")] == [failed.id]


@pytest.mark.parametrize("field", ["run_id", "order_id", "idempotency_key", "fingerprint"])
def test_begin_refuses_empty_identity_fields(store: StateStore, field: str) -> None:
    with pytest.raises(StateUsageError):
        _begin(store, **{field: ""})
    assert store.journal_recent() == []


def test_concurrent_begins_of_one_key_make_one_entry(store: StateStore) -> None:
    ids: list[int] = []
    lock = threading.Lock()
    barrier = threading.Barrier(4)

    def begin() -> None:
        barrier.wait(timeout=10)
        entry = _begin(store)
        with lock:
            ids.append(entry.id)

    threads = [threading.Thread(target=begin) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(ids) == 4
    assert len(set(ids)) == 1


# --------------------------------------------------------------------- the state machine


def test_the_happy_path_reaches_written_back(store: StateStore, clock: Clock) -> None:
    entry = _begin(store)
    clock.tick()
    entry = store.journal_mark(entry.id, S, request_ids=["req_1"])
    entry = store.journal_mark(entry.id, C, stripe_id="sub_sched_1", request_ids=["req_2"])
    entry = store.journal_mark(entry.id, W)
    assert entry.state is W
    assert entry.stripe_id == "sub_sched_1"
    assert entry.request_ids == ("req_1", "req_2")
    assert entry.created_at == T0
    assert entry.updated_at == T0 + timedelta(seconds=1)


@pytest.mark.parametrize("path", [(F,), (S, F), (S, C, F)])
def test_any_unfinished_state_may_fail(store: StateStore, path: tuple[JournalState]) -> None:
    entry = _walk(store, _begin(store), *path)
    assert entry.state is F


@pytest.mark.parametrize("state", [P, S, C])
def test_an_unfinished_state_may_be_marked_again_to_add_detail(
    store: StateStore, state: JournalState
) -> None:
    entry = _walk(store, _begin(store), *{P: (), S: (S,), C: (S, C)}[state])
    entry = store.journal_mark(entry.id, state, request_ids=["req_replay"])
    assert entry.state is state
    assert entry.request_ids == ("req_replay",)


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ((), C), ((), W),
        ((S,), P), ((S,), W),
        ((S, C), P), ((S, C), S),
        ((S, C, W), W), ((S, C, W), F), ((S, C, W), P),
        ((F,), P), ((F,), S), ((F,), F),
    ],
)
def test_illegal_transitions_raise_and_change_nothing(
    store: StateStore, path: tuple[JournalState, ...], wanted: JournalState
) -> None:
    before = _walk(store, _begin(store), *path)
    with pytest.raises(IllegalTransition) as caught:
        store.journal_mark(before.id, wanted)
    assert isinstance(caught.value, TerminalError)
    assert store.journal_entry(before.id) == before


def test_marking_an_unknown_entry_is_a_usage_error(store: StateStore) -> None:
    with pytest.raises(StateUsageError, match="no journal entry 42"):
        store.journal_mark(42, S)


def test_request_ids_accumulate_without_duplicates(store: StateStore) -> None:
    entry = _begin(store)
    store.journal_mark(entry.id, S, request_ids=["req_1", "req_1"])
    entry = store.journal_mark(entry.id, S, request_ids=["req_1", "req_2"])
    assert entry.request_ids == ("req_1", "req_2")


def test_a_single_string_as_request_ids_is_refused(store: StateStore) -> None:
    entry = _begin(store)
    with pytest.raises(StateUsageError):
        store.journal_mark(entry.id, S, request_ids="req_1")
    assert store.journal_entry(entry.id).state is P


def test_failure_keeps_the_stripe_id_and_records_the_error(store: StateStore) -> None:
    entry = _walk(store, _begin(store), S)
    entry = store.journal_mark(entry.id, C, stripe_id="sub_sched_1")
    entry = store.journal_mark(entry.id, F, error_code="write_back_failed",
                               error_message="INVALID_FIELD: nope")
    assert (entry.stripe_id, entry.error_code, entry.error_message) == (
        "sub_sched_1", "write_back_failed", "INVALID_FIELD: nope")


# --------------------------------------------------------------------- listing and resuming


def test_unfinished_lists_planned_sent_and_confirmed_oldest_first(store: StateStore) -> None:
    planned = _begin(store, "k1")
    sent = _walk(store, _begin(store, "k2"), S)
    confirmed = _walk(store, _begin(store, "k3"), S, C)
    _walk(store, _begin(store, "k4"), S, C, W)
    _walk(store, _begin(store, "k5"), F)
    assert [e.id for e in store.journal_unfinished()] == [planned.id, sent.id, confirmed.id]


def test_a_sent_entry_survives_a_crash_and_is_resumed_with_its_key(
    store_spec: StoreSpec,
) -> None:
    crashed = store_spec.open()
    entry = _walk(crashed, _begin(crashed, "sfss-create-abc"), S)
    crashed.close()
    with store_spec.open() as reopened:
        [unfinished] = reopened.journal_unfinished()
        assert (unfinished.id, unfinished.state, unfinished.idempotency_key) == (
            entry.id, S, "sfss-create-abc")
        resumed = _begin(reopened, "sfss-create-abc", run_id="run-2")
        assert resumed.id == entry.id
        done = _walk(reopened, resumed, C, W)
        assert done.state is W
        assert reopened.journal_unfinished() == []


def test_journal_for_order_lists_only_that_order(store: StateStore) -> None:
    a1 = _begin(store, "k1")
    _begin(store, "k2", order_id="801B")
    a2 = _begin(store, "k3", operation="replace")
    assert [e.id for e in store.journal_for_order("801A")] == [a1.id, a2.id]
    assert store.journal_for_order("801Z") == []


def test_journal_recent_is_newest_first_and_limited(store: StateStore) -> None:
    ids = [_begin(store, f"k{i}").id for i in range(5)]
    assert [e.id for e in store.journal_recent(3)] == ids[::-1][:3]
    assert len(store.journal_recent()) == 5


# --------------------------------------------------------------------- payloads and secrets


def test_payload_keeps_money_exact_and_dates_in_utc(store: StateStore) -> None:
    entry = _begin(store, payload={
        "amount_off": 550, "percent_off": Decimal("12.5"),
        "start": datetime(2025, 1, 1, tzinfo=UTC), "prices": ("price_A", "price_B"),
    })
    stored = store.journal_entry(entry.id).payload
    assert stored == {"amount_off": 550, "percent_off": "12.5",
                      "start": "2025-01-01T00:00:00.000000+00:00",
                      "prices": ["price_A", "price_B"]}
    assert Decimal(stored["percent_off"]) == Decimal("12.5")


@pytest.mark.parametrize("key", ["api_key", "password", "session_id", "client_secret",
                                 "Authorization"])
def test_a_payload_key_named_like_a_credential_is_refused(store: StateStore, key: str) -> None:
    with pytest.raises(StateUsageError, match="credential"):
        _begin(store, payload={"nested": {key: "x"}})
    assert store.journal_recent() == []


def test_secret_looking_text_is_masked_before_it_is_stored(store: StateStore) -> None:
    key = "sk_test_" + "a1B2c3D4e5F6g7H8"
    session = "00D5g000004ABCD!" + "AQ4AQH1x2y3z4w5v6u7t8s9r0q"
    entry = _begin(store, payload={"note": f"used {key}"})
    entry = store.journal_mark(entry.id, F, error_code="auth",
                               error_message=f"refused {key} and {session}")
    texts = [entry.error_message or "", str(entry.payload),
             *(f.message for f in store.failed_orders())]
    assert all(key not in t and session not in t for t in texts)
    assert "[redacted]" in (entry.error_message or "")


def test_a_payload_value_that_cannot_be_stored_is_refused(store: StateStore) -> None:
    with pytest.raises(StateUsageError, match="cannot be stored"):
        _begin(store, payload={"thing": object()})
