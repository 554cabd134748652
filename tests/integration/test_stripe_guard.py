"""Stripe is the last guard before any create: what it costs and what it catches.

A gateway lists a customer's schedules once (one gateway lives one run), keeps what it
writes afterwards in that list, and lists nothing for a customer it has just created.
The executor looks before every create; when another host sent the same create first
(same contract key, another order's metadata) it adopts that host's schedule; a
customer created seconds ago that search does not show yet is found again through the
Account's idempotency key.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from test_gateway_support import (
    API_KEY,
    Stand,
    discounted_plan,
    make_stand,
)

from sf_stripe_sync.config import StripeAccountSettings
from sf_stripe_sync.executor import op_key_for
from sf_stripe_sync.operations import apply_plan
from sf_stripe_sync.stripe.gateway import StripeGateway
from sf_stripe_sync.stripe.retry import RetryPolicy

pytestmark = pytest.mark.integration

LIST = "/v1/subscription_schedules"


@pytest.fixture()
def stand() -> Iterator[Stand]:
    made = make_stand()
    try:
        yield made
    finally:
        made.emu.stop()


def another_gateway(stand: Stand) -> StripeGateway:
    """Another run, or another host: a gateway that has been told nothing yet."""
    account = StripeAccountSettings(name="default", api_base=stand.emu.url, max_retries=8)
    return StripeGateway.from_settings(account, API_KEY, retry=RetryPolicy.no_wait())


def lists_sent(stand: Stand, since: int = 0) -> int:
    return sum(1 for r in stand.emu.requests()[since:]
               if r["method"] == "GET" and r["path"].split("?")[0] == LIST)


def test_a_customers_schedules_are_listed_once_for_all_its_contracts(stand: Stand) -> None:
    p = discounted_plan(stand)
    stand.gateway.create_schedule(p, customer_id=stand.customer, op_key=op_key_for(p))
    later = another_gateway(stand)
    mark = stand.mark()

    found = later.find_schedule(customer_id=stand.customer, contract_key="800C1")
    other = later.find_schedule(customer_id=stand.customer, contract_key="800C2")

    assert found is not None and other is None
    assert lists_sent(stand, mark) == 1


def test_a_schedule_the_gateway_made_after_listing_is_found_without_a_second_list(
        stand: Stand) -> None:
    gateway = another_gateway(stand)
    assert gateway.find_schedule(customer_id=stand.customer, contract_key="800C1") is None
    p = discounted_plan(stand)
    made = gateway.create_schedule(p, customer_id=stand.customer, op_key=op_key_for(p))

    found = gateway.find_schedule(customer_id=stand.customer, contract_key="800C1")

    assert found is not None and found.id == made.schedule.id
    assert lists_sent(stand) == 1


def test_a_customer_the_gateway_just_created_costs_no_list_before_its_create(
        stand: Stand) -> None:
    gateway = another_gateway(stand)
    p = discounted_plan(stand).model_copy(update={"account_id": "001NEW", "customer_id": None})

    applied = apply_plan(gateway, p, account_name="New Co")

    assert applied.customer_created
    assert lists_sent(stand) == 0
    assert len(stand.emu.objects("subscription_schedule")) == 1


def test_a_create_another_host_sent_first_is_adopted_not_made_twice(stand: Stand) -> None:
    first = discounted_plan(stand).model_copy(update={"account_id": "001A",
                                                      "customer_id": stand.customer})
    second = first.model_copy(update={"order_id": "801O2",
                                      "metadata": {"salesforce_order_id": "801O2"}})
    host_b = another_gateway(stand)
    # Host B looked before host A created: its list of the customer is empty.
    assert host_b.find_schedule(customer_id=stand.customer, contract_key="800C1") is None
    made = apply_plan(stand.gateway, first)

    adopted = apply_plan(host_b, second)

    assert op_key_for(first) == op_key_for(second)
    assert adopted.schedule_id == made.schedule_id and adopted.already_applied
    assert len(stand.emu.objects("subscription_schedule")) == 1
    assert len([c for c in stand.emu.objects("coupon") if c["id"] != "co_existing"]) == 2


def test_a_customer_search_does_not_show_yet_is_found_through_the_accounts_key(
        stand: Stand, monkeypatch: pytest.MonkeyPatch) -> None:
    first = another_gateway(stand)
    made, _ = first.ensure_customer(account_id="001LAG", name="Lag Co",
                                    known_customer_id=None, metadata={})
    lagging = another_gateway(stand)
    monkeypatch.setattr(lagging.customers, "_search", lambda _account_id: None)

    found, _ = lagging.ensure_customer(account_id="001LAG", name="Lag Co",
                                       known_customer_id=None, metadata={})

    assert found == made
    tagged = [c for c in stand.emu.objects("customer")
              if c["metadata"].get("salesforce_account_id") == "001LAG"]
    assert len(tagged) == 1
