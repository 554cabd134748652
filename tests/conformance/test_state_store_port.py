"""``ports.StateStore``: what the engine relies on of the store, on SQLite and (when
``SF_STRIPE_SYNC_TEST_PG_URL`` names a server) PostgreSQL; and every port's
implementations offer the port's methods with the port's parameters."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync import ports
from sf_stripe_sync.errors import IdempotencyConflict
from sf_stripe_sync.salesforce.source import SalesforceOrderSource
from sf_stripe_sync.salesforce.writer import SalesforceWriteBack
from sf_stripe_sync.state.errors import IllegalTransition
from sf_stripe_sync.state.records import ContractState, FailedOrder, JournalState
from sf_stripe_sync.state.store import StateStore
from sf_stripe_sync.stripe.gateway import StripeGateway
from sf_stripe_sync.testing import FakeBillingGateway, FakeOrg, MemoryStateStore
from tests.backends import store_spec_for

T0 = datetime(2025, 3, 1, tzinfo=UTC)


class MemorySpec:
    """The in-memory store, opened like the real ones (``StoreSpec``)."""

    backend = "memory"

    def open(self) -> MemoryStateStore:
        return MemoryStateStore()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """Each store: in memory, SQLite, and PostgreSQL (skipped without a server)."""
    if request.param == "memory":
        yield MemorySpec()
        return
    with store_spec_for(str(request.param), tmp_path) as spec:
        yield spec


def begin(store: ports.StateStore, key: str = "key-1", fingerprint: str = "fp-1") -> int:
    return store.journal_begin(run_id="run-1", order_id="801A", contract_key="800C",
                               account="default", operation="create",
                               fingerprint=fingerprint, idempotency_key=key).id


def test_watermarks_ids_and_contract_state_round_trip(store_spec: Any) -> None:
    store: ports.StateStore = store_spec.open()
    assert store.get_watermark("salesforce") is None
    store.set_watermark("salesforce", T0)
    assert store.get_watermark("salesforce") == T0
    store.put_id("default", "customer", "001A", "cus_1")
    assert store.get_stripe_id("default", "customer", "001A") == "cus_1"
    assert store.get_stripe_id("other", "customer", "001A") is None
    state = ContractState(account="default", contract_key="800C", schedule_id="sub_sched_1",
                          applied_fingerprint="fp-1", applied_order_ids=frozenset({"801A"}),
                          updated_at=T0)
    store.put_contract(state)
    assert store.get_contract("default", "800C") == state
    assert store.get_contract("default", "800X") is None


def test_the_journal_resumes_by_key_and_refuses_illegal_moves(store_spec: Any) -> None:
    store: ports.StateStore = store_spec.open()
    entry = begin(store)
    assert begin(store) == entry  # the same key: the unfinished entry, not a new one
    with pytest.raises(IdempotencyConflict):
        begin(store, fingerprint="fp-other")
    store.journal_mark(entry, JournalState.SENT)
    assert [e.id for e in store.journal_unfinished()] == [entry]
    done = store.journal_mark(entry, JournalState.CONFIRMED, stripe_id="sub_sched_1",
                              request_ids=["req_1"])
    assert done.stripe_id == "sub_sched_1"
    store.journal_mark(entry, JournalState.WRITTEN_BACK)
    assert store.journal_unfinished() == []
    assert [e.state for e in store.journal_for_order("801A")] == [JournalState.WRITTEN_BACK]
    with pytest.raises(IllegalTransition):
        store.journal_mark(entry, JournalState.SENT)


def test_leases_are_held_renewed_and_released(store_spec: Any) -> None:
    store: ports.StateStore = store_spec.open()
    assert store.acquire_lease("contract:800C", "a", 30, T0)
    assert not store.acquire_lease("contract:800C", "b", 30, T0 + timedelta(seconds=10))
    assert store.lease_holder("contract:800C", T0) == "a"
    assert store.renew_leases("a", 30, T0 + timedelta(seconds=20)) == 1
    assert not store.acquire_lease("contract:800C", "b", 30, T0 + timedelta(seconds=40))
    assert store.acquire_lease("contract:800C", "b", 30, T0 + timedelta(seconds=51))
    store.release_lease("contract:800C", "b")
    assert store.lease_holder("contract:800C", T0 + timedelta(seconds=52)) is None
    assert store.backend == store_spec.backend


def test_a_finished_run_records_its_failures(store_spec: Any) -> None:
    store = store_spec.open()
    port: ports.StateStore = store
    port.run_start("run-1", mode="sync", started_at=T0)
    port.run_finish("run-1", finished_at=T0 + timedelta(seconds=5), counts={"create": 1},
                    stripe_writes=1, salesforce_calls=2,
                    failed_orders=[FailedOrder(order_id="801B", code="bad", message="no")])
    assert [f.order_id for f in store.failed_orders()] == ["801B"]
    run = store.get_run("run-1")
    assert run is not None and run.stripe_writes == 1


PORTS = [
    (ports.StateStore, StateStore),
    (ports.StateStore, MemoryStateStore),
    (ports.BillingGateway, StripeGateway),
    (ports.BillingGateway, FakeBillingGateway),
    (ports.OrderSource, SalesforceOrderSource),
    (ports.OrderSource, FakeOrg),
    (ports.WriteBack, SalesforceWriteBack),
    (ports.WriteBack, FakeOrg),
    (ports.Upserter, SalesforceWriteBack),
    (ports.Upserter, FakeOrg),
    (ports.BatchWriteBack, FakeOrg),
    (ports.RecordFinder, FakeOrg),
    (ports.ContractPrefetch, FakeOrg),
]


@pytest.mark.parametrize(("port", "impl"), PORTS,
                         ids=[f"{p.__name__}-{i.__name__}" for p, i in PORTS])
def test_every_implementation_takes_the_ports_parameters(port: type, impl: type) -> None:
    for name, member in vars(port).items():
        if name.startswith("_") or not callable(member):
            continue
        assert hasattr(impl, name), f"{impl.__name__} lacks {name}"
        wanted = list(inspect.signature(member).parameters)
        have = list(inspect.signature(getattr(impl, name)).parameters)
        assert have[:len(wanted)] == wanted, f"{impl.__name__}.{name}: {have} != {wanted}"
