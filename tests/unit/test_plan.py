"""The planner's operation rules (DESIGN 2, Operations), on hand-built orders."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.models import (
    Discount,
    OperationKind,
    Order,
    OrderLine,
    OrderPlan,
    PhaseProperties,
)
from sf_stripe_sync.core.plan import KnownState, known_state_from_orders, plan_order
from sf_stripe_sync.core.rules import SyncRules

USD = PhaseProperties(currency="usd")
RULES = SyncRules()
EARLY = datetime(2026, 11, 20, tzinfo=UTC)


def d(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def line(
    item_id: str,
    price: str,
    start: str,
    end: str | None,
    *,
    quantity: int = 1,
    order_id: str = "801A",
    original: str | None = None,
    properties: PhaseProperties = USD,
) -> OrderLine:
    return OrderLine(
        id=item_id, order_id=order_id, price_id=price, quantity=quantity, start=d(start),
        end=d(end) if end else None, properties=properties, original_item_id=original,
    )


def order(
    *lines: OrderLine,
    order_id: str = "801A",
    contract_id: str | None = None,
    status: str = "Activated",
    schedule_id: str | None = None,
    metadata: dict[str, str] | None = None,
) -> Order:
    return Order(
        id=order_id, status=status, currency="usd", account_id="001A",
        contract_id=contract_id, schedule_id=schedule_id, lines=tuple(lines),
        metadata=metadata or {},
    )


def plan(
    subject: Order,
    *,
    siblings: tuple[Order, ...] = (),
    known: KnownState | None = None,
    rules: SyncRules = RULES,
    as_of: datetime = EARLY,
    cancel: bool = False,
    issues: tuple[OrderIssue, ...] = (),
) -> OrderPlan:
    return plan_order(
        subject, contract_orders=siblings, known=known or KnownState(), rules=rules,
        as_of=as_of, stripe_account="default", cancel_requested=cancel, issues=issues,
    )


def phase_view(result: OrderPlan) -> list[tuple[str, str | None, list[tuple[str, int]]]]:
    assert result.schedule is not None
    return [
        (
            p.start.date().isoformat(),
            p.end.date().isoformat() if p.end else None,
            sorted((i.price, i.quantity) for i in p.items),
        )
        for p in result.schedule.phases
    ]


OVERLAP = order(
    line("802A", "price_A", "2027-01-01", "2028-01-01"),
    line("802B", "price_B", "2027-06-01", "2028-01-01"),
)

# A contract: original order (10 seats) and a change order (+2 seats from July).
ORIGINAL = order(
    line("802S", "price_seat", "2027-01-01", "2028-01-01", quantity=10, order_id="801O"),
    order_id="801O", contract_id="800C",
)
CHANGE = order(
    line("802P", "price_seat", "2027-07-01", "2028-01-01", quantity=2, order_id="801N",
         original="802S"),
    order_id="801N", contract_id="800C",
)
CONTRACT_PHASES = [
    ("2027-01-01", "2027-07-01", [("price_seat", 10)]),
    ("2027-07-01", "2028-01-01", [("price_seat", 12)]),
]


def test_order_without_known_schedule_is_created_as_linear_phases() -> None:
    result = plan(OVERLAP)
    assert result.operation is OperationKind.CREATE
    assert phase_view(result) == [
        ("2027-01-01", "2027-06-01", [("price_A", 1)]),
        ("2027-06-01", "2028-01-01", [("price_A", 1), ("price_B", 1)]),
    ]
    assert result.schedule is not None and result.schedule.end_behavior == "cancel"
    assert result.fingerprint and not result.issues


def test_create_consolidates_every_unsynced_order_on_the_contract() -> None:
    result = plan(CHANGE, siblings=(ORIGINAL,))
    assert result.operation is OperationKind.CREATE
    assert result.contract_key == "800C"
    assert phase_view(result) == CONTRACT_PHASES


def test_new_order_on_known_schedule_amends_over_stripes_phases() -> None:
    created = plan(ORIGINAL)
    assert created.schedule is not None
    known = KnownState(schedule_id="sub_sched_1", applied_order_ids=frozenset({"801O"}),
                       remote_phases=created.schedule.phases)
    result = plan(CHANGE, siblings=(ORIGINAL,), known=known)
    assert result.operation is OperationKind.AMEND
    assert result.schedule_id == "sub_sched_1"
    assert phase_view(result) == CONTRACT_PHASES


def test_amend_keeps_an_item_added_in_stripe() -> None:
    created = plan(ORIGINAL)
    assert created.schedule is not None
    edited = created.schedule.phases[0].model_copy(update={
        "items": (*created.schedule.phases[0].items,
                  created.schedule.phases[0].items[0].model_copy(
                      update={"price": "price_extra", "quantity": 1, "order_item_ids": ()}))})
    known = KnownState(schedule_id="sub_sched_1", applied_order_ids=frozenset({"801O"}),
                       remote_phases=(edited,))
    result = plan(CHANGE, siblings=(ORIGINAL,), known=known)
    assert result.operation is OperationKind.AMEND
    assert all(("price_extra", 1) in items for _, _, items in phase_view(result))


def test_amend_without_stripes_phases_consolidates_the_whole_contract() -> None:
    known = KnownState(schedule_id="sub_sched_1", applied_order_ids=frozenset({"801O"}))
    result = plan(CHANGE, siblings=(ORIGINAL,), known=known)
    assert result.operation is OperationKind.AMEND
    assert phase_view(result) == CONTRACT_PHASES


def test_already_applied_order_is_replaced_from_every_contract_order() -> None:
    known = KnownState(schedule_id="sub_sched_1", applied_order_ids=frozenset({"801O", "801N"}))
    result = plan(ORIGINAL, siblings=(CHANGE,), known=known)
    assert result.operation is OperationKind.REPLACE
    assert phase_view(result) == CONTRACT_PHASES


def test_rereading_an_applied_state_is_a_noop_whatever_operation_applied_it() -> None:
    created = plan(OVERLAP)
    known = KnownState(schedule_id="sub_sched_1", applied_fingerprint=created.fingerprint,
                       applied_order_ids=frozenset({"801A"}))
    again = plan(OVERLAP, known=known)
    assert again.operation is OperationKind.NOOP
    assert again.fingerprint == created.fingerprint


def test_rereading_after_phases_have_passed_is_still_a_noop() -> None:
    created = plan(OVERLAP)
    known = KnownState(schedule_id="sub_sched_1", applied_fingerprint=created.fingerprint,
                       applied_order_ids=frozenset({"801A"}), current_phase_start=d("2027-06-01"))
    later = plan(OVERLAP, known=known, as_of=d("2027-07-15"))
    assert later.operation is OperationKind.NOOP
    assert len(phase_view(later)) == 1


def test_rereading_a_schedule_that_started_now_is_a_noop() -> None:
    rules = SyncRules(backdate=False)
    created = plan(OVERLAP, as_of=d("2027-07-15"), rules=rules)
    assert created.start_now
    known = KnownState(schedule_id="sub_sched_1", applied_fingerprint=created.fingerprint,
                       applied_order_ids=frozenset({"801A"}), current_phase_start=d("2027-07-15"))
    assert plan(OVERLAP, known=known, as_of=d("2027-07-20"), rules=rules).operation is (
        OperationKind.NOOP)


def test_changed_quantity_is_not_a_noop() -> None:
    created = plan(OVERLAP)
    changed = order(
        line("802A", "price_A", "2027-01-01", "2028-01-01", quantity=3),
        line("802B", "price_B", "2027-06-01", "2028-01-01"),
    )
    known = KnownState(schedule_id="sub_sched_1", applied_fingerprint=created.fingerprint,
                       applied_order_ids=frozenset({"801A"}))
    result = plan(changed, known=known)
    assert result.operation is OperationKind.REPLACE
    assert result.fingerprint != created.fingerprint


def test_cancel_status_cancels_the_known_schedule() -> None:
    cancelled = OVERLAP.model_copy(update={"status": RULES.cancel_status})
    result = plan(cancelled, known=KnownState(schedule_id="sub_sched_1"))
    assert result.operation is OperationKind.CANCEL
    assert result.schedule_id == "sub_sched_1"
    assert result.fingerprint


def test_cancel_fingerprint_covers_invoice_now_and_prorate() -> None:
    known = KnownState(schedule_id="sub_sched_1")
    plain = plan(OVERLAP, known=known, cancel=True)
    invoicing = plan(OVERLAP, known=known, cancel=True,
                     rules=SyncRules(invoice_now=True, prorate=True))
    assert plain.operation is invoicing.operation is OperationKind.CANCEL
    assert plain.fingerprint != invoicing.fingerprint
    # What the fingerprint covers travels in the plan: the executor sends exactly that.
    assert (plain.invoice_now, plain.prorate) == (False, False)
    assert (invoicing.invoice_now, invoicing.prorate) == (True, True)


def test_cancel_without_a_schedule_fails_with_invalid_record() -> None:
    result = plan(OVERLAP, cancel=True)
    assert result.operation is OperationKind.FAIL
    assert [e.code for e in result.errors] == [IssueCode.INVALID_RECORD]
    assert "no schedule to cancel" in result.errors[0].message


def test_cancel_of_a_schedule_stripe_already_cancelled_is_a_noop() -> None:
    known = KnownState(schedule_id="sub_sched_1", remote_finished=True)
    assert plan(OVERLAP, known=known, cancel=True).operation is OperationKind.NOOP


def test_errors_found_before_planning_fail_the_plan_and_are_kept() -> None:
    problem = OrderIssue(code=IssueCode.MISSING_PRICE, message="no price",
                         order_item_ids=("802A",))
    result = plan(OVERLAP, issues=(problem,))
    assert result.operation is OperationKind.FAIL
    assert result.errors == (problem,)
    assert result.schedule is None


def test_gap_between_items_fails_naming_both_items() -> None:
    gapped = order(
        line("802A", "price_A", "2027-01-01", "2027-03-01"),
        line("802B", "price_B", "2027-05-01", "2027-08-01"),
    )
    result = plan(gapped)
    assert result.operation is OperationKind.FAIL
    gap = [e for e in result.errors if e.code is IssueCode.GAP]
    assert gap and set(gap[0].order_item_ids) == {"802A", "802B"}


def test_service_ended_before_as_of_is_skipped_with_already_ended() -> None:
    result = plan(OVERLAP, as_of=d("2028-02-01"))
    assert result.operation is OperationKind.SKIP
    assert [w.code for w in result.warnings] == [IssueCode.ALREADY_ENDED]
    assert not result.errors


def test_past_create_backdates_by_default() -> None:
    result = plan(OVERLAP, as_of=d("2027-03-15"))
    assert result.operation is OperationKind.CREATE
    assert result.start_now is False
    assert phase_view(result)[0][0] == "2027-01-01"


def test_past_create_starts_now_when_backdating_is_off() -> None:
    as_of = d("2027-07-15")
    result = plan(OVERLAP, as_of=as_of, rules=SyncRules(backdate=False))
    assert result.start_now is True
    assert result.schedule is not None
    assert result.schedule.phases[0].start == as_of
    assert phase_view(result) == [("2027-07-15", "2028-01-01", [("price_A", 1), ("price_B", 1)])]
    assert [w.code for w in result.warnings] == [IssueCode.CLIPPED_TO_CURRENT_PHASE]


def test_start_now_fingerprint_does_not_depend_on_the_reading_day() -> None:
    rules = SyncRules(backdate=False)
    one = plan(OVERLAP, as_of=d("2027-07-15"), rules=rules)
    other = plan(OVERLAP, as_of=d("2027-07-16"), rules=rules)
    assert one.fingerprint == other.fingerprint


def test_amend_drops_ended_phases_and_clips_an_early_change_to_the_current_phase() -> None:
    early_change = order(
        line("802P", "price_seat", "2027-03-01", "2028-01-01", quantity=2, order_id="801N",
             original="802S"),
        order_id="801N", contract_id="800C",
    )
    created = plan(ORIGINAL)
    assert created.schedule is not None
    current_start = d("2027-05-01")
    remote = (created.schedule.phases[0].model_copy(update={"start": current_start}),)
    known = KnownState(schedule_id="sub_sched_1", applied_order_ids=frozenset({"801O"}),
                       remote_phases=remote, current_phase_start=current_start)
    result = plan(early_change, siblings=(ORIGINAL,), known=known, as_of=d("2027-06-10"))
    assert result.operation is OperationKind.AMEND
    assert result.schedule is not None
    assert result.schedule.phases[0].start == current_start
    assert phase_view(result) == [("2027-05-01", "2028-01-01", [("price_seat", 12)])]
    clipped = [w for w in result.warnings if w.code is IssueCode.CLIPPED_TO_CURRENT_PHASE]
    assert clipped and clipped[0].order_item_ids == ("802P",)


def test_replace_leaves_out_past_phases_and_keeps_the_current_phase_start() -> None:
    known = KnownState(schedule_id="sub_sched_1", applied_order_ids=frozenset({"801O", "801N"}),
                       current_phase_start=d("2027-07-01"))
    result = plan(ORIGINAL, siblings=(CHANGE,), known=known, as_of=d("2027-08-01"))
    assert result.operation is OperationKind.REPLACE
    assert phase_view(result) == [("2027-07-01", "2028-01-01", [("price_seat", 12)])]
    assert not result.warnings


def test_replace_reports_drift_where_stripe_differs() -> None:
    desired = plan(OVERLAP)
    assert desired.schedule is not None
    first, second = desired.schedule.phases
    edited = second.model_copy(update={"items": (second.items[0],)})
    known = KnownState(schedule_id="sub_sched_1", applied_order_ids=frozenset({"801A"}),
                       remote_phases=(first, edited))
    result = plan(OVERLAP, known=known)
    drift = [w for w in result.warnings if w.code is IssueCode.DRIFT]
    assert len(drift) == 1
    assert "phase 2" in drift[0].message and "price_B" in drift[0].message


def test_replace_without_drift_has_no_drift_warning() -> None:
    desired = plan(OVERLAP)
    assert desired.schedule is not None
    known = KnownState(schedule_id="sub_sched_1", applied_order_ids=frozenset({"801A"}),
                       remote_phases=desired.schedule.phases)
    assert not plan(OVERLAP, known=known).warnings


def test_plan_metadata_leads_back_to_salesforce_with_mapped_fields() -> None:
    subject = order(line("802A", "price_A", "2027-01-01", "2028-01-01"),
                    contract_id="800C", metadata={"po_number": "PO-7"})
    result = plan(subject)
    assert result.metadata == {
        "salesforce_order_id": "801A", "salesforce_contract_id": "800C",
        "salesforce_account_id": "001A", "po_number": "PO-7",
    }


def test_order_discount_reaches_every_phase() -> None:
    discounted = PhaseProperties(currency="usd", discount=Discount(percent_off=10))
    subject = order(
        line("802A", "price_A", "2027-01-01", "2028-01-01", properties=discounted),
        line("802B", "price_B", "2027-06-01", "2028-01-01", properties=discounted),
    )
    result = plan(subject)
    assert result.schedule is not None
    assert all(p.discount == Discount(percent_off=10) for p in result.schedule.phases)


def test_known_state_from_salesforce_fields_marks_orders_with_a_schedule_as_applied() -> None:
    synced = ORIGINAL.model_copy(update={"schedule_id": "sub_sched_9"})
    known = known_state_from_orders(CHANGE, [synced])
    assert known.schedule_id == "sub_sched_9"
    assert known.applied_order_ids == frozenset({"801O"})
    assert plan(CHANGE, siblings=(synced,), known=known).operation is OperationKind.AMEND


def test_naive_as_of_is_refused() -> None:
    with pytest.raises(ValueError):
        plan(OVERLAP, as_of=datetime(2027, 1, 1))


def test_a_contract_whose_reductions_cancel_every_line_fails_instead_of_sending_no_phase() -> None:
    first = order(line("802A", "price_A", "2027-01-01", None), contract_id="800C")
    cut = order(line("802B", "price_A", "2027-01-01", None, quantity=-1, order_id="801B",
                     original="802A"), order_id="801B", contract_id="800C")
    result = plan(cut, siblings=(first,))
    assert result.operation is OperationKind.FAIL
    assert [e.code for e in result.errors] == [IssueCode.INVALID_RECORD]
    assert "nothing to bill" in result.errors[0].message
    assert result.errors[0].order_item_ids == ("802A", "802B")


def test_an_amend_emptying_the_current_period_keeps_the_current_phase_start_and_says_so() -> None:
    first = order(line("802A", "price_A", "2027-01-01", None), contract_id="800C")
    created = plan(first, as_of=d("2027-01-15"))
    assert created.schedule is not None
    known = KnownState(schedule_id="sub_sched_1", applied_order_ids=frozenset({"801A"}),
                       remote_phases=created.schedule.phases,
                       current_phase_start=d("2027-01-01"))
    pause = order(line("802B", "price_A", "2027-01-01", "2027-02-01", quantity=-1,
                       order_id="801B", original="802A"), order_id="801B", contract_id="800C")
    result = plan(pause, siblings=(first,), known=known, as_of=d("2027-01-15"))
    assert result.operation is OperationKind.AMEND
    assert phase_view(result) == [("2027-01-01", None, [("price_A", 1)])]
    kept = [w for w in result.warnings if w.code is IssueCode.CLIPPED_TO_CURRENT_PHASE]
    assert kept and "nothing is billed until 2027-02-01" in kept[0].message
    assert kept[0].order_item_ids == ("802B",)
