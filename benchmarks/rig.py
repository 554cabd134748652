"""The benchmark rig: a generated org in the local org, the Stripe emulator, the real engine.

Theory of operation: ``Rig`` starts the local Salesforce org and the Stripe emulator
in-process on loopback (as the end-to-end tests do) and drives the real engine through
``runtime.open_runtime``, so every figure is measured through the same adapters, HTTP
and SDKs a production run uses. ``prepare`` syncs the generated org's baseline (untimed,
no latency, no rate limit), moves the watermark past it, and applies the mutations
between runs; ``measure`` then runs one scheduled sync under the given faults and counts
what it cost: wall time, Stripe requests (from the emulator's request log, 429s
included), Salesforce API calls (the org's own counter), outcomes per operation.

The timed sync runs in a *child process* (``--child``) that reaches the org and the
emulator over loopback (``SandboxOptions(salesforce_url=..., stripe_url=...)``), as a
production job reaches Salesforce and Stripe: the stand-ins' own CPU work then does not
compete with the engine for this process's interpreter lock, which would otherwise
make the stand-ins, not the engine or Stripe's limit, the bottleneck.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from generated_org import AS_OF, GeneratedOrg

from sf_stripe_sync.config import SalesforceSettings, Settings, StripeAccountSettings
from sf_stripe_sync.engine import OrderOutcome, RunOptions, RunReport
from sf_stripe_sync.runtime import SandboxOptions, open_runtime
from sf_stripe_sync.salesforce.auth import connect
from sf_stripe_sync.salesforce.writer import SalesforceWriteBack
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg, OrgFaults
from sf_stripe_sync.sandbox.stripe_emulator import FaultConfig, StripeEmulator

BASELINE_AT = datetime(2026, 11, 1, tzinfo=UTC)
EDITED_AT = BASELINE_AT + timedelta(hours=2)


@dataclass
class Measurement:
    wall_seconds: float
    report: RunReport
    stripe_requests: int
    stripe_429: int
    salesforce_calls: int
    stripe_by_path: Counter[str] = field(default_factory=Counter)
    stripe_ok_by_path: Counter[str] = field(default_factory=Counter)
    """Requests by endpoint that were answered (not refused with 429)."""
    salesforce_by_kind: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    """Stripe answers 4xx/5xx other than 429 (none expected)."""
    limiter_waits: int = 0
    org_timeline: list[tuple[float, float, str]] = field(default_factory=list)
    """(received, answered, kind) per org request, seconds from the run's start."""
    timeline: list[tuple[float, float, str, int]] = field(default_factory=list)
    """(sent, answered, endpoint, status) per Stripe request, seconds from the run's start."""
    cpu_seconds: float = 0.0
    """CPU time of the timed sync's process (engine, SDKs, adapters) during the run."""
    store_statements: Counter[str] = field(default_factory=Counter)
    """SQL statements the SQLite state store ran during the timed run, by first word."""

    @property
    def counts(self) -> dict[str, int]:
        return self.report.counts


