"""State store: opening, migrations, WAL, watermarks, id map, contract state, errors."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from sf_stripe_sync.errors import ConfigError, TransientError
from sf_stripe_sync.state.errors import StateStoreBusy, StateStoreError, StateUsageError
from sf_stripe_sync.state.migrations import MIGRATIONS, SCHEMA_VERSION, migrate
from sf_stripe_sync.state.store import STATE_FILE_NAME, ContractState, StateStore
from tests.backends import StoreSpec

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(store_spec: StoreSpec) -> StateStore:
    """Conformance: every test taking ``store`` runs on SQLite and on PostgreSQL."""
    return store_spec.open(clock=lambda: T0)


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[StateStore]:
    opened = StateStore.open(tmp_path / "state" / "store.db", clock=lambda: T0)
    yield opened
    opened.close()


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# --------------------------------------------------------------------- opening


def test_open_creates_missing_directories_and_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "store.db"
    with StateStore.open(path) as store:
        assert store.path == path
    assert path.is_file()


def test_open_on_a_directory_uses_the_state_file_inside_it(tmp_path: Path) -> None:
    with StateStore.open(str(tmp_path)) as store:
        store.set_watermark("orders", T0)
    assert (tmp_path / STATE_FILE_NAME).is_file()


def test_store_uses_wal_journal_mode(sqlite_store: StateStore) -> None:
    with _raw(sqlite_store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_new_store_is_at_the_latest_schema_version(store: StateStore) -> None:
    assert store.schema_version() == SCHEMA_VERSION == len(MIGRATIONS)


def test_reopening_keeps_data_and_does_not_migrate_again(store_spec: StoreSpec) -> None:
    with store_spec.open() as store:
        store.put_id("default", "customer", "001A", "cus_1")
    for _ in range(2):
        with store_spec.open() as store:
            assert store.schema_version() == SCHEMA_VERSION
            assert store.get_stripe_id("default", "customer", "001A") == "cus_1"


def test_newer_schema_than_the_code_knows_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    StateStore.open(path).close()
    with _raw(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    with pytest.raises(ConfigError, match="newer than this release"):
        StateStore.open(path)


def test_migrate_applies_only_the_missing_steps(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    step_one = ("CREATE TABLE first (a TEXT)",)
    step_two = ("CREATE TABLE second (b TEXT)", "INSERT INTO second VALUES ('once')")
    conn = _raw(path)
    assert migrate(conn, path, (step_one,)) == 0
    assert migrate(conn, path, (step_one, step_two)) == 1
    assert migrate(conn, path, (step_one, step_two)) == 2
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    assert conn.execute("SELECT COUNT(*) FROM second").fetchone()[0] == 1
    conn.close()


def test_a_failing_migration_step_leaves_the_previous_schema(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    good = ("CREATE TABLE first (a TEXT)",)
    broken = ("CREATE TABLE half_done (b TEXT)", "THIS IS NOT SQL")
    conn = _raw(path)
    migrate(conn, path, (good,))
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, path, (good, broken))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "half_done" not in tables
    conn.close()


def _open_and_write(path: str, name: str, barrier: object) -> None:
    """Child process: open a store that may not exist yet, then write to it."""
    barrier.wait(timeout=30)  # type: ignore[attr-defined]
    with StateStore.open(Path(path)) as store:
        store.put_id("default", "customer", name, f"cus_{name}")


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "store.db"
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    names = ("a", "b", "c")
    processes = [context.Process(target=_open_and_write, args=(str(path), n, barrier))
                 for n in names]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=60)
        if process.is_alive():  # pragma: no cover - only when the test is failing
            process.kill()
    assert [p.exitcode for p in processes] == [0, 0, 0]
    with StateStore.open(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert [store.get_stripe_id("default", "customer", n) for n in names] == [
            "cus_a", "cus_b", "cus_c"]


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    path.write_bytes(b"this is not sqlite at all, just some text" * 100)
    with pytest.raises(StateStoreError):
        StateStore.open(path)


def test_using_a_closed_store_is_a_usage_error(store_spec: StoreSpec) -> None:
    store = store_spec.open()
    store.close()
    with pytest.raises(StateUsageError, match="closed"):
        store.get_watermark("orders")


def test_a_write_lock_held_past_the_busy_timeout_is_transient(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    store = StateStore.open(path, busy_timeout=0.05)
    blocker = _raw(path)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StateStoreBusy) as caught:
            store.set_watermark("orders", T0)
        assert isinstance(caught.value, TransientError)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    store.set_watermark("orders", T0)
    assert store.get_watermark("orders") == T0
    store.close()


def test_each_thread_gets_a_working_connection(store: StateStore) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                store.put_id("default", "price", f"01u{n}-{i}", f"price_{n}_{i}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert all(store.get_stripe_id("default", "price", f"01u{n}-19") == f"price_{n}_19"
               for n in range(4))


# --------------------------------------------------------------------- watermarks


def test_watermark_round_trip_keeps_the_instant_and_returns_aware_utc(
    store: StateStore,
) -> None:
    paris = timezone(timedelta(hours=1))
    stored = datetime(2025, 1, 1, 10, 30, 15, 123456, tzinfo=paris)
    store.set_watermark("orders", stored)
    got = store.get_watermark("orders")
    assert got == stored
    assert got is not None and got.utcoffset() == timedelta(0)
    assert got.hour == 9


def test_watermark_of_an_unknown_source_is_none(store: StateStore) -> None:
    assert store.get_watermark("orders") is None


def test_watermarks_are_kept_per_source_and_overwritten(store: StateStore) -> None:
    store.set_watermark("orders", T0)
    store.set_watermark("order_items", T0 + timedelta(hours=1))
    store.set_watermark("orders", T0 + timedelta(days=1))
    assert store.get_watermark("orders") == T0 + timedelta(days=1)
    assert store.watermarks() == {"order_items": T0 + timedelta(hours=1),
                                  "orders": T0 + timedelta(days=1)}


def test_a_naive_watermark_is_refused(store: StateStore) -> None:
    with pytest.raises(StateUsageError, match="timezone-aware"):
        store.set_watermark("orders", datetime(2025, 1, 1))
    assert store.get_watermark("orders") is None


# --------------------------------------------------------------------- id map


def test_id_map_answers_both_directions(store: StateStore) -> None:
    store.put_id("default", "customer", "001A", "cus_1")
    assert store.get_stripe_id("default", "customer", "001A") == "cus_1"
    assert store.get_salesforce_id("default", "customer", "cus_1") == "001A"


def test_id_map_is_separate_per_stripe_account_and_kind(store: StateStore) -> None:
    store.put_id("default", "customer", "001A", "cus_1")
    store.put_id("europe", "customer", "001A", "cus_9")
    assert store.get_stripe_id("europe", "customer", "001A") == "cus_9"
    assert store.get_stripe_id("default", "schedule", "001A") is None
    assert store.get_salesforce_id("europe", "customer", "cus_1") is None


def test_putting_an_id_again_replaces_the_mapping(store: StateStore) -> None:
    store.put_id("default", "schedule", "800C", "sub_sched_1")
    store.put_id("default", "schedule", "800C", "sub_sched_2")
    assert store.get_stripe_id("default", "schedule", "800C") == "sub_sched_2"
    assert store.get_salesforce_id("default", "schedule", "sub_sched_1") is None


def test_reverse_lookup_of_a_shared_stripe_id_returns_the_latest_mapping(
    tmp_path: Path,
) -> None:
    now = [T0]
    with StateStore.open(tmp_path / "s.db", clock=lambda: now[0]) as store:
        store.put_id("default", "price", "01uOLD", "price_shared")
        now[0] = T0 + timedelta(minutes=1)
        store.put_id("default", "price", "01uNEW", "price_shared")
        assert store.get_salesforce_id("default", "price", "price_shared") == "01uNEW"


@pytest.mark.parametrize("kind", ["subscription", "Customer", ""])
def test_an_unknown_id_kind_is_refused(store: StateStore, kind: str) -> None:
    with pytest.raises(StateUsageError, match="unknown id kind"):
        store.put_id("default", kind, "001A", "cus_1")


def test_an_empty_stripe_id_is_refused(store: StateStore) -> None:
    with pytest.raises(StateUsageError):
        store.put_id("default", "customer", "001A", "")
    assert store.get_stripe_id("default", "customer", "001A") is None


# --------------------------------------------------------------------- contracts


def _contract(**changes: object) -> ContractState:
    values: dict[str, object] = {
        "account": "default", "contract_key": "800C", "schedule_id": "sub_sched_1",
        "customer_id": "cus_1", "applied_fingerprint": "fp1",
        "applied_order_ids": frozenset({"801A", "801B"}), "status": "active",
        "updated_at": T0,
    }
    values.update(changes)
    return ContractState.model_validate(values)


def test_contract_state_round_trips(store: StateStore) -> None:
    state = _contract()
    store.put_contract(state)
    assert store.get_contract("default", "800C") == state


def test_contract_state_is_replaced_on_put(store: StateStore) -> None:
    store.put_contract(_contract())
    later = _contract(status="canceled", applied_fingerprint="fp2",
                      applied_order_ids=frozenset({"801A"}), updated_at=T0 + timedelta(days=1))
    store.put_contract(later)
    got = store.get_contract("default", "800C")
    assert got == later
    assert got is not None and got.status == "canceled"


def test_unknown_contract_is_none_and_accounts_do_not_mix(store: StateStore) -> None:
    store.put_contract(_contract())
    assert store.get_contract("europe", "800C") is None
    assert store.get_contract("default", "800OTHER") is None


def test_contract_state_with_a_naive_timestamp_is_refused(store: StateStore) -> None:
    with pytest.raises(ValueError):  # pydantic refuses it before the store sees it
        _contract(updated_at=datetime(2025, 1, 1))


# --------------------------------------------------------------------- rate slots


def test_rate_slots_space_requests_one_interval_apart_from_any_thread(
    store: StateStore,
) -> None:
    interval = 100.0  # a slow rate: the seconds the calls themselves take do not matter
    waits: list[float] = []
    lock = threading.Lock()

    def take() -> None:
        wait = store.reserve_rate_slot("acct-a", 1 / interval)
        with lock:
            waits.append(wait)

    threads = [threading.Thread(target=take) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    ordered = sorted(waits)
    assert ordered[0] == 0.0
    for k, wait in enumerate(ordered):
        assert k * interval - 10 <= wait <= k * interval, ordered
    # another account has its own slots
    assert store.reserve_rate_slot("acct-b", 1 / interval) == 0.0


def test_a_burst_lets_that_many_requests_go_at_once(store: StateStore) -> None:
    waits = [store.reserve_rate_slot("acct-a", 0.01, burst=3) for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert 90 <= waits[3] <= 100
