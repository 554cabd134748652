"""Payment settings on schedules: a saved default payment method from an Account field,
and send_invoice orders that must name their days until due."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.engine import RunOptions, RunReport
from sf_stripe_sync.runtime import SandboxOptions, open_runtime
from tests.integration.test_catalog_harness import (
    ACME,
    AS_OF,
    DEMO_ORG,
    CatalogEnv,
    catalog_env,
    load,
)

pytestmark = pytest.mark.integration
ACME_ORDER = "801000000000001AAA"
INVOICED_ORDER = "801000000000007AAA"
PAYMENT_FIELD = "Stripe_Default_Payment_Method__c"


def _snapshot(**account_values: Any) -> dict[str, Any]:
    snapshot = load(DEMO_ORG)
    for account in snapshot["Account"]:
        account[PAYMENT_FIELD] = account_values.get(account["Id"])
    return snapshot


def _sync(env: CatalogEnv, order_id: str) -> RunReport:
    fields = env.settings().fields.model_copy(update={"default_payment_method": PAYMENT_FIELD})
    settings = env.settings(fields=fields.model_dump())
    with open_runtime(settings, SandboxOptions(org=env.org, emulator=env.emulator)) as rt:
        engine = rt.engine()
        return engine.run(RunOptions(order_ids=[order_id], as_of=AS_OF))


def test_a_saved_payment_method_becomes_the_schedule_default(tmp_path: Path) -> None:
    with catalog_env(tmp_path, _snapshot()) as env:
        saved = env.stripe().v1.payment_methods.create(
            params={"type": "amazon_pay", "customer": "cus_acme"})
        env.salesforce().Account.update(ACME, {PAYMENT_FIELD: saved.id})

        report = _sync(env, ACME_ORDER)

        outcome = report.outcomes[0]
        assert outcome.result == "create", outcome.message
        schedule = next(s for s in env.objects("subscription_schedule")
                        if s["id"] == outcome.schedule_id)
        assert schedule["default_settings"]["default_payment_method"] == saved.id
        assert {p["default_payment_method"] for p in schedule["phases"]} == {saved.id}


def test_a_payment_method_of_another_customer_is_refused_clearly(tmp_path: Path) -> None:
    with catalog_env(tmp_path, _snapshot()) as env:
        foreign = env.stripe().v1.payment_methods.create(
            params={"type": "card", "customer": "cus_globex"})
        env.salesforce().Account.update(ACME, {PAYMENT_FIELD: foreign.id})

        report = _sync(env, ACME_ORDER)

        outcome = report.outcomes[0]
        assert outcome.result == "failed" and "must be attached" in (outcome.message or "")
        assert env.objects("subscription_schedule") == []
        assert "must be attached" in env.record("Order", ACME_ORDER)["Stripe_Sync_Error__c"]


def test_send_invoice_without_days_until_due_fails_naming_the_field(tmp_path: Path) -> None:
    snapshot = load(DEMO_ORG)
    order = next(o for o in snapshot["Order"] if o["Id"] == INVOICED_ORDER)
    assert order["Stripe_Collection_Method__c"] == "send_invoice"
    order["Days_Until_Due__c"] = None
    with catalog_env(tmp_path, snapshot) as env:
        report = _sync(env, INVOICED_ORDER)

        outcome = report.outcomes[0]
        assert outcome.result == "failed" and outcome.code == "invalid_record"
        assert "send_invoice needs Days_Until_Due__c" in (outcome.message or "")
        assert env.objects("subscription_schedule") == []
        error = env.record("Order", INVOICED_ORDER)["Stripe_Sync_Error__c"]
        assert "Days_Until_Due__c" in error


def test_send_invoice_with_days_until_due_reaches_every_phase(tmp_path: Path) -> None:
    with catalog_env(tmp_path) as env:
        report = _sync(env, INVOICED_ORDER)

        outcome = report.outcomes[0]
        assert outcome.result == "create", outcome.message
        schedule = next(s for s in env.objects("subscription_schedule")
                        if s["id"] == outcome.schedule_id)
        assert {p["collection_method"] for p in schedule["phases"]} == {"send_invoice"}
        assert {p["invoice_settings"]["days_until_due"] for p in schedule["phases"]} == {30}
