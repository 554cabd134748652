"""The local org as strict as Salesforce about ids, and reachable over real HTTPS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest

from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sandbox.salesforce_org.ids import is_valid_id, to_18

pytestmark = pytest.mark.integration

ACCOUNT_15 = "001D000000IqhSL"
ACCOUNT_18 = "001D000000IqhSLIAZ"
SNAPSHOT: dict[str, Any] = {
    "Account": [{"Id": ACCOUNT_18, "Name": "Acme"}],
    "Contact": [{"Id": "003000000000001AAA", "LastName": "Doe", "AccountId": ACCOUNT_18}]}


def _client(org: LocalOrg, session: requests.Session | None = None) -> Salesforce:
    return Salesforce(instance_url=org.instance_url, session_id=org.session_id,
                      session=session or org.requests_session(), version="65.0")


@pytest.fixture
def plain() -> Iterator[Salesforce]:
    with LocalOrg(SNAPSHOT).running() as org:
        yield _client(org)


def test_the_checksum_is_salesforces() -> None:
    assert to_18(ACCOUNT_15) == ACCOUNT_18  # the example of Salesforce's own help
    assert is_valid_id(ACCOUNT_15) and is_valid_id(ACCOUNT_18)
    assert not is_valid_id("001D000000IqhSLIAA")  # suffix of another case pattern
    assert not is_valid_id("001d000000iqhslIAZ")  # case lost, suffix kept
    assert not is_valid_id("001D000000IqhS")  # 14 characters


def test_fifteen_and_eighteen_character_ids_name_one_record(plain: Salesforce) -> None:
    assert plain.Account.get(ACCOUNT_15)["Id"] == ACCOUNT_18
    plain.Account.update(ACCOUNT_15, {"Name": "Acme Renamed"})
    assert plain.Account.get(ACCOUNT_18)["Name"] == "Acme Renamed"
    rows = plain.query(f"SELECT Name FROM Account WHERE Id = '{ACCOUNT_15}'")["records"]
    assert [r["Name"] for r in rows] == ["Acme Renamed"]


@pytest.mark.parametrize("bad", ["001D000000IqhSLIAA", "001d000000iqhslIAZ", "001D000000IqhS"])
def test_a_malformed_id_is_malformed_id_on_update_and_read(plain: Salesforce, bad: str) -> None:
    with pytest.raises(SalesforceMalformedRequest) as update:
        plain.Account.update(bad, {"Name": "x"})
    assert update.value.content[0]["errorCode"] == "MALFORMED_ID"
    with pytest.raises(SalesforceMalformedRequest) as read:
        plain.Account.get(bad)
    assert read.value.content[0]["errorCode"] == "MALFORMED_ID"


def test_a_malformed_id_in_soql_is_refused_like_salesforce(plain: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        plain.query("SELECT Id FROM Account WHERE Id = '001D000000IqhSLIAA'")
    assert info.value.content[0]["errorCode"] == "INVALID_QUERY_FILTER_OPERATOR"


def test_a_malformed_reference_value_is_malformed_id(plain: Salesforce) -> None:
    with pytest.raises(SalesforceMalformedRequest) as info:
        plain.Contact.create({"LastName": "L", "AccountId": "001D000000IqhSLIAA"})
    assert info.value.content[0]["errorCode"] == "MALFORMED_ID"


def test_simple_salesforce_reaches_the_https_org_with_its_ca_bundle() -> None:
    with LocalOrg(SNAPSHOT, tls=True).running() as org:
        assert org.instance_url.startswith("https://127.0.0.1:")
        assert org.base_url == org.instance_url and org.ca_path is not None
        session = requests.Session()
        session.trust_env = False
        session.verify = str(org.ca_path)
        sf = _client(org, session)
        assert sf.query("SELECT Name FROM Account")["records"][0]["Name"] == "Acme"
        assert "BEGIN CERTIFICATE" in org.ca_path.read_text(encoding="ascii")


def test_a_client_without_the_ca_is_refused_by_certificate_verification() -> None:
    with LocalOrg(SNAPSHOT, tls=True).running() as org:
        session = requests.Session()
        session.trust_env = False
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"{org.instance_url}/services/data/", timeout=10)
        # the org is still serving the clients that trust it
        trusted = requests.Session()
        trusted.trust_env = False
        trusted.verify = str(org.ca_path)
        assert trusted.get(f"{org.instance_url}/services/data/", timeout=10).status_code == 200


def test_the_org_session_helper_verifies_tls_too() -> None:
    with LocalOrg(SNAPSHOT, tls=True).running() as org:
        sf = _client(org)
        assert sf.Account.get(ACCOUNT_15)["Name"] == "Acme"


def test_sandbox_salesforce_tls_serves_https_and_prints_its_ca(tmp_path: Path) -> None:
    snapshot_file = tmp_path / "org.json"
    snapshot_file.write_text(json.dumps(SNAPSHOT), encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, "-m", "sf_stripe_sync.cli", "sandbox", "salesforce", "--snapshot",
         str(snapshot_file), "--port", "0", "--tls", "--ca-dir", str(tmp_path / "ca")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        ca_path = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        session_id = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        assert base_url.startswith("https://127.0.0.1:")
        assert Path(ca_path) == tmp_path / "ca" / "local-org-ca.pem"
        session = requests.Session()
        session.trust_env = False
        session.verify = ca_path
        response = session.get(f"{base_url}/services/data/v65.0/query",
                               params={"q": "SELECT Name FROM Account"}, timeout=10,
                               headers={"Authorization": f"Bearer {session_id}"})
        assert response.json()["records"][0]["Name"] == "Acme"
    finally:
        process.send_signal(signal.SIGINT)
        exit_code = process.wait(timeout=20)
    assert exit_code == 0
