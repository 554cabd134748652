"""Never twice, across hosts: separate state stores, a lost store, racing runs.

Each host is a ``Rig`` with its own state directory sharing one org and one Stripe
emulator, as two cron hosts (or a triggered run on one host while the scheduled run is
on another) share one Salesforce org and one Stripe account. The state stores cannot
see each other, so what keeps a second schedule, customer, coupon or Sync_Log from
being made is Stripe itself (the look before every create, keys derived from the
contract) and the Sync_Log's external id. Every test ends with the duplicates counted
in the emulator and the org: there must be none.
"""

from __future__ import annotations

import shutil
import threading
from collections import Counter
from pathlib import Path

import pytest

from sf_stripe_sync.engine import RunReport
from sf_stripe_sync.errors import SyncError
from sf_stripe_sync.sandbox.salesforce_org import OrgFaults
from sf_stripe_sync.sandbox.stripe_emulator.idempotency import DEFAULT_TTL_SECONDS
from tests.backends import BACKENDS, store_spec_for
from tests.reliability.audit import audit
from tests.reliability.conftest import Figures
from tests.reliability.generate import generate_org
from tests.reliability.rig import Census, Rig, running

pytestmark = pytest.mark.reliability

CONTRACT = "800000000000001AAA"
FIRST_ORDER, LATER_ORDER = "801000000000011AAA", "801000000000012AAA"
DEMO_SCHEDULES = 9
RACES = 20
NO_SUCH_ORDER = "801000000000999AAA"
RACE_CONTRACTS = 4


def other_host(rig: Rig, state_dir: Path) -> Rig:
    """A second host: the same org and Stripe account, its own state dir (and its own
    state store, unless both name one shared store through ``state.url``)."""
    return Rig(org=rig.org, emulator=rig.emulator, state_dir=state_dir,
               overrides=dict(rig.overrides))


def in_service(*hosts: Rig) -> None:
    """Each host has run before (its store is not new), as hosts in service have."""
    for host in hosts:
        report = host.sync(order_ids=[NO_SUCH_ORDER])
        assert [o.code for o in report.outcomes] == ["invalid_record"]


def duplicates(found: Census) -> list[str]:
    """Everything made twice: schedules per contract, customers per Account, coupons
    per id (coupon ids are contract-derived), Sync_Logs per Sync_Key__c."""
    made = [f"{n} live schedules for contract {key}" for key, n in Counter(
        s["metadata"].get("salesforce_contract_key", "") for s in found.schedules
        if s["status"] in ("not_started", "active")).items() if n > 1]
    made += [f"{n} customers for Account {a}" for a, n in
             found.customers_by_account().items() if n > 1]
    made += [f"{n} coupons {c}" for c, n in Counter(c["id"] for c in found.coupons).items()
             if n > 1]
    made += [f"{n} Sync_Logs for key {k}" for k, n in Counter(
        log.get("Sync_Key__c") or log["Id"] for log in found.logs).items() if n > 1]
    made += [f"{n} {status} Sync_Logs for {order} ({key})"
             for (order, status, key), n in found.log_keys().items() if n > 1]
    return made


def _oracle(tmp_path: Path) -> Census:
    with running(tmp_path / "oracle") as clean:
        clean.converge()
        return clean.census()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_later_order_synced_on_another_host_after_a_lost_write_back_makes_no_second_schedule(
        tmp_path: Path, figures: Figures, backend: str) -> None:
    """Two hosts with separate SQLite stores, and two hosts sharing one Postgres store."""
    oracle = _oracle(tmp_path)
    with running(tmp_path / "host-a") as host_a, store_spec_for(backend, tmp_path) as spec:
        host_a.overrides.update(spec.settings())
        host_b = other_host(host_a, tmp_path / "host-b")
        in_service(host_a, host_b)
        host_a.org.set_faults(OrgFaults(unavailable_rate=1.0, only=("write",)))
        with pytest.raises(SyncError, match="503"):
            host_a.sync(order_ids=[FIRST_ORDER])  # Stripe created, the write-back failed
        host_a.org.clear_faults()
        created = host_a.census().schedules_by_contract_key()[CONTRACT]
        assert created == 1
        assert not host_a.census().orders[FIRST_ORDER].get("Stripe_Subscription_Schedule_Id__c")

        later = host_b.sync(order_ids=[LATER_ORDER])

        assert [o.result for o in later.outcomes if o.result == "failed"] == []
        assert host_a.census().schedules_by_contract_key()[CONTRACT] == 1
        host_a.converge()
        host_b.converge()
        assert (host_a.state_dir / "state.db").exists() == (backend == "sqlite")
        found = host_a.census()
        figures.add_rig(host_a)
        figures.add_rig(host_b)
        result = audit(found, oracle, synced(oracle))
        figures.duplicates += len(result.duplicates) + len(duplicates(found))
        assert duplicates(found) == []
        assert result.duplicates == []
        assert result.losses == []


