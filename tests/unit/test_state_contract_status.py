"""Schema step 3: a store made by the previous release (schema 2, a CHECK list of contract
statuses) is migrated in place, on SQLite and on PostgreSQL, keeping its contracts, and
then keeps any status the operations table names, including one it does not name yet."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.state.migrations import MIGRATIONS, SCHEMA_VERSION, apply_steps, migrate
from sf_stripe_sync.state.sql import Connection
from sf_stripe_sync.state.store import ContractState, StateStore
from tests.backends import StoreSpec

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
PREVIOUS = MIGRATIONS[:2]
"""The schema the previous release made."""
_INSERT = ("INSERT INTO contracts (account, contract_key, schedule_id, customer_id, "
           "applied_fingerprint, applied_order_ids, status, updated_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


@contextmanager
def _previous_schema(spec: StoreSpec) -> Iterator[Connection]:
    """A connection, in one write transaction, to the store at schema 2."""
    if spec.is_postgres:
        from sf_stripe_sync.state.pg import PgDatabase

        db = PgDatabase(spec.target, busy_timeout=10.0)
        try:
            with db.write() as conn:
                apply_steps(conn, db.location, PREVIOUS, db.dialect)
                yield conn
        finally:
            db.close()
        return
    Path(spec.target).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(spec.target, isolation_level=None)
    try:
        migrate(conn, spec.target, PREVIOUS)
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("COMMIT")
    finally:
        conn.close()


def _row(key: str, status: str) -> tuple[Any, ...]:
    return ("default", key, "sub_sched_1", "cus_1", "fp-1", '["801A"]', status,
            "2025-02-01T00:00:00.000000Z")


def test_the_previous_schema_refused_a_status_outside_its_list(store_spec: StoreSpec) -> None:
    """What step 3 removes: without it a new operation's status would not be stored."""
    with pytest.raises(Exception, match=r"(?i)check"), _previous_schema(store_spec) as conn:
        conn.execute(_INSERT, _row("800C9", "released"))


def test_a_store_at_the_previous_schema_migrates_keeping_its_contracts(
    store_spec: StoreSpec,
) -> None:
    with _previous_schema(store_spec) as conn:
        conn.execute(_INSERT, _row("800C1", "active"))
        conn.execute(_INSERT, _row("800C2", "canceled"))
    with store_spec.open(clock=lambda: T0) as store:
        assert store.schema_version() == SCHEMA_VERSION == 3
        first = store.get_contract("default", "800C1")
        second = store.get_contract("default", "800C2")
        assert first is not None and second is not None
        assert (first.status, first.schedule_id, first.applied_order_ids) == (
            "active", "sub_sched_1", frozenset({"801A"}))
        assert second.is_canceled
        store.put_contract(ContractState(account="default", contract_key="800C3",
                                         status="released", updated_at=T0))
        store.put_contract(second.model_copy(update={"status": "active"}))  # upsert still keyed
    with store_spec.open(clock=lambda: T0) as store:
        released = store.get_contract("default", "800C3")
        again = store.get_contract("default", "800C2")
        assert released is not None and released.status == "released"
        assert again is not None and again.status == "active"
        assert store.status_document(T0)["contracts"] == {"active": 2, "canceled": 0,
                                                          "released": 1}


def test_an_empty_status_is_still_refused_before_the_store() -> None:
    with pytest.raises(ValueError):
        ContractState(account="default", contract_key="800C1", status="", updated_at=T0)


def test_a_new_store_has_no_status_list_in_its_contracts_table(tmp_path: Path) -> None:
    with StateStore.open(tmp_path / "s.db"):
        pass
    with sqlite3.connect(tmp_path / "s.db") as raw:
        (sql,) = raw.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'contracts'").fetchone()
    assert "CHECK" not in sql.upper()
