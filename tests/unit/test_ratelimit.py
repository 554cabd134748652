"""The client-side token bucket: pacing decisions checked on an injected clock, no sleeping."""

from __future__ import annotations

import threading

import pytest

from sf_stripe_sync.ratelimit import LIVE_MODE_RATE, TEST_MODE_RATE, TokenBucket, documented_rate


class FakeTime:
    """A clock that only moves when told to; ``sleep`` records and does not advance."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []
        self._lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)


def _bucket(rate: float | None, capacity: float = 1.0) -> tuple[TokenBucket, FakeTime]:
    fake = FakeTime()
    return TokenBucket(rate, capacity=capacity, clock=fake.clock, sleep=fake.sleep), fake


def test_requests_within_capacity_pass_without_waiting() -> None:
    bucket, fake = _bucket(10.0, capacity=3)

    waits = [bucket.acquire() for _ in range(3)]

    assert waits == [0.0, 0.0, 0.0]
    assert fake.slept == []


def test_each_request_past_capacity_waits_one_more_interval() -> None:
    bucket, fake = _bucket(10.0, capacity=2)

    waits = [bucket.acquire() for _ in range(5)]

    assert waits[:2] == [0.0, 0.0]
    assert waits[2:] == pytest.approx([0.1, 0.2, 0.3])
    assert fake.slept == pytest.approx([0.1, 0.2, 0.3])
    assert bucket.waits == 3


def test_tokens_refill_with_time_but_never_beyond_capacity() -> None:
    bucket, fake = _bucket(4.0, capacity=2)
    bucket.acquire()
    bucket.acquire()

    fake.now += 60.0  # long idle: refills to capacity only
    waits = [bucket.acquire() for _ in range(3)]

    assert waits[:2] == [0.0, 0.0]
    assert waits[2] == pytest.approx(0.25)


def test_partial_refill_shortens_the_wait() -> None:
    bucket, fake = _bucket(10.0)
    bucket.acquire()

    fake.now += 0.04
    wait = bucket.acquire()

    assert wait == pytest.approx(0.06)


def test_sustained_rate_equals_configured_rate() -> None:
    bucket, fake = _bucket(25.0)

    # Each caller sleeps its wait, so the clock moves by what was slept.
    for _ in range(250):
        fake.now += bucket.acquire()

    assert fake.now - 1000.0 == pytest.approx(249 / 25.0)


def test_concurrent_callers_queue_one_interval_apart() -> None:
    bucket, _fake = _bucket(10.0)
    start = threading.Barrier(20)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        start.wait()
        got = bucket.acquire()
        with lock:
            waits.append(got)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(waits) == pytest.approx([n / 10.0 for n in range(20)])
    assert bucket.acquired == 20


def test_no_rate_means_unlimited_but_still_counted() -> None:
    bucket, fake = _bucket(None)

    waits = [bucket.acquire() for _ in range(100)]

    assert set(waits) == {0.0}
    assert fake.slept == []
    assert bucket.acquired == 100


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        TokenBucket(-1.0)
    with pytest.raises(ValueError):
        TokenBucket(10.0, capacity=0.5)


def test_documented_rate_follows_the_key_mode() -> None:
    assert documented_rate("sk_live_abc") == LIVE_MODE_RATE
    assert documented_rate("rk_live_abc") == LIVE_MODE_RATE
    assert documented_rate("sk_test_abc") == TEST_MODE_RATE


def test_an_account_without_a_configured_rate_gets_its_key_modes_documented_limit() -> None:
    from pydantic import SecretStr

    from sf_stripe_sync.config import StripeAccountSettings
    from sf_stripe_sync.stripe.gateway import emulator_limiter, limiter_for

    unset = StripeAccountSettings(name="default")
    explicit = StripeAccountSettings(name="default", rate_limit_per_second=7.0)

    assert limiter_for(unset, SecretStr("sk_live_x")).rate == LIVE_MODE_RATE
    assert limiter_for(unset, SecretStr("sk_test_x")).rate == TEST_MODE_RATE
    assert limiter_for(explicit, SecretStr("sk_live_x")).rate == 7.0
    assert emulator_limiter(unset).rate is None  # the local emulator: unpaced unless asked
    assert emulator_limiter(explicit).rate == 7.0


def test_each_endpoint_is_paced_at_its_own_limit_inside_the_accounts() -> None:
    from sf_stripe_sync.ratelimit import ENDPOINT_RATE, SEARCH_RATE, EndpointPacer

    fake = FakeTime()
    account = TokenBucket(LIVE_MODE_RATE, clock=fake.clock, sleep=fake.sleep)
    pacer = EndpointPacer(account, clock=fake.clock, sleep=fake.sleep)

    creates = [pacer.endpoint("subscription_schedules.create").acquire() for _ in range(3)]
    searches = [pacer.endpoint("customers.search").acquire() for _ in range(3)]

    assert creates == pytest.approx([0.0, 1 / ENDPOINT_RATE, 2 / ENDPOINT_RATE])
    assert searches == pytest.approx([0.0, 1 / SEARCH_RATE, 2 / SEARCH_RATE])
    assert pacer.endpoint("subscription_schedules.create") is pacer.endpoint(
        "subscription_schedules.create")


def test_endpoint_limits_never_exceed_the_accounts_and_vanish_when_it_is_unlimited() -> None:
    from sf_stripe_sync.ratelimit import EndpointPacer

    slow = EndpointPacer(TokenBucket(5.0))
    free = EndpointPacer(TokenBucket(None))

    assert slow.endpoint("coupons.create").rate == 5.0
    assert free.endpoint("coupons.create").rate is None
    assert free.acquire("coupons.create") == 0.0
    assert free.account.acquired == 1
