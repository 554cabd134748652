"""Orders waiting for a triggered sync: the queue port and its state-directory store.

Theory of operation: the trigger endpoint (``serve``) answers 202 only once the Order
ids it was sent are durably enqueued; a runner then claims them in batches, syncs
them and marks them done. ``TriggerQueue`` is that port; any durable queue can stand
behind it (a task queue shared by many workers, say). ``SqliteTriggerQueue`` is the
default: its own SQLite file in the state directory (``triggers.sqlite``), separate
from the state store so a busy endpoint never contends with a run's journal.

* **Coalescing**: one row per Order id. Enqueueing an id already waiting changes
  nothing; enqueueing an id that a runner is working on marks it ``again``, so it is
  synced once more after the current attempt (the order may have changed after that
  attempt read it), never twice at once.
* **Durability**: every change is committed (WAL, ``synchronous=FULL``) before the call
  returns, so an acknowledged id survives a crash of the process or the host.
* **Claims**: ``claim`` hands out up to ``limit`` due ids under a claim token; a claim
  older than ``claim_ttl`` seconds (a runner that died) is handed out again.
  ``finish`` removes what was synced; ``retry_later`` puts ids back, due after a delay.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

TRIGGER_FILE = "triggers.sqlite"
DEFAULT_CLAIM_TTL_SECONDS = 900.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS trigger_queue (
    order_id    TEXT PRIMARY KEY,
    enqueued_at REAL NOT NULL,
    due_at      REAL NOT NULL,
    source      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    claim       TEXT,
    claimed_at  REAL,
    again       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS trigger_queue_due ON trigger_queue (claim, due_at);
"""


@dataclass(frozen=True)
class Claim:
    token: str
    order_ids: tuple[str, ...]


class TriggerQueue(Protocol):
    """Durable, coalescing queue of Order ids to sync."""

    def enqueue(self, order_ids: Sequence[str], *, source: str) -> list[str]:
        """Store the ids durably (duplicates coalesce); returns them, deduplicated."""

    def claim(self, limit: int) -> Claim | None:
        """Up to ``limit`` due ids for one runner, or None when nothing is due."""

    def finish(self, claim: Claim, order_ids: Sequence[str]) -> None:
        """These claimed ids were synced: forget them (unless enqueued again meanwhile)."""

    def retry_later(self, claim: Claim, order_ids: Sequence[str], delay_seconds: float) -> None:
        """These claimed ids must be tried again, not before ``delay_seconds``."""

    def depth(self) -> int:
        """Ids waiting or being worked on."""

    def ping(self) -> None:
        """Raise when the queue cannot be reached (readiness)."""


class SqliteTriggerQueue:
    """``TriggerQueue`` in its own SQLite file; safe across threads and processes."""

    def __init__(self, path: Path, *, claim_ttl: float = DEFAULT_CLAIM_TTL_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.claim_ttl = claim_ttl
        self._clock = clock
        self._local = threading.local()
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as conn:
            conn.executescript(_SCHEMA)

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> SqliteTriggerQueue:
        return cls(state_dir / TRIGGER_FILE)

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn = conn
        return conn

    def _write(self, work: Callable[[sqlite3.Connection], None]) -> None:
        conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            work(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def enqueue(self, order_ids: Sequence[str], *, source: str) -> list[str]:
        wanted = list(dict.fromkeys(order_ids))
        now = self._clock()

        def work(conn: sqlite3.Connection) -> None:
            for order_id in wanted:
                conn.execute(
                    "INSERT INTO trigger_queue (order_id, enqueued_at, due_at, source) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET "
                    "again = CASE WHEN claim IS NULL THEN again ELSE 1 END, "
                    "due_at = MIN(due_at, excluded.due_at)",
                    (order_id, now, now, source))

        self._write(work)
        return wanted

    def claim(self, limit: int) -> Claim | None:
        now = self._clock()
        token = uuid.uuid4().hex
        taken: list[str] = []

        def work(conn: sqlite3.Connection) -> None:
            rows = conn.execute(
                "SELECT order_id FROM trigger_queue WHERE due_at <= ? AND "
                "(claim IS NULL OR claimed_at < ?) ORDER BY due_at, order_id LIMIT ?",
                (now, now - self.claim_ttl, limit)).fetchall()
            taken.extend(str(r[0]) for r in rows)
            conn.executemany(
                "UPDATE trigger_queue SET claim = ?, claimed_at = ?, again = 0, "
                "attempts = attempts + 1 WHERE order_id = ?",
                [(token, now, order_id) for order_id in taken])

        self._write(work)
        return Claim(token, tuple(taken)) if taken else None

    def finish(self, claim: Claim, order_ids: Sequence[str]) -> None:
        def work(conn: sqlite3.Connection) -> None:
            for order_id in order_ids:
                conn.execute("DELETE FROM trigger_queue WHERE order_id = ? AND claim = ? "
                             "AND again = 0", (order_id, claim.token))
                conn.execute("UPDATE trigger_queue SET claim = NULL, claimed_at = NULL, "
                             "again = 0, attempts = 0 WHERE order_id = ? AND claim = ?",
                             (order_id, claim.token))

        self._write(work)

    def retry_later(self, claim: Claim, order_ids: Sequence[str], delay_seconds: float) -> None:
        due = self._clock() + max(0.0, delay_seconds)

        def work(conn: sqlite3.Connection) -> None:
            for order_id in order_ids:
                conn.execute("UPDATE trigger_queue SET claim = NULL, claimed_at = NULL, "
                             "again = 0, due_at = CASE WHEN again = 1 THEN due_at ELSE ? END "
                             "WHERE order_id = ? AND claim = ?", (due, order_id, claim.token))

        self._write(work)

    def depth(self) -> int:
        row = self._connection().execute("SELECT COUNT(*) FROM trigger_queue").fetchone()
        return int(row[0])

    def pending_ids(self) -> list[str]:
        rows = self._connection().execute(
            "SELECT order_id FROM trigger_queue ORDER BY due_at, order_id").fetchall()
        return [str(r[0]) for r in rows]

    def ping(self) -> None:
        self._connection().execute("SELECT 1 FROM trigger_queue LIMIT 1").fetchall()

    def close(self) -> None:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
