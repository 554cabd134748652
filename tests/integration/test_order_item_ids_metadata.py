"""A phase item standing for many OrderItems keeps every id without passing Stripe's limit."""

from __future__ import annotations

import pytest
import stripe

from sf_stripe_sync.core.limits import METADATA_VALUE_MAX
from sf_stripe_sync.core.models import PhaseItem
from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator
from sf_stripe_sync.stripe.convert import (
    META_ORDER_ITEM_IDS,
    order_item_ids_metadata,
    pop_order_item_ids,
    schedule_from_stripe,
)
from sf_stripe_sync.stripe.params import item_metadata

pytestmark = pytest.mark.integration

NOW = 1_700_000_000
IDS = tuple(f"802{n:012d}AAA" for n in range(40))  # 40 * 19 characters: far over 500


def test_few_ids_stay_under_the_one_key_they_always_had() -> None:
    assert order_item_ids_metadata(IDS[:2]) == {META_ORDER_ITEM_IDS: ",".join(IDS[:2])}


def test_many_ids_spill_into_numbered_keys_each_within_stripes_limit() -> None:
    metadata = item_metadata(PhaseItem(price="price_A", quantity=1, order_item_ids=IDS,
                                       metadata={META_ORDER_ITEM_IDS: ",".join(IDS),
                                                 "region": "emea"}))
    spilled = {k: v for k, v in metadata.items() if k.startswith(META_ORDER_ITEM_IDS)}
    assert len(spilled) == 2 and f"{META_ORDER_ITEM_IDS}_2" in spilled
    assert all(len(v) <= METADATA_VALUE_MAX for v in metadata.values())
    assert pop_order_item_ids(metadata) == IDS
    assert metadata == {"region": "emea"}


def test_stripe_accepts_the_spilled_ids_and_they_read_back_whole() -> None:
    with StripeEmulator(seed={
        "products": [{"id": "prod_A", "name": "A"}],
        "prices": [{"id": "price_A", "product": "prod_A", "currency": "usd",
                    "unit_amount": 100, "recurring": {"interval": "month"}}],
        "customers": [{"id": "cus_A"}]}, now=NOW).running() as emu:
        client = stripe.StripeClient("sk_test_ids", base_addresses={"api": emu.url},
                                     max_network_retries=0)
        with pytest.raises(stripe.InvalidRequestError):  # what one joined value would get
            client.v1.subscription_schedules.create(params={
                "customer": "cus_A", "start_date": NOW, "phases": [{
                    "items": [{"price": "price_A",
                               "metadata": {META_ORDER_ITEM_IDS: ",".join(IDS)}}],
                    "duration": {"interval": "month"}}]})
        created = client.v1.subscription_schedules.create(params={
            "customer": "cus_A", "start_date": NOW, "phases": [{
                "items": [{"price": "price_A", "metadata": order_item_ids_metadata(IDS)}],
                "duration": {"interval": "month"}}]})
        remote = schedule_from_stripe(created.to_dict())
        assert remote.phases[0].items[0].order_item_ids == IDS
