"""The emulator's limits as Stripe has them: global, per endpoint, Search; latency tail."""

from __future__ import annotations

from sf_stripe_sync.sandbox.stripe_emulator.faults import FaultConfig, FaultInjector

LIST = "GET /v1/customers"
RETRIEVE = "GET /v1/customers/{id}"
SEARCH = "GET /v1/customers/search"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def injector(clock: Clock, config: FaultConfig) -> FaultInjector:
    return FaultInjector(config, clock=clock)


def test_each_endpoint_has_its_own_limit_beside_the_global_one() -> None:
    clock = Clock()
    faults = injector(clock, FaultConfig(rate_limit=100, endpoint_rate_limit=2))
    assert [faults.draw("GET", LIST) for _ in range(3)] == [None, None, "rate_limit"]
    assert faults.draw("GET", RETRIEVE) is None  # another endpoint, its own bucket
    clock.now += 0.5  # one token back at 2/s
    assert [faults.draw("GET", LIST) for _ in range(2)] == [None, "rate_limit"]


def test_the_global_limit_counts_every_endpoint() -> None:
    clock = Clock()
    faults = injector(clock, FaultConfig(rate_limit=3, endpoint_rate_limit=25))
    drawn = [faults.draw("GET", e) for e in (LIST, RETRIEVE, SEARCH, RETRIEVE)]
    assert drawn == [None, None, None, "rate_limit"]


def test_a_request_refused_by_one_limit_spends_no_token_of_the_other() -> None:
    clock = Clock()
    faults = injector(clock, FaultConfig(rate_limit=1, endpoint_rate_limit=1))
    assert faults.draw("GET", LIST) is None
    assert faults.draw("GET", RETRIEVE) == "rate_limit"  # global refuses: RETRIEVE keeps its
    clock.now += 1.0
    assert faults.draw("GET", RETRIEVE) is None


def test_search_is_limited_to_twenty_a_second_when_endpoints_are_limited() -> None:
    clock = Clock()
    faults = injector(clock, FaultConfig(endpoint_rate_limit=25))
    answers = [faults.draw("GET", SEARCH, search=True) for _ in range(21)]
    assert answers.count(None) == 20 and answers[-1] == "rate_limit"
    assert [faults.draw("GET", LIST) for _ in range(25)] == [None] * 25


def test_no_endpoint_limit_unless_asked() -> None:
    clock = Clock()
    faults = injector(clock, FaultConfig(rate_limit=1000))
    assert [faults.draw("GET", SEARCH, search=True) for _ in range(200)] == [None] * 200


def test_latency_has_a_slow_tail_of_the_configured_share() -> None:
    faults = FaultInjector(FaultConfig(latency_ms=300, latency_tail_ms=800,
                                       latency_tail_fraction=0.1, seed=3))
    drawn = [faults.draw_latency() for _ in range(2000)]
    assert set(drawn) == {0.3, 0.8}
    assert 150 <= drawn.count(0.8) <= 250


def test_latency_draws_do_not_shift_the_fault_sequence() -> None:
    config = FaultConfig(error_rate=0.3, seed=5, latency_ms=1, latency_tail_ms=2,
                         latency_tail_fraction=0.5)
    plain, drawing = FaultInjector(config), FaultInjector(config)
    expected = [plain.draw("POST", LIST) for _ in range(50)]
    got = []
    for _ in range(50):
        drawing.draw_latency()
        got.append(drawing.draw("POST", LIST))
    assert got == expected
