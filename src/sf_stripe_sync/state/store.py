"""The state store: what the engine remembers between runs, in SQLite or PostgreSQL.

Theory of operation: ``StateStore.open`` creates the directory and the SQLite file,
switches it to WAL and brings the schema up to date (``migrations``);
``StateStore.open_url`` does the same on a PostgreSQL database shared by many hosts
(``pg``), and ``open_store`` picks one from the settings (``state.url``, else the state
dir). Every method then runs in its own short transaction (``sql.Database``): writes
take the store's write lock up front (SQLite's ``BEGIN IMMEDIATE``, a Postgres advisory
lock) and wait up to the busy timeout for another writer, reads see one consistent
snapshot (a single SELECT runs alone, ``query``). The store is therefore safe to share
between the engine's threads, processes and (on Postgres) hosts running at the same
time, with the same semantics on both.

What it holds (DESIGN 1): watermarks per source; the Salesforce <-> Stripe id map per
Stripe account; what each contract's schedule has applied; the operation journal
(planned -> sent -> confirmed -> written back, or failed) that lets a crashed run
resume; per-order leases; and a record of each run with the orders it could not sync.

The store never holds secrets. Its methods take ids, idempotency keys, fingerprints,
error codes and messages, and small plan summaries; callers must never pass an API key,
password or session id. As a backstop, text shaped like a Stripe secret key or a
Salesforce session id is masked and a payload key named like a credential is refused.

Every datetime goes in timezone-aware (a naive one is refused) and comes out aware UTC.
"Now" comes from the injectable ``clock`` (or is passed in, for leases and runs).
"""

from __future__ import annotations

import fcntl
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from sf_stripe_sync.state import journal, leases, mappings, rates, runs
from sf_stripe_sync.state.codec import iso_z
from sf_stripe_sync.state.connections import (
    DEFAULT_BUSY_TIMEOUT_SECONDS,
    ConnectionPool,
    translate,
)
from sf_stripe_sync.state.errors import StateStoreError, StateUsageError
from sf_stripe_sync.state.journal_methods import Clock, JournalMethods
from sf_stripe_sync.state.mappings import IdLink
from sf_stripe_sync.state.migrations import MIGRATIONS, apply_steps, migrate
from sf_stripe_sync.state.records import (
    ContractState,
    FailedOrder,
    JournalEntry,
    JournalState,
    RunSummary,
)
from sf_stripe_sync.state.settings import StateSettings
from sf_stripe_sync.state.sql import Database

__all__ = [
    "STATE_FILE_NAME",
    "ContractState",
    "FailedOrder",
    "IdLink",
    "JournalEntry",
    "JournalState",
    "RunSummary",
    "StateStore",
    "open_store",
    "store_path",
]

STATE_FILE_NAME = "state.db"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def store_path(state_dir: Path) -> Path:
    """Where the store lives inside a state directory (``Settings.state_dir``)."""
    return state_dir / STATE_FILE_NAME


def open_store(state: StateSettings, state_dir: Path, *, clock: Clock | None = None
               ) -> StateStore:
    """The store the settings name: ``state.url`` when set, else the file in ``state_dir``."""
    if state.url:
        return StateStore.open_url(state.url, clock=clock, busy_timeout=state.busy_timeout_seconds,
                                   pool_size=state.pool_size)
    state_dir.mkdir(parents=True, exist_ok=True)
    return StateStore.open(store_path(state_dir), clock=clock,
                           busy_timeout=state.busy_timeout_seconds)


