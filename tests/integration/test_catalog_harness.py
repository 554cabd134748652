"""Shared by the catalog, entitlements and portal tests: the demo org and the Stripe
emulator on loopback, the real runtime between them, and helpers to drive each step.
(No tests here; the other modules import ``CatalogEnv`` and ``catalog_env``.)"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import stripe
from simple_salesforce import Salesforce

from sf_stripe_sync.catalog.context import CatalogContext, catalog_context
from sf_stripe_sync.catalog.pull import CatalogPull, PullReport
from sf_stripe_sync.catalog.push import CatalogPush, PushReport
from sf_stripe_sync.config import Settings, load_settings
from sf_stripe_sync.runtime import Runtime, SandboxOptions, open_runtime
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator

ROOT = Path(__file__).resolve().parents[2]
DEMO_ORG = ROOT / "fixtures" / "demo-org.json"
DEMO_CATALOG = ROOT / "fixtures" / "demo-stripe-catalog.json"
TRAINING_PRODUCT = "01t000000000008AAA"
"""Has no Stripe product yet in the demo org."""
TRAINING_ENTRY = "01u000000000009AAA"
"""Its PricebookEntry (USD 40.00), with no Stripe price yet."""
PRODUCT_A = "01t000000000001AAA"
ENTRY_A = "01u000000000001AAA"
ACME = "001000000000001AAA"
T = TypeVar("T")


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@dataclass
class CatalogEnv:
    org: LocalOrg
    emulator: StripeEmulator
    state_dir: Path

    def settings(self, **overrides: Any) -> Settings:
        return load_settings(None, state_dir=self.state_dir, **overrides)

    def sandbox_args(self) -> list[str]:
        """CLI flags that reach these very sandboxes (served in this process)."""
        org_url = self.org.instance_url.replace("https://", "http://")
        return ["--salesforce-sandbox-url", org_url, "--stripe-emulator-url", self.emulator.url,
                "--state-dir", str(self.state_dir)]

    def run(self, step: Callable[[CatalogContext, Runtime], T], **overrides: Any) -> T:
        sandbox = SandboxOptions(org=self.org, emulator=self.emulator)
        with open_runtime(self.settings(**overrides), sandbox) as rt:
            return step(catalog_context(rt), rt)

    def push(self, **overrides: Any) -> PushReport:
        return self.run(lambda ctx, rt: CatalogPush(ctx.salesforce, ctx.stripe(),
                                                    rt.settings).push(), **overrides)

    def pull(self) -> PullReport:
        return self.run(lambda ctx, rt: CatalogPull(ctx.salesforce, ctx.stripe(), rt.settings,
                                                    ctx.memory).pull())

    def salesforce(self) -> Salesforce:
        """simple-salesforce on the local org, as a Salesforce user would edit records."""
        return Salesforce(instance_url=self.org.instance_url.replace("http://", "https://"),
                          session_id=self.org.session_id, session=self.org.requests_session(),
                          version="65.0")

    def stripe(self) -> stripe.StripeClient:
        return stripe.StripeClient("sk_test_catalog_tests",
                                   base_addresses={"api": self.emulator.url},
                                   max_network_retries=0)

    def record(self, sobject: str, record_id: str) -> dict[str, Any]:
        return next(r for r in self.org.records(sobject) if r["Id"] == record_id)

    def objects(self, kind: str) -> list[dict[str, Any]]:
        return self.emulator.objects(kind)


@contextmanager
def catalog_env(tmp_path: Path, snapshot: dict[str, Any] | None = None,
                now: datetime | None = None) -> Iterator[CatalogEnv]:
    org = LocalOrg(snapshot if snapshot is not None else load(DEMO_ORG))
    emulator = StripeEmulator(seed=load(DEMO_CATALOG),
                              now=int(now.timestamp()) if now is not None else None)
    org.start(host="127.0.0.1", port=0)
    emulator.start(host="127.0.0.1", port=0)
    try:
        yield CatalogEnv(org=org, emulator=emulator, state_dir=tmp_path / "state")
    finally:
        emulator.stop()
        org.stop()


AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
