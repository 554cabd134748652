"""The reliability rig: the real engine between a flaky local org and a flaky Stripe emulator.

Theory of operation: a ``Rig`` holds a running ``LocalOrg`` and ``StripeEmulator`` and a
state directory, and runs the engine in-process through ``open_runtime`` exactly as the
``sync`` command does, with retry waits set to zero through settings
(``retry.initial_wait_seconds`` and friends). Faults come from three places:

* the Stripe emulator's ``FaultConfig`` (500s, 429 lock timeouts, dropped connections,
  and "applied, then the response lost"), drawn per request from a seeded RNG;
* the org's ``OrgFaults`` (503 unavailable, whole-call and per-record
  UNABLE_TO_LOCK_ROW), drawn per call from a seeded RNG;
* ``FlakyOrgAdapter``, a requests transport between simple-salesforce and the org that
  drops connections, times out before sending, or sends and then loses the answer.

``converge`` repeats runs until the engine reports nothing pending and the journal has
nothing unfinished (a run that stops on an error counts as aborted and is retried, as
cron would). ``Census`` reads the end state of both sides for the assertions and the
figures of docs/reliability.md.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from requests.adapters import BaseAdapter

from sf_stripe_sync.config import Settings, load_settings
from sf_stripe_sync.engine import RunOptions, RunReport
from sf_stripe_sync.errors import SyncError
from sf_stripe_sync.runtime import SandboxOptions, open_runtime
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg, OrgFaults
from sf_stripe_sync.sandbox.stripe_emulator import FaultConfig, StripeEmulator
from sf_stripe_sync.state.store import JournalState, StateStore, open_store

ROOT = Path(__file__).resolve().parents[2]
DEMO_ORG = ROOT / "fixtures" / "demo-org.json"
DEMO_CATALOG = ROOT / "fixtures" / "demo-stripe-catalog.json"
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
"""Before every demo and generated order starts: nothing is clipped or already ended."""
NO_WAITS = {"initial_wait_seconds": 0.0, "max_wait_seconds": 0.0, "jitter_seconds": 0.0}
NO_WAIT_ENV = {
    "SF_STRIPE_SYNC__RETRY__INITIAL_WAIT_SECONDS": "0",
    "SF_STRIPE_SYNC__RETRY__MAX_WAIT_SECONDS": "0",
    "SF_STRIPE_SYNC__RETRY__JITTER_SECONDS": "0",
}
WRITE_METHODS = frozenset({"POST", "DELETE"})


def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


# ---------------------------------------------------------------------- Salesforce faults


@dataclass(frozen=True)
class TransportFaults:
    """Client-side faults between simple-salesforce and the org (probabilities per call)."""

    drop_rate: float = 0.0
    timeout_rate: float = 0.0
    lost_response_rate: float = 0.0
    seed: int = 0


class FlakyOrgAdapter(BaseAdapter):
    """Wraps the org's transport: injects drops, timeouts and lost answers; counts faults."""

    def __init__(self, inner: BaseAdapter, faults: TransportFaults, counts: Counter[str]) -> None:
        super().__init__()
        self.inner = inner
        self.faults = faults
        self.counts = counts
        self._rng = random.Random(faults.seed)
        self._lock = threading.Lock()

    def _draw(self) -> str | None:
        f = self.faults
        with self._lock:
            roll = self._rng.random()
        for kind, rate in (("drop", f.drop_rate), ("timeout", f.timeout_rate),
                           ("lost", f.lost_response_rate)):
            if roll < rate:
                return kind
            roll -= rate
        return None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        fault = self._draw()
        if fault == "drop":
            self.counts["salesforce:drop"] += 1
            raise requests.ConnectionError("connection reset by peer (injected)")
        if fault == "timeout":
            self.counts["salesforce:timeout"] += 1
            raise requests.ConnectTimeout("connect timed out (injected)")
        response = self.inner.send(request, **kwargs)
        if fault == "lost":
            self.counts["salesforce:lost"] += 1
            raise requests.ReadTimeout("the answer was lost after the org applied it (injected)")
        body = response.content or b""
        if response.status_code == 503:
            self.counts["salesforce:503"] += 1
        elif response.status_code >= 400 and b"UNABLE_TO_LOCK_ROW" in body:
            self.counts["salesforce:lock_row"] += 1
        elif b"UNABLE_TO_LOCK_ROW" in body:
            self.counts["salesforce:record_lock"] += body.count(b"UNABLE_TO_LOCK_ROW")
        return response

    def close(self) -> None:
        self.inner.close()


