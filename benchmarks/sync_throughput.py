"""Benchmark: how close a sync of 1,000 orders runs to Stripe's rate limit.

Run: ``.venv/bin/python benchmarks/sync_throughput.py`` (not part of the test suite;
``--orders N``, ``--runs 1/tmpfs,4/tmpfs,8/tmpfs,8/disk``, ``--rate 25``,
``--stripe-latency-ms 50``, ``--org-latency-ms 100``).

For each concurrency level a fresh generated org (``generated_org``: about 60% create,
20% amend, 10% replace, 10% noop) is loaded into the local org, its baseline synced
(untimed), the org edited, and then one scheduled sync is timed with the Stripe
emulator answering after 50 ms and refusing more than 25 requests a second (429), and
the local org answering after 100 ms. The engine's token bucket is set to the same 25/s.

The floor is the least time Stripe's limit allows for the requests the run needed:
(Stripe requests) / (25 per second). The ratio floor / wall is the share of the ceiling
reached (1.0 = exactly at the limit). Concurrency 1 is the sequential reference (what
one Salesforce job calling out order after order achieves at best).

Each run is ``workers/state``: the engine's thread count and where its SQLite state
store lives. The emulator runs as shipped: a refused write is undone from a journal of
what it touched, so a write costs the same with 400 schedules stored as with none.
``tmpfs`` (``/dev/shm``) measures the engine against Stripe's ceiling;
``disk`` adds this machine's fsync cost: the store commits with ``synchronous=FULL``,
about a dozen commits per executed order, and SQLite serialises writers, so on a slow
disk the store, not Stripe, sets the pace.
"""

from __future__ import annotations

import argparse
import sys

from generated_org import generate
from rig import machine, running

from sf_stripe_sync.sandbox.salesforce_org import OrgFaults
from sf_stripe_sync.sandbox.stripe_emulator import FaultConfig


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument(
        "--runs", default="1/tmpfs,4/tmpfs,8/tmpfs,8/disk")
    parser.add_argument("--rate", type=float, default=25.0)
    parser.add_argument("--stripe-latency-ms", type=float, default=50.0)
    parser.add_argument("--org-latency-ms", type=float, default=100.0)
    args = parser.parse_args(argv)
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    print(f"machine: {machine()}")
    print(f"Stripe emulator: {args.stripe_latency_ms:.0f} ms latency, {args.rate:.0f} req/s "
          f"limit; local org: {args.org_latency_ms:.0f} ms latency; client bucket "
          f"{args.rate:.0f}/s\n")
    rows = []
    for run in args.runs.split(","):
        workers, state = run.split("/")
        level, on_tmpfs = int(workers), state != "disk"
        generated = generate(args.orders)
        with running(generated, state_on_tmpfs=on_tmpfs) as rig:
            rig.prepare()
            m = rig.measure(
                concurrency=level, rate_limit=args.rate,
                stripe_faults=FaultConfig(rate_limit=args.rate,
                                          latency_ms=args.stripe_latency_ms),
                org_faults=OrgFaults(latency_ms=args.org_latency_ms))
        floor = m.stripe_requests / args.rate
        failed_429 = sum(1 for o in m.report.failed if "429" in (o.message or "")
                         or "rate" in (o.message or "").lower())
        if m.refused:
            print(f"  {run}: {m.refused} Stripe requests refused (4xx/5xx other than 429)")
        rows.append((run, m, floor, failed_429))
        c = m.counts
        print(f"  {run}: {m.wall_seconds:.1f}s, {m.stripe_requests} Stripe "
              f"requests, mix create {c['create']} / amend {c['amend']} / replace "
              f"{c['replace']} / noop {c['noop']} / failed {c['failed']}", flush=True)
    print()
    print(f"{'run':>15} {'orders':>6} {'stripe req':>10} {'429s':>5} {'floor s':>8} "
          f"{'wall s':>7} {'ratio':>6} {'orders/s':>8} {'failed':>6} {'on 429':>6} "
          f"{'sf calls':>8}")
    for level, m, floor, failed_429 in rows:
        done = sum(m.counts.values())
        print(f"{level:>15} {done:>6} {m.stripe_requests:>10} {m.stripe_429:>5} "
              f"{floor:>8.1f} {m.wall_seconds:>7.1f} {floor / m.wall_seconds:>6.2f} "
              f"{done / m.wall_seconds:>8.1f} {m.counts['failed']:>6} {failed_429:>6} "
              f"{m.salesforce_calls:>8}")
    print("\nratio = floor / wall, floor = Stripe requests / rate limit; target >= 0.90 "
          "with no order failing on 429")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