class StateStore(JournalMethods):
    """Watermarks, id map, contract state, journal, leases and runs over one database."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._pool = db
        self._clock = clock

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        clock: Clock | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
    ) -> StateStore:
        """Open (creating and migrating as needed) the store at ``path``.

        ``path`` is the database file; an existing directory means the file
        ``STATE_FILE_NAME`` inside it. Raises ``ConfigError`` when the file was written by
        a newer release, ``StateStoreError`` when it is not a usable database.
        """
        given = Path(path)
        file = store_path(given) if given.is_dir() else given
        try:
            file.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateStoreError(f"cannot create state directory {file.parent}: "
                                  f"{exc.strerror}") from exc
        # Creating the file, switching it to WAL and migrating are serialised across
        # processes: SQLite answers a concurrent first ``journal_mode = WAL`` with
        # SQLITE_BUSY at once, without waiting on its busy handler.
        with _open_lock(file):
            pool = ConnectionPool(file, busy_timeout)
            try:
                migrate(pool.connection(), file)
            except sqlite3.Error as exc:
                pool.close()
                raise translate(exc, file) from exc
            except BaseException:
                pool.close()
                raise
        return cls(pool, clock or _utc_now)

    @classmethod
    def open_url(
        cls,
        url: str,
        *,
        clock: Clock | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS,
        pool_size: int | None = None,
        connect_timeout: float = 10.0,
    ) -> StateStore:
        """Open (migrating as needed) the PostgreSQL store at ``url`` (``postgresql://``).

        Raises ``StateStoreUnavailable`` (transient) when the server cannot be reached
        within ``connect_timeout`` seconds."""
        from sf_stripe_sync.state.pg import DEFAULT_POOL_SIZE, PgDatabase, is_postgres_url

        if not is_postgres_url(url):
            raise StateUsageError("state.url must be a postgresql:// URL")
        db = PgDatabase(url, busy_timeout=busy_timeout, connect_timeout=connect_timeout,
                        pool_size=pool_size or DEFAULT_POOL_SIZE)
        try:
            with db.write() as conn:
                apply_steps(conn, db.location, MIGRATIONS, db.dialect)
        except BaseException:
            db.close()
            raise
        return cls(db, clock or _utc_now)

    @property
    def location(self) -> str:
        """The SQLite file, or the Postgres URL with its password redacted."""
        return self._pool.location

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._pool.dialect.name

    @property
    def path(self) -> Path:
        """The SQLite file; a Postgres store has none (see ``location``)."""
        if not isinstance(self._pool, ConnectionPool):
            raise StateUsageError("a PostgreSQL state store has no file; use location")
        return self._pool.path

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def schema_version(self) -> int:
        with self._pool.read() as conn:
            return self._pool.dialect.schema_version(conn)

    # ------------------------------------------------------------------ watermarks

    def get_watermark(self, source: str) -> datetime | None:
        with self._pool.query() as conn:
            return mappings.get_watermark(conn, source)

    def set_watermark(self, source: str, value: datetime) -> None:
        with self._pool.write() as conn:
            mappings.set_watermark(conn, source, value, self._clock())

    def watermarks(self) -> dict[str, datetime]:
        with self._pool.read() as conn:
            return mappings.all_watermarks(conn)

    # ------------------------------------------------------------------ id map

    def put_id(self, account: str, kind: str, salesforce_id: str, stripe_id: str) -> None:
        with self._pool.write() as conn:
            mappings.put_id(conn, account, kind, salesforce_id, stripe_id, self._clock())

    def get_stripe_id(self, account: str, kind: str, salesforce_id: str) -> str | None:
        with self._pool.query() as conn:
            return mappings.get_stripe_id(conn, account, kind, salesforce_id)

    def get_salesforce_id(self, account: str, kind: str, stripe_id: str) -> str | None:
        with self._pool.query() as conn:
            return mappings.get_salesforce_id(conn, account, kind, stripe_id)

    # ------------------------------------------------------------------ contracts

    def get_contract(self, account: str, contract_key: str) -> ContractState | None:
        with self._pool.query() as conn:
            return mappings.get_contract(conn, account, contract_key)

    def put_contract(self, state: ContractState) -> None:
        with self._pool.write() as conn:
            mappings.put_contract(conn, state)

    # ------------------------------------------------------------------ leases

    def acquire_lease(self, key: str, owner: str, ttl_seconds: float, now: datetime) -> bool:
        """Take ``key`` for ``owner`` until ``now + ttl``; False when someone else holds it."""
        with self._pool.write() as conn:
            return leases.acquire(conn, key, owner, ttl_seconds, now)

    def acquire_leases(self, keys: Sequence[str], owner: str, ttl_seconds: float,
                       now: datetime) -> list[str]:
        """``acquire_lease`` for many keys in one transaction; the keys taken."""
        with self._pool.write() as conn:
            return leases.acquire_many(conn, keys, owner, ttl_seconds, now)

    def release_leases(self, keys: Sequence[str], owner: str) -> None:
        """``release_lease`` for many keys in one transaction."""
        with self._pool.write() as conn:
            leases.release_many(conn, keys, owner)

    def renew_lease(self, key: str, owner: str, ttl_seconds: float, now: datetime) -> bool:
        with self._pool.write() as conn:
            return leases.renew(conn, key, owner, ttl_seconds, now)

    def release_lease(self, key: str, owner: str) -> None:
        with self._pool.write() as conn:
            leases.release(conn, key, owner)

    def renew_leases(self, owner: str, ttl_seconds: float, now: datetime) -> int:
        """Heartbeat: extend every lease ``owner`` holds in one statement; how many."""
        with self._pool.write() as conn:
            return leases.renew_all(conn, owner, ttl_seconds, now)

    def lease_holder(self, key: str, now: datetime) -> str | None:
        with self._pool.query() as conn:
            return leases.holder(conn, key, now)

    # ------------------------------------------------------------------ rate slots

    def reserve_rate_slot(self, account: str, rate: float, burst: float = 1.0) -> float:
        """Reserve the account's next request slot (``rates``); the seconds to wait."""
        with self._pool.atomic() as conn:
            return rates.reserve(conn, self._pool.dialect, account, rate, burst)

    # ------------------------------------------------------------------ runs

    def run_start(self, run_id: str, *, mode: str, started_at: datetime) -> None:
        with self._pool.write() as conn:
            runs.start(conn, run_id, mode=mode, started_at=started_at)

    def run_finish(
        self,
        run_id: str,
        *,
        finished_at: datetime,
        counts: Mapping[str, int],
        stripe_writes: int,
        salesforce_calls: int,
        failed_orders: Sequence[FailedOrder],
        succeeded_orders: Sequence[str] = (),
    ) -> None:
        """Record a run's outcome. ``succeeded_orders`` (synced or noop) clears old failures."""
        with self._pool.write() as conn:
            runs.finish(
                conn, run_id, finished_at=finished_at, counts=counts,
                stripe_writes=stripe_writes, salesforce_calls=salesforce_calls,
                failed_orders=failed_orders, succeeded_orders=succeeded_orders,
            )

    def last_run(self) -> RunSummary | None:
        with self._pool.read() as conn:
            return runs.last(conn)

    def get_run(self, run_id: str) -> RunSummary | None:
        with self._pool.read() as conn:
            return runs.get(conn, run_id)

    def failed_orders(self) -> list[FailedOrder]:
        """The latest failure of each order that has not succeeded since."""
        with self._pool.read() as conn:
            return runs.failed_orders(conn)

    # ------------------------------------------------------------------ status

    def status_document(self, now: datetime | None = None) -> dict[str, Any]:
        """What ``status --format json`` prints; every value is JSON-ready."""
        at = now or self._clock()
        with self._pool.read() as conn:
            last = runs.last(conn)
            marks = mappings.all_watermarks(conn)
            failed = runs.failed_orders(conn)
            journal_counts = journal.state_counts(conn)
            contracts = mappings.contract_status_counts(conn)
            active_leases = leases.active_count(conn, at)
            version = self._pool.dialect.schema_version(conn)
        return {
            "state_file": self.location,
            "schema_version": version,
            "last_run": last.as_json() if last is not None else None,
            "watermark": iso_z(min(marks.values())) if marks else None,
            "watermarks": {source: iso_z(value) for source, value in marks.items()},
            "failed_orders": [f.model_dump() for f in failed],
            "journal": journal_counts,
            "unfinished_operations": sum(
                journal_counts[s.value] for s in JournalState if s.is_unfinished
            ),
            "contracts": contracts,
            "active_leases": active_leases,
        }


@contextmanager
def _open_lock(file: Path) -> Iterator[None]:
    """An advisory lock on ``<file>.lock`` for the duration of opening the store."""
    lock_path = file.with_name(file.name + ".lock")
    try:
        handle = lock_path.open("a")
    except OSError as exc:
        raise StateStoreError(f"cannot create lock file {lock_path}: {exc.strerror}") from exc
    with handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
