"""The org's records in domain terms: ``ports.OrgRecords`` on a ``FieldMap``.

Theory of operation: an ``OrderBundle`` holds the Order and its related records as
Salesforce returns them. The engine must know a few things of an order before (or
without) normalizing it: which Contract it is on (orders of one Contract run one after
the other, and their contract is read with them), when it last changed (the watermark),
whether a Stripe schedule id is already written on it (a hint for ordering work), which
Stripe account it names, and what the write-back last said of it. This module answers
those questions from the Salesforce field names (the standard ``ContractId``,
``SystemModstamp`` / ``LastModifiedDate``; the project's own fields as the configured
``FieldMap`` names them), so the engine modules never name a Salesforce field. The write-back itself
(``salesforce.writeback.WriteBackBatch``) builds the records from the same ``FieldMap``.

``SalesforceRecords`` is what the real adapters read and write with; the shipped fake
(``testing.FakeOrg``) answers the same port, and ``tests/conformance`` holds the two to
the same behaviour, on records the org (fake or local) wrote itself.
"""

from __future__ import annotations

from datetime import datetime

from sf_stripe_sync.core.dates import parse_sf_datetime
from sf_stripe_sync.core.issues import IssueCode, OrderIssue
from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.ports import SyncStatus

ID_FIELD = "Id"
CONTRACT_FIELD = "ContractId"
MISSING_MARK = "_missing"
STAMP_FIELDS = ("SystemModstamp", "LastModifiedDate")
"""Change stamps, newest first in preference (``SystemModstamp`` also moves on system
updates); either may be absent from a snapshot."""


def contract_id(bundle: OrderBundle) -> str | None:
    """The Contract the Order is on, if any."""
    value = bundle.order.get(CONTRACT_FIELD)
    return str(value) if value else None


def contract_key(bundle: OrderBundle) -> str:
    """Whose orders run one after the other: the Contract, else the Order itself (as
    ``core.models.Order.contract_key`` says of the normalized order)."""
    return contract_id(bundle) or bundle.order_id


def modstamp(bundle: OrderBundle) -> datetime | None:
    """The newest change stamp (UTC) of an order and its items; None when none is read."""
    stamps = []
    for record in (bundle.order, *bundle.items):
        for name in STAMP_FIELDS:
            value = record.get(name)
            if isinstance(value, str) and value:
                try:
                    stamps.append(parse_sf_datetime(value))
                except ValueError:
                    continue
    return max(stamps) if stamps else None


def missing(order_id: str) -> OrderBundle:
    """Stands in for an order id the source does not know, so it is reported, not lost."""
    return OrderBundle(order={ID_FIELD: order_id, MISSING_MARK: True})


def is_missing(bundle: OrderBundle) -> bool:
    """The stand-in ``missing`` made, not an order the source read."""
    return bool(bundle.order.get(MISSING_MARK))


class SalesforceRecords:
    """``ports.OrgRecords`` over the configured field names."""

    def __init__(self, fields: FieldMap | None = None) -> None:
        self.fields = fields or FieldMap()

    def contract_id(self, bundle: OrderBundle) -> str | None:
        return contract_id(bundle)

    def contract_key(self, bundle: OrderBundle) -> str:
        return contract_key(bundle)

    def modstamp(self, bundle: OrderBundle) -> datetime | None:
        return modstamp(bundle)

    def names_schedule(self, bundle: OrderBundle) -> bool:
        f = self.fields
        return bool(bundle.order.get(f.order_schedule) or (
            bundle.contract and bundle.contract.get(f.contract_schedule)))

    def stripe_account(self, bundle: OrderBundle) -> str | None:
        value = bundle.order.get(self.fields.order_stripe_account)
        return str(value) if value else None

    def sync_status(self, bundle: OrderBundle) -> SyncStatus | None:
        value = bundle.order.get(self.fields.sync_status)
        try:
            return SyncStatus(value) if value else None
        except ValueError:
            return None  # a picklist value of someone else's: not one the sync wrote

    def unknown_account(self, order_id: str, message: str) -> OrderIssue:
        return OrderIssue(code=IssueCode.INVALID_RECORD, message=message, order_id=order_id,
                          field=self.fields.order_stripe_account)
