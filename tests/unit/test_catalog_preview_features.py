"""The preview lists, for every phase, the entitlement features the customer will have."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sf_stripe_sync.cli import main

DEMO_ORG = Path(__file__).resolve().parents[2] / "fixtures" / "demo-org.json"


def _features(order_id: str, org: Path, capsys: pytest.CaptureFixture[str]) -> list[list[str]]:
    main(["preview", "--source", str(org), order_id, "--format", "json",
          "--as-of", "2026-12-01"])
    document = json.loads(capsys.readouterr().out)
    return [phase["features"] for phase in document["orders"][0]["phases"]]


def _product_features(org: dict[str, list[dict[str, object]]], name: str) -> set[str]:
    product = next(p for p in org["Product2"] if p["Name"] == name)
    return set(str(product["Stripe_Features__c"]).split(";"))


def test_each_phase_lists_the_features_of_its_products(
        capsys: pytest.CaptureFixture[str]) -> None:
    org = json.loads(DEMO_ORG.read_text(encoding="utf-8"))
    product_a = _product_features(org, "Product A")
    product_b = _product_features(org, "Product B")

    phases = _features("801000000000002AAA", DEMO_ORG, capsys)

    assert [set(p) for p in phases] == [product_a, product_a | product_b]


def test_a_changed_feature_field_changes_the_preview(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    org = json.loads(DEMO_ORG.read_text(encoding="utf-8"))
    for product in org["Product2"]:
        if product["Name"] == "Product B":
            product["Stripe_Features__c"] = "exports"
    changed = tmp_path / "org.json"
    changed.write_text(json.dumps(org), encoding="utf-8")

    phases = _features("801000000000002AAA", changed, capsys)

    assert "exports" in phases[-1] and "exports" not in phases[0]
    assert "advanced_reports" not in phases[-1]


@pytest.mark.integration
def test_the_preview_from_the_org_reads_the_feature_field_too() -> None:
    from sf_stripe_sync.cli.preview_commands import preview_features, preview_plans
    from sf_stripe_sync.config import SalesforceSettings, Settings
    from sf_stripe_sync.core.dates import parse_as_of
    from sf_stripe_sync.salesforce.source import open_source
    from sf_stripe_sync.sandbox.salesforce_org import LocalOrg

    org_data = json.loads(DEMO_ORG.read_text(encoding="utf-8"))
    with LocalOrg(org_data).running() as org:
        settings = Settings(salesforce=SalesforceSettings(
            auth="session", instance_url=org.instance_url.replace("http://", "https://")))
        source = open_source(settings, session=org.requests_session(),
                             environ={"SF_SESSION_ID": org.session_id})
        plans, _ = preview_plans(source, ["801000000000002AAA"], settings,
                                 parse_as_of("2026-12-01"))
        features = preview_features(source, plans, settings)

    assert set(features["801000000000002AAA"][0]) == _product_features(org_data, "Product A")
