"""The PostgreSQL side of the state store: a psycopg 3 connection pool and its transactions.

Theory of operation: ``PgDatabase`` is the Postgres twin of ``connections.ConnectionPool``
and gives the store the same two transaction kinds, so the journal, leases, mappings
and runs modules run unchanged on many hosts sharing one database:

* ``write()`` opens ``BEGIN`` and at once takes a transaction-level advisory lock
  (``pg_advisory_xact_lock``) keyed by the store's schema. Writers of one store queue on
  it exactly as SQLite writers queue on ``BEGIN IMMEDIATE``: every read-then-write inside
  (taking a lease, beginning a journal entry) is atomic across hosts. The lock goes with
  the transaction, so a host that dies mid-write (or loses its connection) releases it
  at once. Each transaction is a few short statements; the wait is bounded by
  ``lock_timeout`` (the busy timeout), past which ``StateStoreBusy`` is raised.
* ``read()`` opens ``REPEATABLE READ READ ONLY``: several SELECTs see one snapshot.

Connections come from a ``psycopg_pool.ConnectionPool`` (autocommit; transactions are
explicit, as in SQLite), checked before use so a restarted server costs one retry, not a
failed run. A child process made by ``fork`` never touches its parent's pool: it opens
its own. One store is one schema: the URL's ``options=-csearch_path=...`` (or the
role's default, ``public``) says which; the tests give each store a schema of its own.

``PgConnection`` adapts a psycopg connection to ``sql.Connection`` (``?`` placeholders
become ``%s``). psycopg's exceptions are translated here: lock waits, deadlocks and
serialisation failures become ``StateStoreBusy``; a lost or refused connection
``StateStoreUnavailable`` (both transient); anything else ``StateStoreError``. The URL's
password never reaches a message: ``location`` and every error show it redacted
(prefer ``PGPASSWORD`` or ``~/.pgpass`` for the password anyway).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import psycopg_pool

from sf_stripe_sync.state.errors import (
    StateStoreBusy,
    StateStoreError,
    StateStoreUnavailable,
    StateUsageError,
)
from sf_stripe_sync.state.sql import POSTGRES, Dialect

WRITE_LOCK_CLASS = 0x5353
"""First key of the writers' advisory lock; the second is the hash of the schema name."""
DEFAULT_POOL_SIZE = 8
_WRITE_LOCK_SQL = "SELECT pg_advisory_xact_lock(%s, hashtext(current_schema()))"
_READ_BEGIN = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
_BUSY = (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected,
         psycopg.errors.SerializationFailure, psycopg.errors.QueryCanceled)


def is_postgres_url(url: str | None) -> bool:
    return bool(url) and urlsplit(str(url)).scheme in ("postgresql", "postgres")


def redact_url(url: str) -> str:
    """The URL with any password replaced, fit for logs and status output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


@functools.lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    # The store's SQL has no ``?`` or ``%`` inside string literals.
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """A psycopg connection that takes the store's ``?`` placeholders."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> psycopg.Cursor[Any]:
        return self.raw.execute(_pg_sql(sql), tuple(parameters))


def translate(exc: psycopg.Error, where: str) -> Exception:
    if isinstance(exc, psycopg_pool.PoolTimeout):
        return StateStoreBusy(f"state store {where}: no free database connection; try again")
    if isinstance(exc, _BUSY):
        return StateStoreBusy(f"state store {where} is locked by another writer; try again")
    if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StateStoreUnavailable(f"state store {where} is unreachable: {first_line}")
    return StateStoreError(f"state store {where}: {type(exc).__name__}: {exc}")


class PgDatabase:
    """Short transactions on one Postgres store, from any thread or process."""

    def __init__(self, url: str, *, busy_timeout: float, pool_size: int = DEFAULT_POOL_SIZE,
                 connect_timeout: float = 10.0) -> None:
        self.url = url
        self._busy_timeout = busy_timeout
        self._pool_size = max(2, pool_size)
        self._connect_timeout = connect_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._closed = False
        self._pool = self._new_pool()

    @property
    def dialect(self) -> Dialect:
        return POSTGRES

    @property
    def location(self) -> str:
        return redact_url(self.url)

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(f"SET lock_timeout = {int(self._busy_timeout * 1000):d}")
        conn.execute("SET application_name = 'sf-stripe-sync'")

    def _new_pool(self) -> psycopg_pool.ConnectionPool[Any]:
        pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            self.url, min_size=1, max_size=self._pool_size, open=False,
            kwargs={"autocommit": True, "connect_timeout": max(1, int(self._connect_timeout))},
            configure=self._configure, check=psycopg_pool.ConnectionPool.check_connection,
            timeout=self._busy_timeout, name="sf-stripe-sync-state")
        try:
            pool.open(wait=True, timeout=self._connect_timeout)
        except psycopg.Error as exc:
            pool.close(timeout=0)
            raise StateStoreUnavailable(
                f"cannot connect to state store {self.location} within "
                f"{self._connect_timeout:g}s") from exc
        return pool

    def _current_pool(self) -> psycopg_pool.ConnectionPool[Any]:
        if self._closed:
            raise StateUsageError(f"state store {self.location} is closed")
        with self._lock:
            if os.getpid() != self._pid:
                # The parent's pool (its threads and sockets) is the parent's: start afresh.
                self._pid = os.getpid()
                self._local = threading.local()
                self._pool = self._new_pool()
            return self._pool

    @contextmanager
    def write(self) -> Iterator[PgConnection]:
        """A write transaction holding the store's writer lock from its first statement."""
        with self._transaction("BEGIN", lock=True) as conn:
            yield conn

    @contextmanager
    def atomic(self) -> Iterator[PgConnection]:
        """A write transaction without the writer lock, for one self-contained upsert."""
        with self._transaction("BEGIN", lock=False) as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[PgConnection]:
        """A read transaction: every SELECT inside sees the same snapshot."""
        with self._transaction(_READ_BEGIN, lock=False) as conn:
            yield conn

    @contextmanager
    def query(self) -> Iterator[PgConnection]:
        """One statement on an autocommit connection: its own transaction."""
        with self._connection() as raw:
            yield PgConnection(raw)

    @contextmanager
    def _transaction(self, begin: str, *, lock: bool) -> Iterator[PgConnection]:
        with self._connection() as raw:
            yield from self._run(raw, begin, lock)

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        """This thread's one pooled connection at a time (no nesting), its errors the
        store's own."""
        if getattr(self._local, "active", False):
            raise StateUsageError("state store transactions do not nest")
        pool = self._current_pool()
        self._local.active = True
        try:
            with pool.connection() as raw:
                yield raw
        except psycopg.Error as exc:
            raise translate(exc, self.location) from exc
        finally:
            self._local.active = False

    def _run(self, raw: psycopg.Connection[Any], begin: str,
             lock: bool) -> Iterator[PgConnection]:
        raw.execute(begin)
        try:
            if lock:
                raw.execute(_WRITE_LOCK_SQL, (WRITE_LOCK_CLASS,))
            yield PgConnection(raw)
        except BaseException:
            with suppress(psycopg.Error):
                raw.execute("ROLLBACK")
            raise
        raw.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pool = self._pool if os.getpid() == self._pid else None
        if pool is not None:
            pool.close(timeout=5)
