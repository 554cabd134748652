"""Auth settings, secret handling, re-authentication and call accounting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import SalesforceExpiredSession

from sf_stripe_sync.config import SalesforceSettings, Settings
from sf_stripe_sync.errors import AuthenticationError, ConfigError
from sf_stripe_sync.salesforce.auth import CallMeter, SalesforceConnection, connect
from sf_stripe_sync.salesforce.retry import RetryPolicy


def _settings(**salesforce: Any) -> Settings:
    return Settings(salesforce=SalesforceSettings(**salesforce))


class ExpiringClient:
    """query() fails with an expired session ``failures`` times, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.refreshes = 0
        self.session_id = "00Dsession!secret"

    def query(self, soql: str, timeout: float | None = None) -> dict[str, Any]:
        if self.failures:
            self.failures -= 1
            raise SalesforceExpiredSession(
                "u", 401, "query", [{"errorCode": "INVALID_SESSION_ID", "message": "expired"}])
        return {"totalSize": 0, "done": True, "records": []}

    def _refresh_session(self) -> None:
        self.refreshes += 1


def _connection(client: ExpiringClient, mode: str) -> SalesforceConnection:
    return SalesforceConnection(client, auth_mode=mode, meter=CallMeter(),  # type: ignore[arg-type]
                                retry=RetryPolicy.immediate())


def test_expired_session_is_renewed_once_and_the_call_repeated_in_password_mode() -> None:
    client = ExpiringClient(failures=1)
    assert _connection(client, "password").query("SELECT Id FROM Order")["records"] == []
    assert client.refreshes == 1


def test_session_that_stays_expired_after_one_renewal_is_an_authentication_error() -> None:
    client = ExpiringClient(failures=5)
    with pytest.raises(AuthenticationError):
        _connection(client, "jwt").query("SELECT Id FROM Order")
    assert client.refreshes == 1


def test_expired_bare_session_id_is_a_clear_authentication_error() -> None:
    client = ExpiringClient(failures=1)
    with pytest.raises(AuthenticationError, match="SF_SESSION_ID") as caught:
        _connection(client, "session").query("SELECT Id FROM Order")
    assert client.refreshes == 0
    assert "00Dsession!secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("salesforce", "missing"),
    [
        ({"auth": "session"}, "instance_url"),
        ({"auth": "password"}, "username"),
        ({"auth": "jwt", "username": "u@x"}, "private_key_file"),
        ({"auth": "client_credentials", "domain": "acme.my"}, "consumer_key"),
    ],
)
def test_missing_auth_settings_are_config_errors_naming_the_setting(
    salesforce: dict[str, Any], missing: str
) -> None:
    env = {"SF_SESSION_ID": "s", "SF_PASSWORD": "p", "SF_CONSUMER_SECRET": "c"}
    with pytest.raises(ConfigError, match=f"salesforce.{missing}"):
        connect(_settings(**salesforce), environ=env)


def test_missing_secret_names_the_variable_never_a_value() -> None:
    with pytest.raises(ConfigError, match="SF_PASSWORD"):
        connect(_settings(auth="password", username="u@x"), environ={})


def test_client_credentials_needs_a_my_domain() -> None:
    settings = _settings(auth="client_credentials", consumer_key="k")
    with pytest.raises(ConfigError, match="My Domain"):
        connect(settings, environ={"SF_CONSUMER_SECRET": "c"})


def test_jwt_key_file_must_exist(tmp_path: Path) -> None:
    settings = _settings(auth="jwt", username="u@x", consumer_key="k",
                         private_key_file=tmp_path / "absent.pem")
    with pytest.raises(ConfigError, match=r"absent\.pem"):
        connect(settings, environ={})


def test_meter_counts_api_calls_apart_from_logins_and_reads_usage() -> None:
    meter = CallMeter()
    for url, header in [
        ("https://h/services/Soap/u/65.0", ""),
        ("https://h/services/data/v65.0/query?q=x", "api-usage=18/5000"),
        ("https://h/services/data/v65.0/composite/sobjects",
         "api-usage=19/5000; per-app-api-usage=3/250(appName=x)"),
    ]:
        response = requests.Response()
        response.url = url
        if header:
            response.headers["Sforce-Limit-Info"] = header
        meter.record(response)
    assert (meter.api_calls, meter.logins, meter.last_usage) == (2, 1, (19, 5000))
