"""The operation journal: every Stripe write is planned, sent, confirmed, written back.

Theory of operation: before the engine sends anything to Stripe it begins a journal
entry (PLANNED) under the operation's idempotency key; it then marks the entry SENT,
CONFIRMED once Stripe answered, WRITTEN_BACK once Salesforce knows, or FAILED. A run
that crashes leaves entries unfinished; the next run lists them (``unfinished``) and
resumes each with its own idempotency key, so nothing is done twice and nothing lost.

Beginning an operation whose key already has an unfinished entry returns that entry
(a rerun resumes instead of starting over; at most one unfinished entry per key is also
enforced by a unique index). Beginning a key whose last entry FAILED revives that entry
to PLANNED and counts the attempt: this is the only way out of FAILED. A key reused for
a different operation, fingerprint, contract or account is a bug and raises
``IdempotencyConflict``. Keys derive from the contract, not the order, so another order
of the same contract may begin the same key: it resumes the unfinished entry, or revives
the failed one as its own.

These functions run inside a transaction the store opened (``ConnectionPool.write``);
``mark`` also keeps the per-order failure list in step (see ``runs.record_failure``).

Batched forms, so the engine's hot path costs few transactions: ``begin(sent=True)``
begins (or resumes) an entry and marks it SENT in the same transaction, the one that
must be durable before the request leaves; ``confirm`` marks CONFIRMED and saves the
contract's state and id rows with it (``mappings``); ``mark_many`` moves many entries
(a write-back flush: WRITTEN_BACK) with a few set-wise statements, skipping any entry
the state machine does not let move there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sf_stripe_sync.errors import IdempotencyConflict
from sf_stripe_sync.state import mappings, runs
from sf_stripe_sync.state.codec import (
    decode_dt,
    decode_json,
    encode_dt,
    encode_json,
    encode_payload,
    mask_optional,
)
from sf_stripe_sync.state.errors import IllegalTransition, StateStoreError, StateUsageError
from sf_stripe_sync.state.mappings import IdLink
from sf_stripe_sync.state.records import (
    UNFINISHED_STATES,
    ContractState,
    JournalEntry,
    JournalState,
    check_transition,
)
from sf_stripe_sync.state.sql import Connection

_COLUMNS = (
    "id, run_id, order_id, contract_key, account, operation, fingerprint, idempotency_key, "
    "state, stripe_id, request_ids, error_code, error_message, payload, attempts, "
    "created_at, updated_at"
)
FIRST_ATTEMPT = 1
_UNFINISHED_SQL = ", ".join(f"'{s.value}'" for s in sorted(UNFINISHED_STATES))


def _entry(row: Sequence[Any]) -> JournalEntry:
    return JournalEntry(
        id=row[0], run_id=row[1], order_id=row[2], contract_key=row[3], account=row[4],
        operation=row[5], fingerprint=row[6], idempotency_key=row[7],
        state=JournalState(row[8]), stripe_id=row[9],
        request_ids=tuple(decode_json(row[10], [])), error_code=row[11],
        error_message=row[12], payload=decode_json(row[13], {}), attempts=row[14],
        created_at=decode_dt(row[15]), updated_at=decode_dt(row[16]),
    )


def get(conn: Connection, entry_id: int) -> JournalEntry:
    row = conn.execute(f"SELECT {_COLUMNS} FROM journal WHERE id = ?", (entry_id,)).fetchone()
    if row is None:
        raise StateUsageError(f"no journal entry {entry_id}")
    return _entry(row)


def _require(**values: str) -> None:
    for name, value in values.items():
        if not value:
            raise StateUsageError(f"journal entry needs a non-empty {name}")


def _check_same_operation(existing: JournalEntry, wanted: Mapping[str, str]) -> None:
    differing = sorted(k for k, v in wanted.items() if getattr(existing, k) != v)
    if differing:
        raise IdempotencyConflict(
            f"idempotency key of journal entry {existing.id} reused with a different "
            f"{', '.join(differing)}",
            code="idempotency_key_reused",
        )


def begin(
    conn: Connection,
    *,
    run_id: str,
    order_id: str,
    contract_key: str,
    account: str,
    operation: str,
    fingerprint: str,
    idempotency_key: str,
    payload: Mapping[str, Any] | None,
    now: datetime,
    sent: bool = False,
) -> JournalEntry:
    """A PLANNED entry (SENT when ``sent``), or the unfinished one the key has (moved
    from PLANNED to SENT when ``sent``), or the key's FAILED entry revived."""
    identity = {"contract_key": contract_key, "account": account,
                "operation": operation, "fingerprint": fingerprint}
    _require(run_id=run_id, order_id=order_id, idempotency_key=idempotency_key, **identity)
    stamp = encode_dt(now)
    first = JournalState.SENT if sent else JournalState.PLANNED
    encoded = encode_payload(payload)
    fresh = (run_id, order_id, contract_key, account, operation, fingerprint, idempotency_key,
             first.value, encoded, FIRST_ATTEMPT, stamp, stamp)
    # A key seen for the first time (the usual case) is inserted by one statement; a
    # key with entries already goes the way below (resume, revive, or a new entry).
    row = conn.execute(
        f"INSERT INTO journal ({_INSERTED}) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
        "WHERE NOT EXISTS (SELECT 1 FROM journal WHERE idempotency_key = ?) RETURNING id",
        (*fresh, idempotency_key),
    ).fetchone()
    if row is not None:
        return _inserted(int(row[0]), fresh)
    latest_row = conn.execute(
        f"SELECT {_COLUMNS} FROM journal WHERE idempotency_key = ? ORDER BY id DESC LIMIT 1",
        (idempotency_key,),
    ).fetchone()
    latest = _entry(latest_row) if latest_row is not None else None
    if latest is not None:
        _check_same_operation(latest, identity)
        if latest.is_unfinished:
            if sent and latest.state is JournalState.PLANNED:
                conn.execute("UPDATE journal SET state = ?, updated_at = ? WHERE id = ?",
                             (JournalState.SENT.value, stamp, latest.id))
                return latest.model_copy(update={"state": JournalState.SENT,
                                                 "updated_at": decode_dt(stamp)})
            return latest
        if latest.state is JournalState.FAILED:
            new_payload = encode_payload(payload) if payload is not None else encode_payload(
                latest.payload)
            conn.execute(
                "UPDATE journal SET state = ?, run_id = ?, order_id = ?, error_code = NULL, "
                "error_message = NULL, payload = ?, attempts = attempts + 1, updated_at = ? "
                "WHERE id = ?",
                (first.value, run_id, order_id, new_payload, stamp, latest.id),
            )
            return get(conn, latest.id)
    row = conn.execute(
        f"INSERT INTO journal ({_INSERTED}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "RETURNING id", fresh,
    ).fetchone()
    if row is None:
        raise StateStoreError("journal insert returned no row id")
    return _inserted(int(row[0]), fresh)


