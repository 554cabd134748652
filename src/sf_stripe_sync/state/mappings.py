"""Watermarks, the Salesforce <-> Stripe id map, and what each contract has applied.

Theory of operation: three small keyed tables, each read and written whole-row.

* ``watermarks``: per source, the instant up to which every changed order was fully
  processed. The engine decides when to move it (only past finished orders); the store
  keeps whatever it is given, tz-aware and UTC.
* ``id_map``: per Stripe account and object kind, which Stripe object stands for which
  Salesforce record. The forward direction is unique; looking up backwards returns the
  mapping written last when several records point at one Stripe object (a shared price).
* ``contracts``: per Stripe account and contract key, the schedule and customer, the
  fingerprint of the plan last applied and the orders it covered, and its status.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sf_stripe_sync.state.codec import decode_dt, decode_json, encode_dt, encode_json
from sf_stripe_sync.state.errors import StateUsageError
from sf_stripe_sync.state.records import ID_KINDS, ContractState
from sf_stripe_sync.state.sql import Connection


def get_watermark(conn: Connection, source: str) -> datetime | None:
    row = conn.execute("SELECT value FROM watermarks WHERE source = ?", (source,)).fetchone()
    return decode_dt(str(row[0])) if row is not None else None


def all_watermarks(conn: Connection) -> dict[str, datetime]:
    rows = conn.execute("SELECT source, value FROM watermarks ORDER BY source").fetchall()
    return {str(r[0]): decode_dt(str(r[1])) for r in rows}


def set_watermark(conn: Connection, source: str, value: datetime, now: datetime) -> None:
    if not source:
        raise StateUsageError("a watermark needs a non-empty source")
    conn.execute(
        "INSERT INTO watermarks (source, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (source) DO UPDATE SET value = excluded.value, "
        "updated_at = excluded.updated_at",
        (source, encode_dt(value, "watermark"), encode_dt(now)),
    )


class IdLink(NamedTuple):
    """One id-map row: in Stripe ``account``, ``stripe_id`` stands for ``salesforce_id``."""

    account: str
    kind: str
    salesforce_id: str
    stripe_id: str


def _check_kind(kind: str) -> None:
    if kind not in ID_KINDS:
        raise StateUsageError(f"unknown id kind {kind!r}; expected one of {list(ID_KINDS)}")


def put_id(conn: Connection, account: str, kind: str, salesforce_id: str,
           stripe_id: str, now: datetime) -> None:
    put_ids(conn, [IdLink(account, kind, salesforce_id, stripe_id)], now)


def put_ids(conn: Connection, links: Sequence[IdLink], now: datetime) -> None:
    """Several id rows in one statement (a row named twice: the last one given)."""
    rows = {(link.account, link.kind, link.salesforce_id): link for link in links}
    for link in rows.values():
        _check_kind(link.kind)
        if not (link.account and link.salesforce_id and link.stripe_id):
            raise StateUsageError("an id mapping needs a non-empty account, salesforce_id "
                                  "and stripe_id")
    if not rows:
        return
    stamp = encode_dt(now)
    conn.execute(
        "INSERT INTO id_map (account, kind, salesforce_id, stripe_id, updated_at) VALUES "
        + ", ".join(["(?, ?, ?, ?, ?)"] * len(rows))
        + " ON CONFLICT (account, kind, salesforce_id) DO UPDATE SET "
        "stripe_id = excluded.stripe_id, updated_at = excluded.updated_at",
        [value for link in rows.values() for value in (*link, stamp)],
    )


def get_stripe_id(conn: Connection, account: str, kind: str,
                  salesforce_id: str) -> str | None:
    _check_kind(kind)
    row = conn.execute(
        "SELECT stripe_id FROM id_map WHERE account = ? AND kind = ? AND salesforce_id = ?",
        (account, kind, salesforce_id),
    ).fetchone()
    return str(row[0]) if row is not None else None


def get_salesforce_id(conn: Connection, account: str, kind: str,
                      stripe_id: str) -> str | None:
    _check_kind(kind)
    row = conn.execute(
        "SELECT salesforce_id FROM id_map WHERE account = ? AND kind = ? AND stripe_id = ? "
        "ORDER BY updated_at DESC, rowid DESC LIMIT 1",
        (account, kind, stripe_id),
    ).fetchone()
    return str(row[0]) if row is not None else None


_CONTRACT_COLUMNS = ("account, contract_key, schedule_id, customer_id, applied_fingerprint, "
                     "applied_order_ids, status, updated_at")


def get_contract(conn: Connection, account: str,
                 contract_key: str) -> ContractState | None:
    row = conn.execute(
        f"SELECT {_CONTRACT_COLUMNS} FROM contracts WHERE account = ? AND contract_key = ?",
        (account, contract_key),
    ).fetchone()
    if row is None:
        return None
    return ContractState(
        account=row[0], contract_key=row[1], schedule_id=row[2], customer_id=row[3],
        applied_fingerprint=row[4], applied_order_ids=frozenset(decode_json(row[5], [])),
        status=row[6], updated_at=decode_dt(row[7]),
    )


def put_contract(conn: Connection, state: ContractState) -> None:
    if not (state.account and state.contract_key):
        raise StateUsageError("a contract state needs a non-empty account and contract_key")
    conn.execute(
        f"INSERT INTO contracts ({_CONTRACT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (account, contract_key) DO UPDATE SET schedule_id = excluded.schedule_id, "
        "customer_id = excluded.customer_id, "
        "applied_fingerprint = excluded.applied_fingerprint, "
        "applied_order_ids = excluded.applied_order_ids, status = excluded.status, "
        "updated_at = excluded.updated_at",
        (state.account, state.contract_key, state.schedule_id, state.customer_id,
         state.applied_fingerprint, encode_json(sorted(state.applied_order_ids)),
         state.status, encode_dt(state.updated_at, "updated_at")),
    )


def contract_status_counts(conn: Connection) -> dict[str, int]:
    counts = {"active": 0, "canceled": 0}
    for status, count in conn.execute("SELECT status, COUNT(*) FROM contracts GROUP BY status"):
        counts[str(status)] = int(count)
    return counts