@dataclass
class FlakyOrg:
    """What ``open_runtime`` needs of an org, with the flaky transport in between."""

    org: LocalOrg
    faults: TransportFaults
    counts: Counter[str]

    @property
    def instance_url(self) -> str:
        return self.org.instance_url

    @property
    def session_id(self) -> str:
        return self.org.session_id

    def requests_session(self) -> requests.Session:
        session = self.org.requests_session()
        inner = session.get_adapter("https://127.0.0.1/")
        session.mount("https://", FlakyOrgAdapter(inner, self.faults, self.counts))
        return session


# ---------------------------------------------------------------------- the rig


class _RetryCounter(logging.Handler):
    """Counts the retries the Stripe and Salesforce retry policies announce in the log."""

    def __init__(self, counts: Counter[str]) -> None:
        super().__init__(level=logging.WARNING)
        self.counts = counts

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if record.name.startswith("sf_stripe_sync.stripe") and "retrying" in message:
            self.counts["stripe"] += 1
        elif record.name == "sf_stripe_sync.salesforce" and "; try " in message:
            self.counts["salesforce"] += 1


@dataclass
class Rig:
    org: LocalOrg
    emulator: StripeEmulator
    state_dir: Path
    transport_faults: TransportFaults = field(default_factory=TransportFaults)
    counts: Counter[str] = field(default_factory=Counter)
    """Salesforce-side faults injected, by kind."""
    retries: Counter[str] = field(default_factory=Counter)
    """Retries announced by the Stripe and Salesforce retry policies."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Settings for every run of this rig (e.g. fewer retries, so runs end pending)."""
    aborted_runs: int = 0
    abort_reasons: list[str] = field(default_factory=list)
    reports: list[RunReport] = field(default_factory=list)

    def settings(self, **overrides: Any) -> Settings:
        return load_settings(None, state_dir=self.state_dir, retry=NO_WAITS,
                             **{**self.overrides, **overrides})

    def sync(self, *, order_ids: list[str] | None = None, page_size: int = 200) -> RunReport:
        sandbox = SandboxOptions(org=FlakyOrg(self.org, self.transport_faults, self.counts),
                                 emulator=self.emulator)
        retries = _RetryCounter(self.retries)
        package_log = logging.getLogger("sf_stripe_sync")
        package_log.addHandler(retries)
        try:
            with open_runtime(self.settings(page_size=page_size), sandbox) as rt:
                engine = rt.engine()
                report = engine.run(RunOptions(order_ids=order_ids, as_of=AS_OF))
        finally:
            package_log.removeHandler(retries)
        self.reports.append(report)
        return report

    def open_store(self) -> StateStore:
        """The store this rig's runs use: ``state.url`` when set, else the state dir's."""
        return open_store(self.settings().state, self.state_dir)

    def unfinished(self) -> int:
        store = self.open_store()
        try:
            return len(store.journal_unfinished())
        finally:
            store.close()

    def converge(self, *, max_runs: int = 15, page_size: int = 200) -> int:
        """Run until nothing is pending; returns the number of runs it took."""
        for run in range(1, max_runs + 1):
            try:
                report = self.sync(page_size=page_size)
            except SyncError as exc:
                self.aborted_runs += 1
                self.abort_reasons.append(f"{type(exc).__name__}: {exc}")
                continue
            if not report.pending and self.unfinished() == 0:
                return run
        raise AssertionError(f"still pending after {max_runs} runs")

    def set_faults(self, *, rate: float, seed: int) -> None:
        """Every Stripe and Salesforce call fails with probability ``rate``, spread over kinds."""
        quarter = rate / 4
        self.emulator.set_faults(FaultConfig(error_rate=quarter, lock_timeout_rate=quarter,
                                             drop_rate=quarter, lost_response_rate=quarter,
                                             seed=seed))
        self.org.set_faults(OrgFaults(seed=seed + 1, unavailable_rate=rate * 0.3,
                                      lock_row_rate=rate * 0.2, record_lock_rate=rate * 0.2))
        self.transport_faults = TransportFaults(drop_rate=rate * 0.2, timeout_rate=rate * 0.1,
                                                lost_response_rate=rate * 0.2, seed=seed + 2)

    def clear_faults(self) -> None:
        self.emulator.clear_faults()
        self.org.clear_faults()
        self.transport_faults = TransportFaults()

    def stripe_fault_counts(self) -> Counter[str]:
        return Counter(f"stripe:{r['fault']}" for r in self.emulator.requests() if r.get("fault"))

    def census(self) -> Census:
        if not self.settings().state.url:
            return Census.read(self.org, self.emulator, self.state_dir)
        store = self.open_store()
        try:
            return Census.read(self.org, self.emulator, store=store)
        finally:
            store.close()


