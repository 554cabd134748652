"""Benchmark: peak memory of a dry-run streamed over 1,000 / 10,000 / 100,000 orders.

Run: ``.venv/bin/python benchmarks/memory.py`` (not part of the test suite;
``--sizes 1000,10000,100000``).

What is measured: this process generates an org of N activated orders (two items each,
half of them on a Contract; ``generated_org``) and serves it from the local org on
loopback. A *child* process runs the real engine against it, exactly as
``sf-stripe-sync sync --dry-run --salesforce-sandbox-url`` would: the Salesforce source
reads the org through simple-salesforce in pages (query batches of 2,000, engine pages
of 200), each page is normalized and planned and its contracts prefetched, and the
report keeps one line per order. The child reports its own peak resident set size, so
the org's records, which live in this process, are not counted: the figure is what the
sync job itself needs. The peak is the kernel's high-water mark of the child's own
address space (``VmHWM`` in ``/proc/self/status``); ``ru_maxrss`` is printed beside it
but on Linux it also carries the *parent's* size at fork time across ``exec``, so it
overstates the child by whatever this process held when it started the child.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from generated_org import AS_OF, Mix, generate

from sf_stripe_sync.sandbox.salesforce_org import LocalOrg


def child(url: str, expected: int, keep_plans: bool) -> int:
    from datetime import UTC, datetime

    from sf_stripe_sync.config import Settings
    from sf_stripe_sync.engine import Engine, RunOptions
    from sf_stripe_sync.engine_settings import EngineSettings
    from sf_stripe_sync.runtime import SandboxOptions, open_runtime

    baseline_kb = _high_water_kb()
    with tempfile.TemporaryDirectory(prefix="sf-stripe-mem-") as tmp:
        settings = Settings(state_dir=Path(tmp))
        with open_runtime(settings, SandboxOptions(salesforce_url=url)) as rt:
            engine = Engine(settings=EngineSettings.of(rt.settings), source=rt.source,
                            writer=None, gateway_for=None, store=None,
                            clock=lambda: datetime.now(UTC),
                            salesforce_calls=rt.salesforce_calls)
            began = time.perf_counter()
            report = engine.run(RunOptions(as_of=AS_OF, dry_run=True, keep_plans=keep_plans))
            wall = time.perf_counter() - began
    peak_kb = _high_water_kb()
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    counts = report.counts
    print(json.dumps({"orders": len(report.outcomes), "expected": expected,
                      "create": counts["create"], "failed": counts["failed"],
                      "peak_mb": peak_kb / 1024, "import_mb": baseline_kb / 1024,
                      "maxrss_mb": maxrss_kb / 1024,
                      "wall": wall, "salesforce_calls": report.salesforce_calls}))
    return 0


def _high_water_kb() -> int:
    """Peak resident set size of this process's own address space, in KiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(size: int, keep_plans: bool) -> dict[str, float]:
    generated = generate(Mix(create=size, amend=0, replace=0, noop=0))
    for order in generated.snapshot["Order"]:
        order["Status"] = "Activated"
    org = LocalOrg(generated.snapshot)
    del generated
    org.start(host="127.0.0.1", port=0)
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", org.base_url, str(size),
             "keep" if keep_plans else "stream"],
            capture_output=True, text=True, check=False)
    finally:
        org.stop()
    if out.returncode != 0:
        raise RuntimeError(f"child failed for {size} orders:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--keep-plans-up-to", type=int, default=10_000,
                        help="also measure with every plan kept (the preview) up to this size")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child[0], int(args.child[1]), args.child[2] == "keep")
    print(f"command: {sys.executable} {' '.join(sys.argv)}\n")
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        for keep in (False, True):
            if keep and size > args.keep_plans_up_to:
                continue
            row = measure(size, keep)
            row["mode"] = "plans kept" if keep else "streamed"  # type: ignore[assignment]
            rows.append(row)
            print(f"  {size} orders, {row['mode']}: peak {row['peak_mb']:.0f} MB in "
                  f"{row['wall']:.1f}s", flush=True)
    print("\nstreamed = dry-run keeping counts and outcomes (what a sync keeps); plans kept ="
          " dry-run keeping every plan for the preview output")
    print(f"\n{'orders':>8} {'mode':>10} {'planned':>8} {'failed':>6} {'peak RSS MB':>11} "
          f"{'after imports MB':>16} {'ru_maxrss MB':>12} {'wall s':>7} {'sf calls':>8}")
    for row in rows:
        print(f"{int(row['expected']):>8} {row['mode']:>10} {int(row['orders']):>8} "
              f"{int(row['failed']):>6} "
              f"{row['peak_mb']:>11.0f} {row['import_mb']:>16.0f} {row['maxrss_mb']:>12.0f} "
              f"{row['wall']:>7.1f} {int(row['salesforce_calls']):>8}")
    print("\ntarget: under 300 MB at 10,000 orders, and flat as the org grows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
