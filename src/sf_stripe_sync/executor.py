"""Apply one ``OrderPlan`` to Stripe, guarded so nothing is ever made twice.

Theory of operation: the plan says *what* (create / amend / replace / cancel); this
module's handlers do it through a ``BillingGateway`` and return an ``Applied`` record of
what Stripe now holds (``put_schedule`` for create / amend / replace, ``cancel_schedule``;
``operations`` says which handler an operation has and calls it). Stripe's idempotency
keys protect a retry within ~24 h; beyond that window the guards here take over (DESIGN
2, Idempotency):

* before a **create**, always, look for a schedule of the customer carrying our
  metadata (``salesforce_contract_key``): the local store cannot vouch for what another
  host, or a store that was lost, made. If one exists the create becomes an update of it
  (or nothing, when it already carries this plan's fingerprint). The gateway lists a
  customer's schedules once per run (none for a customer it just created), so this
  costs at most one read per customer. A create Stripe refuses because another host used
  its key first (same contract and fingerprint, another order's metadata) is looked up
  again and adopted the same way.
* before an **update**, the schedule is retrieved (the current phase's start must be
  kept anyway; the planner's own read is reused when passed as ``current``); when its
  ``sf_sync_fingerprint`` metadata equals the plan's, the update already landed and
  nothing is sent (unless the plan restores a schedule whose phases drifted in Stripe
  since, as the planner saw on this very read).
* a **cancel** of a schedule already canceled (or released / completed) sends nothing.

The gateway raises only project errors; this module lets them through to the engine,
which journals them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sf_stripe_sync.core.fingerprint import fingerprint
from sf_stripe_sync.core.keys import operation_key
from sf_stripe_sync.core.models import OperationKind, OrderPlan
from sf_stripe_sync.errors import IdempotencyConflict, TerminalError
from sf_stripe_sync.ports import BillingGateway, RemoteScheduleLike, ScheduleResultLike


@dataclass(frozen=True)
class Applied:
    """What one executed plan left in Stripe."""

    operation: OperationKind
    schedule_id: str
    customer_id: str
    op_key: str
    request_ids: tuple[str, ...] = ()
    writes: int = 0
    customer_created: bool = False
    already_applied: bool = False
    """True when a guard found the work done before (nothing was sent)."""


def op_key_for(plan: OrderPlan) -> str:
    """The plan's idempotency key: account, operation, contract and fingerprint.

    The fingerprint ignores the clipping of past phases (so a re-read order stays a
    noop), but the payload sent does not: the first phase actually sent is part of the
    key, so a retry after a phase boundary passed is a new request, not a conflict.
    """
    sent_from = ""
    if plan.schedule is not None and plan.schedule.phases:
        sent_from = str(int(plan.schedule.phases[0].start.timestamp()))
    if plan.start_now:
        sent_from = "now"
    restoring = ""
    if plan.drift:
        # Restoring a drifted schedule to a state applied before: not a replay of that
        # earlier request (Stripe would answer it from its idempotency cache).
        restoring = ":" + fingerprint([c.as_json() for c in plan.drift])[:16]
    # The contract, not the order: two hosts planning the same contract from different
    # orders send the same key, so Stripe itself lets only one of them act.
    return operation_key(plan.stripe_account, plan.operation.value, plan.contract_key,
                         f"{plan.fingerprint}:{sent_from}{restoring}")


def ensure_customer(
    gateway: BillingGateway, plan: OrderPlan, account_name: str | None,
    known_customer_id: str | None = None,
) -> tuple[str, bool]:
    """``known_customer_id``: what the state store holds for the Account, used when
    Salesforce's field is empty (e.g. the write-back of a customer made earlier failed)."""
    if not plan.account_id:
        raise TerminalError(f"order {plan.order_id} has no Account", code="missing_customer")
    return gateway.ensure_customer(
        account_id=plan.account_id,
        name=account_name,
        known_customer_id=plan.customer_id or known_customer_id,
        metadata={},  # the gateway tags the customer with the Account id itself
    )


@dataclass(frozen=True)
class Known:
    """What the engine knows beside the plan when it sends it."""

    account_name: str | None = None
    """The Salesforce Account's name, for a customer made on the way."""
    current: RemoteScheduleLike | None = None
    """The schedule as the planner just read it (amend / replace): when it is the one
    being updated it serves as the guard's read, so an update costs one read and one
    write instead of two reads."""
    known_customer_id: str | None = None