_INSERTED = ("run_id, order_id, contract_key, account, operation, fingerprint, "
             "idempotency_key, state, payload, attempts, created_at, updated_at")


def _inserted(entry_id: int, values: tuple[Any, ...]) -> JournalEntry:
    """The row just inserted (``values`` in ``_INSERTED`` order), decoded as a read
    would decode it (no second query)."""
    (run_id, order_id, contract_key, account, operation, fingerprint, idempotency_key,
     state, payload, attempts, created_at, updated_at) = values
    return _entry((entry_id, run_id, order_id, contract_key, account, operation,
                   fingerprint, idempotency_key, state, None, None, None, None,
                   payload, attempts, created_at, updated_at))


def mark(
    conn: Connection,
    entry_id: int,
    state: JournalState,
    *,
    stripe_id: str | None,
    request_ids: Sequence[str],
    error_code: str | None,
    error_message: str | None,
    now: datetime,
) -> JournalEntry:
    current = get(conn, entry_id)
    wanted = JournalState(state)
    check_transition(entry_id, current.state, wanted)
    if isinstance(request_ids, str):
        raise StateUsageError("request_ids must be a sequence of ids, not one string")
    merged_ids = list(current.request_ids)
    merged_ids += [r for r in dict.fromkeys(request_ids) if r and r not in merged_ids]
    stamp = encode_dt(now)
    message = mask_optional(error_message)
    conn.execute(
        "UPDATE journal SET state = ?, stripe_id = COALESCE(?, stripe_id), request_ids = ?, "
        "error_code = COALESCE(?, error_code), "
        "error_message = COALESCE(?, error_message), updated_at = ? WHERE id = ?",
        (wanted.value, stripe_id, encode_json(merged_ids), error_code, message, stamp,
         entry_id),
    )
    # The row as updated, without reading it back (the same COALESCE rules).
    updated = current.model_copy(update={
        "state": wanted, "stripe_id": current.stripe_id if stripe_id is None else stripe_id,
        "request_ids": tuple(merged_ids),
        "error_code": current.error_code if error_code is None else error_code,
        "error_message": current.error_message if message is None else message,
        "updated_at": decode_dt(stamp)})
    if wanted is JournalState.FAILED:
        runs.record_failure(
            conn, updated.order_id, code=updated.error_code or "failed",
            message=updated.error_message or "", run_id=updated.run_id, now=now,
        )
    elif wanted is JournalState.WRITTEN_BACK:
        runs.clear_failure(conn, updated.order_id)
    return updated


