"""Customer portal configurations per role, and sessions made with them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.catalog.portal import PortalConfigurations
from sf_stripe_sync.cli import main
from tests.integration.test_catalog_harness import ACME, CatalogEnv, catalog_env

pytestmark = pytest.mark.integration
RETURN_URL = "https://example.com/account"


@pytest.fixture
def env(tmp_path: Path) -> Iterator[CatalogEnv]:
    with catalog_env(tmp_path) as running:
        yield running


def _session(env: CatalogEnv, role: str) -> dict[str, Any]:
    return env.run(lambda ctx, rt: PortalConfigurations(
        ctx.stripe(), rt.settings.portal, ctx.memory).session("cus_acme", role, RETURN_URL))


def _configuration_of(env: CatalogEnv, session: dict[str, Any]) -> dict[str, Any]:
    stored = next(s for s in env.objects("billing_portal.session") if s["id"] == session["id"])
    return next(c for c in env.objects("billing_portal.configuration")
                if c["id"] == stored["configuration"])


def test_a_viewer_session_cannot_cancel_while_an_admin_one_can(env: CatalogEnv) -> None:
    viewer = _configuration_of(env, _session(env, "viewer"))
    admin = _configuration_of(env, _session(env, "admin"))

    assert viewer["id"] != admin["id"]
    assert viewer["features"]["subscription_cancel"]["enabled"] is False
    assert admin["features"]["subscription_cancel"]["enabled"] is True
    assert viewer["features"]["invoice_history"]["enabled"] is True
    assert viewer["features"]["payment_method_update"]["enabled"] is False
    assert admin["features"]["payment_method_update"]["enabled"] is True
    assert admin["features"]["subscription_pause"]["enabled"] is True


def test_configurations_are_made_once_and_drift_is_put_back(env: CatalogEnv) -> None:
    first = _session(env, "viewer")
    env.stripe().v1.billing_portal.configurations.update(
        first["configuration"], params={"features": {"subscription_cancel": {"enabled": True}}})

    again = _session(env, "viewer")

    assert again["configuration"] == first["configuration"]
    assert len(env.objects("billing_portal.configuration")) == 1
    repaired = _configuration_of(env, again)
    assert repaired["features"]["subscription_cancel"]["enabled"] is False


def test_portal_link_takes_the_role_from_the_contact(
        env: CatalogEnv, capsys: pytest.CaptureFixture[str]) -> None:
    admin_contact = next(c for c in env.org.records("Contact")
                         if c["Stripe_Portal_Role__c"] == "admin")

    code = main(["portal-link", ACME, "--contact", admin_contact["Id"], "--return-url",
                 RETURN_URL, *env.sandbox_args(), "--format", "json"])

    shown = json.loads(capsys.readouterr().out)
    assert code == 0 and shown["role"] == "admin" and shown["url"].startswith("https://")
    configuration = next(c for c in env.objects("billing_portal.configuration")
                         if c["id"] == shown["configuration"])
    assert configuration["features"]["subscription_cancel"]["enabled"] is True


def test_portal_link_prints_a_viewer_url_and_refuses_an_unknown_role(
        env: CatalogEnv, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["portal-link", ACME, "--role", "viewer", "--return-url", RETURN_URL,
                 *env.sandbox_args()]) == 0
    url = capsys.readouterr().out.strip()
    assert url in {s["url"] for s in env.objects("billing_portal.session")}

    assert main(["portal-link", ACME, "--role", "owner", *env.sandbox_args()]) == 2
    assert "unknown portal role" in capsys.readouterr().err
