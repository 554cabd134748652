"""Benchmark: 1, 2 and 4 queue workers over 4 emulated Stripe accounts, against their ceiling.

Run: ``.venv/bin/python benchmarks/worker_throughput.py`` (not part of the test suite;
``--workers 1 2 4``, ``--contracts 24``, ``--rate 10``, ``--latency-ms 40``). It needs a
PostgreSQL server: ``SF_STRIPE_SYNC_TEST_PG_URL`` (as the tests), else it starts a
throwaway one with ``.ci/postgres.sh``.

Each Stripe account is its own emulator, rate-limited at ``--rate`` requests a second
with ``--latency-ms`` per request, so the accounts' combined ceiling is 4 x rate. The
org (the reliability suite's generator) holds ``--contracts`` contracts of 3 to 5
orders, dealt to the accounts in turn. For each worker count the benchmark starts
afresh (new schema, new emulators, new org), queues everything with
``sync --enqueue``, starts the ``worker`` processes, and waits until the queue is done.
Throughput is the Stripe requests the emulators answered, divided by the span from the
first job's start to the last job's end (from the queue's own event history), and is
reported as a ratio to the combined ceiling. Every account is paced in the shared store
(``shared_ratelimit``), so the 429s the emulators sent are reported too: they should
stay at zero however many workers share an account.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sf_stripe_sync.sandbox.salesforce_org import LocalOrg  # noqa: E402
from sf_stripe_sync.sandbox.stripe_emulator import FaultConfig, StripeEmulator  # noqa: E402
from tests.reliability.generate import generate_org  # noqa: E402

ACCOUNTS = ("acct1", "acct2", "acct3", "acct4")
CATALOG = json.loads((ROOT / "fixtures" / "demo-stripe-catalog.json").read_text())


@contextmanager
def postgres() -> Iterator[str]:
    url = os.environ.get("SF_STRIPE_SYNC_TEST_PG_URL")
    if url:
        yield url
        return
    out = subprocess.run(["bash", str(ROOT / ".ci" / "postgres.sh"), "start"], check=True,
                         capture_output=True, text=True).stdout
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.splitlines()
               if line.startswith("export "))
    try:
        yield env["SF_STRIPE_SYNC_TEST_PG_URL"]
    finally:
        subprocess.run(["bash", str(ROOT / ".ci" / "postgres.sh"), "stop",
                        env["SFSS_PG_DATA"]], check=False)


@contextmanager
def fresh_schema(base: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{base}{'&' if '?' in base else '?'}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def snapshot(contracts: int) -> dict[str, list[dict[str, Any]]]:
    org = generate_org(2026, contracts=contracts)
    account_of = {c["Id"]: ACCOUNTS[n % len(ACCOUNTS)] for n, c in enumerate(org["Contract"])}
    for order in org["Order"]:
        order["Stripe_Account__c"] = account_of[order["ContractId"]]
    return org


def config(path: Path, emulators: dict[str, StripeEmulator], rate: float) -> Path:
    lines = ['default_stripe_account = "acct1"', "concurrency = 4"]
    for name, emulator in emulators.items():
        lines += ["[[stripe_accounts]]", f'name = "{name}"', f'api_base = "{emulator.url}"',
                  f"rate_limit_per_second = {rate}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def environment(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SF_STRIPE_SYNC")}
    env.update({
        "PYTHONPATH": str(ROOT / "src"), "STRIPE_API_KEY": "sk_test_benchmark",
        "SF_STRIPE_SYNC__STATE__URL": url, "SF_STRIPE_SYNC__QUEUE__SCHEDULE": "",
        "SF_STRIPE_SYNC__QUEUE__POLL_SECONDS": "0.2",
        "SF_STRIPE_SYNC__QUEUE__RETRY_WAIT_SECONDS": "1",
        "SF_STRIPE_SYNC__RETRY__INITIAL_WAIT_SECONDS": "0.2",
        "SF_STRIPE_SYNC__RETRY__MAX_WAIT_SECONDS": "1"})
    return env


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "sf_stripe_sync.cli", *args]


def wait_for_queue(url: str, deadline: float) -> None:
    query = ("SELECT count(*) FILTER (WHERE status IN ('todo', 'doing')), count(*) "
             "FROM procrastinate_jobs")
    while time.monotonic() < deadline:
        with psycopg.connect(url) as conn:
            open_jobs, total = conn.execute(query).fetchone() or (0, 0)
        if total and not open_jobs:
            return
        time.sleep(0.2)
    raise TimeoutError("the workers did not finish the queue in time")


def job_span(url: str) -> tuple[float, dict[str, int]]:
    with psycopg.connect(url) as conn:
        first, last = conn.execute(
            "SELECT min(at) FILTER (WHERE type = 'started'), "
            "max(at) FILTER (WHERE type IN ('succeeded', 'failed')) "
            "FROM procrastinate_events").fetchone() or (None, None)
        statuses = dict(conn.execute(
            "SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY 1").fetchall())
    return (last - first).total_seconds(), statuses


def measure(base_url: str, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    org_snapshot = snapshot(args.contracts)
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        url = stack.enter_context(fresh_schema(base_url))
        emulators = {}
        for name in ACCOUNTS:
            emulator = StripeEmulator(seed=CATALOG, faults=FaultConfig(
                rate_limit=args.rate, latency_ms=args.latency_ms))
            emulator.start(host="127.0.0.1", port=0)
            stack.callback(emulator.stop)
            emulators[name] = emulator
        org = LocalOrg(org_snapshot)
        org.start(host="127.0.0.1", port=0)
        stack.callback(org.stop)
        cfg = config(Path(tmp) / "bench.toml", emulators, args.rate)
        common = ("--config", str(cfg), "--salesforce-sandbox-url", org.base_url)
        env = environment(url)
        subprocess.run(cli("sync", "--enqueue", "--state-dir", f"{tmp}/enqueue", *common),
                       env=env, cwd=ROOT, check=True, capture_output=True)
        processes = [subprocess.Popen(cli("worker", "--name", f"w{n}", "--state-dir",
                                          f"{tmp}/w{n}", *common),
                                      env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL)
                     for n in range(workers)]
        try:
            wait_for_queue(url, time.monotonic() + args.timeout)
        finally:
            for process in processes:
                process.send_signal(signal.SIGTERM)
            for process in processes:
                process.wait(timeout=60)
        span, statuses = job_span(url)
        requests = [r for e in emulators.values() for r in e.requests()]
        answered = [r for r in requests if r["status"] is not None]
        limited = sum(1 for r in requests if r["status"] == 429)
        ceiling = args.rate * len(ACCOUNTS)
        schedules = sum(len(e.objects("subscription_schedule")) for e in emulators.values())
    throughput = len(answered) / span
    return {"workers": workers, "orders": len(org_snapshot["Order"]),
            "contracts": args.contracts, "schedules": schedules, "jobs": statuses,
            "stripe_requests": len(answered), "rate_limited_429": limited,
            "seconds": round(span, 2), "requests_per_second": round(throughput, 2),
            "ceiling_per_second": ceiling, "ratio_to_ceiling": round(throughput / ceiling, 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--contracts", type=int, default=24)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--latency-ms", type=float, default=40.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    results = []
    with postgres() as base:
        for workers in args.workers:
            result = measure(base, workers, args)
            results.append(result)
            print(json.dumps(result), flush=True)
    print(json.dumps({"results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
