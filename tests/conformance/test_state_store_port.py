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
from sf_stripe_sync.state.errors import IllegalTransition, StateUsageError
from sf_stripe_sync.state.mappings import IdLink
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


def send(store: ports.StateStore, key: str = "key-1", order_id: str = "801A",
         contract_key: str = "800C") -> int:
    return store.journal_send(run_id="run-1", order_id=order_id, contract_key=contract_key,
                              account="default", operation="create", fingerprint="fp-1",
                              idempotency_key=key).id


def test_sending_begins_or_resumes_an_entry_as_sent_in_one_step(store_spec: Any) -> None:
    store: ports.StateStore = store_spec.open()
    fresh = send(store)
    assert store.journal_for_order("801A")[0].state is JournalState.SENT
    assert send(store) == fresh  # resumed, not a second entry
    planned = begin(store, key="key-2")
    assert send(store, key="key-2") == planned
    assert store.journal_for_order("801A")[1].state is JournalState.SENT
    store.journal_mark(planned, JournalState.CONFIRMED, stripe_id="sub_sched_2")
    assert send(store, key="key-2") == planned  # confirmed stays confirmed
    assert store.journal_for_order("801A")[1].state is JournalState.CONFIRMED
    attempts = store.journal_for_order("801A")[0].attempts
    store.journal_mark(fresh, JournalState.FAILED, error_code="card_declined",
                       error_message="no")
    assert [f.order_id for f in store.failed_orders()] == ["801A"]
    revived = store.journal_send(run_id="run-2", order_id="801A", contract_key="800C",
                                 account="default", operation="create",
                                 fingerprint="fp-1", idempotency_key="key-1")
    assert (revived.id, revived.state, revived.attempts) == (fresh, JournalState.SENT,
                                                                attempts + 1)
    with pytest.raises(IdempotencyConflict):
        store.journal_send(run_id="run-1", order_id="801A", contract_key="800C",
                           account="default", operation="amend", fingerprint="fp-1",
                           idempotency_key="key-1")


def test_confirming_saves_the_contract_and_ids_with_the_entry_or_nothing(
        store_spec: Any) -> None:
    store: ports.StateStore = store_spec.open()
    entry = send(store)
    state = ContractState(account="default", contract_key="800C", schedule_id="sub_sched_1",
                          customer_id="cus_1", applied_fingerprint="fp-1",
                          applied_order_ids=frozenset({"801A"}), updated_at=T0)
    with pytest.raises(StateUsageError):
        store.journal_confirm(entry, stripe_id="sub_sched_1", contract=state,
                              ids=[IdLink("default", "customer", "001A", "cus_1"),
                                   IdLink("default", "no-such-kind", "800C", "x")])
    assert store.journal_for_order("801A")[0].state is JournalState.SENT
    assert store.get_contract("default", "800C") is None
    assert store.get_stripe_id("default", "customer", "001A") is None
    done = store.journal_confirm(entry, stripe_id="sub_sched_1", request_ids=["req_1"],
                                 contract=state,
                                 ids=[IdLink("default", "customer", "001A", "cus_1"),
                                      IdLink("default", "schedule", "800C", "sub_sched_1")])
    assert (done.state, done.stripe_id, done.request_ids) == (
        JournalState.CONFIRMED, "sub_sched_1", ("req_1",))
    assert store.journal_for_order("801A") == [done]
    assert store.get_contract("default", "800C") == state
    assert store.get_stripe_id("default", "customer", "001A") == "cus_1"
    assert store.get_stripe_id("default", "schedule", "800C") == "sub_sched_1"


def test_confirming_points_id_rows_at_the_objects_given_last(store_spec: Any) -> None:
    store: ports.StateStore = store_spec.open()
    store.put_id("default", "schedule", "800C", "sub_sched_old")
    entry = send(store)
    store.journal_confirm(entry, stripe_id="sub_sched_2",
                          ids=[IdLink("default", "customer", "001A", "cus_1"),
                               IdLink("default", "schedule", "800C", "sub_sched_1"),
                               IdLink("default", "schedule", "800C", "sub_sched_2")])
    assert store.get_stripe_id("default", "schedule", "800C") == "sub_sched_2"
    assert store.get_stripe_id("default", "customer", "001A") == "cus_1"


def test_many_entries_move_at_once_and_those_that_may_not_stay(store_spec: Any) -> None:
    store: ports.StateStore = store_spec.open()
    confirmed = [send(store, key=f"key-{n}", order_id=f"801{n}") for n in range(3)]
    for entry in confirmed:
        store.journal_confirm(entry, stripe_id=f"sub_sched_{entry}")
    only_sent = send(store, key="key-sent", order_id="801S")
    failed = send(store, key="key-failed", order_id="8010", contract_key="800F")
    store.journal_mark(failed, JournalState.FAILED, error_code="x", error_message="y")
    store.journal_mark(confirmed[2], JournalState.WRITTEN_BACK)
    moved = store.journal_mark_many([*confirmed, only_sent, failed, 99999],
                                    JournalState.WRITTEN_BACK)
    assert moved == confirmed[:2]
    states = {o: store.journal_for_order(o)[0].state for o in ("8010", "8011", "8012", "801S")}
    assert states == {"8010": JournalState.WRITTEN_BACK, "8011": JournalState.WRITTEN_BACK,
                      "8012": JournalState.WRITTEN_BACK, "801S": JournalState.SENT}
    assert store.failed_orders() == []  # 8010 succeeded after its failure
    with pytest.raises(StateUsageError):
        store.journal_mark_many([only_sent], JournalState.FAILED)


def test_many_leases_are_taken_and_given_back_at_once(store_spec: Any) -> None:
    store: ports.StateStore = store_spec.open()
    assert store.acquire_lease("contract:held", "b", 30, T0)
    assert store.acquire_lease("contract:stale", "b", 5, T0)
    assert store.acquire_lease("contract:mine", "a", 5, T0)
    later = T0 + timedelta(seconds=10)
    taken = store.acquire_leases(["contract:new", "contract:held", "contract:stale",
                                  "contract:mine", "contract:new"], "a", 30, later)
    assert taken == ["contract:new", "contract:stale", "contract:mine"]
    assert {k: store.lease_holder(k, later + timedelta(seconds=25)) for k in
            ("contract:new", "contract:held", "contract:stale", "contract:mine")} == {
        "contract:new": "a", "contract:held": None, "contract:stale": "a",
        "contract:mine": "a"}
    assert store.lease_holder("contract:held", later) == "b"
    store.release_leases(["contract:new", "contract:held", "contract:mine"], "a")
    assert store.lease_holder("contract:new", later) is None
    assert store.lease_holder("contract:mine", later) is None
    assert store.lease_holder("contract:held", later) == "b"  # not a's to give back
    assert store.lease_holder("contract:stale", later) == "a"


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
