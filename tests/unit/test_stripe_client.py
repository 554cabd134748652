"""The configured client: where it sends, which headers, and no SDK-level retries."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import stripe
from pydantic import SecretStr

from sf_stripe_sync.config import STRIPE_API_VERSION, StripeAccountSettings
from sf_stripe_sync.errors import ConfigError, TransientError
from sf_stripe_sync.stripe.client import build_client
from sf_stripe_sync.stripe.gateway import StripeGateway
from sf_stripe_sync.stripe.retry import RetryPolicy
from tests.loopback import JsonHandler, serving

SECRET = "sk_test_client_secret_value"


class Recorder(JsonHandler):
    seen: ClassVar[list[dict[str, str]]] = []
    status = 200

    def _answer(self) -> None:
        self.seen.append({"path": self.path, **{k.lower(): v for k, v in self.headers.items()}})
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.status == 200:
            body = {"object": "search_result", "data": [], "has_more": False, "url": "/"}
        else:
            body = {"error": {"type": "api_error", "message": "boom"}}
        self.send_json(self.status, json.dumps(body).encode(), {"Request-Id": "req_local"})

    do_GET = _answer
    do_POST = _answer


@pytest.fixture()
def server() -> Iterator[str]:
    Recorder.seen = []
    Recorder.status = 200
    with serving(Recorder) as url:
        yield url


def _account(url: str, connected: str | None = None) -> StripeAccountSettings:
    return StripeAccountSettings(name="eu", api_base=url, connected_account=connected,
                                 max_retries=3)


def test_client_sends_key_pinned_version_and_connected_account(server: str) -> None:
    client = build_client(_account(server, "acct_123"), SecretStr(SECRET))
    client.v1.customers.search(params={"query": "metadata['a']:'b'"})
    (request,) = Recorder.seen
    assert request["path"].startswith("/v1/customers/search")
    assert request["authorization"] == f"Bearer {SECRET}"
    assert request["stripe-version"] == STRIPE_API_VERSION
    assert request["stripe-account"] == "acct_123"


def test_client_without_connected_account_sends_no_stripe_account(server: str) -> None:
    client = build_client(_account(server), SecretStr(SECRET))
    client.v1.customers.search(params={"query": "x"})
    assert "stripe-account" not in Recorder.seen[0]


def test_a_netrc_entry_for_the_api_host_does_not_replace_the_key(
        server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password elsewhere\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    client = build_client(_account(server), SecretStr(SECRET))
    client.v1.customers.search(params={"query": "x"})
    assert Recorder.seen[0]["authorization"] == f"Bearer {SECRET}"


def test_the_proxy_of_the_environment_is_used(
        server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", server)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = build_client(_account("http://api.stripe.invalid"), SecretStr(SECRET))
    client.v1.customers.search(params={"query": "x"})
    (request,) = Recorder.seen
    assert request["path"].startswith("http://api.stripe.invalid/v1/customers/search")


def test_credentials_in_the_proxy_address_are_sent_to_the_proxy(
        server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", server.replace("http://", "http://ops:p%40ss@"))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = build_client(_account("http://api.stripe.invalid"), SecretStr(SECRET))
    client.v1.customers.search(params={"query": "x"})
    (request,) = Recorder.seen
    assert request["proxy-authorization"] == "Basic " + base64.b64encode(b"ops:p@ss").decode()
    assert request["authorization"] == f"Bearer {SECRET}"


def test_no_proxy_keeps_the_api_host_direct(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = build_client(_account(server), SecretStr(SECRET))
    client.v1.customers.search(params={"query": "x"})
    assert Recorder.seen[0]["path"].startswith("/v1/customers/search")


def test_sdk_does_not_retry_on_its_own(server: str) -> None:
    Recorder.status = 503
    client = build_client(_account(server), SecretStr(SECRET))
    with pytest.raises(stripe.APIError):
        client.v1.customers.search(params={"query": "x"})
    assert len(Recorder.seen) == 1


def test_gateway_retries_per_account_setting_and_reports_transient(server: str) -> None:
    Recorder.status = 503
    gateway = StripeGateway.from_settings(_account(server), SecretStr(SECRET),
                                          retry=RetryPolicy.no_wait())
    with pytest.raises(TransientError) as failed:
        gateway.ensure_customer(account_id="001A", name=None, known_customer_id=None,
                                metadata={})
    assert len(Recorder.seen) == 4  # max_retries=3 after the first try
    assert gateway.stats.retries == 3
    assert gateway.stats.reads == 4
    assert failed.value.request_id == "req_local"
    assert SECRET not in str(failed.value)


def test_empty_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as refused:
        build_client(StripeAccountSettings(name="x"), SecretStr(""))
    assert "x" in str(refused.value)


class SlowKeepAlive(Recorder):
    """Answers after a short wait over HTTP/1.1 keep-alive, noting each connection."""

    protocol_version = "HTTP/1.1"
    status = 200
    connections: ClassVar[set[tuple[str, int]]] = set()

    def _answer(self) -> None:
        self.connections.add(self.client_address)
        time.sleep(0.05)
        super()._answer()

    do_GET = _answer
    do_POST = _answer


def test_many_requests_in_flight_reuse_their_connections(
    caplog: pytest.LogCaptureFixture,
) -> None:
    SlowKeepAlive.connections = set()
    workers, rounds = 30, 4
    start = threading.Barrier(workers)
    answered: list[int] = []

    def work(client: stripe.StripeClient) -> None:
        start.wait()
        for _ in range(rounds):
            client.v1.customers.search(params={"query": "x"})
            answered.append(1)

    with serving(SlowKeepAlive) as url, caplog.at_level(logging.WARNING, logger="urllib3"):
        client = build_client(_account(url), SecretStr(SECRET))
        threads = [threading.Thread(target=work, args=(client,)) for _ in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(answered) == workers * rounds
    # One connection per worker at most, each kept for the next request: none dropped.
    assert len(SlowKeepAlive.connections) <= workers
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
