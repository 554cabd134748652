"""Product2 / PricebookEntry <-> Stripe products and prices, through the local org and the
emulator over HTTP with the real adapters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import stripe

from sf_stripe_sync.catalog.context import price_resolver_for
from sf_stripe_sync.catalog.mapping import META_ENTRY, META_PRODUCT2
from sf_stripe_sync.cli import main
from sf_stripe_sync.engine import RunOptions, RunReport
from sf_stripe_sync.runtime import SandboxOptions, open_runtime
from tests.integration.test_catalog_harness import (
    AS_OF,
    DEMO_ORG,
    ENTRY_A,
    PRODUCT_A,
    TRAINING_ENTRY,
    TRAINING_PRODUCT,
    CatalogEnv,
    catalog_env,
    load,
)

pytestmark = pytest.mark.integration
TRAINING_ORDER = "801000000000013AAA"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[CatalogEnv]:
    with catalog_env(tmp_path) as running:
        yield running


def _ours(objects: list[dict[str, object]], key: str, value: str) -> list[dict[str, object]]:
    return [o for o in objects if (o.get("metadata") or {}).get(key) == value]


def test_a_new_product_and_entry_reach_stripe_with_ids_written_back(env: CatalogEnv) -> None:
    report = env.push()

    product_id = env.record("Product2", TRAINING_PRODUCT)["Stripe_Product_Id__c"]
    price_id = env.record("PricebookEntry", TRAINING_ENTRY)["Stripe_Price_Id__c"]
    assert product_id in report.products_created and price_id in report.prices_created
    price = next(p for p in env.objects("price") if p["id"] == price_id)
    assert (price["unit_amount"], price["currency"], price["product"]) == (4000, "usd", product_id)
    assert price["recurring"]["interval"] == "month" and price["recurring"]["interval_count"] == 1
    assert price["recurring"]["usage_type"] == "licensed"
    assert price["metadata"][META_ENTRY] == TRAINING_ENTRY
    product = next(p for p in env.objects("product") if p["id"] == product_id)
    assert product["metadata"][META_PRODUCT2] == TRAINING_PRODUCT
    assert product["name"] == env.record("Product2", TRAINING_PRODUCT)["Name"]


def test_rerunning_push_and_pull_makes_no_duplicates_anywhere(env: CatalogEnv) -> None:
    env.push()
    products, prices = len(env.objects("product")), len(env.objects("price"))
    entries, product2s = len(env.org.records("PricebookEntry")), len(env.org.records("Product2"))

    second = env.push()
    pulled = env.pull()
    third = env.push()

    assert second.products_created == second.prices_created == second.products_updated == []
    assert third.products_created == third.prices_created == third.products_updated == []
    assert pulled.created == [] and pulled.updated == []
    assert (len(env.objects("product")), len(env.objects("price"))) == (products, prices)
    assert len(env.org.records("PricebookEntry")) == entries
    assert len(env.org.records("Product2")) == product2s
    assert len(_ours(env.objects("price"), META_ENTRY, TRAINING_ENTRY)) == 1


def test_a_changed_unit_price_makes_a_new_price_and_deactivates_the_old(env: CatalogEnv) -> None:
    env.push()
    old = env.record("PricebookEntry", ENTRY_A)["Stripe_Price_Id__c"]
    env.salesforce().PricebookEntry.update(ENTRY_A, {"UnitPrice": 12.5})

    report = env.push()

    new = env.record("PricebookEntry", ENTRY_A)["Stripe_Price_Id__c"]
    assert new != old and report.prices_created == [new]
    assert report.prices_deactivated == [old]
    prices = {p["id"]: p for p in env.objects("price")}
    assert prices[old]["active"] is False and prices[old]["unit_amount"] == 1000
    assert prices[new]["active"] is True and prices[new]["unit_amount"] == 1250
    assert env.push().prices_created == []


def test_a_price_made_in_stripe_appears_in_salesforce_once(env: CatalogEnv) -> None:
    env.pull()  # the cursor starts after everything seen so far
    client = env.stripe()
    product = client.v1.products.create(params={"name": "Consulting day"})
    price = client.v1.prices.create(params={
        "product": product.id, "currency": "usd", "unit_amount": 99900,
        "recurring": {"interval": "month", "interval_count": 3}})

    first = env.pull()
    second = env.pull()

    entries = [e for e in env.org.records("PricebookEntry")
               if e["Stripe_Price_Id__c"] == price.id]
    assert len(entries) == 1 and second.events == 0 and first.events == 2
    entry = entries[0]
    assert entry["UnitPrice"] == 999 and entry["IsActive"] is True
    assert entry["Pricebook2Id"] == "01s000000000001AAA"
    product2 = env.record("Product2", entry["Product2Id"])
    assert product2["Stripe_Product_Id__c"] == product.id
    assert product2["Name"] == "Consulting day"
    assert product2["Billing_Frequency__c"] == "Quarterly"
    # Pushing the catalog now keeps Stripe's quarterly price: it is not replaced.
    pushed = env.push()
    assert price.id not in pushed.prices_deactivated
    assert env.record("PricebookEntry", entry["Id"])["Stripe_Price_Id__c"] == price.id


def _training_order_without_item_price() -> dict[str, Any]:
    snapshot = load(DEMO_ORG)
    for item in snapshot["OrderItem"]:
        if item["PricebookEntryId"] == TRAINING_ENTRY:
            item["Stripe_Price_Id__c"] = None  # only the entry could name the price: none yet
    return snapshot


def _sync_training_order(env: CatalogEnv, *, create_missing_prices: bool) -> RunReport:
    rules = env.settings().rules.model_copy(
        update={"create_missing_prices": create_missing_prices})
    settings = env.settings(rules=rules.model_dump())
    with open_runtime(settings, SandboxOptions(org=env.org, emulator=env.emulator)) as rt:
        engine = rt.engine(price_resolver=price_resolver_for(rt))
        return engine.run(RunOptions(order_ids=[TRAINING_ORDER], as_of=AS_OF))


def test_the_engine_resolves_a_missing_price_when_configured(tmp_path: Path) -> None:
    with catalog_env(tmp_path, _training_order_without_item_price()) as env:
        report = _sync_training_order(env, create_missing_prices=True)

        outcome = report.outcomes[0]
        assert outcome.result == "create", outcome.message
        price_id = env.record("PricebookEntry", TRAINING_ENTRY)["Stripe_Price_Id__c"]
        assert price_id and env.record("Product2", TRAINING_PRODUCT)["Stripe_Product_Id__c"]
        schedule = next(s for s in env.objects("subscription_schedule")
                        if s["id"] == outcome.schedule_id)
        assert price_id in {i["price"] for p in schedule["phases"] for i in p["items"]}


def test_without_the_setting_a_missing_price_still_fails_the_order(tmp_path: Path) -> None:
    with catalog_env(tmp_path, _training_order_without_item_price()) as env:
        report = _sync_training_order(env, create_missing_prices=False)

        assert report.outcomes[0].result == "failed"
        assert report.outcomes[0].code == "missing_price"
        assert env.record("PricebookEntry", TRAINING_ENTRY)["Stripe_Price_Id__c"] is None
        assert env.objects("subscription_schedule") == []


def test_catalog_commands_run_against_the_sandboxes_from_the_cli(
        env: CatalogEnv, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["catalog", "push", *env.sandbox_args(), "--format", "json"]) == 0
    pushed = json.loads(capsys.readouterr().out)
    assert main(["catalog", "pull", *env.sandbox_args(), "--format", "json"]) == 0
    pulled = json.loads(capsys.readouterr().out)

    assert len(pushed["prices_created"]) == 1 and pushed["errors"] == []
    assert pulled["created"] == [] and pulled["cursor"]


def test_a_signed_webhook_payload_file_is_applied_and_a_forged_one_refused(
        env: CatalogEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_catalog_cli")
    client = env.stripe()
    product = client.v1.products.create(params={"name": "Webhook-born"})
    event = client.v1.events.list(params={"type": "product.created", "limit": 1}).data[0]
    payload = tmp_path / "event.json"
    payload.write_text(json.dumps(event.to_dict()), encoding="utf-8")
    signature = stripe.WebhookSignature.generate_signature_header(
        payload.read_text(encoding="utf-8"), "whsec_catalog_cli")

    forged = main(["catalog", "webhook", "--payload", str(payload), "--signature",
                   signature.replace("v1=", "v1=0"), *env.sandbox_args()])
    assert forged == 1 and "signature" in capsys.readouterr().err
    assert not [p for p in env.org.records("Product2")
                if p["Stripe_Product_Id__c"] == product.id]

    for _ in range(2):  # a redelivery changes nothing
        assert main(["catalog", "webhook", "--payload", str(payload), "--signature",
                     signature, *env.sandbox_args()]) == 0
    made = [p for p in env.org.records("Product2") if p["Stripe_Product_Id__c"] == product.id]
    assert len(made) == 1 and made[0]["Name"] == "Webhook-born"


def test_stripe_side_renames_and_archived_prices_reach_salesforce_and_stop_there(
        env: CatalogEnv) -> None:
    env.push()
    env.pull()
    client = env.stripe()
    price_a = env.record("PricebookEntry", ENTRY_A)["Stripe_Price_Id__c"]
    product_a = env.record("Product2", PRODUCT_A)["Stripe_Product_Id__c"]
    client.v1.products.update(product_a, params={"name": "Platform (2027)"})
    client.v1.prices.update(price_a, params={"active": False})

    pulled = env.pull()

    assert sorted(pulled.updated) == [f"PricebookEntry {ENTRY_A}", f"Product2 {PRODUCT_A}"]
    assert env.record("Product2", PRODUCT_A)["Name"] == "Platform (2027)"
    assert env.record("PricebookEntry", ENTRY_A)["IsActive"] is False
    env.emulator.clear_requests()
    pushed = env.push()
    assert pushed.products_updated == [] and pushed.prices_created == []
    assert [r for r in env.emulator.requests() if r["method"] == "POST"] == []