def test_a_lost_store_and_expired_keys_make_no_second_schedule(
        tmp_path: Path, figures: Figures) -> None:
    with running(tmp_path / "state") as rig:
        rig.converge()
        assert len(rig.census().schedules) == DEMO_SCHEDULES
        shutil.rmtree(rig.state_dir)
        rig.converge()
        shutil.rmtree(rig.state_dir)
        rig.emulator.advance(DEFAULT_TTL_SECONDS + 3600)

        rig.converge()

        found = rig.census()
        figures.add_rig(rig)
        figures.duplicates += len(duplicates(found))
        assert len(found.schedules) == DEMO_SCHEDULES
        assert duplicates(found) == []


def test_a_store_lost_after_a_lost_write_back_makes_no_second_schedule_once_keys_expire(
        tmp_path: Path, figures: Figures) -> None:
    with running(tmp_path / "state") as rig:
        rig.org.set_faults(OrgFaults(unavailable_rate=1.0, only=("write",)))
        with pytest.raises(SyncError, match="503"):
            rig.sync()  # every schedule made in Stripe, no id written to Salesforce
        rig.org.clear_faults()
        assert len(rig.census().schedules) == DEMO_SCHEDULES
        shutil.rmtree(rig.state_dir)
        in_service(rig)  # any run: the new store has a run and no journal
        rig.emulator.advance(DEFAULT_TTL_SECONDS + 3600)

        rig.converge()

        found = rig.census()
        figures.add_rig(rig)
        figures.duplicates += len(duplicates(found))
        assert len(found.schedules) == DEMO_SCHEDULES
        assert duplicates(found) == []
        assert all(o.get("Stripe_Subscription_Schedule_Id__c")
                   for o in found.orders.values() if o.get("Stripe_Sync_Status__c") == "Synced")


def synced(oracle: Census) -> list[str]:
    """The orders a clean run syncs (the demo's failing and draft orders left out)."""
    return [oid for oid, o in oracle.orders.items() if o.get("Stripe_Sync_Status__c") == "Synced"]


def _race(full: Rig, triggered: Rig, later_orders: list[str]) -> list[RunReport | BaseException]:
    """A full sync on one host and triggered syncs of later orders on another, at once."""
    outcomes: list[RunReport | BaseException] = []
    start = threading.Barrier(2)

    def run(host: Rig, order_ids: list[str] | None) -> None:
        start.wait()
        try:
            outcomes.append(host.sync(order_ids=order_ids))
        except BaseException as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=run, args=(full, None)),
               threading.Thread(target=run, args=(triggered, later_orders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return outcomes


def _later_orders(snapshot_orders: list[dict[str, object]]) -> list[str]:
    """Every activated order of a contract after the contract's first one."""
    seen: set[object] = set()
    later = []
    for order in sorted(snapshot_orders, key=lambda o: str(o["Id"])):
        contract = order.get("ContractId")
        if not contract or order.get("Status") != "Activated":
            continue
        if contract in seen:
            later.append(str(order["Id"]))
        seen.add(contract)
    return later


@pytest.mark.parametrize(("backend", "races"), [("sqlite", RACES), ("postgresql", 5)])
def test_a_full_sync_racing_triggered_syncs_on_another_host_makes_nothing_twice(
        tmp_path: Path, figures: Figures, backend: str, races: int) -> None:
    """Separate SQLite stores (20 races), or one shared Postgres store (5 races)."""
    made_twice: list[str] = []
    for race in range(races):
        snapshot = generate_org(1200 + race, contracts=RACE_CONTRACTS)
        with running(tmp_path / f"race-{race}" / "host-a", snapshot) as full, \
                store_spec_for(backend, tmp_path / f"race-{race}") as spec:
            full.overrides.update(spec.settings())
            triggered = other_host(full, tmp_path / f"race-{race}" / "host-b")
            in_service(full, triggered)
            outcomes = _race(full, triggered, _later_orders(snapshot["Order"]))
            assert [o for o in outcomes if isinstance(o, BaseException)] == []
            made_twice += [f"race {race}: {d}" for d in duplicates(full.census())]
            full.converge()
            triggered.converge()
            settled = full.census()
            made_twice += [f"race {race} settled: {d}" for d in duplicates(settled)]
            figures.add_rig(full)
            figures.add_rig(triggered)
        if race == 0:
            with running(tmp_path / "oracle-0", snapshot) as clean:
                clean.converge()
                oracle = clean.census()
            result = audit(settled, oracle, [o["Id"] for o in snapshot["Order"]])
            assert result.losses == [] and result.duplicates == []
    figures.duplicates += len(made_twice)
    assert made_twice == []
