"""SOQL text for the reader, built with ``simple_salesforce.format_soql``.

Theory of operation: values (ids, statuses, watermarks) only ever enter a query through
``format_soql`` placeholders, which quote and escape them; field and object names come
from ``FieldSelection`` and were checked as plain identifiers against the describe.

One query fetches everything an order needs: the Order's fields, its Account's and
Contract's fields through the parent relationships (``Account.Name`` ...), and its
items with their PricebookEntry's and Product2's fields in the ``OrderItems`` child
subquery. So reading N orders costs ceil(N / batch) calls (plus one per child page of an
order with more items than a child batch), instead of five IN-queries per page.

Salesforce refuses a semi-join inside OR, so "changed since" is two disjoint queries:
Orders modified after the watermark, and Orders *not* modified after it whose items
were. Id lists are chunked so a query stays far below the 100,000-character limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from simple_salesforce.format import format_soql

from sf_stripe_sync.salesforce.describe import FieldSelection

SOQL_MAX_CHARS = 100_000
IDS_PER_QUERY = 200
_RECORD_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")


def is_record_id(value: str) -> bool:
    """Whether ``value`` has the shape of a Salesforce record id (15 or 18 characters).

    Salesforce rejects a whole query when one id in it is malformed, so such ids are
    dropped before querying: they cannot name a record anyway.
    """
    return bool(_RECORD_ID.match(value))


def _relationship(name: str, fields: Sequence[str]) -> list[str]:
    return [f"{name}.{field}" for field in fields]


def order_select(selection: FieldSelection) -> str:
    """``SELECT <order, parent and item fields> FROM Order`` (no WHERE)."""
    item_fields = list(selection.item)
    if "PricebookEntryId" in selection.item:
        item_fields += _relationship("PricebookEntry", selection.pricebook_entry)
    if "Product2Id" in selection.item:
        item_fields += _relationship("Product2", selection.product)
    columns = list(selection.order)
    if "AccountId" in selection.order:
        columns += _relationship("Account", selection.account)
    if "ContractId" in selection.order:
        columns += _relationship("Contract", selection.contract)
    columns.append(f"(SELECT {', '.join(item_fields)} FROM OrderItems)")
    return f"SELECT {', '.join(columns)} FROM Order"


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal (UTC, whole seconds, ``Z``); naive datetimes refused.

    Seconds are truncated, so a watermark never skips a record modified in the same
    second; re-reading an unchanged order is a noop downstream.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("a SOQL datetime must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def chunked(ids: Sequence[str], size: int = IDS_PER_QUERY) -> Iterator[list[str]]:
    """``ids`` without duplicates (first occurrence wins) or malformed ones, in slices of
    ``size``."""
    unique = list(dict.fromkeys(i for i in ids if i and is_record_id(i)))
    for start in range(0, len(unique), max(1, size)):
        yield unique[start : start + size]


def orders_by_ids_query(selection: FieldSelection, ids: Sequence[str]) -> str:
    query = format_soql(order_select(selection) + " WHERE Id IN {ids} ORDER BY Id", ids=list(ids))
    if len(query) > SOQL_MAX_CHARS:
        raise ValueError(f"{len(ids)} ids make a query over {SOQL_MAX_CHARS} characters")
    return query


def activated_ids_query(activated_status: str) -> str:
    return format_soql("SELECT Id FROM Order WHERE Status = {status} ORDER BY Id",
                       status=activated_status)


def contract_orders_query(
    selection: FieldSelection, contract_id: str, activated_status: str
) -> str:
    return format_soql(
        order_select(selection)
        + " WHERE ContractId = {contract} AND Status = {status} ORDER BY EffectiveDate, Id",
        contract=contract_id,
        status=activated_status,
    )


def changed_since_queries(
    selection: FieldSelection, statuses: Sequence[str], watermark: datetime | None
) -> list[str]:
    """The queries whose union is every Order in ``statuses`` changed after
    ``watermark`` (itself or any of its items); all of them when it is None."""
    base = order_select(selection)
    wanted = list(dict.fromkeys(statuses))
    if watermark is None:
        return [format_soql(base + " WHERE Status IN {statuses} ORDER BY Id", statuses=wanted)]
    mark = soql_datetime(watermark)
    order_changed = format_soql(
        base + " WHERE Status IN {statuses} AND SystemModstamp > {mark:literal} ORDER BY Id",
        statuses=wanted,
        mark=mark,
    )
    items_changed = format_soql(
        base
        + " WHERE Status IN {statuses} AND SystemModstamp <= {mark:literal}"
        " AND Id IN (SELECT OrderId FROM OrderItem WHERE SystemModstamp > {mark:literal})"
        " ORDER BY Id",
        statuses=wanted,
        mark=mark,
    )
    return [order_changed, items_changed]