def confirm(
    conn: Connection,
    entry_id: int,
    *,
    stripe_id: str,
    request_ids: Sequence[str],
    contract: ContractState | None,
    ids: Sequence[IdLink],
    now: datetime,
) -> JournalEntry:
    """CONFIRMED, with the contract's new state and the id rows, in the caller's
    transaction: a crash leaves all of them or none."""
    updated = mark(conn, entry_id, JournalState.CONFIRMED, stripe_id=stripe_id,
                   request_ids=request_ids, error_code=None, error_message=None, now=now)
    if contract is not None:
        mappings.put_contract(conn, contract)
    mappings.put_ids(conn, ids, now)
    return updated


CHUNK = 500
"""Ids per ``IN (...)`` list: far below SQLite's and Postgres's parameter limits."""


def _may_move(entry_id: int, current: JournalState, wanted: JournalState) -> bool:
    try:
        check_transition(entry_id, current, wanted)
    except IllegalTransition:
        return False
    return True


def mark_many(conn: Connection, entry_ids: Sequence[int], state: JournalState,
              now: datetime) -> list[int]:
    """Move every entry the state machine lets move to ``state``; the ids moved, in the
    order given. Others (already further along, unknown) are left alone. FAILED needs
    an error per entry: ``mark`` it one by one."""
    wanted = JournalState(state)
    if wanted is JournalState.FAILED:
        raise StateUsageError("mark entries FAILED one by one, each with its error")
    ids = list(dict.fromkeys(int(i) for i in entry_ids))
    stamp = encode_dt(now)
    moved: list[int] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        marks = ", ".join("?" * len(chunk))
        rows = conn.execute(f"SELECT id, state, order_id FROM journal WHERE id IN ({marks})",
                            chunk).fetchall()
        legal = {int(r[0]): str(r[2]) for r in rows
                 if _may_move(int(r[0]), JournalState(r[1]), wanted)}
        movable = [i for i in chunk if i in legal]
        if not movable:
            continue
        marks = ", ".join("?" * len(movable))
        conn.execute(f"UPDATE journal SET state = ?, updated_at = ? WHERE id IN ({marks})",
                     (wanted.value, stamp, *movable))
        if wanted is JournalState.WRITTEN_BACK:
            orders = sorted(set(legal[i] for i in movable))
            marks = ", ".join("?" * len(orders))
            conn.execute(f"DELETE FROM order_failures WHERE order_id IN ({marks})", orders)
        moved += movable
    return moved


def unfinished(conn: Connection) -> list[JournalEntry]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM journal WHERE state IN ({_UNFINISHED_SQL}) ORDER BY id"
    ).fetchall()
    return [_entry(r) for r in rows]


def for_order(conn: Connection, order_id: str) -> list[JournalEntry]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM journal WHERE order_id = ? ORDER BY id", (order_id,)
    ).fetchall()
    return [_entry(r) for r in rows]


def recent(conn: Connection, limit: int) -> list[JournalEntry]:
    if limit < 0:
        raise StateUsageError(f"limit must not be negative, got {limit}")
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM journal ORDER BY id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [_entry(r) for r in rows]


def state_counts(conn: Connection) -> dict[str, int]:
    counts = {state.value: 0 for state in JournalState}
    for state, count in conn.execute("SELECT state, COUNT(*) FROM journal GROUP BY state"):
        counts[str(state)] = int(count)
    return counts
