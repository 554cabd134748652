"""Benchmark: consolidation of one large order, sweep vs a naive quadratic reference.

Run: ``.venv/bin/python benchmarks/consolidate.py`` (not part of the test suite).

Each input is one order of N lines with random overlaps: line i starts i days (plus a
random number of hours) after the first and lasts 2 to 10 days, so at most about ten
lines are active at any instant and the timeline has no gap. Every line has its own
price, so no conflicts arise and every cut produces a phase. The naive reference scans
every line for every segment (what the sweep avoids); both must produce the same
phases, which is checked before any figure is printed.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from sf_stripe_sync.core.consolidate import consolidate
from sf_stripe_sync.core.dates import to_unix
from sf_stripe_sync.core.models import OrderLine, PhaseProperties

SIZES = (1_000, 10_000, 100_000)
NAIVE_BUDGET_SECONDS = 60.0
T0 = datetime(2025, 1, 1, tzinfo=UTC)
PROPS = PhaseProperties(currency="usd")

Shape = list[tuple[datetime, datetime | None, tuple[tuple[str, int], ...]]]


def make_lines(count: int, seed: int = 20251) -> list[OrderLine]:
    rng = random.Random(seed)
    lines = []
    for n in range(count):
        start = T0 + timedelta(days=n, hours=rng.randrange(0, 12))
        end = start + timedelta(days=rng.randint(2, 10), hours=rng.randrange(0, 12))
        lines.append(OrderLine(id=f"802{n:09d}", order_id="801BENCH", price_id=f"price_{n}",
                               quantity=rng.randint(1, 5), start=start, end=end,
                               properties=PROPS))
    rng.shuffle(lines)
    return lines


def sweep_shape(lines: Sequence[OrderLine]) -> Shape:
    result = consolidate(lines)
    assert result.schedule is not None, result.issues[:3]
    return [(p.start, p.end, tuple((i.price, i.quantity) for i in p.items))
            for p in result.schedule.phases]


def naive_shape(lines: Sequence[OrderLine]) -> Shape:
    """Per segment, scan *all* lines: O(lines x segments), with cheap int comparisons."""
    plain = [(to_unix(x.start), to_unix(x.end) if x.end else 2**62, x.price_id, x.quantity)
             for x in lines]
    cuts = sorted({x.start for x in lines} | {x.end for x in lines if x.end is not None})
    phases: Shape = []
    for start, end in pairwise(cuts):
        a, b = to_unix(start), to_unix(end)
        content = tuple(sorted([(p, q) for s, e, p, q in plain if s <= a and e >= b]))
        if not content:
            raise AssertionError(f"gap at {start}")
        if phases and phases[-1][2] == content:
            phases[-1] = (phases[-1][0], end, content)
        else:
            phases.append((start, end, content))
    return phases


def timed(fn: Callable[[Sequence[OrderLine]], Shape], lines: Sequence[OrderLine],
          repeat: int) -> tuple[float, Shape]:
    best, shape = float("inf"), None
    for _ in range(repeat):
        began = time.process_time()
        shape = fn(lines)
        best = min(best, time.process_time() - began)
    assert shape is not None
    return best, shape


def main() -> int:
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    print(f"python {sys.version.split()[0]}; CPU seconds (process_time), best of 3 runs "
          "(1 run at 100k and for the naive reference)\n")
    rows: list[dict[str, Any]] = []
    naive_time: float | None = None
    for size in SIZES:
        lines = make_lines(size)
        sweep_time, sweep = timed(sweep_shape, lines, 3 if size < 100_000 else 1)
        print(f"  {size} lines: sweep {sweep_time:.3f}s", flush=True)
        row: dict[str, Any] = {"size": size, "phases": len(sweep), "sweep": sweep_time}
        projected = naive_time * (size / rows[-1]["size"]) ** 2 if naive_time else 0.0
        if projected <= NAIVE_BUDGET_SECONDS:
            naive_time, naive = timed(naive_shape, lines, 1)
            if naive != sweep:
                print(f"MISMATCH at {size} lines: sweep and naive phases differ")
                return 1
            row["naive"] = naive_time
        else:
            row["naive_skipped"] = projected
        rows.append(row)
    print(f"\n{'lines':>8} {'phases':>8} {'sweep s':>9} {'naive s':>12}  same phases")
    for row in rows:
        naive_cell = (f"{row['naive']:12.3f}" if "naive" in row
                      else f"{'skipped':>12}")
        same = "yes" if "naive" in row else f"not run (~{row['naive_skipped']:.0f}s projected)"
        print(f"{row['size']:>8} {row['phases']:>8} {row['sweep']:9.3f} {naive_cell}  {same}")
    print("\ngrowth (time ratio; 10.0 = linear, 100.0 = quadratic):")
    for small, large in pairwise(rows):
        ratio = large["sweep"] / small["sweep"]
        naive = (f", naive {large['naive'] / small['naive']:.1f}"
                 if "naive" in small and "naive" in large else "")
        print(f"  {large['size']}/{small['size']}: sweep {ratio:.1f}{naive}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