Handler = Callable[[BillingGateway, OrderPlan, str, Known], Applied]
"""An operation's handler: ``(gateway, plan, idempotency key, what is known) -> Applied``."""


def put_schedule(gateway: BillingGateway, plan: OrderPlan, op_key: str, known: Known) -> Applied:
    """Create, amend or replace: make the plan's schedule, or update the one Stripe has."""
    customer_id, created = ensure_customer(gateway, plan, known.account_name,
                                           known.known_customer_id)
    customer_writes = 1 if created else 0
    planned = current = known.current
    target = plan.schedule_id
    if target is None:
        current = _live_schedule(gateway, customer_id, plan)
        target = current.id if current is not None else None
        if current is not None and current.fingerprint != plan.fingerprint:
            current = None  # to be changed: read it afresh, not from the run's list
    if target is None:
        try:
            result = gateway.create_schedule(plan, customer_id=customer_id, op_key=op_key)
        except IdempotencyConflict:
            # Another host sent this very create first (same contract and fingerprint).
            current = _live_schedule(gateway, customer_id, plan, fresh=True)
            if current is None:
                raise
            target = current.id
        else:
            return Applied(plan.operation, result.schedule.id, customer_id, op_key,
                           result.request_ids, result.writes + customer_writes, created)
    if current is None or current.id != target:
        current = gateway.retrieve_schedule(target)
    if current.is_finished:
        raise TerminalError(
            f"Stripe schedule {target} of order {plan.order_id} is {current.status} and "
            "cannot be changed; clear the schedule id on the Order and Contract to start anew",
            code="invalid_record",
        )
    if current.fingerprint == plan.fingerprint and not (plan.drift and current is planned):
        return Applied(plan.operation, current.id, customer_id, op_key,
                       writes=customer_writes, customer_created=created, already_applied=True)
    result = gateway.update_schedule(plan, schedule_id=target, op_key=op_key, current=current)
    return Applied(plan.operation, result.schedule.id, customer_id, op_key,
                   result.request_ids, result.writes + customer_writes, created)


def _live_schedule(gateway: BillingGateway, customer_id: str, plan: OrderPlan, *,
                   fresh: bool = False) -> RemoteScheduleLike | None:
    """The customer's live schedule for the plan's contract, as Stripe lists it."""
    found = gateway.find_schedule(customer_id=customer_id, contract_key=plan.contract_key,
                                  fresh=fresh)
    if found is None or found.is_finished:
        return None
    return found


def ending(send: Callable[[BillingGateway, OrderPlan, str], ScheduleResultLike]
           ) -> Handler:
    """The handler of an operation that ends the plan's schedule with one gateway call,
    ``send(gateway, plan, op_key)``: the cancel (a release would be one more).

    One request when the schedule is known: the call itself, no read before it. A
    schedule Stripe already finished is found from Stripe's refusal instead: the gateway
    reads it when Stripe refuses (already canceled: done, nothing sent), and a refusal
    of a schedule finished another way is confirmed here by one read."""

    def end_schedule(gateway: BillingGateway, plan: OrderPlan, op_key: str,
                     known: Known) -> Applied:
        return _end(gateway, plan, op_key, send)

    return end_schedule


def _end(gateway: BillingGateway, plan: OrderPlan, op_key: str,
         send: Callable[[BillingGateway, OrderPlan, str], ScheduleResultLike]) -> Applied:
    if not plan.schedule_id:
        raise TerminalError(f"order {plan.order_id} has no Stripe schedule to "
                            f"{plan.operation.value}", code="invalid_record")
    try:
        result = send(gateway, plan, op_key)
    except TerminalError:
        current = gateway.retrieve_schedule(plan.schedule_id)
        if current.is_finished:
            return Applied(plan.operation, current.id, current.customer, op_key,
                           already_applied=True)
        raise
    # The gateway answers a refused cancel of an already canceled schedule with the
    # schedule as read, and no request id of a write that took effect.
    refused = not result.request_ids
    return Applied(plan.operation, result.schedule.id, result.schedule.customer, op_key,
                   result.request_ids, 0 if refused else result.writes,
                   already_applied=refused)


cancel_schedule = ending(lambda gateway, plan, key: gateway.cancel_schedule(plan, op_key=key))
