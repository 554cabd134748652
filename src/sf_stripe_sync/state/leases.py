"""Per-order leases, so two runs at once never work on the same order.

Theory of operation: a lease is one row (key, owner, acquired_at, expires_at). Taking
one happens inside a write transaction (SQLite's ``BEGIN IMMEDIATE``, the store's
advisory lock on Postgres), so across threads, processes and hosts exactly one
contender sees the row free and writes its name. A lease that has passed
``expires_at`` is stale (its holder crashed or stalled) and the next contender takes it
over. The holder keeps a lease alive with ``renew`` while it works and gives it back
with ``release``; taking a lease one already holds simply extends it. ``renew_all`` is a
holder's heartbeat: every lease it holds, extended in one statement. Time is passed
in (``now``) like everywhere else, so tests need no clock.

Keys are opaque: an order id, or a contract key prefixed by the caller.

``acquire_many`` / ``release_many`` do the same for many keys in one transaction and a
few set-wise statements (a page's contracts), with the same rules per key.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sf_stripe_sync.state.codec import decode_dt, encode_dt
from sf_stripe_sync.state.errors import StateUsageError
from sf_stripe_sync.state.sql import Connection


def _expiry(now: datetime, ttl_seconds: float) -> str:
    if not math.isfinite(ttl_seconds) or ttl_seconds <= 0:
        raise StateUsageError(f"lease ttl must be a positive number of seconds, "
                              f"got {ttl_seconds!r}")
    return encode_dt(now + timedelta(seconds=ttl_seconds), "lease now")


def _check(key: str, owner: str) -> None:
    if not key or not owner:
        raise StateUsageError("a lease needs a non-empty key and owner")


def acquire(
    conn: Connection, key: str, owner: str, ttl_seconds: float, now: datetime
) -> bool:
    _check(key, owner)
    expires_at = _expiry(now, ttl_seconds)
    stamp = encode_dt(now, "lease now")
    row = conn.execute("SELECT owner, expires_at FROM leases WHERE key = ?", (key,)).fetchone()
    if row is not None:
        holder, held_until = str(row[0]), decode_dt(str(row[1]))
        if holder != owner and held_until > now:
            return False
        if holder == owner:
            conn.execute("UPDATE leases SET expires_at = ? WHERE key = ?", (expires_at, key))
            return True
    conn.execute(
        "INSERT INTO leases (key, owner, acquired_at, expires_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, "
        "acquired_at = excluded.acquired_at, expires_at = excluded.expires_at",
        (key, owner, stamp, expires_at),
    )
    return True


def renew(
    conn: Connection, key: str, owner: str, ttl_seconds: float, now: datetime
) -> bool:
    """Extend a lease ``owner`` still holds; False when it is gone or someone took it over.

    A lease that expired but that nobody took over is still ``owner``'s: no one else
    worked on the key meanwhile, so renewing it is safe.
    """
    _check(key, owner)
    expires_at = _expiry(now, ttl_seconds)
    cursor = conn.execute(
        "UPDATE leases SET expires_at = ? WHERE key = ? AND owner = ?", (expires_at, key, owner)
    )
    return cursor.rowcount == 1


def renew_all(conn: Connection, owner: str, ttl_seconds: float, now: datetime) -> int:
    """Extend every lease ``owner`` still holds (its heartbeat); how many it holds."""
    _check("*", owner)
    expires_at = _expiry(now, ttl_seconds)
    cursor = conn.execute("UPDATE leases SET expires_at = ? WHERE owner = ?", (expires_at, owner))
    return max(0, cursor.rowcount)


def release(conn: Connection, key: str, owner: str) -> None:
    """Give a lease back; releasing a lease one does not hold changes nothing."""
    _check(key, owner)
    conn.execute("DELETE FROM leases WHERE key = ? AND owner = ?", (key, owner))


CHUNK = 200
"""Keys per statement (four parameters each in the upsert): far below both databases'
parameter limits."""


def acquire_many(conn: Connection, keys: Sequence[str], owner: str, ttl_seconds: float,
                 now: datetime) -> list[str]:
    """Take every key that is free, expired or already ``owner``'s (``acquire``'s rules,
    key by key); the keys taken, in the order given."""
    wanted = list(dict.fromkeys(keys))
    for key in wanted:
        _check(key, owner)
    expires_at = _expiry(now, ttl_seconds)
    stamp = encode_dt(now, "lease now")
    taken: list[str] = []
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        marks = ", ".join("?" * len(chunk))
        held = {str(r[0]): (str(r[1]), decode_dt(str(r[2]))) for r in conn.execute(
            f"SELECT key, owner, expires_at FROM leases WHERE key IN ({marks})", chunk)}
        mine = [k for k in chunk if k not in held or held[k][0] == owner or held[k][1] <= now]
        if not mine:
            continue
        # A lease already ours keeps its acquired_at (``acquire`` only extends it).
        values = ", ".join("(?, ?, ?, ?)" for _ in mine)
        params: list[str] = []
        for key in mine:
            params += [key, owner, stamp, expires_at]
        conn.execute(
            f"INSERT INTO leases (key, owner, acquired_at, expires_at) VALUES {values} "
            "ON CONFLICT (key) DO UPDATE SET acquired_at = CASE WHEN leases.owner = "
            "excluded.owner THEN leases.acquired_at ELSE excluded.acquired_at END, "
            "owner = excluded.owner, expires_at = excluded.expires_at", params)
        taken += mine
    return taken


def release_many(conn: Connection, keys: Sequence[str], owner: str) -> None:
    """Give back every key of ``keys`` that ``owner`` holds."""
    wanted = list(dict.fromkeys(keys))
    for key in wanted:
        _check(key, owner)
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start:start + CHUNK]
        marks = ", ".join("?" * len(chunk))
        conn.execute(f"DELETE FROM leases WHERE owner = ? AND key IN ({marks})",
                     (owner, *chunk))


def holder(conn: Connection, key: str, now: datetime) -> str | None:
    row = conn.execute("SELECT owner, expires_at FROM leases WHERE key = ?", (key,)).fetchone()
    if row is None or decode_dt(str(row[1])) <= now:
        return None
    return str(row[0])


def active_count(conn: Connection, now: datetime) -> int:
    row = conn.execute(
        "SELECT COUNT(*) FROM leases WHERE expires_at > ?", (encode_dt(now, "now"),)
    ).fetchone()
    return int(row[0])
