"""Every operation the engine knows, as one table keyed by ``OperationKind``.

Theory of operation (h11's state table): what differs from one operation to another is
data, so each operation is one row here instead of string lists spread over the engine,
the report, the write-back and the store:

* ``send``: the executor handler that applies the plan to Stripe (None: nothing is sent,
  ``apply_plan`` refuses such a plan);
* ``outcome``: what the run reports and counts for the order (``RunReport.counts``);
* ``contract_status``: what the state store records for the contract once Stripe holds
  the plan (None: the contract's state is not written). The store keeps any status: no
  CHECK list to extend (schema step 3);
* ``salesforce_status``: the sync status a success writes on the Order (None: none is
  written; a failure writes its own, ``failures``);
* ``succeeded``: the order counts as a success (its recorded failure is cleared).

Adding an operation (say, releasing a schedule) is one ``OperationKind`` value, one row
here, one gateway method and one params builder: a release's row would be
``Operation("release", ending(lambda g, plan, key: g.release_schedule(plan, op_key=key)),
"released", <its Salesforce status>, True)`` (``executor.ending``: the handler of any
operation that ends the schedule with one call). ``tests/unit/test_operations.py`` walks
the table: every kind has a row, every row's handler sends its operation, the store
keeps every contract status and the write-back writes every Salesforce status.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sf_stripe_sync.core.models import OperationKind, OrderPlan
from sf_stripe_sync.errors import TerminalError
from sf_stripe_sync.executor import (
    Applied,
    Handler,
    Known,
    cancel_schedule,
    op_key_for,
    put_schedule,
)
from sf_stripe_sync.ports import BillingGateway, RemoteScheduleLike
from sf_stripe_sync.salesforce.writeback import STATUS_CANCELED, STATUS_SYNCED
from sf_stripe_sync.state.records import CONTRACT_ACTIVE, CONTRACT_CANCELED


@dataclass(frozen=True)
class Operation:
    outcome: str
    send: Handler | None = None
    contract_status: str | None = None
    salesforce_status: str | None = None
    succeeded: bool = False

    def __post_init__(self) -> None:
        if self.send is not None and not (self.contract_status and self.salesforce_status):
            raise ValueError(f"{self.outcome}: an operation that sends says what the "
                             "contract and the Order become")


OPERATIONS: Mapping[OperationKind, Operation] = {
    # kind: Operation(outcome, handler, contract status, Salesforce status, success)
    OperationKind.CREATE: Operation("create", put_schedule, CONTRACT_ACTIVE, STATUS_SYNCED, True),
    OperationKind.AMEND: Operation("amend", put_schedule, CONTRACT_ACTIVE, STATUS_SYNCED, True),
    OperationKind.REPLACE: Operation("replace", put_schedule, CONTRACT_ACTIVE, STATUS_SYNCED,
                                     True),
    OperationKind.CANCEL: Operation("cancel", cancel_schedule, CONTRACT_CANCELED,
                                    STATUS_CANCELED, True),
    OperationKind.NOOP: Operation("noop", None, None, STATUS_SYNCED, True),
    OperationKind.SKIP: Operation("skip", None, None, None, False),
    OperationKind.FAIL: Operation("failed", None, None, None, False),
}

COUNTED: tuple[str, ...] = tuple(op.outcome for op in OPERATIONS.values())
"""Every outcome a run counts, in the table's order."""
SUCCEEDED: frozenset[str] = frozenset(op.outcome for op in OPERATIONS.values() if op.succeeded)
SENDING: frozenset[str] = frozenset(kind.value for kind, op in OPERATIONS.items() if op.send)
"""The operations that send something to Stripe (a plan file lists their requests)."""
PUTTING: frozenset[OperationKind] = frozenset(
    kind for kind, op in OPERATIONS.items() if op.send is put_schedule)
"""The operations that leave the plan's whole schedule in Stripe (a dry run plans the
contract's later orders as if it had)."""


def operation(kind: OperationKind | str) -> Operation:
    return OPERATIONS[OperationKind(kind)]


def contract_status(kind: OperationKind | str) -> str:
    """What the store records for a contract once Stripe holds this operation."""
    status = operation(kind).contract_status
    if status is None:
        raise TerminalError(f"operation {kind} sends nothing: no contract state to record")
    return status


def salesforce_status(kind: OperationKind | str) -> str:
    """The sync status an Order gets when this operation succeeded for it."""
    status = operation(kind).salesforce_status
    if status is None:
        raise TerminalError(f"operation {kind} is not a success to write back")
    return status


def apply_plan(
    gateway: BillingGateway,
    plan: OrderPlan,
    *,
    account_name: str | None = None,
    current: RemoteScheduleLike | None = None,
    known_customer_id: str | None = None,
) -> Applied:
    """Send the plan through its operation's handler; a plan that sends nothing (noop,
    skip, fail) is refused. ``current``: the schedule as the planner just read it."""
    send = OPERATIONS[plan.operation].send
    if send is None:
        raise TerminalError(f"plan for order {plan.order_id} is {plan.operation}: nothing to apply")
    return send(gateway, plan, op_key_for(plan), Known(account_name, current, known_customer_id))
