"""``ports.OrderSource``, ``ports.WriteBack`` (with upsert, batches and look-ups) and
``ports.OrgRecords``: the in-memory org and the real adapters on the local org answer
alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.ports import OrgRecords, SyncStatus, WriteOp
from sf_stripe_sync.salesforce.writeback import WriteBackBatch
from tests.conformance.conftest import ACCOUNT, CONTRACT, ORDERS, Org, sf_id


def test_orders_come_with_their_items_account_and_contract(org: Org) -> None:
    (bundle,) = org.source.orders_by_id([ORDERS[0]])
    assert bundle.order_id == ORDERS[0]
    assert [(i["Id"], float(i["Quantity"])) for i in bundle.items] == [(sf_id("802", 1), 2.0)]
    assert bundle.account is not None and bundle.account["Id"] == ACCOUNT
    assert bundle.contract is not None and bundle.contract["Id"] == CONTRACT
    assert sf_id("01u", 1) in bundle.pricebook_entries


def test_unknown_orders_are_left_out_and_any_status_is_read(org: Org) -> None:
    bundles = org.source.orders_by_id([ORDERS[2], sf_id("801", 99)])
    assert [(b.order_id, b.order["Status"]) for b in bundles] == [(ORDERS[2], "Draft")]


def test_only_activated_orders_are_listed_and_on_their_contract(org: Org) -> None:
    assert sorted(org.source.activated_order_ids()) == ORDERS[:2]
    on_contract = org.source.contract_orders(CONTRACT)
    assert [b.order_id for b in on_contract] == ORDERS[:2]
    assert org.source.contract_orders(sf_id("800", 99)) == []


def test_changed_since_pages_activated_orders_after_the_watermark(org: Org) -> None:
    everything = [b.order_id for page in org.source.changed_since(None) for b in page]
    assert sorted(everything) == ORDERS[:2]
    later = datetime(2025, 1, 1, 12, tzinfo=UTC)
    assert [b.order_id for page in org.source.changed_since(later) for b in page] == [
        ORDERS[1]]


def test_an_update_is_read_back_and_bad_records_fail_alone(org: Org) -> None:
    results = org.writer.update("Order", [
        {"Id": ORDERS[0], "Stripe_Sync_Status__c": "Synced"},
        {"Id": ORDERS[1], "No_Such_Field__c": "x"},
        {"Id": sf_id("801", 99), "Stripe_Sync_Status__c": "Synced"},
    ])
    assert [r.success for r in results] == [True, False, False]
    assert results[1].errors[0].startswith("INVALID_FIELD")
    assert results[2].errors[0].startswith("INVALID_CROSS_REFERENCE_KEY")
    (bundle,) = org.source.orders_by_id([ORDERS[0]])
    assert bundle.order["Stripe_Sync_Status__c"] == "Synced"
    assert [b.order_id for page in org.source.changed_since(
        datetime(2025, 6, 1, tzinfo=UTC)) for b in page] == [ORDERS[0]]


def test_inserts_get_ids_and_are_found_by_field(org: Org) -> None:
    results = org.writer.insert("Sync_Log__c", [
        {"Order__c": ORDERS[0], "Operation__c": "create", "Sync_Key__c": "k-1"},
        {"Order__c": ORDERS[1], "Operation__c": "create", "Sync_Key__c": "k-2"},
    ])
    assert all(r.success and r.id for r in results)
    found = org.writer.find("Sync_Log__c", "Sync_Key__c", ["k-1", "k-3"],
                             ["Id", "Order__c"])
    assert [(f["Id"], f["Order__c"]) for f in found] == [(results[0].id, ORDERS[0])]


def test_an_upsert_sent_twice_leaves_one_record(org: Org) -> None:
    record = {"Order__c": ORDERS[0], "Operation__c": "create", "Sync_Key__c": "k-1"}
    first = org.writer.upsert("Sync_Log__c", "Sync_Key__c", [record])
    second = org.writer.upsert("Sync_Log__c", "Sync_Key__c",
                               [{**record, "Operation__c": "amend"}])
    assert first[0].success and second[0].success and first[0].id == second[0].id
    logs = org.records("Sync_Log__c")
    assert [(r["Id"], r["Operation__c"]) for r in logs] == [(first[0].id, "amend")]


def test_a_batch_applies_its_writes_in_order(org: Org) -> None:
    results = org.writer.write_many([
        WriteOp("update", "Order", [{"Id": ORDERS[0], "Stripe_Sync_Status__c": "Synced"}]),
        WriteOp("upsert", "Sync_Log__c", [{"Order__c": ORDERS[0], "Sync_Key__c": "k-9"}],
                external_id="Sync_Key__c"),
    ])
    assert [[r.success for r in op] for op in results] == [[True], [True]]
    assert [r["Sync_Key__c"] for r in org.records("Sync_Log__c")] == ["k-9"]


# ---------------------------------------------------------------------- OrgRecords


def test_an_order_read_names_its_contract_and_its_newest_change_in_utc(org: Org) -> None:
    first, second = org.source.orders_by_id(ORDERS[:2])
    assert isinstance(org.shapes, OrgRecords)
    assert org.shapes.contract_id(first) == CONTRACT == org.shapes.contract_key(first)
    assert org.shapes.modstamp(first) == datetime(2025, 1, 1, tzinfo=UTC)
    assert org.shapes.modstamp(second) == datetime(2025, 1, 2, tzinfo=UTC)
    assert not org.shapes.names_schedule(first) and org.shapes.sync_status(first) is None
    assert org.shapes.stripe_account(first) is None


def test_the_stripe_account_an_order_names_is_read_back(org: Org) -> None:
    org.writer.update("Order", [{"Id": ORDERS[0], "Stripe_Account__c": "eu"}])
    (bundle,) = org.source.orders_by_id([ORDERS[0]])
    assert org.shapes.stripe_account(bundle) == "eu"


def test_the_write_back_of_a_result_is_read_back_in_domain_terms(org: Org) -> None:
    (before,) = org.source.orders_by_id([ORDERS[0]])
    batch = WriteBackBatch(FieldMap(), datetime(2025, 6, 1, tzinfo=UTC))
    batch.add_success(order=before.order, operation="create", schedule_id="sub_sched_1",
                      contract_id=CONTRACT, contract_schedule_id=None, account_id=None,
                      customer_id=None, known_customer_id=None, idempotency_key="k-1",
                      request_ids=(), message="created", log=False)
    batch.add_failure(order=org.source.orders_by_id([ORDERS[1]])[0].order,
                      operation="create", message="no price")
    assert batch.flush(org.writer) == {}
    synced, failed = org.source.orders_by_id(ORDERS[:2])
    assert org.shapes.sync_status(synced) is SyncStatus.SYNCED
    # The other order of the Contract names it too: the Contract now carries it.
    assert org.shapes.names_schedule(synced) and org.shapes.names_schedule(failed)
    assert org.shapes.sync_status(failed) is SyncStatus.ERROR
    stamp, earlier = org.shapes.modstamp(synced), org.shapes.modstamp(before)
    assert stamp is not None and earlier is not None and stamp > earlier
    assert stamp.utcoffset() == timedelta(0)


def test_a_status_the_sync_never_writes_is_no_sync_status(org: Org) -> None:
    org.writer.update("Order", [{"Id": ORDERS[0], "Stripe_Sync_Status__c": "Pending"}])
    (bundle,) = org.source.orders_by_id([ORDERS[0]])
    assert org.shapes.sync_status(bundle) is None


def test_an_unknown_stripe_account_points_at_the_field_naming_it(org: Org) -> None:
    issue = org.shapes.unknown_account(ORDERS[0], "no Stripe account 'eu' is configured")
    assert (issue.code.value, issue.order_id, issue.field) == (
        "invalid_record", ORDERS[0], FieldMap().order_stripe_account)
    assert issue.is_error and "'eu'" in issue.message