class Rig:
    def __init__(self, generated: GeneratedOrg, state_dir: Path) -> None:
        self.generated = generated
        self.state_dir = state_dir
        self.org = LocalOrg(generated.snapshot)
        self.emulator = StripeEmulator(seed=generated.stripe_seed)
        self.org_calls: Counter[str] = Counter()
        """Org requests by kind (describe, query, update, insert), counted at the org."""
        serve = self.org.handle

        self.org_times: list[tuple[float, float, str]] = []
        """(received, answered, kind) of every org request, wall clock."""

        def counted(request: Any) -> Any:
            kind = _org_call_kind(request.method, request.path, request.body)
            self.org_calls[kind] += 1
            began = time.time()
            answer = serve(request)
            self.org_times.append((began, time.time(), kind))
            return answer

        self.org.handle = counted  # type: ignore[method-assign]
        self.stripe_times: list[tuple[float, float, str, int]] = []
        """(sent, answered, endpoint, status) of every Stripe request, wall clock."""
        handle = self.emulator.core.handle

        def timed(method: str, path: str, *args: Any) -> Any:
            began = time.time()
            reply = handle(method, path, *args)
            self.stripe_times.append((began, time.time(), f"{method} {_shape(path)}",
                                      reply.status))
            return reply

        self.emulator.core.handle = timed  # type: ignore[method-assign]

    def settings(self, *, concurrency: int = 4, rate_limit: float | None = None,
                 page_size: int = 200) -> Settings:
        account = (StripeAccountSettings(name="default", rate_limit_per_second=rate_limit)
                   if rate_limit is not None else StripeAccountSettings(name="default"))
        return Settings(state_dir=self.state_dir, concurrency=concurrency,
                        page_size=page_size, stripe_accounts=(account,))

    def sync(self, settings: Settings, *, dry_run: bool = False) -> tuple[RunReport, float,
                                                                           int]:
        sandbox = SandboxOptions(org=self.org, emulator=self.emulator)
        with open_runtime(settings, sandbox) as rt:
            engine = rt.engine()
            began = time.perf_counter()
            report = engine.run(RunOptions(as_of=AS_OF, dry_run=dry_run))
            wall = time.perf_counter() - began
            waits = sum(getattr(getattr(g, "limiter", None), "waits", 0)
                        for g in engine._gateways.values())
        return report, wall, waits

    def prepare(self) -> RunReport:
        """Sync the baseline, move the watermark past it, then edit the org."""
        self.org.set_now(BASELINE_AT)
        report, _, _ = self.sync(self.settings(concurrency=8))
        failed = report.failed
        if failed:
            raise RuntimeError(f"baseline: {len(failed)} orders failed, first: "
                               f"{failed[0].code} {failed[0].message}")
        from sf_stripe_sync.state.store import StateStore

        with StateStore.open(self.state_dir / "state.db") as store:
            store.set_watermark("salesforce", BASELINE_AT + timedelta(hours=1))
        self.org.set_now(EDITED_AT)
        self._edit()
        self.org.set_now(None)
        return report

    def _edit(self) -> None:
        g = self.generated
        settings = Settings(salesforce=SalesforceSettings(
            auth="session", instance_url=self.org.instance_url.replace("http://", "https://")))
        conn = connect(settings, session=self.org.requests_session(),
                       environ={"SF_SESSION_ID": self.org.session_id})
        writer = SalesforceWriteBack(conn)
        results = writer.update("Order", [
            {"Id": i, "Status": "Activated"} for i in g.drafts])
        items = {r["Id"]: r for r in self.org.records("OrderItem")}
        results += writer.update("OrderItem", [
            {"Id": i, "Quantity": float(items[i]["Quantity"]) + 1} for i in g.replace_items])
        results += writer.update("Order", [
            {"Id": i, "Name": f"Renamed {i}"} for i in g.noop_orders])
        bad = [r for r in results if not r.success]
        if bad:
            raise RuntimeError(f"editing the org failed: {bad[:3]}")

    def measure(self, *, concurrency: int | None, rate_limit: float | None,
                concurrency_max: int | None = None,
                stripe_faults: FaultConfig | None = None,
                org_faults: OrgFaults | None = None, page_size: int = 200) -> Measurement:
        mark = len(self.emulator.requests())
        times_mark, org_mark = len(self.stripe_times), len(self.org_times)
        org_calls = self.org.api_calls
        kinds_before = Counter(self.org_calls)
        if stripe_faults is not None:
            self.emulator.set_faults(stripe_faults)
        if org_faults is not None:
            self.org.set_faults(org_faults)
        job = {"state_dir": str(self.state_dir), "org": self.org.base_url,
               "stripe": self.emulator.url, "concurrency": concurrency,
               "rate_limit": rate_limit, "page_size": page_size,
               "concurrency_max": concurrency_max}
        try:
            out = subprocess.run([sys.executable, __file__, "--child", json.dumps(job)],
                                 capture_output=True, text=True, check=False)
        finally:
            self.emulator.clear_faults()
            self.org.clear_faults()
        if out.returncode != 0:
            raise RuntimeError(f"the timed sync failed:\n{out.stderr[-3000:]}")
        answer = json.loads(out.stdout.strip().splitlines()[-1])
        report = RunReport(run_id="child", dry_run=False, notes=answer["notes"])
        report.outcomes = [OrderOutcome(order_id=o[0], result=o[1], code=o[2], message=o[3])
                           for o in answer["outcomes"]]
        report.salesforce_calls = answer["salesforce_calls"]
        report.stripe_writes = answer["stripe_writes"]
        wall, waits, cpu = answer["wall"], answer["limiter_waits"], answer.get("cpu", 0.0)
        began = answer.get("began", 0.0)
        timeline = [(a - began, b - began, e, st) for a, b, e, st in self.stripe_times[times_mark:]]
        sent = self.emulator.requests()[mark:]
        by_path: Counter[str] = Counter(f"{r['method']} {_shape(r['path'])}" for r in sent)
        ok_by_path: Counter[str] = Counter(f"{r['method']} {_shape(r['path'])}" for r in sent
                                           if r["status"] != 429)
        return Measurement(
            wall_seconds=wall, report=report, stripe_requests=len(sent),
            stripe_429=sum(1 for r in sent if r["status"] == 429),
            refused=sum(1 for r in sent if r["status"] >= 400 and r["status"] != 429),
            salesforce_calls=self.org.api_calls - org_calls, stripe_by_path=by_path,
            stripe_ok_by_path=ok_by_path,
            salesforce_by_kind=self.org_calls - kinds_before,
            limiter_waits=waits, cpu_seconds=cpu, timeline=timeline,
            store_statements=Counter(answer.get("store_statements", {})),
            org_timeline=[(a - began, b - began, k) for a, b, k in self.org_times[org_mark:]])


