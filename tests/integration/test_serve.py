"""``sf-stripe-sync serve`` over real HTTP on loopback: a signed trigger is accepted and
its order syncs; every bad input is refused with a clear JSON body and enqueues
nothing; an Outbound Message is acknowledged; health, readiness and metrics answer.

The server runs as its own process (the command a deployment runs), against a local
org and the Stripe emulator served by this test process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.stripe_emulator import StripeEmulator
from sf_stripe_sync.serve.signature import sign
from sf_stripe_sync.triggers import SqliteTriggerQueue
from tests.e2e.harness import DEMO_CATALOG, DEMO_ORG, ROOT, load_json

pytestmark = pytest.mark.integration

SECRET = "trigger-secret-for-tests"
ORG_ID = "00D000000000001AAA"
GOOD_ORDER = "801000000000001AAA"
OTHER_ORDER = "801000000000002AAA"


@dataclass
class Server:
    url: str
    org: LocalOrg
    emulator: StripeEmulator
    state_dir: Path
    process: subprocess.Popen[bytes]

    def post(self, body: bytes, *, signature: str | None = None,
             path: str = "/v1/orders/sync", **headers: str) -> requests.Response:
        sent = {"Content-Type": "application/json", **headers}
        if signature is not None:
            sent["X-Signature"] = signature
        return requests.post(self.url + path, data=body, headers=sent, timeout=10)

    def signed(self, document: Any, *, at: int | None = None) -> requests.Response:
        body = json.dumps(document).encode()
        return self.post(body, signature=sign(SECRET, body, at or int(time.time())))

    def queued(self) -> list[str]:
        queue = SqliteTriggerQueue.in_state_dir(self.state_dir)
        try:
            return queue.pending_ids()
        finally:
            queue.close()

    def order(self, order_id: str) -> dict[str, Any]:
        return next(o for o in self.org.records("Order") if o["Id"] == order_id)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until(predicate: Any, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting: {what}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    org = LocalOrg(load_json(DEMO_ORG)).start()
    emulator = StripeEmulator(seed=load_json(DEMO_CATALOG))
    emulator.start(host="127.0.0.1", port=0)
    state_dir = tmp_path_factory.mktemp("serve") / "state"
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SF_", "STRIPE_"))}
    env.update({"SF_STRIPE_SYNC_TRIGGER_SECRET": SECRET,
                "SF_STRIPE_SYNC__SERVE__ORGANIZATION_ID": ORG_ID,
                "SF_STRIPE_SYNC__SERVE__POLL_SECONDS": "0.2",
                "SF_STRIPE_SYNC__RETRY__INITIAL_WAIT_SECONDS": "0",
                "SF_STRIPE_SYNC__RETRY__MAX_WAIT_SECONDS": "0"})
    process = subprocess.Popen(
        [sys.executable, "-m", "sf_stripe_sync.cli", "serve", "--port", str(port),
         "--salesforce-sandbox-url", org.base_url, "--stripe-emulator-url", emulator.url,
         "--state-dir", str(state_dir)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"serve exited: {process.stderr.read().decode()[-2000:]}"
                                 if process.stderr else "serve exited")
        try:
            return requests.get(url + "/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        _wait_until(up, "serve to answer /healthz")
        yield Server(url, org, emulator, state_dir, process)
    finally:
        process.terminate()
        process.wait(timeout=30)
        emulator.stop()
        org.stop()


def test_a_signed_request_is_accepted_and_the_order_syncs(server: Server) -> None:
    answer = server.signed({"order_ids": [GOOD_ORDER, GOOD_ORDER[:15]]})
    assert answer.status_code == 202
    assert answer.json() == {"accepted": [GOOD_ORDER]}
    _wait_until(lambda: server.order(GOOD_ORDER).get("Stripe_Sync_Status__c") == "Synced",
                "the triggered order to be synced")
    schedule_id = server.order(GOOD_ORDER)["Stripe_Subscription_Schedule_Id__c"]
    assert schedule_id and schedule_id.startswith("sub_sched_")
    _wait_until(lambda: server.queued() == [], "the queue to drain")


BAD_INPUTS = [
    pytest.param(lambda s: s.post(b'{"order_ids": ["801000000000002AAA"]}'), 401,
                 "bad_signature", id="missing-signature"),
    pytest.param(lambda s: s.post(b'{"order_ids": ["801000000000002AAA"]}',
                                  signature=sign("wrong-secret", b'{"order_ids": '
                                                 b'["801000000000002AAA"]}', int(time.time()))),
                 401, "bad_signature", id="wrong-secret"),
    pytest.param(lambda s: s.signed({"order_ids": [OTHER_ORDER]},
                                    at=int(time.time()) - 301), 401, "bad_signature",
                 id="stale-timestamp"),
    pytest.param(lambda s: s.post(b'{"order_ids": ["801000000000002AAA"]}',
                                  signature="t=abc,v1=00"), 401, "bad_signature",
                 id="malformed-signature"),
    pytest.param(lambda s: s.post(b"{not json", signature=sign(SECRET, b"{not json",
                                                               int(time.time()))),
                 400, "malformed_json", id="malformed-json"),
    pytest.param(lambda s: s.signed({"orders": [OTHER_ORDER]}), 400, "malformed_request",
                 id="no-order-ids-key"),
    pytest.param(lambda s: s.signed({"order_ids": [OTHER_ORDER] * 201}), 413,
                 "too_many_ids", id="too-many-ids"),
    pytest.param(lambda s: s.signed({"order_ids": [OTHER_ORDER, "001000000000001AAA"]}),
                 400, "invalid_order_ids", id="account-id"),
    pytest.param(lambda s: s.signed({"order_ids": ["801000000000002"[:14]]}), 400,
                 "invalid_order_ids", id="short-id"),
    pytest.param(lambda s: s.signed({"order_ids": ["801000000000002AAB"]}), 400,
                 "invalid_order_ids", id="bad-checksum"),
    pytest.param(lambda s: s.signed({"order_ids": []}), 400, "invalid_order_ids",
                 id="empty-list"),
]


@pytest.mark.parametrize(("send", "status", "error"), BAD_INPUTS)
def test_bad_input_is_refused_with_a_clear_reason_and_nothing_is_enqueued(
        server: Server, send: Any, status: int, error: str) -> None:
    answer = send(server)
    assert answer.status_code == status
    body = answer.json()
    assert body["error"] == error and body["message"]
    assert OTHER_ORDER not in server.queued()
    assert server.order(OTHER_ORDER).get("Stripe_Sync_Status__c") in (None, "")


def _outbound(org_id: str, *ids: str) -> bytes:
    notes = "".join(
        f"<Notification><Id>04l00000000000{n}AAA</Id><sObject xsi:type=\"sf:Order\" "
        f'xmlns:sf="urn:sobject.enterprise.soap.sforce.com"><sf:Id>{i}</sf:Id></sObject>'
        "</Notification>" for n, i in enumerate(ids))
    return (
        '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv='
        '"http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi='
        '"http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><notifications xmlns='
        f'"http://soap.sforce.com/2005/09/outbound"><OrganizationId>{org_id}</OrganizationId>'
        "<ActionId>04k000000000001AAA</ActionId><SessionId xsi:nil=\"true\"/>"
        f"{notes}</notifications></soapenv:Body></soapenv:Envelope>").encode()


def test_an_outbound_message_is_acknowledged_after_enqueueing_and_syncs(server: Server) -> None:
    order = "801000000000003AAA"
    answer = server.post(_outbound(ORG_ID, order), path="/v1/outbound-message",
                         **{"Content-Type": "text/xml; charset=utf-8"})
    assert answer.status_code == 200
    assert "<Ack>true</Ack>" in answer.text
    _wait_until(lambda: server.order(order).get("Stripe_Sync_Status__c") == "Synced",
                "the outbound-message order to be synced")


def test_an_outbound_message_from_another_org_is_refused_and_not_acknowledged(
        server: Server) -> None:
    answer = server.post(_outbound("00D000000000009AAA", OTHER_ORDER),
                         path="/v1/outbound-message",
                         **{"Content-Type": "text/xml; charset=utf-8"})
    assert answer.status_code == 403 and "<Ack>" not in answer.text
    assert "Fault" in answer.text and OTHER_ORDER not in server.queued()


def test_health_readiness_and_metrics_answer(server: Server) -> None:
    assert server.post(b'{"order_ids": []}').status_code == 401
    assert requests.get(server.url + "/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(server.url + "/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"store": "ok", "queue": "ok"}
    text = requests.get(server.url + "/metrics", timeout=5).text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in ("sf_stripe_sync_orders", "sf_stripe_sync_stripe_requests",
                 "sf_stripe_sync_retries", "sf_stripe_sync_stripe_rate_limited",
                 "sf_stripe_sync_run_duration_seconds", "sf_stripe_sync_queue_depth",
                 "sf_stripe_sync_lease_waits"):
        assert name in families, name
    refused = [s for s in families["sf_stripe_sync_trigger_requests"].samples
               if s.labels.get("status") == "401" and s.name.endswith("_total")]
    assert refused and refused[0].value >= 1
