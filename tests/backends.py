"""Both state-store backends for the tests: SQLite in tmp_path, Postgres in a fresh schema.

The Postgres cases need a server: ``SF_STRIPE_SYNC_TEST_PG_URL`` names a database on
loopback (``.ci/run`` starts one, see ``.ci/postgres.sh``). Each test gets a schema of
its own (``options=-csearch_path=...`` in the URL), dropped afterwards, so tests never
see each other's rows. Without the variable the Postgres cases are skipped, except under
CI (``CI`` set), where a missing server is a failure: CI must run them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from sf_stripe_sync.state.store import StateStore

PG_URL_ENV = "SF_STRIPE_SYNC_TEST_PG_URL"
BACKENDS = ("sqlite", "postgresql")


def pg_base_url() -> str:
    """The test server's URL, or skip (fail under CI) when there is none."""
    url = os.environ.get(PG_URL_ENV, "")
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_URL_ENV} is not set: CI must run the PostgreSQL tests")
        pytest.skip(f"{PG_URL_ENV} is not set (no PostgreSQL server for the tests)")
    return url


def schema_url(base: str, schema: str) -> str:
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}options={quote(f'-csearch_path={schema}')}"


def _admin(base: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(statement)


@dataclass
class StoreSpec:
    """Where one test's store lives; ``open`` may be called again to reopen it."""

    backend: str
    target: str
    """The SQLite file, or the Postgres URL (with the test's schema on its search path)."""
    opened: list[StateStore] = field(default_factory=list)

    @property
    def is_postgres(self) -> bool:
        return self.backend == "postgresql"

    def open(self, clock: Callable[[], datetime] | None = None, **kwargs: Any) -> StateStore:
        if self.is_postgres:
            store = StateStore.open_url(self.target, clock=clock, **kwargs)
        else:
            store = StateStore.open(Path(self.target), clock=clock, **kwargs)
        self.opened.append(store)
        return store

    def settings(self) -> dict[str, Any]:
        """Settings overrides that point a run at this store (with a state dir beside)."""
        return {"state": {"url": self.target}} if self.is_postgres else {}


@contextmanager
def pg_schema() -> Iterator[str]:
    """A fresh, empty schema on the test server; its URL. Dropped on exit."""
    base = pg_base_url()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    _admin(base, f"CREATE SCHEMA {schema}")
    try:
        yield schema_url(base, schema)
    finally:
        _admin(base, f"DROP SCHEMA {schema} CASCADE")


@contextmanager
def store_spec_for(backend: str, tmp_path: Path) -> Iterator[StoreSpec]:
    if backend == "postgresql":
        with pg_schema() as url:
            spec = StoreSpec(backend, url)
            try:
                yield spec
            finally:
                for store in spec.opened:
                    store.close()
        return
    spec = StoreSpec(backend, str(tmp_path / "state" / "store.db"))
    try:
        yield spec
    finally:
        for store in spec.opened:
            store.close()


@pytest.fixture(params=BACKENDS)
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreSpec]:
    """One test's store, once on SQLite and once on PostgreSQL."""
    with store_spec_for(str(request.param), tmp_path) as spec:
        yield spec


@pytest.fixture
def pg_spec(tmp_path: Path) -> Iterator[StoreSpec]:
    """A PostgreSQL store only (for what only a shared store can do)."""
    with store_spec_for("postgresql", tmp_path) as spec:
        yield spec
