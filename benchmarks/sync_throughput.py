"""Benchmark: how close a sync runs to what Stripe's rate limits allow, at real latency.

Run: ``.venv/bin/python benchmarks/sync_throughput.py`` (not part of the test suite).
``--orders N`` (1000), ``--rate R`` (Stripe's global limit, requests/s; 25),
``--endpoint-rate E`` (each endpoint's limit; 25, Search 20), ``--latency-ms L`` (50),
``--latency-tail-ms T`` / ``--latency-tail-fraction F`` (a slow share of requests),
``--org-latency-ms`` (100), ``--mix default|create-heavy``, ``--concurrency C`` and
``--concurrency-max M`` (the engine's adaptive defaults when left out; 4 and 4 is the
old fixed pool), ``--json`` (one JSON object on the last line).

A fresh generated org (``generated_org``; default mix: 60% create, 20% amend, 10%
replace, 10% noop; ``create-heavy``: 80% create, 10% amend, 10% replace) is loaded into
the local org, its baseline synced (untimed), the org edited, and then one scheduled
sync is timed in its own process against the Stripe emulator, which answers after the
drawn latency and refuses (429 ``rate_limit``) past its global and per-endpoint limits,
as Stripe does. The engine paces itself at the same limits (its client-side buckets).

The floor is the least time Stripe's limits allow for the requests the run needed
(429s left out): the largest of (all requests / global rate) and, for each endpoint
(method + path pattern, as Stripe counts them), (its requests / its limit). The ratio
floor / wall is the share of that ceiling reached: 1.0 = exactly at the binding limit.
``engine_cpu_ms_per_request`` is the timed process's CPU time (engine, SDKs, adapters)
divided by the Stripe requests. ``store_statements_per_executed_order`` counts every SQL
statement the state store ran in the timed run (``BEGIN`` and ``COMMIT`` included; noops
and the run's own bookkeeping too) per order sent to Stripe;
``store_transactions_per_executed_order`` counts its ``BEGIN``s.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from generated_org import Mix, generate
from rig import Measurement, machine, running

from sf_stripe_sync.sandbox.salesforce_org import OrgFaults
from sf_stripe_sync.sandbox.stripe_emulator import FaultConfig

SEARCH_RATE = 20.0
FIRST_REQUESTS_SHOWN = 12
"""The run's first Stripe requests, (sent, answered, endpoint): how the run starts."""


def mix_of(name: str, orders: int) -> Mix:
    if name == "create-heavy":
        amend = replace = orders // 10
        return Mix(create=orders - amend - replace, amend=amend, replace=replace, noop=0)
    return Mix.of(orders)


def floor_seconds(m: Measurement, rate: float, endpoint_rate: float | None) -> tuple[
        float, str]:
    """The binding limit's time for the run's requests (429s left out), and its name."""
    answered = sum(m.stripe_by_path.values()) - m.stripe_429
    floor, binding = answered / rate, "global"
    if endpoint_rate is not None:
        for endpoint, count in m.stripe_ok_by_path.items():
            limit = min(SEARCH_RATE, endpoint_rate) if "/search" in endpoint else endpoint_rate
            if count / limit > floor:
                floor, binding = count / limit, endpoint
    return floor, binding


def result(args: argparse.Namespace, m: Measurement) -> dict[str, Any]:
    floor, binding = floor_seconds(m, args.rate, args.endpoint_rate)
    executed = sum(m.counts.get(k, 0) for k in ("create", "amend", "replace", "cancel"))
    failed_429 = sum(1 for o in m.report.failed if "429" in (o.message or "")
                     or "rate limit" in (o.message or "").lower())
    return {
        "orders": sum(m.counts.values()), "mix": args.mix, "rate": args.rate,
        "endpoint_rate": args.endpoint_rate, "latency_ms": args.latency_ms,
        "latency_tail_ms": args.latency_tail_ms,
        "latency_tail_fraction": args.latency_tail_fraction,
        "concurrency": args.concurrency, "concurrency_max": args.concurrency_max,
        "requests": m.stripe_requests,
        "wall_s": round(m.wall_seconds, 2), "floor_s": round(floor, 2),
        "binding_limit": binding, "ratio_to_floor": round(floor / m.wall_seconds, 3),
        "rate_limited_429": m.stripe_429, "failed": m.counts["failed"],
        "failed_on_429": failed_429, "refused_other": m.refused,
        "engine_cpu_ms_per_request": round(1000 * m.cpu_seconds / max(1, m.stripe_requests),
                                           2),
        "salesforce_calls": m.salesforce_calls,
        "salesforce_by_kind": dict(sorted(m.salesforce_by_kind.items())), "counts": m.counts,
        "store_statements_per_executed_order": round(
            sum(m.store_statements.values()) / max(1, executed), 1),
        "store_transactions_per_executed_order": round(
            m.store_statements["BEGIN"] / max(1, executed), 1),
        "requests_by_endpoint": dict(sorted(m.stripe_by_path.items())),
        "endpoint_busy": endpoint_spans(m),
        "salesforce_timeline": [[round(a, 2), round(b, 2), k] for a, b, k in m.org_timeline],
        "first_stripe_requests": [[round(a, 2), round(b, 2), e] for a, b, e, _ in
                                  sorted(m.timeline)[:FIRST_REQUESTS_SHOWN]],
    }


def endpoint_spans(m: Measurement) -> dict[str, list[float]]:
    """Per endpoint: [first request sent, last answer] in seconds from the run's start,
    and its answered requests per second over that span (how busy it was kept)."""
    spans: dict[str, list[float]] = {}
    for sent, answered, endpoint, status in m.timeline:
        if status == 429:
            continue
        span = spans.setdefault(endpoint, [sent, answered, 0.0])
        span[0], span[1], span[2] = min(span[0], sent), max(span[1], answered), span[2] + 1
    return {e: [round(a, 2), round(b, 2), round(n / max(1e-9, b - a), 1)]
            for e, (a, b, n) in sorted(spans.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--mix", choices=("default", "create-heavy"), default="default")
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--endpoint-rate", type=float, default=25.0)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--latency-tail-ms", type=float, default=0.0)
    parser.add_argument("--latency-tail-fraction", type=float, default=0.0)
    parser.add_argument("--org-latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=None)
    parser.add_argument("--concurrency-max", type=int, default=None,
                        help="with --concurrency 4: the old fixed pool of 4 workers")
    parser.add_argument("--disk", action="store_true", help="state store on disk, not tmpfs")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    say = (lambda *_: None) if args.json else print
    say(f"command: {sys.executable} {' '.join(sys.argv)}")
    say(f"machine: {machine()}")
    generated = generate(mix_of(args.mix, args.orders))
    with running(generated, state_on_tmpfs=not args.disk) as rig:
        rig.prepare()
        m = rig.measure(
            concurrency=args.concurrency, concurrency_max=args.concurrency_max,
            rate_limit=args.rate,
            stripe_faults=FaultConfig(
                rate_limit=args.rate, endpoint_rate_limit=args.endpoint_rate,
                latency_ms=args.latency_ms, latency_tail_ms=args.latency_tail_ms,
                latency_tail_fraction=args.latency_tail_fraction, seed=7),
            org_faults=OrgFaults(latency_ms=args.org_latency_ms))
    out = result(args, m)
    if args.json:
        print(json.dumps(out))
        return 0
    for key, value in out.items():
        print(f"{key:>28}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
