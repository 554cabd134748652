"""Each auth mode logs in against the local org's SOAP / OAuth endpoints and re-logs
in after the session expires."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from sf_stripe_sync.config import SalesforceSettings, Settings
from sf_stripe_sync.errors import AuthenticationError
from sf_stripe_sync.salesforce.auth import SalesforceConnection, connect
from sf_stripe_sync.salesforce.retry import RetryPolicy
from sf_stripe_sync.salesforce.source import SalesforceOrderSource
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg

pytestmark = pytest.mark.integration

USERNAME = "integration@example.com"
PASSWORD = "s3cret-pass"
TOKEN = "tok3nvalue"
ORDER_ID = "801000000000001AAA"


@pytest.fixture
def org() -> Iterator[LocalOrg]:
    snapshot = {
        "Account": [{"Id": "001000000000001AAA", "Name": "Acme"}],
        "Order": [{"Id": ORDER_ID, "Status": "Activated", "AccountId": "001000000000001AAA",
                   "EffectiveDate": "2025-01-01"}],
    }
    local = LocalOrg(snapshot, batch_size=2, username=USERNAME, password=PASSWORD)
    local.start(host="127.0.0.1", port=0)
    try:
        yield local
    finally:
        local.stop()


@pytest.fixture(scope="module")
def private_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path = tmp_path_factory.mktemp("jwt") / "server.key"
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return path


def _connect(org: LocalOrg, env: dict[str, str], **salesforce: Any) -> SalesforceConnection:
    settings = Settings(salesforce=SalesforceSettings(**salesforce))
    return connect(settings, session=org.requests_session(), environ=env,
                   retry=RetryPolicy.immediate())


def _reads_after_expiry(org: LocalOrg, conn: SalesforceConnection) -> None:
    source = SalesforceOrderSource(conn)
    assert source.activated_order_ids() == [ORDER_ID]
    logins = conn.logins
    org.expire_sessions()
    assert source.activated_order_ids() == [ORDER_ID]
    assert conn.logins > logins


def test_password_with_security_token_logs_in_and_renews(org: LocalOrg) -> None:
    conn = _connect(org, {"SF_PASSWORD": PASSWORD, "SF_SECURITY_TOKEN": TOKEN},
                    auth="password", username=USERNAME, domain="test")
    _reads_after_expiry(org, conn)


def test_jwt_bearer_logs_in_and_renews(org: LocalOrg, private_key_file: Path) -> None:
    conn = _connect(org, {}, auth="jwt", username=USERNAME, consumer_key="3MVG9local",
                    private_key_file=private_key_file)
    _reads_after_expiry(org, conn)


def test_client_credentials_log_in_through_my_domain_and_renew(org: LocalOrg) -> None:
    conn = _connect(org, {"SF_CONSUMER_SECRET": "client-secret-value"},
                    auth="client_credentials", consumer_key="3MVG9local", domain="acme.my")
    _reads_after_expiry(org, conn)


def test_jwt_for_another_user_is_refused(org: LocalOrg, private_key_file: Path) -> None:
    with pytest.raises(AuthenticationError, match="invalid_grant"):
        _connect(org, {}, auth="jwt", username="someone@else.com", consumer_key="k",
                 private_key_file=private_key_file)


def test_api_version_is_the_configured_one_not_the_library_default(org: LocalOrg) -> None:
    conn = _connect(org, {"SF_PASSWORD": PASSWORD}, auth="password", username=USERNAME,
                    api_version="62.0")
    assert conn.client.base_url.endswith("/services/data/v62.0/")


def test_a_netrc_entry_for_the_org_host_does_not_replace_the_session_token(
    org: LocalOrg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password elsewhere\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    for proxy in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    session = org.requests_session()
    session.trust_env = True  # as a session of one's own reads the environment
    settings = Settings(salesforce=SalesforceSettings(
        auth="password", username=USERNAME, domain="test"))
    conn = connect(settings, session=session, retry=RetryPolicy.immediate(),
                   environ={"SF_PASSWORD": PASSWORD, "SF_SECURITY_TOKEN": TOKEN})
    assert SalesforceOrderSource(conn).activated_order_ids() == [ORDER_ID]
