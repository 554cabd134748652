"""Drift: every field the engine sets, compared between Stripe and Salesforce."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from sf_stripe_sync.core.drift import drift_issue, schedule_drift
from sf_stripe_sync.core.models import Discount, Phase, PhaseItem, PhaseProperties

AS_OF = datetime(2027, 3, 1, tzinfo=UTC)
JAN, JUN, NEXT = (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 6, 1, tzinfo=UTC),
                  datetime(2028, 1, 1, tzinfo=UTC))


def phase(**changes: Any) -> Phase:
    props = {"currency": "usd", "collection_method": "charge_automatically",
             "days_until_due": None, "default_payment_method": None, "discount": None}
    props.update(changes.pop("props", {}))
    item = {"price": "price_A", "quantity": 2, "order_item_ids": ("802A",),
            "discount": None, "metadata": {"sf_region": "emea"}}
    item.update(changes.pop("item", {}))
    base: dict[str, Any] = {"start": JAN, "end": JUN, "metadata": {}}
    base.update(changes)
    return Phase(properties=PhaseProperties(**props), items=(PhaseItem(**item),), **base)


WANT = phase()


@pytest.mark.parametrize(("stripe", "field", "theirs", "ours"), [
    (phase(start=datetime(2026, 12, 1, tzinfo=UTC)), "start", "2026-12-01T00:00:00Z",
     "2027-01-01T00:00:00Z"),
    (phase(end=NEXT), "end", "2028-01-01T00:00:00Z", "2027-06-01T00:00:00Z"),
    (phase(item={"quantity": 7}), "item price_A quantity", "7", "2"),
    (phase(item={"price": "price_B"}), "item price_A", None, "price_A x2"),
    (phase(props={"collection_method": "send_invoice", "days_until_due": 30}),
     "collection_method", "send_invoice", "charge_automatically"),
    (phase(props={"days_until_due": 15}), "days_until_due", "15", None),
    (phase(props={"default_payment_method": "pm_card"}), "default_payment_method", "pm_card",
     None),
    (phase(props={"currency": "eur"}), "currency", "eur", "usd"),
    (phase(props={"discount": Discount(coupon="co_1")}), "discount", "coupon co_1", None),
    (phase(item={"discount": Discount(coupon="co_2")}), "item price_A discount",
     "coupon co_2", None),
    (phase(item={"order_item_ids": ("802Z",)}), "item price_A order_item_ids", "802Z", "802A"),
    (phase(item={"metadata": {"sf_region": "apac"}}), "item price_A metadata",
     "sf_region=apac", "sf_region=emea"),
])
def test_each_field_the_engine_sets_shows_as_drift(
    stripe: Phase, field: str, theirs: str | None, ours: str | None
) -> None:
    changes = schedule_drift([stripe], [WANT], as_of=AS_OF)
    assert [(c.phase, c.field, c.stripe, c.salesforce) for c in changes if c.field == field] == [
        (1, field, theirs, ours)]


def test_identical_schedules_have_no_drift_and_past_phases_are_ignored() -> None:
    past = phase(start=datetime(2026, 1, 1, tzinfo=UTC), end=JAN, item={"quantity": 9})
    assert schedule_drift([past, WANT], [WANT], as_of=AS_OF) == ()


def test_a_coupon_stands_for_the_discount_the_plan_describes() -> None:
    theirs = phase(props={"discount": Discount(coupon="co_1")})
    ours = phase(props={"discount": Discount(percent_off=Decimal(10))})
    assert schedule_drift([theirs], [ours], as_of=AS_OF) == ()


def test_metadata_keys_stripe_users_added_are_not_drift() -> None:
    theirs = phase(metadata={"note": "call first"},
                   item={"metadata": {"sf_region": "emea", "x": "y"}})
    assert schedule_drift([theirs], [WANT], as_of=AS_OF) == ()


def test_a_phase_on_one_side_only_is_drift_and_the_warning_sums_it_up() -> None:
    later = phase(start=JUN, end=NEXT)
    changes = schedule_drift([WANT], [WANT, later], as_of=AS_OF)
    assert [(c.phase, c.field, c.stripe) for c in changes] == [(2, "phase", None)]
    issue = drift_issue(changes, order_id="801A")
    assert issue.code.value == "drift" and not issue.is_error
    assert "phase 2 phase: Stripe has nothing" in issue.message
