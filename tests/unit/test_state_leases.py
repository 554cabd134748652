"""State store leases: two owners, expiry takeover, renew, release, threads and processes."""

from __future__ import annotations

import multiprocessing
import threading
from datetime import UTC, datetime, timedelta

import pytest

from sf_stripe_sync.state.errors import StateUsageError
from sf_stripe_sync.state.store import StateStore
from tests.backends import StoreSpec

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TTL = 60.0
KEYS_PER_CONTEST = 40


@pytest.fixture
def store(store_spec: StoreSpec) -> StateStore:
    return store_spec.open()


def test_a_free_lease_is_taken(store: StateStore) -> None:
    assert store.acquire_lease("801A", "run-a", TTL, T0)
    assert store.lease_holder("801A", T0) == "run-a"


def test_a_held_lease_is_refused_to_a_second_owner(store: StateStore) -> None:
    assert store.acquire_lease("801A", "run-a", TTL, T0)
    assert not store.acquire_lease("801A", "run-b", TTL, T0 + timedelta(seconds=59))
    assert store.lease_holder("801A", T0 + timedelta(seconds=59)) == "run-a"


def test_leases_on_different_keys_do_not_interfere(store: StateStore) -> None:
    assert store.acquire_lease("801A", "run-a", TTL, T0)
    assert store.acquire_lease("801B", "run-b", TTL, T0)


def test_the_holder_taking_its_lease_again_extends_it(store: StateStore) -> None:
    assert store.acquire_lease("801A", "run-a", TTL, T0)
    assert store.acquire_lease("801A", "run-a", TTL, T0 + timedelta(seconds=50))
    assert not store.acquire_lease("801A", "run-b", TTL, T0 + timedelta(seconds=100))


def test_a_stale_lease_is_taken_over(store: StateStore) -> None:
    assert store.acquire_lease("801A", "crashed-run", TTL, T0)
    later = T0 + timedelta(seconds=TTL)
    assert store.lease_holder("801A", later) is None
    assert store.acquire_lease("801A", "run-b", TTL, later)
    assert store.lease_holder("801A", later) == "run-b"
    assert not store.renew_lease("801A", "crashed-run", TTL, later)


def test_renew_extends_a_held_lease(store: StateStore) -> None:
    assert store.acquire_lease("801A", "run-a", TTL, T0)
    assert store.renew_lease("801A", "run-a", TTL, T0 + timedelta(seconds=50))
    assert not store.acquire_lease("801A", "run-b", TTL, T0 + timedelta(seconds=100))
    assert store.acquire_lease("801A", "run-b", TTL, T0 + timedelta(seconds=110))


def test_renew_fails_for_a_lease_never_taken_or_held_by_another(store: StateStore) -> None:
    assert not store.renew_lease("801A", "run-a", TTL, T0)
    assert store.acquire_lease("801A", "run-b", TTL, T0)
    assert not store.renew_lease("801A", "run-a", TTL, T0)
    assert store.lease_holder("801A", T0) == "run-b"


def test_release_frees_the_lease_for_others(store: StateStore) -> None:
    assert store.acquire_lease("801A", "run-a", TTL, T0)
    store.release_lease("801A", "run-a")
    assert store.lease_holder("801A", T0) is None
    assert store.acquire_lease("801A", "run-b", TTL, T0)


def test_release_by_a_non_holder_changes_nothing(store: StateStore) -> None:
    assert store.acquire_lease("801A", "run-a", TTL, T0)
    store.release_lease("801A", "run-b")
    assert store.lease_holder("801A", T0) == "run-a"


@pytest.mark.parametrize("ttl", [0.0, -1.0, float("nan"), float("inf")])
def test_a_lease_needs_a_positive_finite_ttl(store: StateStore, ttl: float) -> None:
    with pytest.raises(StateUsageError, match="ttl"):
        store.acquire_lease("801A", "run-a", ttl, T0)
    assert store.lease_holder("801A", T0) is None


def test_a_naive_now_is_refused(store: StateStore) -> None:
    with pytest.raises(StateUsageError, match="timezone-aware"):
        store.acquire_lease("801A", "run-a", TTL, datetime(2025, 3, 1, 12))


def test_threads_contending_for_one_lease_have_one_winner(store: StateStore) -> None:
    winners: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def contend(owner: str) -> None:
        barrier.wait(timeout=10)
        if store.acquire_lease("801A", owner, TTL, T0):
            with lock:
                winners.append(owner)

    threads = [threading.Thread(target=contend, args=(f"run-{n}",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(winners) == 1
    assert store.lease_holder("801A", T0) == winners[0]


def _contend_in_process(spec: StoreSpec, owner: str, barrier: object, results: object) -> None:
    """Child process: try every key once, report the keys won."""
    store = spec.open()
    try:
        barrier.wait(timeout=30)  # type: ignore[attr-defined]
        won = [f"order-{i}" for i in range(KEYS_PER_CONTEST)
               if store.acquire_lease(f"order-{i}", owner, TTL, T0 + timedelta(seconds=TTL))]
        results.put((owner, won))  # type: ignore[attr-defined]
    finally:
        store.close()


def test_processes_contending_for_leases_never_both_win(store_spec: StoreSpec) -> None:
    with store_spec.open() as setup:
        # Half the keys start out held by a run that crashed: stale at contest time.
        for i in range(0, KEYS_PER_CONTEST, 2):
            assert setup.acquire_lease(f"order-{i}", "crashed-run", TTL, T0)
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(3)
    results = context.Queue()
    owners = ("proc-a", "proc-b", "proc-c")
    processes = [context.Process(target=_contend_in_process,
                                 args=(StoreSpec(store_spec.backend, store_spec.target), owner,
                                       barrier, results))
                 for owner in owners]
    for process in processes:
        process.start()
    try:
        won = dict(results.get(timeout=60) for _ in owners)
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():  # pragma: no cover - only when the test is failing
                process.kill()
    assert all(p.exitcode == 0 for p in processes)
    later = T0 + timedelta(seconds=TTL)
    with store_spec.open() as check:
        for i in range(KEYS_PER_CONTEST):
            key = f"order-{i}"
            claimants = [owner for owner in owners if key in won[owner]]
            assert len(claimants) == 1, (key, claimants)
            assert check.lease_holder(key, later) == claimants[0]


def test_renewing_all_of_an_owners_leases_keeps_them_past_their_first_expiry(
    store: StateStore,
) -> None:
    for key in ("contract:a", "contract:b", "run:r"):
        assert store.acquire_lease(key, "run-a", TTL, T0)
    assert store.acquire_lease("contract:c", "run-b", TTL, T0)
    beat = T0 + timedelta(seconds=TTL - 1)
    assert store.renew_leases("run-a", TTL, beat) == 3
    after_first_ttl = T0 + timedelta(seconds=TTL + 1)
    assert store.lease_holder("contract:a", after_first_ttl) == "run-a"
    assert store.lease_holder("contract:c", after_first_ttl) is None
    assert not store.acquire_lease("contract:b", "run-b", TTL, after_first_ttl)
    assert store.renew_leases("run-nobody", TTL, beat) == 0
