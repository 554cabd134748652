"""The org adapter and the snapshot file source feed the core the same orders.

The demo snapshot is loaded into the local org; every order read through
simple-salesforce must normalize exactly as the same order read from the file, so the
rest of the pipeline cannot tell a live org from a snapshot.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sf_stripe_sync.config import SalesforceSettings, Settings
from sf_stripe_sync.core.normalize import normalize_order
from sf_stripe_sync.core.rules import FieldMap, SyncRules
from sf_stripe_sync.salesforce.auth import connect
from sf_stripe_sync.salesforce.retry import RetryPolicy
from sf_stripe_sync.salesforce.source import SalesforceOrderSource
from sf_stripe_sync.sandbox.salesforce_org import LocalOrg
from sf_stripe_sync.sources.file_source import FileOrderSource

pytestmark = pytest.mark.integration

DEMO = Path(__file__).resolve().parents[2] / "fixtures" / "demo-org.json"


@pytest.mark.skipif(not DEMO.exists(), reason="demo snapshot not present")
def test_every_demo_order_normalizes_the_same_from_the_org_and_from_the_file() -> None:
    snapshot = json.loads(DEMO.read_text(encoding="utf-8"))
    fields, rules = FieldMap(), SyncRules()
    from_file = FileOrderSource(snapshot, fields=fields, rules=rules)
    order_ids = [str(o["Id"]) for o in snapshot.get("Order", [])]
    org = LocalOrg(snapshot, batch_size=3)
    org.start(host="127.0.0.1", port=0)
    try:
        settings = Settings(salesforce=SalesforceSettings(
            auth="session", instance_url=org.instance_url.replace("http://", "https://")))
        conn = connect(settings, session=org.requests_session(),
                       environ={"SF_SESSION_ID": org.session_id},
                       retry=RetryPolicy.immediate())
        from_org = SalesforceOrderSource(conn, fields=fields, rules=rules)
        org_bundles = {b.order_id: b for b in from_org.orders_by_id(order_ids)}
    finally:
        org.stop()
    file_bundles = {b.order_id: b for b in from_file.orders_by_id(order_ids)}
    assert order_ids and set(org_bundles) == set(file_bundles) == set(order_ids)
    for order_id in order_ids:
        expected = normalize_order(file_bundles[order_id], fields=fields, rules=rules)
        actual = normalize_order(org_bundles[order_id], fields=fields, rules=rules)
        assert actual == expected, order_id
