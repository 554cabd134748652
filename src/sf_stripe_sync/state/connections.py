"""SQLite connections for many threads and many processes, and the two transaction kinds.

Theory of operation: each thread gets its own connection (``threading.local``), so the
engine's thread pool never shares a cursor; ``close`` closes them all. Connections run
in autocommit mode and every transaction is explicit:

* ``write()`` opens ``BEGIN IMMEDIATE``: the write lock is taken up front, so two
  writers queue on SQLite's busy handler (``busy_timeout``) instead of one failing
  halfway through a read-then-write. This is what makes leases and journal changes
  atomic across processes.
* ``read()`` opens a deferred transaction: several SELECTs see one snapshot (WAL lets
  readers run while a writer works); ``query()`` runs one statement without a
  transaction around it (a lone SELECT is atomic), sparing the BEGIN and COMMIT.

Every connection uses WAL, ``synchronous = FULL`` (a journal entry that was committed
survives a power cut) and foreign keys. A child process made by ``fork`` never reuses
its parent's connections: the pool notices the new pid and starts afresh.

``sqlite3`` exceptions are translated here, at the edge: a lock that outlasted the busy
timeout becomes ``StateStoreBusy`` (transient), anything else ``StateStoreError``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from sf_stripe_sync.state.errors import StateStoreBusy, StateStoreError, StateUsageError
from sf_stripe_sync.state.sql import SQLITE, Dialect

DEFAULT_BUSY_TIMEOUT_SECONDS = 10.0


def _is_lock_contention(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def translate(exc: sqlite3.Error, path: Path) -> StateStoreBusy | StateStoreError:
    if _is_lock_contention(exc):
        return StateStoreBusy(f"state store {path} is locked by another writer; try again")
    return StateStoreError(f"state store {path}: {exc}")


class ConnectionPool:
    """One SQLite connection per thread (and per process) on one database file."""

    def __init__(self, path: Path, busy_timeout: float = DEFAULT_BUSY_TIMEOUT_SECONDS) -> None:
        self.path = path
        self._busy_timeout = busy_timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._writer = threading.RLock()  # a nested write still fails as before, not hangs
        """Writers of this process queue here, not in SQLite's busy handler (see ``write``)."""
        self._open: list[sqlite3.Connection] = []
        self._pid = os.getpid()
        self._closed = False

    @property
    def dialect(self) -> Dialect:
        return SQLITE

    @property
    def location(self) -> str:
        return str(self.path)

    def connection(self) -> sqlite3.Connection:
        if self._closed:
            raise StateUsageError(f"state store {self.path} is closed")
        if os.getpid() != self._pid:
            self._forget_parent_connections()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._lock:
                self._open.append(conn)
        return conn

    def _forget_parent_connections(self) -> None:
        # The parent's connections belong to the parent; using them here would corrupt
        # its locks. Drop them without closing (closing would touch shared state too).
        with self._lock:
            self._pid = os.getpid()
            self._open = []
            self._local = threading.local()

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path,
                timeout=self._busy_timeout,
                isolation_level=None,
                check_same_thread=False,  # only so close() may run on another thread
            )
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000):d}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc
        return conn

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding SQLite's write lock from its first statement.

        The threads of one process take turns on a mutex first: SQLite's busy handler
        sleeps 1, 2, 5, 10 ... 100 ms between retries, so dozens of worker threads
        contending for the write lock would each sleep far longer than the microseconds
        a transaction holds it. Other processes still queue on the busy handler."""
        with self._writer, self._transaction("BEGIN IMMEDIATE") as conn:
            yield conn

    @contextmanager
    def atomic(self) -> Iterator[sqlite3.Connection]:
        """SQLite has one write lock: the same as ``write``."""
        with self.write() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every SELECT inside sees the same snapshot."""
        with self._transaction("BEGIN") as conn:
            yield conn

    @contextmanager
    def query(self) -> Iterator[sqlite3.Connection]:
        """One statement in autocommit mode: a lone SELECT is its own snapshot."""
        conn = self.connection()
        if conn.in_transaction:
            raise StateUsageError("state store transactions do not nest")
        try:
            yield conn
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        conn = self.connection()
        if conn.in_transaction:
            raise StateUsageError("state store transactions do not nest")
        try:
            conn.execute(begin)
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc
        try:
            yield conn
        except sqlite3.Error as exc:
            conn.rollback()
            raise translate(exc, self.path) from exc
        except BaseException:
            conn.rollback()
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.rollback()
            raise translate(exc, self.path) from exc

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            connections, self._open = self._open, []
        for conn in connections:
            # Closing is best effort; the file stays consistent either way.
            with suppress(sqlite3.Error):
                conn.close()
