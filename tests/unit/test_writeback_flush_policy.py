"""The run's write-back flush policy, on the in-memory fakes: while the run goes on only
whole calls of full collections are flushed, the run's end (also a run stopping on an
error) sends the rest, and a journal entry is closed only once its order's records were
all written."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.config import load_settings
from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.engine import Engine, RunOptions
from sf_stripe_sync.engine_settings import EngineSettings
from sf_stripe_sync.ports import RecordResult, WriteOp
from sf_stripe_sync.state.records import JournalState
from sf_stripe_sync.testing import FakeBillingGateway, FakeOrg, MemoryStateStore

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 30, tzinfo=UTC)
AS_OF = datetime(2026, 12, 1, tzinfo=UTC)
TEMPLATE = "801000000000001AAA"
"""A demo order on no contract with three items: each clone is one create."""
ORDERS = 700
"""Four pages of 200; three pages hold 1,200 records (an Order update and a log each)."""
COLLECTION = 200
CALL = 5 * COLLECTION


def order_id(n: int) -> str:
    return f"801{n + 100_000:012d}AAA"


def snapshot(orders: int) -> dict[str, Any]:
    demo = json.loads((ROOT / "fixtures" / "demo-org.json").read_text(encoding="utf-8"))
    order = next(o for o in demo["Order"] if o["Id"] == TEMPLATE)
    items = [i for i in demo["OrderItem"] if i["OrderId"] == TEMPLATE]
    demo["Order"] = [{**order, "Id": order_id(n), "OrderNumber": f"{n:08d}"}
                     for n in range(orders)]
    demo["OrderItem"] = [{**item, "Id": f"802{n * 10 + k + 100_000:012d}AAA",
                          "OrderId": order_id(n)}
                         for n in range(orders) for k, item in enumerate(items)]
    return demo


class RecordingOrg(FakeOrg):
    """The fake org, remembering each flush's writes (sObject, records) and failing the
    Order updates of the ``refused`` orders."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        super().__init__(snapshot, clock=lambda: NOW)
        self.flushes: list[list[tuple[str, int]]] = []
        self.flushed = threading.Event()
        self.refused: set[str] = set()

    def write_many(self, ops: Sequence[WriteOp]) -> list[list[RecordResult]]:
        self.flushes.append([(op.sobject, len(op.records)) for op in ops])
        results = super().write_many(ops)
        for op, outcome in zip(ops, results, strict=True):
            for index, record in enumerate(op.records):
                if op.sobject == "Order" and record.get("Id") in self.refused:
                    outcome[index] = RecordResult(id=record["Id"], success=False,
                                                  errors=("FIELD_CUSTOM_VALIDATION_EXCEPTION: no",))
        self.flushed.set()
        return results


def engine(org: RecordingOrg, store: MemoryStateStore, tmp_path: Path) -> Engine:
    settings = EngineSettings.of(load_settings(None, state_dir=tmp_path / "state"))
    run = Engine(settings=settings, source=org, writer=org, records=org,
                 gateway_for=lambda _: FakeBillingGateway(clock=lambda: NOW, seed=catalog()),
                 store=store, clock=lambda: NOW)
    pages = 0

    def after_each_page(page: list[OrderBundle], _outcomes: list[Any]) -> None:
        # Three pages done: 1,200 records wait, so a mid-run flush must come; wait for
        # it so the run is not over first (the flush itself runs on its own thread).
        nonlocal pages
        pages += 1
        if pages == 3:
            assert org.flushed.wait(30)

    run.on_page = after_each_page
    return run


def catalog() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (ROOT / "fixtures" / "demo-stripe-catalog.json").read_text(encoding="utf-8"))
    return loaded


def records_in(flush: list[tuple[str, int]]) -> tuple[int, int]:
    """(record updates, logs) of one flush."""
    updates = sum(n for sobject, n in flush if sobject != "Sync_Log__c")
    return updates, sum(n for sobject, n in flush if sobject == "Sync_Log__c")


