"""Salesforce side of the billing state: the records it lands on, read and written in batches.

Theory of operation: reads are SOQL queries of at most ``soql.IDS_PER_QUERY`` ids each
(values quoted by ``format_soql``; field names checked as API names): the Contracts and
Orders holding given schedule ids (the Order that created a schedule is the earliest by
``EffectiveDate`` among those holding its id), the ones holding given subscription ids
(a released or canceled subscription no longer names its schedule), the Accounts holding
given customer ids and the ``Stripe_Invoice__c`` records holding given invoice ids.
Writes go out together through the writer's ``write_many``: Contract and Order updates
and invoice upserts on ``Stripe_Invoice_Id__c`` in one composite call (Salesforce: five
collections of 200 records a call); each record's failure is reported, not raised, so one
bad record does not hold back the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from simple_salesforce.format import format_soql

from sf_stripe_sync.billing_state.settings import BillingStateSettings
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.ports import WriteOp
from sf_stripe_sync.salesforce import soql
from sf_stripe_sync.salesforce.auth import SalesforceConnection
from sf_stripe_sync.salesforce.describe import check_identifier
from sf_stripe_sync.salesforce.reader import OrderReader, plain
from sf_stripe_sync.salesforce.writer import SalesforceWriteBack

Record = dict[str, Any]


@dataclass
class Target:
    """A Contract or Order whose subscription state fields follow one schedule."""

    sobject: str
    record: Record

    @property
    def id(self) -> str:
        return str(self.record["Id"])


@dataclass
class WriteOutcome:
    written: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


class BillingSalesforce:
    def __init__(self, conn: SalesforceConnection, writer: SalesforceWriteBack, *,
                 fields: FieldMap, billing: BillingStateSettings) -> None:
        self.conn = conn
        self.writer = writer
        self.fields = fields
        self.bs = billing
        self._reader = OrderReader(conn)

    def _require(self, sobject: str, names: Iterable[str]) -> str:
        present = {f.lower() for f in self.conn.fields_of(sobject)}
        for name in names:
            check_identifier(name, f"{sobject} field")
            if name.lower() not in present:
                raise ConfigError(f"the Salesforce org has no field {sobject}.{name}; deploy "
                                  "sfdx/ or name another one in [billing_state]",
                                  code="missing_field")
        return ", ".join(dict.fromkeys(["Id", *names]))

    def _rows(self, template: str, values: Sequence[str]) -> list[Record]:
        found: list[Record] = []
        unique = sorted({v for v in values if v})
        for start in range(0, len(unique), soql.IDS_PER_QUERY):
            chunk = unique[start:start + soql.IDS_PER_QUERY]
            found += [plain(r) for r in self._reader.records(format_soql(template, chunk))]
        return found

    # ------------------------------------------------------------------ targets

    def _targets(self, contract_key: str, order_key: str, values: Sequence[str]
                 ) -> list[Target]:
        if not values:
            return []
        state = self.bs.state_fields()
        contracts = self._rows(
            f"SELECT {self._require('Contract', [contract_key, 'AccountId', *state])} "
            f"FROM Contract WHERE {contract_key} IN {{}}", values)
        order_select = self._require('Order', [order_key, 'AccountId', 'ContractId',
                                               'EffectiveDate', *state])
        orders = self._rows(f"SELECT {order_select} FROM Order WHERE {order_key} IN {{}} "
                            "ORDER BY EffectiveDate, Id", values)
        first: dict[str, Record] = {}
        for order in orders:
            first.setdefault(str(order.get(order_key)), order)
        return ([Target("Contract", c) for c in contracts]
                + [Target("Order", o) for o in first.values()])

    def targets_by_schedule(self, schedule_ids: Sequence[str]) -> list[Target]:
        f = self.fields
        return self._targets(f.contract_schedule, f.order_schedule, schedule_ids)

    def targets_by_subscription(self, subscription_ids: Sequence[str]) -> list[Target]:
        sub = self.bs.subscription_id
        return self._targets(sub, sub, subscription_ids)

    def accounts_by_customer(self, customer_ids: Sequence[str]) -> dict[str, str]:
        if not customer_ids:
            return {}
        key = self.fields.account_customer
        rows = self._rows(f"SELECT {self._require('Account', [key])} FROM Account "
                          f"WHERE {key} IN {{}}", customer_ids)
        return {str(r[key]): str(r["Id"]) for r in rows}

    def invoices(self, invoice_ids: Sequence[str]) -> dict[str, Record]:
        if not invoice_ids:
            return {}
        bs = self.bs
        names = [bs.invoice_id, bs.invoice_number, bs.invoice_status, bs.invoice_currency,
                 bs.amount_due, bs.amount_paid, bs.amount_remaining, bs.period_start,
                 bs.period_end, bs.due_date, bs.hosted_invoice_url, bs.invoice_customer,
                 bs.invoice_subscription, bs.invoice_schedule, bs.invoice_account,
                 bs.invoice_contract, bs.invoice_order, "Name"]
        rows = self._rows(f"SELECT {self._require(bs.invoice_object, names)} "
                          f"FROM {check_identifier(bs.invoice_object, 'sObject')} "
                          f"WHERE {bs.invoice_id} IN {{}}", invoice_ids)
        return {str(r[bs.invoice_id]): r for r in rows}

    # ------------------------------------------------------------------ writes

    def write(self, updates: dict[str, list[Record]], invoices: list[Record]
              ) -> WriteOutcome:
        """Contract/Order updates (each with ``Id``) and invoices upserted on their
        external id, in as few composite calls as the writer can."""
        ops = [WriteOp("update", sobject, records) for sobject, records in updates.items()
               if records]
        if invoices:
            ops.append(WriteOp("upsert", self.bs.invoice_object, invoices,
                               external_id=self.bs.invoice_id))
        outcome = WriteOutcome()
        if not ops:
            return outcome
        for op, results in zip(ops, self.writer.write_many(ops), strict=True):
            for record, result in zip(op.records, results, strict=True):
                ident = record.get("Id") or result.id or record.get(self.bs.invoice_id)
                name = f"{op.sobject} {ident}"
                if result.success:
                    outcome.written.append(name)
                else:
                    outcome.failed.append(f"{name}: {'; '.join(result.errors)}")
        return outcome
