"""The SDK's transport: what goes on the wire, what comes back, and which failures retry."""

from __future__ import annotations

import gzip
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
import stripe
import trustme
from pydantic import SecretStr

from sf_stripe_sync import observe
from sf_stripe_sync.config import StripeAccountSettings
from sf_stripe_sync.errors import TerminalError, TransientError
from sf_stripe_sync.stripe.client import build_client
from sf_stripe_sync.stripe.http import PooledHTTPClient
from sf_stripe_sync.stripe.retry import RetryPolicy
from sf_stripe_sync.stripe.session import StripeSession
from tests.loopback import JsonHandler, serving

SECRET = "sk_test_transport_secret"


class Answers(JsonHandler):
    """Answers one customer, gzip-compressed when asked; notes each request."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[dict[str, Any]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.seen.append({"method": self.command, "path": self.path, "body": body,
                          "headers": {k.lower(): v for k, v in self.headers.items()}})
        raw = json.dumps({"object": "customer", "id": "cus_1", "name": "Zoë"}).encode()
        gzipped = "gzip" in (self.headers.get("Accept-Encoding") or "")
        if gzipped:
            raw = gzip.compress(raw)
        encoding = {"Content-Encoding": "gzip"} if gzipped else {}
        self.send_json(200, raw, {**encoding, "request-id": "req_wire"})

    do_GET = _answer
    do_POST = _answer


@pytest.fixture()
def server() -> Iterator[str]:
    Answers.seen = []
    with serving(Answers) as url:
        yield url


def _session(url: str, **account: Any) -> StripeSession:
    settings = StripeAccountSettings(name="default", api_base=url, **account)
    return StripeSession(build_client(settings, SecretStr(SECRET)), account_name="default",
                         retry=RetryPolicy.no_wait(max_attempts=3))


def test_a_write_carries_the_sdks_headers_and_form_body_and_reads_the_answer(
        server: str) -> None:
    session = _session(server)

    raw = session.send_json("customers.create", "post", "/v1/customers",
                            {"name": "Zoë", "metadata": {"a": "1"}}, kind="write", key="k-1")

    assert raw == {"object": "customer", "id": "cus_1", "name": "Zoë"}  # gunzipped
    (sent,) = Answers.seen
    assert (sent["method"], sent["path"]) == ("POST", "/v1/customers")
    assert sent["body"] == b"name=Zo%C3%AB&metadata[a]=1"
    headers = sent["headers"]
    assert headers["authorization"] == f"Bearer {SECRET}"
    assert headers["idempotency-key"] == "k-1"
    assert headers["content-type"] == "application/x-www-form-urlencoded"
    assert headers["accept-encoding"] == "gzip, deflate"
    assert headers["user-agent"].startswith("Stripe/v1 PythonBindings")


def test_a_read_sends_its_params_in_the_query_and_its_request_id_is_kept(server: str) -> None:
    client = build_client(StripeAccountSettings(name="d", api_base=server), SecretStr(SECRET))

    found = client.v1.customers.retrieve("cus_1")

    assert Answers.seen[0]["path"] == "/v1/customers/cus_1"
    assert Answers.seen[0]["body"] == b""
    assert found.last_response.request_id == "req_wire"


def test_each_answer_is_reported_to_observe(server: str) -> None:
    reported: list[tuple[str, str, int]] = []

    class Listener:
        def stripe_response(self, method: str, endpoint: str, status: int) -> None:
            reported.append((method, endpoint, status))

        def retry(self, system: str) -> None: ...

        def lease_wait(self) -> None: ...

    listener = Listener()
    observe.listen(listener)
    try:
        _session(server).send_json("customers.retrieve", "get", "/v1/customers/cus_1")
    finally:
        observe.forget(listener)
    assert reported == [("GET", "/v1/customers/{id}", 200)]


def test_nothing_listening_is_a_transient_failure_tried_again() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    session = _session(f"http://127.0.0.1:{port}")

    with pytest.raises(TransientError):
        session.send_json("customers.retrieve", "get", "/v1/customers/cus_1")
    assert session.stats.retries == 2


def test_an_answer_slower_than_the_timeout_is_a_transient_failure() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # accepts, never answers
        client = stripe.StripeClient(
            SECRET, base_addresses={"api": f"http://127.0.0.1:{silent.getsockname()[1]}"},
            max_network_retries=0,
            http_client=PooledHTTPClient("http://127.0.0.1", timeout=0.2))
        with pytest.raises(stripe.APIConnectionError) as failed:
            client.v1.customers.retrieve("cus_1")
    assert failed.value.should_retry


def test_a_certificate_that_does_not_verify_is_terminal_and_not_tried_again() -> None:
    ca = trustme.CA()  # not in the SDK's bundle
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    Answers.seen = []
    try:
        session = _session(f"https://127.0.0.1:{httpd.server_address[1]}")
        with pytest.raises(TerminalError) as refused:
            session.send_json("customers.retrieve", "get", "/v1/customers/cus_1")
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert refused.value.code == "connection"
    assert session.stats.retries == 0
    assert Answers.seen == []
