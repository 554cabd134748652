"""Benchmark: the JSON preview grows linearly with the org, and streams in bounded memory.

Run: ``.venv/bin/python benchmarks/preview.py`` (not part of the test suite): one run
reports the 16,000 / 1,000 per-order ratio, the CPU and wall milliseconds per order and
the peak memory of a 100,000-order preview streamed from the local Salesforce org.
``--sizes 1000,16000`` (orders of ``--items 5`` lines each, ``preview_org``),
``--stream N`` (the streamed size; 0 skips it), ``--json`` (one JSON object on the last
line).

Each size is a generated snapshot file previewed by ``sf-stripe-sync preview --source
FILE --format json`` in a child process (``cli.main``, output to /dev/null); the child
reports its wall time, its CPU time (user + system: on this shared 2-core machine the
wall time also carries other people's load, the CPU time much less) and its peak
resident memory (``VmHWM``). ``per_order_ratio`` is the largest size's time per order
over the smallest's: 1.0 is linear. ``--stream N`` serves N orders from the local org in
this process (its memory is not the child's) and previews them through the Salesforce
source, as ``preview --source salesforce`` does, the JSON written page by page; the
org's own CPU time while it answers is reported beside the child's (``org_cpu_s``).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from preview_org import snapshot, write_snapshot

AS_OF = "2026-12-01"
CHILD = r"""
import json, sys, time
began, cpu = time.perf_counter(), time.process_time()
from sf_stripe_sync.cli import main
try:
    main(["preview", "--source", sys.argv[1], "--format", "json", "--as-of", sys.argv[2],
          "-o", "/dev/null"])
except SystemExit:
    pass
wall, cpu = time.perf_counter() - began, time.process_time() - cpu
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_mb": peak / 1024}))
"""
STREAM_CHILD = r"""
import json, sys, tempfile, time
from datetime import UTC, datetime
from pathlib import Path
from sf_stripe_sync.config import Settings
from sf_stripe_sync.preview_stream import write_preview_json
from sf_stripe_sync.runtime import SandboxOptions, open_runtime
began, cpu = time.perf_counter(), time.process_time()
with tempfile.TemporaryDirectory() as tmp, open("/dev/null", "w") as out:
    settings = Settings(state_dir=Path(tmp))
    with open_runtime(settings, SandboxOptions(salesforce_url=sys.argv[1])) as rt:
        write_preview_json(rt.source, [], rt.settings,
                           datetime.fromisoformat(sys.argv[2]).replace(tzinfo=UTC), out)
wall, cpu = time.perf_counter() - began, time.process_time() - cpu
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_mb": peak / 1024}))
"""


def _child(code: str, *args: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         check=False)
    if out.returncode != 0:
        raise RuntimeError(f"the preview failed:\n{out.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return answer


def from_file(orders: int, items: int, tmp: Path) -> dict[str, Any]:
    path = tmp / f"org-{orders}.json"
    write_snapshot(path, orders, items)
    measured = _child(CHILD, str(path), AS_OF)
    path.unlink()
    return {"orders": orders, **_per_order(measured, orders)}


def streamed(orders: int, items: int) -> dict[str, Any]:
    from sf_stripe_sync.sandbox.salesforce_org import LocalOrg

    began = time.perf_counter()
    org = LocalOrg(snapshot(orders, items))
    loaded = time.perf_counter() - began
    org.start(host="127.0.0.1", port=0)
    try:
        cpu = time.process_time()
        measured = _child(STREAM_CHILD, org.base_url, AS_OF)
        org_cpu = time.process_time() - cpu
    finally:
        org.stop()
    return {"orders": orders, "source": "salesforce (local org)",
            **_per_order(measured, orders), "org_cpu_s": round(org_cpu, 2),
            "org_load_s": round(loaded, 1), "salesforce_calls": org.api_calls}


def _per_order(measured: dict[str, Any], orders: int) -> dict[str, Any]:
    return {"wall_s": round(measured["wall_s"], 2), "cpu_s": round(measured["cpu_s"], 2),
            "wall_ms_per_order": round(1000 * measured["wall_s"] / orders, 3),
            "cpu_ms_per_order": round(1000 * measured["cpu_s"] / orders, 3),
            "peak_mb": round(measured["peak_mb"], 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,16000")
    parser.add_argument("--items", type=int, default=5)
    parser.add_argument("--stream", type=int, default=100_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    say = (lambda *_: None) if args.json else print
    say(f"command: {sys.executable} {' '.join(sys.argv)}")
    result_load = os.getloadavg()
    say(f"load average before: {result_load}")
    sizes = [int(s) for s in args.sizes.split(",")]
    result: dict[str, Any] = {"items_per_order": args.items, "runs": [],
                              "load_average_before": result_load}
    began = time.time()
    with tempfile.TemporaryDirectory(prefix="sf-stripe-preview-") as tmp:
        for size in sizes:
            run = from_file(size, args.items, Path(tmp))
            result["runs"].append(run)
            say(json.dumps(run))
        small, large = result["runs"][0], result["runs"][-1]
        for unit in ("wall", "cpu"):
            result[f"per_order_ratio_{unit}"] = round(
                large[f"{unit}_ms_per_order"] / small[f"{unit}_ms_per_order"], 3)
        result["cpu_ms_per_order"] = large["cpu_ms_per_order"]
        result["wall_ms_per_order"] = large["wall_ms_per_order"]
    if args.stream:
        result["stream"] = streamed(args.stream, args.items)
        result["stream_peak_mb"] = result["stream"]["peak_mb"]
        say(json.dumps(result["stream"]))
    result["load_average_after"] = os.getloadavg()
    result["seconds"] = round(time.time() - began, 1)
    print(json.dumps(result) if args.json else json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