@contextmanager
def running(state_dir: Path, snapshot: Mapping[str, Any] | None = None) -> Iterator[Rig]:
    org = LocalOrg(dict(snapshot) if snapshot is not None else load_json(DEMO_ORG))
    emulator = StripeEmulator(seed=load_json(DEMO_CATALOG), search_lag_seconds=60)
    org.start(host="127.0.0.1", port=0)
    emulator.start(host="127.0.0.1", port=0)
    try:
        yield Rig(org=org, emulator=emulator, state_dir=state_dir)
    finally:
        emulator.stop()
        org.stop()


# ---------------------------------------------------------------------- the end state


def _written_back(store: StateStore) -> list[tuple[str, str]]:
    return [(e.order_id, e.idempotency_key) for e in store.journal_recent(limit=100_000)
            if e.state is JournalState.WRITTEN_BACK]


@dataclass
class Census:
    """Both sides' end state, reduced to what the promises are about."""

    orders: dict[str, dict[str, Any]]
    contracts: dict[str, dict[str, Any]]
    accounts: dict[str, dict[str, Any]]
    items: list[dict[str, Any]]
    logs: list[dict[str, Any]]
    schedules: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    coupons: list[dict[str, Any]]
    seeded_coupons: frozenset[str]
    operations: list[tuple[str, str]] = field(default_factory=list)
    """(order id, idempotency key) of every Stripe operation the journal says was sent."""
    prices: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, org: LocalOrg, emulator: StripeEmulator, state_dir: Path | None = None,
             *, store: StateStore | None = None) -> Census:
        """``store`` (else the SQLite file in ``state_dir``, if any) gives the journal."""
        seeded = frozenset(c["id"] for c in load_json(DEMO_CATALOG).get("coupons", []))
        operations = []
        if store is None and state_dir is not None and (state_dir / "state.db").exists():
            with StateStore.open(state_dir / "state.db") as opened:
                operations = _written_back(opened)
        elif store is not None:
            operations = _written_back(store)
        return cls(
            orders={o["Id"]: o for o in org.records("Order")},
            contracts={c["Id"]: c for c in org.records("Contract")},
            accounts={a["Id"]: a for a in org.records("Account")},
            items=org.records("OrderItem"),
            logs=org.records("Sync_Log__c"),
            schedules=emulator.objects("subscription_schedule"),
            customers=emulator.objects("customer"),
            coupons=[c for c in emulator.objects("coupon") if c["id"] not in seeded],
            seeded_coupons=seeded,
            operations=operations,
            prices=emulator.objects("price"),
        )

    def custom_prices_by_terms(self) -> Counter[tuple[Any, ...]]:
        """The sync's custom prices by what they bill: one each, whoever made them."""
        return Counter((p.get("product"), p.get("currency"), p.get("unit_amount"),
                        str(p.get("recurring"))) for p in self.prices
                       if (p.get("metadata") or {}).get("salesforce_custom_price") == "true")

    def schedules_by_contract_key(self) -> Counter[str]:
        return Counter(s["metadata"].get("salesforce_contract_key", "") for s in self.schedules)

    def customers_by_account(self) -> Counter[str]:
        return Counter(c["metadata"].get("salesforce_account_id", "") for c in self.customers
                       if c["metadata"].get("salesforce_account_id"))

    def billing(self) -> dict[str, Any]:
        """What each contract is billed, free of generated ids: comparable across runs."""
        coupon_terms = {c["id"]: (c.get("percent_off"), c.get("amount_off"), c.get("currency"))
                        for c in self.coupons}

        def discounts(holder: dict[str, Any]) -> list[Any]:
            return sorted(str(coupon_terms.get(d.get("coupon"), d.get("coupon")))
                          for d in holder.get("discounts") or [])

        # a custom price's id is generated; its lookup key says what it bills
        named = {p["id"]: p.get("lookup_key") or p["id"] for p in self.prices}
        billed: dict[str, Any] = {}
        for schedule in self.schedules:
            key = schedule["metadata"].get("salesforce_contract_key", schedule["id"])
            billed[key] = {
                "status": schedule["status"],
                "end_behavior": schedule["end_behavior"],
                "phases": [
                    {"start": p["start_date"], "end": p["end_date"], "discounts": discounts(p),
                     "items": sorted((named.get(i["price"], i["price"]), i["quantity"],
                                      tuple(discounts(i)),
                                      (i.get("metadata") or {}).get("salesforce_order_item_id"))
                                     for i in p["items"]),
                     "once": sorted((named.get(a["price"], a["price"]), a.get("quantity"))
                                    for a in p.get("add_invoice_items") or [])}
                    for p in schedule["phases"]],
            }
        return billed

    def log_keys(self) -> Counter[tuple[str, str, str]]:
        return Counter((log["Order__c"], log["Status__c"], log["Idempotency_Key__c"] or "")
                       for log in self.logs)