def states(store: MemoryStateStore, orders: int) -> dict[str, set[JournalState]]:
    found: dict[str, set[JournalState]] = {}
    for n in range(orders):
        for entry in store.journal_for_order(order_id(n)):
            found.setdefault(order_id(n), set()).add(entry.state)
    return found


def synced(org: FakeOrg) -> set[str]:
    return {o["Id"] for o in org.records("Order") if o.get("Stripe_Sync_Status__c") == "Synced"}


def logged(org: FakeOrg) -> set[str]:
    return {str(r.get("Order__c")) for r in org.records("Sync_Log__c")}


def test_mid_run_flushes_send_only_whole_calls_and_the_end_sends_the_rest(
        tmp_path: Path) -> None:
    org, store = RecordingOrg(snapshot(ORDERS)), MemoryStateStore(clock=lambda: NOW)

    report = engine(org, store, tmp_path).run(RunOptions(as_of=AS_OF))

    assert report.counts["create"] == ORDERS
    *mid_run, last = org.flushes
    assert mid_run, "three pages of records waited: a flush came while the run went on"
    for flush in mid_run:
        updates, logs = records_in(flush)
        assert updates % COLLECTION == 0 and logs % COLLECTION == 0
        assert (updates + logs) % CALL == 0
    assert sum(sum(records_in(f)) for f in org.flushes) == 2 * ORDERS
    assert sum(records_in(last)) < 2 * ORDERS
    every = {order_id(n) for n in range(ORDERS)}
    assert synced(org) == every and logged(org) == every
    assert all(s == {JournalState.WRITTEN_BACK} for s in states(store, ORDERS).values())


class StoppingOrg(RecordingOrg):
    """Its order query fails after ``pages`` pages (the run stops on the error), once a
    flush came (the engine reads pages ahead, so it would fail before any finished)."""

    def __init__(self, snapshot: dict[str, Any], pages: int) -> None:
        super().__init__(snapshot)
        self.pages = pages

    def changed_since(self, watermark: datetime | None, page_size: int = 200
                      ) -> Iterator[list[OrderBundle]]:
        for number, page in enumerate(super().changed_since(watermark, page_size)):
            if number == self.pages:
                assert self.flushed.wait(30)
                raise RuntimeError("the org went away")
            yield page


def test_a_run_stopping_on_an_error_writes_back_every_order_it_finished(
        tmp_path: Path) -> None:
    org, store = StoppingOrg(snapshot(ORDERS), pages=3), MemoryStateStore(clock=lambda: NOW)

    with pytest.raises(RuntimeError, match="went away"):
        engine(org, store, tmp_path).run(RunOptions(as_of=AS_OF))

    journal = states(store, ORDERS)
    finished = {o for o, s in journal.items() if s & {JournalState.CONFIRMED,
                                                      JournalState.WRITTEN_BACK}}
    assert len(finished) == 3 * 200  # the flush needed all three pages done
    assert synced(org) == finished and logged(org) == finished
    assert all(journal[o] == {JournalState.WRITTEN_BACK} for o in finished)
    assert len(org.flushes) == 2  # a mid-run flush, then the rest on the way out
    assert sum(records_in(org.flushes[-1])) == 2 * len(finished) - CALL


def test_an_order_whose_record_fails_in_a_mid_run_flush_is_named_and_stays_open(
        tmp_path: Path) -> None:
    org, store = RecordingOrg(snapshot(ORDERS)), MemoryStateStore(clock=lambda: NOW)
    refused = {order_id(3), order_id(650)}
    org.refused = refused

    report = engine(org, store, tmp_path).run(RunOptions(as_of=AS_OF))

    journal = states(store, ORDERS)
    for order in refused:
        assert JournalState.WRITTEN_BACK not in journal[order]
        assert JournalState.CONFIRMED in journal[order]
        assert any(order in note and "FIELD_CUSTOM_VALIDATION_EXCEPTION" in note
                   for note in report.notes)
    assert all(s == {JournalState.WRITTEN_BACK} for o, s in journal.items()
               if o not in refused)
