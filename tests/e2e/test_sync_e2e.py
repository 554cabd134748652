"""The engine end to end: the local org and the Stripe emulator over HTTP, real adapters."""

from __future__ import annotations

from tests.e2e.harness import Harness

OVERLAP_ORDER = "801000000000002AAA"
GAP_ORDER = "801000000000008AAA"
PROPERTY_CONFLICT_ORDER = "801000000000009AAA"
QUANTITY_CONFLICT_ORDER = "801000000000010AAA"
BAD_ORDERS = {GAP_ORDER, PROPERTY_CONFLICT_ORDER, QUANTITY_CONFLICT_ORDER}
CONTRACT = "800000000000001AAA"
SCHEDULE_FIELD = "Stripe_Subscription_Schedule_Id__c"


def _activated(h: Harness) -> set[str]:
    return {o["Id"] for o in h.org.records("Order") if o["Status"] == "Activated"}


def test_demo_org_syncs_every_valid_order_and_fails_only_the_bad_ones(demo: Harness) -> None:
    report = demo.sync()

    failed = {o.order_id for o in report.failed}
    assert failed == BAD_ORDERS
    assert {o.code for o in report.failed} == {"gap", "property_conflict", "quantity_conflict"}
    synced = {o.order_id for o in report.outcomes if o.result in ("create", "amend", "noop")}
    assert synced == _activated(demo) - BAD_ORDERS
    # The contract's change order was folded into the contract's create: one schedule.
    by_order = {o.order_id: o for o in report.outcomes}
    assert by_order["801000000000011AAA"].result == "create"
    assert by_order["801000000000012AAA"].result == "noop"
    assert by_order["801000000000012AAA"].schedule_id == by_order["801000000000011AAA"].schedule_id
    contracts = {o["ContractId"] or o["Id"] for o in demo.org.records("Order")
                 if o["Id"] in synced}
    assert len(demo.schedules()) == len(contracts)
    assert report.stripe_writes == demo.stripe_writes()


def test_second_run_of_unchanged_org_makes_zero_stripe_writes(demo: Harness) -> None:
    demo.sync()
    writes_after_first = demo.stripe_writes()

    second = demo.sync()

    assert demo.stripe_writes() == writes_after_first
    assert second.stripe_writes == 0
    assert second.counts["create"] == second.counts["amend"] == second.counts["replace"] == 0
    assert second.counts["noop"] >= len(_activated(demo) - BAD_ORDERS)


def test_ids_and_status_are_written_back_with_one_sync_log_per_operation(demo: Harness) -> None:
    report = demo.sync()

    order = demo.record("Order", OVERLAP_ORDER)
    schedule_id = order[SCHEDULE_FIELD]
    assert schedule_id and schedule_id.startswith("sub_sched_")
    assert order["Stripe_Sync_Status__c"] == "Synced"
    assert order["Stripe_Sync_Error__c"] is None
    account = demo.record("Account", order["AccountId"])
    schedule = next(s for s in demo.schedules() if s["id"] == schedule_id)
    assert account["Stripe_Customer_Id__c"] == schedule["customer"]
    contract = demo.record("Contract", CONTRACT)
    assert contract[SCHEDULE_FIELD]
    logs = demo.org.records("Sync_Log__c")
    operations = [o for o in report.outcomes if o.result in ("create", "amend", "failed")]
    assert len(logs) == len(operations)
    assert {log["Order__c"] for log in logs} == {o.order_id for o in operations}
    ok_log = next(log for log in logs if log["Order__c"] == OVERLAP_ORDER)
    assert ok_log["Status__c"] == "Success" and ok_log["Idempotency_Key__c"]


def test_an_order_with_a_gap_fails_alone_with_its_error_on_the_order(demo: Harness) -> None:
    demo.sync()

    bad = demo.record("Order", GAP_ORDER)
    assert bad["Stripe_Sync_Status__c"] == "Error"
    assert "gap" in bad["Stripe_Sync_Error__c"]
    assert bad[SCHEDULE_FIELD] is None
    good = demo.record("Order", OVERLAP_ORDER)
    assert good["Stripe_Sync_Status__c"] == "Synced"


def test_an_unchanged_failed_order_is_not_rewritten_on_the_next_run(demo: Harness) -> None:
    demo.sync()
    logs_before = len(demo.org.records("Sync_Log__c"))
    stamp_before = demo.record("Order", GAP_ORDER)["SystemModstamp"]

    demo.sync()

    assert len(demo.org.records("Sync_Log__c")) == logs_before
    assert demo.record("Order", GAP_ORDER)["SystemModstamp"] == stamp_before


