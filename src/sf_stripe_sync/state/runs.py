"""Runs and the orders they could not sync.

Theory of operation: ``start`` records a run as it begins, ``finish`` records its
outcome (counts per operation, Stripe writes, Salesforce calls, failed orders). A run
that died shows up as started and never finished. Run ids are unique; finishing an
unknown or already finished run is a bug in the caller.

``order_failures`` keeps the latest unresolved failure of each order. It is fed from
two places, so a run that crashes before ``finish`` still leaves its failures behind:
a journal entry marked FAILED, and the failed orders a finished run reports. An order
leaves the list when it succeeds: a journal entry written back, or the run reports it
among the orders it synced (``succeeded_orders``, which also covers noops).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sf_stripe_sync.state.codec import (
    decode_dt,
    decode_json,
    encode_dt,
    encode_json,
    mask_secrets,
)
from sf_stripe_sync.state.errors import StateUsageError
from sf_stripe_sync.state.records import FailedOrder, RunSummary
from sf_stripe_sync.state.sql import Connection

_COLUMNS = ("run_id, mode, started_at, finished_at, counts, stripe_writes, salesforce_calls, "
            "failed_orders")


def start(conn: Connection, run_id: str, *, mode: str, started_at: datetime) -> None:
    if not run_id or not mode:
        raise StateUsageError("a run needs a non-empty run_id and mode")
    if conn.execute("SELECT 1 FROM runs WHERE run_id = ?", (run_id,)).fetchone():
        raise StateUsageError(f"run {run_id} was already started")
    conn.execute(
        "INSERT INTO runs (run_id, mode, started_at) VALUES (?, ?, ?)",
        (run_id, mode, encode_dt(started_at, "started_at")),
    )


def _check_counts(counts: Mapping[str, int], **totals: int) -> dict[str, int]:
    checked = {str(k): v for k, v in counts.items()} | totals
    for name, value in checked.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise StateUsageError(f"run count {name} must be a whole number >= 0, got {value!r}")
    return {str(k): int(v) for k, v in counts.items()}


def finish(
    conn: Connection,
    run_id: str,
    *,
    finished_at: datetime,
    counts: Mapping[str, int],
    stripe_writes: int,
    salesforce_calls: int,
    failed_orders: Sequence[FailedOrder],
    succeeded_orders: Sequence[str],
) -> None:
    row = conn.execute("SELECT finished_at FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    if row is None:
        raise StateUsageError(f"run {run_id} was never started")
    if row[0] is not None:
        raise StateUsageError(f"run {run_id} was already finished")
    clean_counts = _check_counts(counts, stripe_writes=stripe_writes,
                                 salesforce_calls=salesforce_calls)
    failures = [FailedOrder(order_id=f.order_id, code=f.code, message=mask_secrets(f.message))
                for f in failed_orders]
    conn.execute(
        "UPDATE runs SET finished_at = ?, counts = ?, stripe_writes = ?, salesforce_calls = ?, "
        "failed_orders = ? WHERE run_id = ?",
        (encode_dt(finished_at, "finished_at"), encode_json(clean_counts), stripe_writes,
         salesforce_calls, encode_json([f.model_dump() for f in failures]), run_id),
    )
    failed_ids = {f.order_id for f in failures}
    for order_id in succeeded_orders:
        if order_id not in failed_ids:
            clear_failure(conn, order_id)
    for failure in failures:
        record_failure(conn, failure.order_id, code=failure.code, message=failure.message,
                       run_id=run_id, now=finished_at)


def _summary(row: tuple[object, ...]) -> RunSummary:
    failed = [FailedOrder(**item) for item in decode_json(str(row[7]), [])]
    return RunSummary(
        run_id=str(row[0]), mode=str(row[1]), started_at=decode_dt(str(row[2])),
        finished_at=decode_dt(str(row[3])) if row[3] is not None else None,
        counts=decode_json(str(row[4]), {}), stripe_writes=int(str(row[5])),
        salesforce_calls=int(str(row[6])), failed_orders=tuple(failed),
    )


def last(conn: Connection) -> RunSummary | None:
    """The run started most recently (finished or not)."""
    row = conn.execute(f"SELECT {_COLUMNS} FROM runs ORDER BY seq DESC LIMIT 1").fetchone()
    return _summary(row) if row is not None else None


def get(conn: Connection, run_id: str) -> RunSummary | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return _summary(row) if row is not None else None


def record_failure(
    conn: Connection, order_id: str, *, code: str, message: str,
    run_id: str | None, now: datetime,
) -> None:
    conn.execute(
        "INSERT INTO order_failures (order_id, code, message, run_id, failed_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET code = excluded.code, "
        "message = excluded.message, run_id = excluded.run_id, failed_at = excluded.failed_at",
        (order_id, code, mask_secrets(message), run_id, encode_dt(now)),
    )


def clear_failure(conn: Connection, order_id: str) -> None:
    conn.execute("DELETE FROM order_failures WHERE order_id = ?", (order_id,))


def failed_orders(conn: Connection) -> list[FailedOrder]:
    rows = conn.execute(
        "SELECT order_id, code, message FROM order_failures ORDER BY failed_at, order_id"
    ).fetchall()
    return [FailedOrder(order_id=r[0], code=r[1], message=r[2]) for r in rows]
