"""Entitlement features follow the Product2 feature field; archived features stay untouched;
the ``entitlements`` command reads a customer's active entitlements."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.catalog.entitlements import EntitlementReport, EntitlementSync
from sf_stripe_sync.catalog.push import CatalogPush
from sf_stripe_sync.cli import main
from tests.e2e.harness import Harness
from tests.integration.test_catalog_harness import (
    ACME,
    AS_OF,
    PRODUCT_A,
    CatalogEnv,
    catalog_env,
)

pytestmark = pytest.mark.integration
FEATURES_FIELD = "Stripe_Features__c"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[CatalogEnv]:
    with catalog_env(tmp_path) as running:
        yield running


def _sync(env: CatalogEnv, product_ids: list[str] | None = None) -> EntitlementReport:
    return env.run(lambda ctx, rt: EntitlementSync(
        CatalogPush(ctx.salesforce, ctx.stripe(), ctx.options)).sync(product_ids))


def _attached(env: CatalogEnv, product_id: str) -> dict[str, dict[str, Any]]:
    page = env.stripe().v1.products.features.list(product_id)
    return {f.entitlement_feature.lookup_key: f.to_dict() for f in page.data}


def _wanted(env: CatalogEnv, product2_id: str) -> set[str]:
    raw = env.record("Product2", product2_id)[FEATURES_FIELD] or ""
    return {part for part in raw.split(";") if part}


def test_features_are_created_and_attached_as_salesforce_lists_them(env: CatalogEnv) -> None:
    report = _sync(env)

    assert report.errors == []
    for product2 in env.org.records("Product2"):
        product_id = env.record("Product2", product2["Id"])["Stripe_Product_Id__c"]
        assert set(_attached(env, product_id)) == _wanted(env, product2["Id"]), product2["Id"]
    lookup_keys = [f["lookup_key"] for f in env.objects("entitlements.feature")]
    assert len(lookup_keys) == len(set(lookup_keys))  # one feature per key, shared by products


def test_a_changed_feature_field_attaches_and_detaches_to_match(env: CatalogEnv) -> None:
    _sync(env)
    env.salesforce().Product2.update(PRODUCT_A, {FEATURES_FIELD: "sso;audit_log"})

    report = _sync(env, [PRODUCT_A])

    assert report.attached == ["prod_A:audit_log"]
    assert report.detached == ["prod_A:api_access"]
    assert set(_attached(env, "prod_A")) == {"sso", "audit_log"}
    assert "api_access" in _attached(env, "prod_seat")  # another product keeps the feature
    assert _sync(env).attached == []


def test_an_archived_feature_is_left_alone_and_its_key_reused(env: CatalogEnv) -> None:
    client = env.stripe()
    old_sso = client.v1.entitlements.features.create(params={"lookup_key": "sso",
                                                             "name": "Old SSO"})
    legacy = client.v1.entitlements.features.create(params={"lookup_key": "legacy",
                                                            "name": "Legacy"})
    client.v1.products.features.create("prod_A", params={"entitlement_feature": legacy.id})
    for feature in (old_sso, legacy):
        client.v1.entitlements.features.update(feature.id, params={"active": False})
    before = {f["id"]: f for f in env.objects("entitlements.feature")}
    env.emulator.clear_requests()

    _sync(env, [PRODUCT_A])

    after = {f["id"]: f for f in env.objects("entitlements.feature")}
    assert after[old_sso.id] == before[old_sso.id] and after[legacy.id] == before[legacy.id]
    touched = [r for r in env.emulator.requests() if r["method"] != "GET"
               and (old_sso.id in r["path"] or legacy.id in r["path"])]
    assert touched == []
    new_sso = [f for f in after.values() if f["lookup_key"] == "sso" and f["active"]]
    assert len(new_sso) == 1 and new_sso[0]["id"] != old_sso.id
    attached = env.stripe().v1.products.features.list("prod_A").data
    assert {f.entitlement_feature.id for f in attached} >= {legacy.id, new_sso[0]["id"]}


def test_the_entitlements_command_lists_what_the_active_phase_grants(
        env: CatalogEnv, capsys: pytest.CaptureFixture[str]) -> None:
    _sync(env)
    harness = Harness(org=env.org, emulator=env.emulator, state_dir=env.state_dir)
    harness.sync(order_ids=["801000000000001AAA"], as_of=AS_OF)
    env.emulator.set_now(int(datetime(2027, 2, 1, tzinfo=UTC).timestamp()))
    products = {i["Product2Id"] for i in env.org.records("OrderItem")
                if i["OrderId"] == "801000000000001AAA"}
    expected = set().union(*(_wanted(env, p) for p in products))

    assert main(["entitlements", ACME, *env.sandbox_args(), "--format", "json"]) == 0

    shown = json.loads(capsys.readouterr().out)
    assert {e["lookup_key"] for e in shown["entitlements"]} == expected
    assert shown["customer"] == env.record("Account", ACME)["Stripe_Customer_Id__c"]


def test_the_entitlements_command_refuses_an_account_without_customer(
        env: CatalogEnv, capsys: pytest.CaptureFixture[str]) -> None:
    no_customer = next(a["Id"] for a in env.org.records("Account")
                       if not a.get("Stripe_Customer_Id__c"))

    assert main(["entitlements", no_customer, *env.sandbox_args()]) == 1
    assert "no Stripe customer" in capsys.readouterr().err


def test_a_feature_key_longer_than_stripe_allows_fails_its_product_before_any_write(
    env: CatalogEnv,
) -> None:
    long_key = "k" * 81
    env.salesforce().Product2.update(PRODUCT_A, {FEATURES_FIELD: f"sso;{long_key}"})
    env.emulator.clear_requests()

    report = _sync(env, [PRODUCT_A])

    assert len(report.errors) == 1 and long_key in report.errors[0]
    assert "at most 80" in report.errors[0]
    writes = [r for r in env.emulator.requests() if r["method"] in ("POST", "DELETE")]
    assert writes == []
