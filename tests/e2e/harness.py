"""A local org and a Stripe emulator on loopback, and the real engine between them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from simple_salesforce import Salesforce

from sf_stripe_sync.config import Settings, load_settings
from sf_stripe_sync.engine import RunOptions, RunReport
from sf_stripe_sync.runtime import SandboxOptions, open_runtime
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator

ROOT = Path(__file__).resolve().parents[2]
DEMO_ORG = ROOT / "fixtures" / "demo-org.json"
DEMO_CATALOG = ROOT / "fixtures" / "demo-stripe-catalog.json"
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
"""Before every demo order starts, so nothing is clipped or already ended."""

WRITE_METHODS = frozenset({"POST", "DELETE"})


def load_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@dataclass
class Harness:
    org: LocalOrg
    emulator: StripeEmulator
    state_dir: Path

    def settings(self, **overrides: Any) -> Settings:
        return load_settings(None, state_dir=self.state_dir, **overrides)

    def sync(self, *, order_ids: list[str] | None = None, cancel_ids: tuple[str, ...] = (),
             as_of: datetime = AS_OF, dry_run: bool = False) -> RunReport:
        settings = self.settings()
        sandbox = SandboxOptions(org=self.org, emulator=self.emulator)
        with open_runtime(settings, sandbox) as rt:
            engine = rt.engine()
            return engine.run(RunOptions(order_ids=order_ids, cancel_ids=cancel_ids,
                                         as_of=as_of, dry_run=dry_run))

    def salesforce(self) -> Salesforce:
        return Salesforce(instance_url=self.org.instance_url.replace("http://", "https://"),
                          session_id=self.org.session_id, session=self.org.requests_session(),
                          version="65.0")

    def stripe_writes(self) -> int:
        """Writes Stripe really performed (replays of a saved response are not writes)."""
        return sum(1 for r in self.emulator.requests()
                   if r["method"] in WRITE_METHODS and r["status"] < 400
                   and not r.get("replayed"))

    def record(self, sobject: str, record_id: str) -> dict[str, Any]:
        for rec in self.org.records(sobject):
            if rec["Id"] == record_id:
                return rec
        raise KeyError(f"{sobject} {record_id} not in the org")

    def schedules(self) -> list[dict[str, Any]]:
        return self.emulator.objects("subscription_schedule")


    def objects(self, kind: str) -> list[dict[str, Any]]:
        return self.emulator.objects(kind)


H = TypeVar("H", bound=Harness)


SEARCH_LAG_SECONDS = 60
"""Stripe's search trails writes (up to a minute): the engine must not rely on it."""


@contextmanager
def running(tmp_path: Path, snapshot: dict[str, Any] | None = None, *,
            now: datetime | None = None, harness: type[H] = Harness) -> Iterator[H]:  # type: ignore[assignment]
    """The demo org (or ``snapshot``) and the demo catalog, served on loopback.

    ``now`` sets the emulator's clock; ``harness`` picks a subclass with more helpers."""
    org = LocalOrg(snapshot if snapshot is not None else load_json(DEMO_ORG))
    emulator = StripeEmulator(seed=load_json(DEMO_CATALOG),
                              now=int(now.timestamp()) if now is not None else None,
                              search_lag_seconds=SEARCH_LAG_SECONDS)
    org.start(host="127.0.0.1", port=0)
    emulator.start(host="127.0.0.1", port=0)
    try:
        yield harness(org=org, emulator=emulator, state_dir=tmp_path / "state")
    finally:
        emulator.stop()
        org.stop()
