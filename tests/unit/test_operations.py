"""The operations table (``operations``) walked row by row: every ``OperationKind`` has a
row, every row's handler sends its operation, and every status a row names is accepted
where it lands (the state store, on every backend, and the Order's write-back)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sf_stripe_sync.core.models import (
    DesiredSchedule,
    OperationKind,
    OrderPlan,
    Phase,
    PhaseItem,
    PhaseProperties,
)
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.errors import TerminalError
from sf_stripe_sync.operations import COUNTED, OPERATIONS, SENDING, SUCCEEDED, apply_plan
from sf_stripe_sync.ports import RecordResult
from sf_stripe_sync.run_report import OrderOutcome, RunReport
from sf_stripe_sync.salesforce.writeback import WriteBackBatch
from sf_stripe_sync.state.store import ContractState
from sf_stripe_sync.testing import FakeBillingGateway, MemoryStateStore
from tests.backends import StoreSpec

NOW = datetime(2024, 12, 1, tzinfo=UTC)
JAN = datetime(2025, 1, 1, tzinfo=UTC)
NEXT_JAN = datetime(2026, 1, 1, tzinfo=UTC)
SEED: dict[str, Any] = {
    "products": [{"id": "prod_widget", "name": "Widget"}],
    "prices": [{"id": "price_A", "product": "prod_widget", "currency": "usd",
                "unit_amount": 1000, "recurring": {"interval": "month"}}],
}
SENDS = [kind for kind, op in OPERATIONS.items() if op.send is not None]


def plan(kind: OperationKind, *, quantity: int = 1, schedule_id: str | None = None
         ) -> OrderPlan:
    phase = Phase(start=JAN, end=NEXT_JAN,
                  items=(PhaseItem(price="price_A", quantity=quantity,
                                   order_item_ids=("802a",)),),
                  properties=PhaseProperties(currency="usd"))
    return OrderPlan(order_id="801O1", contract_key="800C1", operation=kind,
                     stripe_account="default", account_id="001A", schedule_id=schedule_id,
                     schedule=DesiredSchedule(phases=(phase,), end_behavior="cancel"),
                     fingerprint=f"fp-{kind.value}-{quantity}")


def test_every_operation_kind_has_exactly_one_row() -> None:
    assert set(OPERATIONS) == set(OperationKind)
    assert len({op.outcome for op in OPERATIONS.values()}) == len(OPERATIONS)


def test_the_report_counts_every_outcome_of_the_table_and_no_other() -> None:
    assert tuple(op.outcome for op in OPERATIONS.values()) == COUNTED
    assert list(RunReport(run_id="r", dry_run=False).counts) == list(COUNTED)
    assert {k.value for k in SENDS} == SENDING
    report = RunReport(run_id="r", dry_run=False)
    report.add([OrderOutcome(f"801{n}", op.outcome) for n, op in enumerate(OPERATIONS.values())],
               keep_plans=False)
    assert set(report.succeeded_ids) == {
        f"801{n}" for n, op in enumerate(OPERATIONS.values()) if op.outcome in SUCCEEDED}
    assert {"create", "amend", "replace", "cancel", "noop"} <= SUCCEEDED
    assert not {"skip", "failed"} & SUCCEEDED


def test_today_the_table_sends_create_amend_replace_and_cancel() -> None:
    assert {OperationKind.CREATE, OperationKind.AMEND, OperationKind.REPLACE,
            OperationKind.CANCEL} <= set(SENDS)


@pytest.mark.parametrize("kind", SENDS)
def test_every_sending_row_has_a_handler_that_sends_its_operation(kind: OperationKind) -> None:
    """Each on a schedule of its own: made by a create first, unless it is the create."""
    stripe = FakeBillingGateway(seed=SEED, clock=lambda: NOW)
    handler = OPERATIONS[kind].send
    assert handler is not None and handler.__module__ == "sf_stripe_sync.executor"
    made = None
    if kind is not OperationKind.CREATE:
        made = apply_plan(stripe, plan(OperationKind.CREATE), account_name="Acme")
    before = stripe.writes()
    applied = apply_plan(stripe, plan(kind, quantity=2,
                                      schedule_id=made.schedule_id if made else None),
                         account_name="Acme")
    assert applied.operation is kind and not applied.already_applied
    assert stripe.writes() > before and applied.writes >= 1
    if made is not None:
        assert applied.schedule_id == made.schedule_id
    # An operation that changes what the contract is (a cancel) leaves Stripe's schedule
    # finished; one that keeps it active leaves it live.
    ended = OPERATIONS[kind].contract_status != OPERATIONS[OperationKind.CREATE].contract_status
    assert stripe.retrieve_schedule(applied.schedule_id).is_finished is ended


@pytest.mark.parametrize("kind", [k for k, op in OPERATIONS.items() if op.send is None])
def test_a_row_without_a_handler_is_refused_without_a_request(kind: OperationKind) -> None:
    stripe = FakeBillingGateway(seed=SEED, clock=lambda: NOW)
    with pytest.raises(TerminalError, match="nothing to apply"):
        apply_plan(stripe, plan(kind))
    assert stripe.writes() == 0


def _statuses() -> list[str]:
    named = {op.contract_status for op in OPERATIONS.values() if op.contract_status}
    # One the table does not name yet (a release would): the store keeps it as well.
    return [*sorted(named), "released"]


def test_the_store_keeps_every_contract_status_the_table_names(store_spec: StoreSpec) -> None:
    with store_spec.open(clock=lambda: NOW) as store:
        for n, status in enumerate(_statuses()):
            store.put_contract(ContractState(account="default", contract_key=f"800C{n}",
                                             status=status, updated_at=NOW))
        for n, status in enumerate(_statuses()):
            kept = store.get_contract("default", f"800C{n}")
            assert kept is not None and kept.status == status


def test_the_memory_store_keeps_every_contract_status_the_table_names() -> None:
    store = MemoryStateStore(clock=lambda: NOW)
    for n, status in enumerate(_statuses()):
        store.put_contract(ContractState(account="default", contract_key=f"800C{n}",
                                         status=status, updated_at=NOW))
        kept = store.get_contract("default", f"800C{n}")
        assert kept is not None and kept.status == status


class _Recorder:
    def __init__(self) -> None:
        self.updates: list[tuple[str, list[dict[str, Any]]]] = []

    def update(self, sobject: str, records: list[dict[str, Any]]) -> list[RecordResult]:
        self.updates.append((sobject, records))
        return [RecordResult(id=r["Id"], success=True) for r in records]

    def insert(self, sobject: str, records: list[dict[str, Any]]) -> list[RecordResult]:
        return [RecordResult(id=f"a0{n}", success=True) for n, _ in enumerate(records)]


@pytest.mark.parametrize("kind", [k for k, op in OPERATIONS.items() if op.salesforce_status])
def test_a_success_writes_the_salesforce_status_of_its_row(kind: OperationKind) -> None:
    from sf_stripe_sync.operations import salesforce_status

    fields = FieldMap()
    batch = WriteBackBatch(fields, NOW)
    batch.add_success(order={"Id": "801O1"}, operation=kind.value,
                      status=salesforce_status(kind), schedule_id="sub_sched_1",
                      contract_id=None, contract_schedule_id=None, account_id=None,
                      customer_id=None, known_customer_id=None, idempotency_key="k",
                      request_ids=(), message="done")
    writer = _Recorder()
    assert batch.flush(writer) == {}
    (order,) = next(records for sobject, records in writer.updates if sobject == "Order")
    assert order[fields.sync_status] == OPERATIONS[kind].salesforce_status
