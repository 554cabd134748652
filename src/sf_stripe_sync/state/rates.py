"""Request slots per Stripe account, reserved in the shared store: one rate across hosts.

Theory of operation: a generic cell-rate algorithm with one number per account, ``due``
(epoch seconds on the *database's* clock, so hosts with skewed clocks still agree): the
instant the account's next request slot is free. Reserving a slot is one atomic upsert,
``due = max(due, now) + 1/rate``, which returns how far in the future the new ``due``
lies; the caller's own slot starts one interval before that, so it sleeps
``due - now - burst/rate`` (zero when the account was idle). Every process that shares
the store reserves from the same row, so together they never exceed the rate, whatever
the number of workers, and an idle worker takes nothing from the others.
"""

from __future__ import annotations

from sf_stripe_sync.state.errors import StateUsageError
from sf_stripe_sync.state.sql import Connection, Dialect

_RESERVE = (
    "INSERT INTO rate_slots (account, due) VALUES (?, {EPOCH_NOW} + ?) "
    "ON CONFLICT (account) DO UPDATE SET due = {GREATEST}(rate_slots.due, {EPOCH_NOW}) + ? "
    "RETURNING due - {EPOCH_NOW}"
)


def reserve(conn: Connection, dialect: Dialect, account: str, rate: float,
            burst: float = 1.0) -> float:
    """Take the account's next slot; the seconds to wait before using it."""
    if not account or rate <= 0 or burst < 1:
        raise StateUsageError("a rate slot needs an account, a positive rate and burst >= 1")
    interval = 1.0 / rate
    row = conn.execute(dialect.render(_RESERVE), (account, interval, interval)).fetchone()
    return max(0.0, float(row[0]) - burst * interval)
