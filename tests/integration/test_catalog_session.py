"""The catalog sends through the Stripe account's one session, the sync gateway's: the same
rate limiter (global and per endpoint), the retry settings, the error mapping."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.catalog.context import CatalogContext
from sf_stripe_sync.catalog.push import CatalogPush, PushReport
from sf_stripe_sync.runtime import Runtime
from sf_stripe_sync.sandbox.stripe_emulator.faults import FaultConfig
from sf_stripe_sync.stripe.gateway import StripeGateway
from sf_stripe_sync.stripe.session import StripeSession
from tests.integration.test_catalog_harness import CatalogEnv, catalog_env

pytestmark = pytest.mark.integration
NO_WAITS = {"initial_wait_seconds": 0, "max_wait_seconds": 0, "jitter_seconds": 0}


@pytest.fixture
def env(tmp_path: Path) -> Iterator[CatalogEnv]:
    with catalog_env(tmp_path) as running:
        yield running


def push(env: CatalogEnv, **overrides: Any) -> tuple[PushReport, StripeSession]:
    def step(ctx: CatalogContext, rt: Runtime) -> tuple[PushReport, StripeSession]:
        session = ctx.stripe()
        return CatalogPush(ctx.salesforce, session, ctx.options).push(), session

    return env.run(step, **overrides)


def rate_limited(env: CatalogEnv) -> int:
    return sum(1 for r in env.emulator.requests() if r["status"] == 429)


def test_the_catalog_and_the_gateway_send_through_one_session_per_account(
        env: CatalogEnv) -> None:
    def step(ctx: CatalogContext, rt: Runtime) -> tuple[StripeGateway, StripeSession]:
        gateway = rt.gateway_for(rt.settings.stripe_account(None))
        assert isinstance(gateway, StripeGateway)
        return gateway, ctx.stripe()

    gateway, session = env.run(step)

    assert gateway.session is session
    assert gateway.limiter is session.limiter


def test_every_catalog_request_takes_a_token_from_the_accounts_bucket(env: CatalogEnv) -> None:
    env.emulator.clear_requests()

    report, session = push(env)

    assert report.products_created and not report.errors
    assert session.limiter.acquired == len(env.emulator.requests()) > 0


def test_a_catalog_push_under_a_low_rate_limit_is_paced_and_completes(env: CatalogEnv) -> None:
    env.emulator.set_faults(FaultConfig(rate_limit=20.0))
    account = {"name": "default", "rate_limit_per_second": 20.0}

    report, session = push(env, stripe_accounts=[account], retry=NO_WAITS)

    assert report.products_created and not report.errors
    assert session.limiter.rate == 20.0 and session.limiter.waits > 0
    assert session.stats.retries == rate_limited(env)  # any 429 was retried, none failed


def test_a_catalog_push_retries_rate_limit_answers_with_the_configured_waits(
        env: CatalogEnv) -> None:
    env.emulator.set_faults(FaultConfig(script=("rate_limit", "rate_limit", "none",
                                                "rate_limit")))

    report, session = push(env, retry=NO_WAITS)

    assert report.products_created and not report.errors
    assert rate_limited(env) == 3 and session.stats.retries == 3
    assert (session.retry.initial_wait, session.retry.max_wait) == (0.0, 0.0)