def _count_store_statements() -> Counter[str]:
    """Counts every SQL statement the SQLite state store runs from now on in this
    process (by first word: BEGIN, SELECT, INSERT, UPDATE, DELETE, COMMIT ...)."""
    from sf_stripe_sync.state.connections import ConnectionPool

    counted: Counter[str] = Counter()
    connect = ConnectionPool._connect

    def traced(pool: ConnectionPool) -> Any:
        conn = connect(pool)
        conn.set_trace_callback(lambda sql: counted.update([sql.split(None, 1)[0].upper()]))
        return conn

    ConnectionPool._connect = traced  # type: ignore[method-assign]
    return counted


def child(job: dict[str, Any]) -> int:
    """The timed sync, in its own process (see the module docstring)."""
    statements = _count_store_statements()
    tuning = {name: job[name] for name in ("concurrency", "concurrency_max")
              if job.get(name) is not None}
    rig_settings = Settings(
        state_dir=Path(job["state_dir"]), page_size=job["page_size"], **tuning,
        stripe_accounts=(StripeAccountSettings(name="default",
                                               rate_limit_per_second=job["rate_limit"])
                         if job["rate_limit"] is not None
                         else StripeAccountSettings(name="default"),))
    sandbox = SandboxOptions(salesforce_url=job["org"], stripe_url=job["stripe"])
    with open_runtime(rig_settings, sandbox) as rt:
        engine = rt.engine()
        began, cpu_began, began_at = time.perf_counter(), time.process_time(), time.time()
        statements.clear()
        report = engine.run(RunOptions(as_of=AS_OF))
        wall, cpu = time.perf_counter() - began, time.process_time() - cpu_began
        waits = sum(getattr(getattr(g, "limiter", None), "waits", 0)
                    for g in engine._gateways.values())
    print(json.dumps({
        "wall": wall, "cpu": cpu, "began": began_at, "limiter_waits": waits,
        "salesforce_calls": report.salesforce_calls,
        "stripe_writes": report.stripe_writes, "notes": report.notes,
        "store_statements": dict(statements),
        "outcomes": [(o.order_id, o.result, o.code, o.message) for o in report.outcomes]}))
    return 0


def _org_call_kind(method: str, path: str, body: bytes = b"") -> str:
    """describe, query, composite-query (a ``composite`` call of queries only),
    composite (one with writes), update, insert, other or login."""
    if "/describe" in path or path.rstrip("/").endswith("/composite/batch"):
        return "describe"
    if "/query" in path:
        return "query"
    if "/composite/sobjects" in path:
        return "update" if method == "PATCH" else "insert"
    if path.rstrip("/").endswith("/composite"):
        try:
            subrequests = json.loads(body or b"{}").get("compositeRequest") or []
        except (ValueError, AttributeError):
            subrequests = []
        reads = subrequests and all(s.get("method") == "GET" for s in subrequests)
        return "composite-query" if reads else "composite"
    return "other" if "/services/data" in path else "login"


def _shape(path: str) -> str:
    """``/v1/subscription_schedules/sub_sched_123`` -> ``/v1/subscription_schedules/{id}``."""
    parts = path.split("?")[0].split("/")
    return "/".join("{id}" if i == 3 and p not in ("search",) else p
                    for i, p in enumerate(parts))


TMPFS = Path("/dev/shm")


@contextmanager
def running(generated: GeneratedOrg, *, state_on_tmpfs: bool = False) -> Iterator[Rig]:
    """The rig, its state store in a temporary directory: on the disk, or on tmpfs
    (``/dev/shm``) where SQLite's fsync per commit costs nothing."""
    where = str(TMPFS) if state_on_tmpfs and TMPFS.is_dir() else None
    with TemporaryDirectory(prefix="sf-stripe-bench-", dir=where) as tmp:
        rig = Rig(generated, Path(tmp) / "state")
        rig.org.start(host="127.0.0.1", port=0)
        rig.emulator.start(host="127.0.0.1", port=0)
        try:
            yield rig
        finally:
            rig.emulator.stop()
            rig.org.stop()


def machine() -> dict[str, Any]:
    import os
    import platform

    return {"python": platform.python_version(), "cpus": os.cpu_count(),
            "platform": platform.platform()}


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--child":
    raise SystemExit(child(json.loads(sys.argv[2])))
