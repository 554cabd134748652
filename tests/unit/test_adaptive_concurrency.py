"""The adaptive in-flight limit: Little's law from observed latency, within bounds."""

from __future__ import annotations

import pytest

from sf_stripe_sync.concurrency import UNLIMITED_RATE, AdaptiveLimit, LatencyMeter, slowest


def limit_at(latency: float | None, *, rate: float | None = 100.0, minimum: int = 4,
             maximum: int = 64) -> int:
    return AdaptiveLimit(minimum=minimum, maximum=maximum, rate=lambda: rate,
                         latency=lambda: latency).limit


def test_the_limit_follows_littles_law_with_headroom() -> None:
    # 100 requests/s at 350 ms: 35 in flight, x1.5 headroom, +2 spare.
    assert limit_at(0.35) == 55
    assert limit_at(0.35, rate=25.0) == 16


def test_the_limit_stays_within_its_bounds() -> None:
    assert limit_at(0.05, rate=25.0) == 4  # 25/s at 50 ms needs fewer than the minimum
    assert limit_at(2.0) == 64


def test_before_any_answer_a_usual_stripe_latency_is_assumed() -> None:
    assert limit_at(None) == 47  # 100/s x 300 ms x 1.5 + 2


def test_an_account_without_a_rate_is_sized_as_stripe_live_mode() -> None:
    assert limit_at(0.2, rate=None) == limit_at(0.2, rate=UNLIMITED_RATE)


def test_the_limit_shrinks_when_latency_falls() -> None:
    latency = [0.8]
    limit = AdaptiveLimit(minimum=1, maximum=200, rate=lambda: 100.0,
                          latency=lambda: latency[0])
    high = limit.limit
    latency[0] = 0.1
    assert limit.limit < high and limit.peak == high


def test_the_meter_keeps_a_weighted_mean_and_the_slowest_meter_counts() -> None:
    meter = LatencyMeter(weight=0.5)
    assert meter.mean is None
    meter.observe(1.0)
    meter.observe(0.0)
    assert meter.mean == pytest.approx(0.5)
    other = LatencyMeter()
    other.observe(0.2)
    assert slowest([meter, other]) == pytest.approx(0.5)
    assert slowest([LatencyMeter()]) is None


def test_one_kind_of_work_gets_what_one_endpoint_keeps_busy() -> None:
    limit = AdaptiveLimit(minimum=4, maximum=64, rate=lambda: 100.0, latency=lambda: 0.35)
    # 25/s (one endpoint) x 350 ms x 1.5 x 2 requests a group, + 2.
    assert limit.per_kind == 29 and limit.per_kind < limit.limit


class _Gateway:
    def __init__(self, rate: float | None, latency: float | None) -> None:
        self.limiter = type("Bucket", (), {"rate": rate})()
        self.latency = LatencyMeter()
        if latency is not None:
            self.latency.observe(latency)


def test_a_runs_limit_reads_its_gateways_rates_and_latencies() -> None:
    from sf_stripe_sync.config import Settings

    gateways: list[object] = []
    limit = AdaptiveLimit.for_gateways(Settings(concurrency=2, concurrency_max=40),
                                       lambda: gateways)
    assert limit.limit == 40  # no gateway yet: unlimited rate, 300 ms assumed
    gateways += [_Gateway(25.0, 0.05), _Gateway(25.0, None)]
    assert limit.limit == 4  # 25/s x 50 ms x 1.5 + 2
    gateways.append(_Gateway(None, 0.05))
    assert limit.limit == limit_at(0.05, rate=None, minimum=2, maximum=40)
