"""Stripe billing objects as Salesforce values, and the comparison that keeps replays
from writing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from sf_stripe_sync.billing_state.records import (
    differs,
    invoice_values,
    major_units,
    next_invoice_at,
    schedule_values,
    subscription_values,
)
from sf_stripe_sync.billing_state.settings import BillingStateSettings

BS = BillingStateSettings()
JAN_1 = 1_798_761_600  # 2027-01-01T00:00:00Z
FEB_1 = JAN_1 + 31 * 86_400


@pytest.mark.parametrize(("minor", "currency", "major"), [
    (1050, "usd", Decimal("10.50")), (1050, "jpy", Decimal("1050")),
    (1050, "kwd", Decimal("1.050")), (-250, "eur", Decimal("-2.50")), (None, "usd", None),
])
def test_amounts_land_in_the_currencys_major_units(minor: Any, currency: str,
                                                    major: Decimal | None) -> None:
    assert major_units(minor, currency) == major


def _invoice(**changes: Any) -> dict[str, Any]:
    invoice: dict[str, Any] = {
        "id": "in_1", "number": "ABC-0001", "status": "open", "currency": "jpy",
        "amount_due": 1000, "amount_paid": 0, "amount_remaining": 1000,
        "period_start": JAN_1, "period_end": FEB_1, "due_date": FEB_1 + 3600,
        "hosted_invoice_url": "https://invoice.stripe.com/i/x", "customer": "cus_1",
        "parent": {"type": "subscription_details",
                   "subscription_details": {"subscription": "sub_1"}},
    }
    invoice.update(changes)
    return invoice


def test_an_invoice_maps_to_its_record_with_the_subscription_from_its_parent() -> None:
    values = invoice_values(BS, _invoice())
    assert values[BS.invoice_id] == "in_1"
    assert values[BS.amount_due] == Decimal("1000")
    assert values[BS.invoice_currency] == "JPY"
    assert values[BS.period_start] == "2027-01-01T00:00:00Z"
    assert values[BS.due_date] == "2027-02-01"
    assert values[BS.invoice_subscription] == "sub_1"
    assert values["Name"] == "ABC-0001"


def test_a_draft_without_number_is_named_by_its_id() -> None:
    assert invoice_values(BS, _invoice(number=None))["Name"] == "in_1"


def test_the_next_invoice_is_the_end_of_the_current_period_until_the_subscription_ends(
        ) -> None:
    sub = {"id": "sub_1", "status": "active", "cancel_at": None,
           "items": {"data": [{"current_period_end": FEB_1}]}}
    assert next_invoice_at(sub) == FEB_1
    assert subscription_values(BS, sub)[BS.next_invoice_date] == "2027-02-01T00:00:00Z"
    assert next_invoice_at({**sub, "status": "canceled"}) is None
    assert next_invoice_at({**sub, "cancel_at": FEB_1}) is None


def test_a_released_schedule_still_names_its_subscription() -> None:
    values = schedule_values(BS, {"status": "released", "current_phase": None,
                                  "subscription": None, "released_subscription": "sub_9"})
    assert values == {BS.schedule_status: "released", BS.phase_start: None,
                      BS.phase_end: None, BS.subscription_id: "sub_9"}


def test_values_salesforce_already_holds_in_its_own_format_are_not_rewritten() -> None:
    held = {"Id": "a01", "amount_due__c": 10.5, BS.period_start: "2027-01-01T00:00:00.000+0000",
            BS.invoice_status: "paid", BS.due_date: None}
    wanted = {BS.amount_due: Decimal("10.50"), BS.period_start: "2027-01-01T00:00:00Z",
              BS.invoice_status: "paid", BS.due_date: ""}
    assert differs(held, wanted) == {}
    assert differs(held, {**wanted, BS.invoice_status: "void"}) == {BS.invoice_status: "void"}
    assert differs(None, wanted) == wanted
