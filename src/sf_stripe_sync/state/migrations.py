"""Versioned schema migrations, applied in order, each inside one write transaction.

Theory of operation: the schema version lives in SQLite's ``PRAGMA user_version``
(0 for a brand-new file), or in Postgres in a one-row table (``sql.Dialect``). One list of
steps serves both databases: the few phrases that differ are tokens the dialect renders
(``{AUTO_ID}``, ``{ID_MAP_ROWID}``). ``MIGRATIONS[n]`` takes the schema from version ``n`` to
``n + 1``; ``migrate`` takes the write lock (``BEGIN IMMEDIATE``), re-reads the version
under the lock (another process may have migrated meanwhile), applies the missing steps
and sets the new version in the same transaction, so a crash leaves either the old or
the new schema, never half of one. Reopening an up-to-date store changes nothing.
A store whose version is newer than ``SCHEMA_VERSION`` was written by a newer release:
this code refuses it with a ``ConfigError`` rather than guess at its layout.

Steps are lists of single statements (not ``executescript``, which would commit
behind the transaction's back). Append new steps; never edit a released one (what it
renders to in SQLite must stay byte for byte the same). ``apply_steps`` is the part both
databases share; ``migrate`` wraps it in SQLite's write transaction, ``pg`` in its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.state.sql import SQLITE, Connection, Dialect

_V1: tuple[str, ...] = (
    """CREATE TABLE watermarks (
        source TEXT PRIMARY KEY,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    """CREATE TABLE id_map (
        account TEXT NOT NULL,
        kind TEXT NOT NULL,
        salesforce_id TEXT NOT NULL,
        stripe_id TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (account, kind, salesforce_id){ID_MAP_ROWID}
    )""",
    "CREATE INDEX id_map_by_stripe_id ON id_map (account, kind, stripe_id, updated_at)",
    """CREATE TABLE contracts (
        account TEXT NOT NULL,
        contract_key TEXT NOT NULL,
        schedule_id TEXT,
        customer_id TEXT,
        applied_fingerprint TEXT,
        applied_order_ids TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL CHECK (status IN ('active', 'canceled')),
        updated_at TEXT NOT NULL,
        PRIMARY KEY (account, contract_key)
    )""",
    """CREATE TABLE journal (
        id {AUTO_ID},
        run_id TEXT NOT NULL,
        order_id TEXT NOT NULL,
        contract_key TEXT NOT NULL,
        account TEXT NOT NULL,
        operation TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        idempotency_key TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN
            ('planned', 'sent', 'confirmed', 'written_back', 'failed')),
        stripe_id TEXT,
        request_ids TEXT NOT NULL DEFAULT '[]',
        error_code TEXT,
        error_message TEXT,
        payload TEXT NOT NULL DEFAULT '{}',
        attempts INTEGER NOT NULL DEFAULT 1,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    # At most one unfinished entry per idempotency key, whatever the callers do.
    """CREATE UNIQUE INDEX journal_one_unfinished_per_key ON journal (idempotency_key)
        WHERE state IN ('planned', 'sent', 'confirmed')""",
    "CREATE INDEX journal_by_key ON journal (idempotency_key, id)",
    "CREATE INDEX journal_by_order ON journal (order_id, id)",
    "CREATE INDEX journal_by_state ON journal (state, id)",
    """CREATE TABLE leases (
        key TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    )""",
    """CREATE TABLE runs (
        seq {AUTO_ID},
        run_id TEXT NOT NULL UNIQUE,
        mode TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        counts TEXT NOT NULL DEFAULT '{}',
        stripe_writes INTEGER NOT NULL DEFAULT 0,
        salesforce_calls INTEGER NOT NULL DEFAULT 0,
        failed_orders TEXT NOT NULL DEFAULT '[]'
    )""",
    # The latest unresolved failure of each order; cleared when the order succeeds.
    """CREATE TABLE order_failures (
        order_id TEXT PRIMARY KEY,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        run_id TEXT,
        failed_at TEXT NOT NULL
    )""",
)

_V2: tuple[str, ...] = (
    # One row per Stripe account: the instant (epoch seconds, the database's own clock)
    # its next request slot is due. Every process sharing the store paces on it
    # (``rates``), so an account's rate limit holds across hosts and workers.
    """CREATE TABLE rate_slots (
        account TEXT PRIMARY KEY,
        due DOUBLE PRECISION NOT NULL
    )""",
)

_V3: tuple[str, ...] = (
    # A contract's status is whatever the operations table says it becomes
    # (``operations``): no CHECK list to extend when an operation is added. The table is
    # rebuilt (SQLite cannot drop a constraint), the same statements on both databases.
    """CREATE TABLE contracts_v3 (
        account TEXT NOT NULL,
        contract_key TEXT NOT NULL,
        schedule_id TEXT,
        customer_id TEXT,
        applied_fingerprint TEXT,
        applied_order_ids TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (account, contract_key)
    )""",
    """INSERT INTO contracts_v3 (account, contract_key, schedule_id, customer_id,
        applied_fingerprint, applied_order_ids, status, updated_at)
        SELECT account, contract_key, schedule_id, customer_id, applied_fingerprint,
        applied_order_ids, status, updated_at FROM contracts""",
    "DROP TABLE contracts",
    "ALTER TABLE contracts_v3 RENAME TO contracts",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2, _V3)
SCHEMA_VERSION = len(MIGRATIONS)


def schema_version(conn: Connection, dialect: Dialect = SQLITE) -> int:
    return dialect.schema_version(conn)


def refuse_newer(version: int, path: Path | str, latest: int = SCHEMA_VERSION) -> None:
    if version > latest:
        raise ConfigError(
            f"state store {path} has schema version {version}, newer than this release "
            f"understands ({latest}); upgrade sf-stripe-sync or point --state-dir "
            "at another directory"
        )


def apply_steps(
    conn: Connection, where: Path | str, steps: Sequence[Sequence[str]], dialect: Dialect
) -> int:
    """Inside the caller's write transaction: apply the missing steps, set the version."""
    latest = len(steps)
    found = dialect.schema_version(conn)
    refuse_newer(found, where, latest)
    for step in steps[found:]:
        for statement in step:
            conn.execute(dialect.render(statement))
    if found != latest:
        dialect.set_schema_version(conn, latest)
    return found


def migrate(
    conn: Connection, path: Path | str, steps: Sequence[Sequence[str]] = MIGRATIONS
) -> int:
    """Bring a SQLite schema up to ``len(steps)``; returns the version found before.

    ``conn`` must be in autocommit mode (``isolation_level=None``).
    """
    refuse_newer(schema_version(conn), path, len(steps))  # fail fast, before the lock
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = apply_steps(conn, path, steps, SQLITE)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return found
