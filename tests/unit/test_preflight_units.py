"""The preflight's pure parts: key shapes and modes, the report's verdict and exit code,
the live-key-on-a-sandbox warning, and the expected types people read."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from pydantic import SecretStr

from sf_stripe_sync.config import SalesforceSettings, Settings
from sf_stripe_sync.preflight.report import PreflightReport
from sf_stripe_sync.preflight.run import _mode_mismatch
from sf_stripe_sync.preflight.schema import requirements
from sf_stripe_sync.preflight.stripe_checks import check_key_shape, key_mode


def test_key_modes_come_from_the_prefix_and_other_shapes_are_refused() -> None:
    assert key_mode("sk_test_abc") == "test" and key_mode("rk_live_abc") == "live"
    assert key_mode("pk_live_abc") is None and key_mode("whsec_abc") is None
    report = PreflightReport()
    assert check_key_shape(report, "stripe:x", "KEY", SecretStr("pk_live_" + "z" * 20)) is None
    assert check_key_shape(report, "stripe:x", "KEY", None) is None
    assert check_key_shape(report, "stripe:x", "KEY", SecretStr("sk_live_" + "z" * 20)) == "live"
    assert [f.status for f in report.findings] == ["problem", "problem", "ok"]
    assert "z" * 20 not in " ".join(f.message for f in report.findings)


def test_the_report_is_ready_only_without_problems() -> None:
    report = PreflightReport()
    report.ok("config", "parses")
    report.warn("secrets", "optional thing missing")
    assert report.ready and report.lines()[-1] == "ready"
    report.problem("salesforce.fields", "Order.X__c is missing", expected="Text(255)")
    assert not report.ready
    assert report.as_json()["problems"] == 1
    assert "  FAIL  Order.X__c is missing (expected Text(255))" in report.lines()


def _runtime(domain: str) -> Any:
    return SimpleNamespace(settings=Settings(salesforce=SalesforceSettings(domain=domain)))


def test_a_live_key_with_a_salesforce_sandbox_is_warned_about() -> None:
    report = PreflightReport()
    _mode_mismatch(report, _runtime("test"), "default", SecretStr("sk_live_" + "a" * 20))
    _mode_mismatch(report, _runtime("login"), "default", SecretStr("sk_live_" + "a" * 20))
    _mode_mismatch(report, _runtime("test"), "default", SecretStr("sk_test_" + "a" * 20))
    assert [f.status for f in report.findings] == ["warning"]


def test_renamed_fields_are_checked_under_their_configured_names() -> None:
    settings = Settings(fields={"account_customer": "Billing_Customer__c"})
    names = {(r.sobject, r.name) for r in requirements(settings)}
    assert ("Account", "Billing_Customer__c") in names
    assert ("Account", "Stripe_Customer_Id__c") not in names
