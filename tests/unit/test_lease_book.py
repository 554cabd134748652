"""A run's contract leases taken and given back a page at a time, and never trusted once
they may have lapsed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sf_stripe_sync.run_leases import LeaseBook
from sf_stripe_sync.testing import MemoryStateStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TTL = 30.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class CountingStore(MemoryStateStore):
    """The memory store, counting the lease calls made one key at a time."""

    def __init__(self) -> None:
        super().__init__()
        self.single: list[str] = []
        self._batch = False

    def acquire_leases(self, keys: Any, *args: Any) -> list[str]:
        self._batch = True
        try:
            return super().acquire_leases(keys, *args)
        finally:
            self._batch = False

    def acquire_lease(self, key: str, *args: Any) -> bool:
        if not self._batch:
            self.single.append(key)
        return super().acquire_lease(key, *args)


def test_a_page_takes_its_leases_together_and_gives_them_back_when_it_closes() -> None:
    store, clock = CountingStore(), Clock()
    assert store.acquire_lease("contract:other", "b", TTL, T0)
    store.single.clear()
    book = LeaseBook(store, "a", TTL, clock)
    page = ["two orders"]
    book.open_page(page, ["contract:1", "contract:2", "contract:other"])
    assert store.single == []  # one batch, nothing per key
    assert book.take("contract:1") and book.take("contract:2")
    book.done("contract:1")
    assert store.single == []  # held for the page: no statement per order
    assert store.lease_holder("contract:1", T0) == "a"  # kept while the page is open
    assert not book.take("contract:other")  # another run holds it: the order waits
    book.close_page(page)
    assert [store.lease_holder(k, T0) for k in ("contract:1", "contract:2")] == [None, None]
    assert store.lease_holder("contract:other", T0) == "b"  # not ours to give back


def test_an_order_outside_its_pages_keys_takes_and_gives_back_its_own_lease() -> None:
    store, clock = CountingStore(), Clock()
    book = LeaseBook(store, "a", TTL, clock)
    book.open_page(["page"], ["contract:1"])
    assert book.take("contract:9")
    assert store.lease_holder("contract:9", T0) == "a"
    book.done("contract:9")
    assert store.lease_holder("contract:9", T0) is None
    assert store.single == ["contract:9"]


def test_a_page_lease_not_renewed_of_late_is_taken_again_and_lost_if_taken_over() -> None:
    store, clock = MemoryStateStore(), Clock()
    book = LeaseBook(store, "a", TTL, clock)
    book.open_page(["page"], ["contract:1", "contract:2"])
    clock.advance(TTL * 0.5)
    book.beaten(clock.now)  # the heartbeat renewed them before they could lapse
    clock.advance(TTL * 0.5)
    assert book.take("contract:1")  # trusted: known ours half a TTL ago
    clock.advance(TTL * 0.7)  # no beat for 0.7 TTL: the next order checks
    assert book.take("contract:1")  # still ours in the store: taken again
    clock.advance(TTL * 1.5)  # heartbeat lost: the leases lapsed ...
    assert store.acquire_lease("contract:2", "b", TTL, clock.now)  # ... one was taken over
    book.beaten(clock.now)  # a late beat does not make a lapsed lease ours again
    assert not book.take("contract:2")
    assert store.lease_holder("contract:2", clock.now) == "b"


def test_a_pages_lease_keys_name_each_orders_stripe_account_and_contract() -> None:
    from sf_stripe_sync.config import Settings, StripeAccountSettings
    from sf_stripe_sync.core.models import OrderBundle
    from sf_stripe_sync.run_leases import page_lease_keys
    from sf_stripe_sync.salesforce.records import SalesforceRecords

    settings = Settings(stripe_accounts=(StripeAccountSettings(name="default"),
                                         StripeAccountSettings(name="emea")))
    field = settings.fields.order_stripe_account
    page = [OrderBundle(order={"Id": "801A", "ContractId": "800A", field: "emea"}),
            OrderBundle(order={"Id": "801B", "ContractId": None}),
            OrderBundle(order={"Id": "801C", "ContractId": "800A", field: "emea"}),
            OrderBundle(order={"Id": "801D", "ContractId": "800D", field: "nope"})]
    keys = page_lease_keys(page, SalesforceRecords(settings.fields),
                           lambda name: settings.stripe_account(name).name)
    # One key per contract; an account the config lacks is left to the order itself.
    assert keys == ["contract:emea:800A", "contract:default:801B"]
