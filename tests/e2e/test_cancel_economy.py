"""A cancel of a schedule the engine knows costs one Stripe request, and a schedule that
Stripe already finished is reported as done, not failed."""

from __future__ import annotations

import stripe

from tests.e2e.harness import Harness

OVERLAP_ORDER = "801000000000002AAA"
SCHEDULE_FIELD = "Stripe_Subscription_Schedule_Id__c"


def _cancel_requests(demo: Harness, since: int) -> list[str]:
    return [f"{r['method']} {r['path']}" for r in demo.emulator.requests()[since:]]


def test_a_known_schedule_is_canceled_with_one_request(demo: Harness) -> None:
    demo.sync()
    schedule_id = demo.record("Order", OVERLAP_ORDER)[SCHEDULE_FIELD]
    mark = len(demo.emulator.requests())

    report = demo.sync(order_ids=[OVERLAP_ORDER], cancel_ids=(OVERLAP_ORDER,))

    outcome = next(o for o in report.outcomes if o.order_id == OVERLAP_ORDER)
    assert outcome.result == "cancel"
    assert _cancel_requests(demo, mark) == [
        f"POST /v1/subscription_schedules/{schedule_id}/cancel"]


def test_a_schedule_already_canceled_in_stripe_is_done_not_failed(demo: Harness) -> None:
    demo.sync()
    schedule_id = demo.record("Order", OVERLAP_ORDER)[SCHEDULE_FIELD]
    client = stripe.StripeClient("sk_test_someone_else", base_addresses={"api": demo.emulator.url})
    client.v1.subscription_schedules.cancel(schedule_id)

    report = demo.sync(order_ids=[OVERLAP_ORDER], cancel_ids=(OVERLAP_ORDER,))

    outcome = next(o for o in report.outcomes if o.order_id == OVERLAP_ORDER)
    assert outcome.result == "cancel" and outcome.writes == 0
    assert not report.failed
