"""Shared by the catalog, entitlements and portal tests: the demo org and the Stripe
emulator on loopback, the real runtime between them, and helpers to drive each step.
(No tests here; the other modules import ``CatalogEnv`` and ``catalog_env``.)"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import stripe

from sf_stripe_sync.catalog.context import CatalogContext, catalog_context
from sf_stripe_sync.catalog.pull import CatalogPull, PullReport
from sf_stripe_sync.catalog.push import CatalogPush, PushReport
from sf_stripe_sync.runtime import Runtime, SandboxOptions, open_runtime
from tests.e2e.harness import DEMO_CATALOG, DEMO_ORG, Harness, load_json, running

__all__ = ["DEMO_CATALOG", "DEMO_ORG", "CatalogEnv", "catalog_env", "load"]

TRAINING_PRODUCT = "01t000000000008AAA"
"""Has no Stripe product yet in the demo org."""
TRAINING_ENTRY = "01u000000000009AAA"
"""Its PricebookEntry (USD 40.00), with no Stripe price yet."""
PRODUCT_A = "01t000000000001AAA"
ENTRY_A = "01u000000000001AAA"
ACME = "001000000000001AAA"
T = TypeVar("T")

load = load_json


class CatalogEnv(Harness):
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
                                                    ctx.options).push(), **overrides)

    def pull(self) -> PullReport:
        return self.run(lambda ctx, rt: CatalogPull(ctx.salesforce, ctx.stripe(), ctx.options,
                                                    ctx.memory).pull())

    def stripe(self) -> stripe.StripeClient:
        return stripe.StripeClient("sk_test_catalog_tests",
                                   base_addresses={"api": self.emulator.url},
                                   max_network_retries=0)


def catalog_env(tmp_path: Path, snapshot: dict[str, Any] | None = None,
                now: datetime | None = None) -> AbstractContextManager[CatalogEnv]:
    return running(tmp_path, snapshot, now=now, harness=CatalogEnv)


AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
