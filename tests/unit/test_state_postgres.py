"""What only the PostgreSQL store has to show: its schema version, its writer lock,
a server that is down, passwords kept out of messages, and many openers at once."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime

import psycopg
import pytest

from sf_stripe_sync.errors import ConfigError, TransientError
from sf_stripe_sync.state.errors import StateStoreBusy, StateStoreUnavailable
from sf_stripe_sync.state.migrations import SCHEMA_VERSION
from sf_stripe_sync.state.pg import WRITE_LOCK_CLASS, redact_url
from sf_stripe_sync.state.sql import VERSION_TABLE
from sf_stripe_sync.state.store import StateStore
from tests.backends import StoreSpec

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_a_new_postgres_store_is_at_the_latest_schema_version(pg_spec: StoreSpec) -> None:
    with pg_spec.open() as store:
        assert store.backend == "postgresql"
        assert store.schema_version() == SCHEMA_VERSION
    with psycopg.connect(pg_spec.target) as raw:
        [(version,)] = raw.execute(f"SELECT version FROM {VERSION_TABLE}").fetchall()
    assert version == SCHEMA_VERSION


def test_a_newer_postgres_schema_than_the_code_knows_is_a_config_error(
    pg_spec: StoreSpec,
) -> None:
    pg_spec.open().close()
    with psycopg.connect(pg_spec.target, autocommit=True) as raw:
        raw.execute(f"UPDATE {VERSION_TABLE} SET version = %s", (SCHEMA_VERSION + 3,))
    with pytest.raises(ConfigError, match="newer than this release"):
        pg_spec.open()


def test_hosts_opening_a_new_postgres_store_at_once_all_succeed(pg_spec: StoreSpec) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def open_and_write(name: str) -> None:
        try:
            barrier.wait(timeout=10)
            with StateStore.open_url(pg_spec.target) as store:
                store.put_id("default", "customer", name, f"cus_{name}")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_and_write, args=(n,)) for n in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    with pg_spec.open() as store:
        assert [store.get_stripe_id("default", "customer", n) for n in "abcd"] == [
            f"cus_{n}" for n in "abcd"]


def test_a_writer_lock_held_past_the_busy_timeout_is_transient(pg_spec: StoreSpec) -> None:
    store = pg_spec.open(busy_timeout=0.2)
    with psycopg.connect(pg_spec.target, autocommit=True) as blocker:
        blocker.execute("BEGIN")
        blocker.execute("SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))",
                        (WRITE_LOCK_CLASS,))
        with pytest.raises(StateStoreBusy) as caught:
            store.set_watermark("orders", T0)
        assert isinstance(caught.value, TransientError)
        assert store.get_watermark("orders") is None  # readers are not blocked
        blocker.execute("ROLLBACK")
    store.set_watermark("orders", T0)
    assert store.get_watermark("orders") == T0


def test_a_server_that_is_down_is_a_transient_unavailable_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(StateStoreUnavailable) as caught:
        StateStore.open_url(f"postgresql://nobody:pw-123@127.0.0.1:{port}/none",
                            connect_timeout=0.5)
    assert isinstance(caught.value, TransientError)
    assert "pw-123" not in str(caught.value)


def test_the_url_password_never_appears_in_the_location_or_status(pg_spec: StoreSpec) -> None:
    with_password = pg_spec.target.replace("postgresql://postgres@",
                                           "postgresql://postgres:hunter2-secret@")
    assert "hunter2" in with_password
    with StateStore.open_url(with_password) as store:
        document = store.status_document(T0)
        assert "hunter2" not in store.location
        assert "hunter2" not in str(document)
        assert document["state_file"].startswith("postgresql://postgres:***@127.0.0.1")


def test_redact_url_keeps_everything_but_the_password() -> None:
    assert redact_url("postgresql://u:p%40ss@db.internal:5432/x?sslmode=require") == (
        "postgresql://u:***@db.internal:5432/x?sslmode=require")
    assert redact_url("postgresql://u@h/x") == "postgresql://u@h/x"
