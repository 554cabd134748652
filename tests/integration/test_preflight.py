"""The preflight: ``check`` lists every problem at once; ``sync`` and ``cancel`` stop
before any write when the configuration is not ready (a local org and the Stripe
emulator served on loopback, the CLI run in-process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.cli import main
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator
from tests.e2e.harness import DEMO_CATALOG, DEMO_ORG, load_json

pytestmark = pytest.mark.integration

SECRETS = ("STRIPE_API_KEY", "SF_SESSION_ID", "SF_PASSWORD", "SF_STRIPE_SYNC_CONFIG",
           "SF_STRIPE_SYNC_TRIGGER_SECRET", "STRIPE_WEBHOOK_SECRET")


@pytest.fixture
def org() -> Iterator[LocalOrg]:
    with LocalOrg(load_json(DEMO_ORG)).running() as running:
        yield running


@pytest.fixture
def emulator() -> Iterator[StripeEmulator]:
    emu = StripeEmulator(seed=load_json(DEMO_CATALOG))
    emu.start(host="127.0.0.1", port=0)
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRETS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SF_STRIPE_SYNC__RETRY__INITIAL_WAIT_SECONDS", "0")
    monkeypatch.setenv("SF_STRIPE_SYNC__RETRY__MAX_WAIT_SECONDS", "0")


def _salesforce_writes(org: LocalOrg) -> list[tuple[str, str, str]]:
    return [r for r in org.requests() if r[2] == "write"]


def _stripe_writes(emulator: StripeEmulator) -> list[dict[str, Any]]:
    return [r for r in emulator.requests() if r["method"] in ("POST", "DELETE")]


def _targets(org: LocalOrg, emulator: StripeEmulator, tmp_path: Path) -> list[str]:
    return ["--salesforce-sandbox-url", org.base_url, "--stripe-emulator-url", emulator.url,
            "--state-dir", str(tmp_path / "state")]


def _check_json(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    code = main(["check", "--format", "json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_a_ready_configuration_checks_clean_and_shows_mode_and_account(
        org: LocalOrg, emulator: StripeEmulator, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    code, report = _check_json(_targets(org, emulator, tmp_path), capsys)
    messages = [f["message"] for f in report["findings"]]
    assert code == 0 and report["ready"] is True and report["problems"] == 0
    assert any("test mode" in m for m in messages)
    assert any("acct_emulator" in m for m in messages)
    assert any("API version 65.0 available" in m for m in messages)
    assert report["stripe_accounts"] == {
        "default": {"key": "secret", "mode": "test", "account": "acct_emulator"}}
    assert _salesforce_writes(org) == [] and _stripe_writes(emulator) == []


def test_every_missing_field_and_object_is_listed_at_once_with_its_expected_type(
        org: LocalOrg, emulator: StripeEmulator, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    org.drop_field("Order", "Stripe_Sync_Status__c")
    org.drop_field("Account", "Stripe_Customer_Id__c")
    org.drop_field("OrderItem", "Stripe_Price_Id__c")
    org.drop_object("Sync_Log__c")
    code, report = _check_json(_targets(org, emulator, tmp_path), capsys)
    problems = {f["subject"]: f for f in report["findings"] if f["status"] == "problem"}
    assert code == 2 and report["ready"] is False
    assert set(problems) == {"Order.Stripe_Sync_Status__c", "Account.Stripe_Customer_Id__c",
                             "OrderItem.Stripe_Price_Id__c", "Sync_Log__c"}
    assert problems["Account.Stripe_Customer_Id__c"]["expected"] == "Text(255)"
    assert problems["Order.Stripe_Sync_Status__c"]["expected"] == "Picklist"
    assert "Order__c Lookup(Order)" in problems["Sync_Log__c"]["message"]
    assert _salesforce_writes(org) == []


def test_sync_with_missing_fields_stops_before_any_write(
        org: LocalOrg, emulator: StripeEmulator, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    org.drop_field("Order", "Stripe_Sync_Error__c")
    org.drop_field("Contract", "Stripe_Subscription_Schedule_Id__c")
    code = main(["sync", "--no-progress", *_targets(org, emulator, tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Order.Stripe_Sync_Error__c" in err
    assert "Contract.Stripe_Subscription_Schedule_Id__c" in err
    assert _salesforce_writes(org) == [] and _stripe_writes(emulator) == []
    assert all(o.get("Stripe_Sync_Status__c") in (None, "") for o in org.records("Order"))


def test_a_publishable_key_is_refused_and_nothing_is_written(
        org: LocalOrg, emulator: StripeEmulator, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "pk_test_" + "p" * 24)
    code = main(["sync", "--no-progress", *_targets(org, emulator, tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "publishable" in err and "pk_test_ppp" not in err
    assert _salesforce_writes(org) == [] and emulator.requests() == []
    code = main(["cancel", "801000000000001AAA", *_targets(org, emulator, tmp_path)])
    assert code == 2
    assert _salesforce_writes(org) == [] and emulator.requests() == []


def test_a_missing_key_for_real_stripe_is_refused_and_nothing_is_written(
        org: LocalOrg, emulator: StripeEmulator, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "sf-stripe-sync.toml"
    config.write_text(f'[[stripe_accounts]]\nname = "default"\napi_base = "{emulator.url}"\n',
                      encoding="utf-8")
    code = main(["sync", "--no-progress", "--config", str(config), "--salesforce-sandbox-url",
                 org.base_url, "--state-dir", str(tmp_path / "state")])
    err = capsys.readouterr().err
    assert code == 2 and "STRIPE_API_KEY is not set" in err
    assert _salesforce_writes(org) == [] and emulator.requests() == []
    code, report = _check_json(["--config", str(config), "--salesforce-sandbox-url",
                                org.base_url, "--state-dir", str(tmp_path / "state")], capsys)
    assert code == 2 and [f["subject"] for f in report["findings"]
                          if f["status"] == "problem"] == ["STRIPE_API_KEY"]


def test_a_restricted_key_is_tried_with_harmless_reads(
        org: LocalOrg, emulator: StripeEmulator, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "rk_test_" + "r" * 24)
    code, report = _check_json(_targets(org, emulator, tmp_path), capsys)
    paths = {r["path"] for r in emulator.requests()}
    assert code == 0
    assert {"/v1/customers", "/v1/subscription_schedules", "/v1/prices"} <= paths
    assert any("restricted key in test mode" in f["message"] for f in report["findings"])
    assert _stripe_writes(emulator) == []


def test_a_field_of_the_wrong_type_names_the_type_it_should_be(
        org: LocalOrg, emulator: StripeEmulator, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    spec = org.schema.find("Order")
    assert spec is not None
    field = spec.field("Stripe_Last_Synced_At__c")
    assert field is not None
    field.type = "date"
    code, report = _check_json(_targets(org, emulator, tmp_path), capsys)
    (problem,) = [f for f in report["findings"] if f["status"] == "problem"]
    assert code == 2 and problem["subject"] == "Order.Stripe_Last_Synced_At__c"
    assert problem["expected"] == "DateTime" and "date field" in problem["message"]


def test_a_sync_key_that_is_not_a_unique_external_id_is_a_problem(
        org: LocalOrg, emulator: StripeEmulator, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    spec = org.schema.find("Sync_Log__c")
    field = spec.field("Sync_Key__c") if spec is not None else None
    assert field is not None
    field.external_id = field.unique = False
    code, report = _check_json(_targets(org, emulator, tmp_path), capsys)
    (problem,) = [f for f in report["findings"] if f["status"] == "problem"]
    assert code == 2 and problem["subject"] == "Sync_Log__c.Sync_Key__c"
    assert problem["expected"] == "Text(255, External ID, Unique)"


def test_a_broken_config_file_is_reported_as_the_one_problem(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("concurrency = 'many'\n", encoding="utf-8")
    code, report = _check_json(["--config", str(config)], capsys)
    assert code == 2 and report["findings"][0]["area"] == "config"
    assert "concurrency" in report["findings"][0]["message"]


def test_a_session_the_org_refuses_is_reported_as_the_login_failing(
        org: LocalOrg, emulator: StripeEmulator, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("SF_SESSION_ID", "00Dnot!a-live-session")
    code, report = _check_json(_targets(org, emulator, tmp_path), capsys)
    (problem,) = [f for f in report["findings"] if f["status"] == "problem"]
    assert code == 2 and problem["message"].startswith("login failed")
    assert "00Dnot!a-live-session" not in json.dumps(report)
    assert not any(f["message"].startswith("logged in") for f in report["findings"])