def test_a_new_change_order_on_a_contract_amends_its_schedule(demo: Harness) -> None:
    demo.sync()
    schedule_id = demo.record("Contract", CONTRACT)[SCHEDULE_FIELD]
    original = demo.record("Order", "801000000000011AAA")
    item = next(i for i in demo.org.records("OrderItem") if i["OrderId"] == original["Id"])
    sf = demo.salesforce()
    new_order = sf.Order.create({
        "AccountId": original["AccountId"], "ContractId": CONTRACT, "Status": "Draft",
        "EffectiveDate": "2027-09-01", "EndDate": "2028-01-01",
        "CurrencyIsoCode": original["CurrencyIsoCode"],
        "Pricebook2Id": original["Pricebook2Id"]})["id"]
    sf.OrderItem.create({
        "OrderId": new_order, "PricebookEntryId": item["PricebookEntryId"],
        "Product2Id": item["Product2Id"], "Quantity": 3, "UnitPrice": item["UnitPrice"],
        "ServiceDate": "2027-09-01", "EndDate": "2028-01-01",
        "OriginalOrderItemId": item["Id"]})
    sf.Order.update(new_order, {"Status": "Activated"})

    report = demo.sync()

    outcome = next(o for o in report.outcomes if o.order_id == new_order)
    assert outcome.result == "amend"
    assert outcome.schedule_id == schedule_id
    assert demo.record("Order", new_order)[SCHEDULE_FIELD] == schedule_id
    schedule = next(s for s in demo.schedules() if s["id"] == schedule_id)
    last = schedule["phases"][-1]
    assert last["start_date"] >= 1820188800  # 2027-09-05 or later: the change is in force
    quantities = {i["price"]: i["quantity"] for i in last["items"]}
    price = demo.record("PricebookEntry", item["PricebookEntryId"])["Stripe_Price_Id__c"]
    assert price in quantities
    assert len([s for s in demo.schedules() if s["customer"] == schedule["customer"]]) == 1


def test_editing_an_item_quantity_replaces_the_schedule(demo: Harness) -> None:
    demo.sync()
    item = next(i for i in demo.org.records("OrderItem") if i["OrderId"] == OVERLAP_ORDER)
    demo.salesforce().OrderItem.update(item["Id"], {"Quantity": 7})

    report = demo.sync()

    outcome = next(o for o in report.outcomes if o.order_id == OVERLAP_ORDER)
    assert outcome.result == "replace"
    schedule_id = demo.record("Order", OVERLAP_ORDER)[SCHEDULE_FIELD]
    schedule = next(s for s in demo.schedules() if s["id"] == schedule_id)
    assert 7 in {i["quantity"] for p in schedule["phases"] for i in p["items"]}
    assert report.stripe_writes == 1


def test_the_cancel_status_cancels_the_schedule(demo: Harness) -> None:
    demo.sync()
    schedule_id = demo.record("Order", OVERLAP_ORDER)[SCHEDULE_FIELD]
    demo.salesforce().Order.update(OVERLAP_ORDER, {"Status": "Cancelled"})

    report = demo.sync()

    outcome = next(o for o in report.outcomes if o.order_id == OVERLAP_ORDER)
    assert outcome.result == "cancel"
    schedule = next(s for s in demo.schedules() if s["id"] == schedule_id)
    assert schedule["status"] == "canceled"
    assert demo.record("Order", OVERLAP_ORDER)["Stripe_Sync_Status__c"] == "Canceled"


def test_a_dry_run_plans_everything_and_sends_nothing(demo: Harness) -> None:
    report = demo.sync(dry_run=True)

    assert demo.stripe_writes() == 0
    assert demo.org.records("Sync_Log__c") == []
    assert {p.order_id for p in report.plans} >= _activated(demo) - BAD_ORDERS


def test_a_dry_run_shows_where_stripe_differs_from_salesforce(demo: Harness) -> None:
    demo.sync()
    writes = demo.stripe_writes()
    item = next(i for i in demo.org.records("OrderItem") if i["OrderId"] == OVERLAP_ORDER)
    demo.salesforce().OrderItem.update(item["Id"], {"Quantity": 7})

    report = demo.sync(order_ids=[OVERLAP_ORDER], dry_run=True)

    (plan,) = report.plans
    assert plan.operation.value == "replace"
    drift = [w for w in plan.warnings if w.code.value == "drift"]
    assert len(drift) == 1
    assert "Stripe has" in drift[0].message
    assert "item price_A quantity: Stripe has 1, Salesforce wants 7" in drift[0].message
    assert plan.drift and {(c.field, c.stripe, c.salesforce) for c in plan.drift} == {
        ("item price_A quantity", "1", "7")}
    assert demo.stripe_writes() == writes
