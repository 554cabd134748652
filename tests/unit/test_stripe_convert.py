"""Stripe schedule JSON converted to core terms."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from sf_stripe_sync.core.models import Discount
from sf_stripe_sync.errors import TerminalError
from sf_stripe_sync.stripe.convert import schedule_from_stripe

JAN = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
JUN = int(datetime(2025, 6, 1, tzinfo=UTC).timestamp())
DEC = int(datetime(2025, 12, 1, tzinfo=UTC).timestamp())

SCHEDULE: dict[str, Any] = {
    "id": "sub_sched_1",
    "object": "subscription_schedule",
    "customer": "cus_1",
    "status": "active",
    "end_behavior": "cancel",
    "subscription": "sub_1",
    "current_phase": {"start_date": JAN, "end_date": JUN},
    "metadata": {"salesforce_contract_key": "800C", "sf_sync_fingerprint": "fp1"},
    "default_settings": {"collection_method": "send_invoice",
                         "invoice_settings": {"days_until_due": 14}},
    "phases": [
        {"start_date": JAN, "end_date": JUN, "currency": "usd",
         "collection_method": None, "invoice_settings": None,
         "discounts": [{"coupon": "co_phase", "discount": None, "promotion_code": None}],
         "metadata": {},
         "items": [{"price": "price_A", "quantity": 2, "discounts": [],
                    "metadata": {"salesforce_order_item_id": "802a,802b", "note": "x"}}]},
        {"start_date": JUN, "end_date": DEC, "currency": "usd",
         "collection_method": "charge_automatically", "discounts": [],
         "default_payment_method": "pm_1", "metadata": {"m": "1"},
         "items": [{"price": {"id": "price_B", "object": "price"}, "quantity": 1,
                    "discounts": [{"coupon": {"id": "co_item", "object": "coupon"}}],
                    "metadata": {}}]},
    ],
}


def test_converts_times_ids_and_metadata() -> None:
    remote = schedule_from_stripe(SCHEDULE)
    assert remote.id == "sub_sched_1"
    assert remote.current_phase_start == datetime(2025, 1, 1, tzinfo=UTC)
    assert remote.current_phase_end == datetime(2025, 6, 1, tzinfo=UTC)
    assert remote.contract_key == "800C"
    assert remote.fingerprint == "fp1"
    assert remote.subscription == "sub_1"
    assert remote.is_live
    assert [p.end for p in remote.phases] == [datetime(2025, 6, 1, tzinfo=UTC),
                                              datetime(2025, 12, 1, tzinfo=UTC)]


def test_discounts_come_back_as_coupon_references() -> None:
    remote = schedule_from_stripe(SCHEDULE)
    assert remote.phases[0].discount == Discount(coupon="co_phase")
    assert remote.phases[1].items[0].discount == Discount(coupon="co_item")
    assert remote.phases[1].discount is None


def test_item_order_ids_come_from_metadata_and_leave_it() -> None:
    item = schedule_from_stripe(SCHEDULE).phases[0].items[0]
    assert item.order_item_ids == ("802a", "802b")
    assert item.metadata == {"note": "x"}
    assert item.quantity == 2


def test_unset_phase_settings_fall_back_to_schedule_defaults() -> None:
    first, second = schedule_from_stripe(SCHEDULE).phases
    assert first.properties.collection_method == "send_invoice"
    assert first.properties.days_until_due == 14
    assert second.properties.collection_method == "charge_automatically"
    assert second.properties.days_until_due is None
    assert second.properties.default_payment_method == "pm_1"


def test_release_schedule_last_phase_is_open() -> None:
    data = copy.deepcopy(SCHEDULE)
    data["end_behavior"] = "release"
    phases = schedule_from_stripe(data).phases
    assert phases[0].end is not None
    assert phases[-1].end is None


def test_more_than_one_discount_is_refused_not_dropped() -> None:
    data = copy.deepcopy(SCHEDULE)
    data["phases"][0]["discounts"] = [{"coupon": "co_1"}, {"coupon": "co_2"}]
    with pytest.raises(TerminalError) as refused:
        schedule_from_stripe(data)
    assert refused.value.code == "unsupported_schedule"


def test_promotion_code_discount_is_refused_not_dropped() -> None:
    data = copy.deepcopy(SCHEDULE)
    data["phases"][1]["items"][0]["discounts"] = [{"coupon": None, "promotion_code": "promo_1"}]
    with pytest.raises(TerminalError):
        schedule_from_stripe(data)


def test_canceled_schedule_is_not_live() -> None:
    data = copy.deepcopy(SCHEDULE)
    data["status"] = "canceled"
    data["current_phase"] = None
    remote = schedule_from_stripe(data)
    assert not remote.is_live
    assert remote.current_phase_start is None


def test_unexpected_shape_is_a_terminal_error_not_a_crash() -> None:
    data = copy.deepcopy(SCHEDULE)
    data["phases"][0]["items"][0]["quantity"] = "many"
    with pytest.raises(TerminalError) as refused:
        schedule_from_stripe(data)
    assert refused.value.code == "unsupported_schedule"
