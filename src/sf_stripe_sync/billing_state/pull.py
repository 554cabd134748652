"""Stripe billing events -> Salesforce: invoices, subscription and schedule state.

Theory of operation: ``BillingPull.pull`` reads Stripe's events list for ``invoice.*``,
``customer.subscription.*`` and ``subscription_schedule.*`` after a cursor kept in the
state directory beside the catalog's (kind ``billing_events``), pages walking forward in
time exactly as the catalog's pull does (``catalog.event_pages``). Each page is applied
as one batch and the cursor moves after it, so a crash re-applies at most one page,
which changes nothing:

1. the page's events are folded into the newest state of each object they carry (events
   come oldest first; a later snapshot of the same invoice, subscription or schedule
   replaces an earlier one);
2. the records they land on are read: the Contract and the Order that created the
   schedule (by schedule id, or by subscription id once a subscription left its
   schedule; a subscription known nowhere is retrieved from Stripe once), the Accounts
   by customer id, the ``Stripe_Invoice__c`` records by invoice id; an invoice of a
   customer no Account holds is left out (reported as unmatched);
3. only fields whose value Salesforce does not hold yet are written, all together
   through the writer's composite batches: Contract and Order updates, and invoices
   upserted on their external id ``Stripe_Invoice_Id__c`` (so two pulls racing, or a
   pull and a webhook, still make one record per invoice). A replayed event, or a page
   read twice, writes nothing.

A webhook delivery (``apply_event``) is one event, which may arrive late or twice: its
object is retrieved from Stripe afresh before it is applied, so an old delivery can
never roll Salesforce back.

Loop guard: these fields are billing state, not order content. The engine's plan never
reads them, so an Order whose only change is a write-back here re-plans to the same
fingerprint, a ``noop`` with zero Stripe writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

from sf_stripe_sync.billing_state import records as rec
from sf_stripe_sync.billing_state.salesforce_side import BillingSalesforce, Record, Target
from sf_stripe_sync.billing_state.settings import BillingStateSettings
from sf_stripe_sync.catalog.event_pages import EventPages
from sf_stripe_sync.catalog.memory import CatalogMemory
from sf_stripe_sync.catalog.stripe_api import as_dict
from sf_stripe_sync.core.rules import FieldMap
from sf_stripe_sync.stripe.session import StripeSession

EVENT_TYPES = ("invoice.*", "customer.subscription.*", "subscription_schedule.*")
CURSOR_KIND = "billing_events"


@dataclass
class BillingReport:
    events: int = 0
    invoices_created: list[str] = field(default_factory=list)
    invoices_updated: list[str] = field(default_factory=list)
    records_updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    unmatched: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cursor: str | None = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Folded:
    """The newest state of every object a batch of events carries."""

    invoices: dict[str, Record] = field(default_factory=dict)
    subscriptions: dict[str, Record] = field(default_factory=dict)
    schedules: dict[str, Record] = field(default_factory=dict)

    def add(self, kind: str, obj: Record) -> None:
        if not obj.get("id"):
            return
        if kind.startswith("invoice."):
            self.invoices[str(obj["id"])] = obj
        elif kind.startswith("customer.subscription."):
            self.subscriptions[str(obj["id"])] = obj
        elif kind.startswith("subscription_schedule."):
            self.schedules[str(obj["id"])] = obj


class BillingPull:
    def __init__(self, salesforce: BillingSalesforce, stripe: StripeSession, *,
                 fields: FieldMap, billing: BillingStateSettings,
                 memory: CatalogMemory | None = None) -> None:
        self.sf = salesforce
        self.stripe = stripe
        self.fields = fields
        self.bs = billing
        self.memory = memory or CatalogMemory(None)
        self.report = BillingReport()

    # ------------------------------------------------------------------ cursor and pages

    def _pages(self) -> EventPages:
        return EventPages(self.stripe, self.memory, kind=CURSOR_KIND, types=EVENT_TYPES,
                          page_size=self.bs.event_page_size)

    def cursor(self) -> str | None:
        return self._pages().cursor()

    def pull(self) -> BillingReport:
        pages = self._pages()
        self.report.cursor = pages.cursor()
        for events in pages.pages():
            folded = Folded()
            for event in events:
                folded.add(str(event.get("type") or ""),
                           (event.get("data") or {}).get("object") or {})
            self.report.events += len(events)
            self.apply(folded)
            if events:
                pages.save(str(events[-1]["id"]))
                self.report.cursor = str(events[-1]["id"])
        return self.report

    # ------------------------------------------------------------------ webhooks

    def apply_event(self, event: Record) -> str:
        """One delivered event, its object read afresh from Stripe; what happened."""
        self.report.events += 1
        kind = str(event.get("type") or "")
        obj = (event.get("data") or {}).get("object") or {}
        object_id = str(obj.get("id") or "")
        if not object_id or not kind.startswith(("invoice.", "customer.subscription.",
                                                 "subscription_schedule.")):
            return "ignored"
        folded = Folded()
        folded.add(kind, self._fresh(kind, object_id))
        before = (len(self.report.invoices_created) + len(self.report.invoices_updated)
                  + len(self.report.records_updated))
        self.apply(folded)
        after = (len(self.report.invoices_created) + len(self.report.invoices_updated)
                 + len(self.report.records_updated))
        return "applied" if after > before else "unchanged"

    def _fresh(self, kind: str, object_id: str) -> Record:
        v1 = self.stripe.client.v1
        send: Callable[[], Any]
        if kind.startswith("invoice."):
            send = partial(v1.invoices.retrieve, object_id)
        elif kind.startswith("customer.subscription."):
            send = partial(v1.subscriptions.retrieve, object_id)
        else:
            send = partial(v1.subscription_schedules.retrieve, object_id)
        return as_dict(self.stripe.call(kind.rsplit(".", 1)[0] + ".retrieve", send))

    # ------------------------------------------------------------------ applying

    def _schedule_of_subscriptions(self, folded: Folded) -> dict[str, str]:
        """subscription id -> schedule id, from what the batch and Stripe say."""
        found: dict[str, str] = {}
        for schedule in folded.schedules.values():
            for key in ("subscription", "released_subscription"):
                if schedule.get(key):
                    found[str(schedule[key])] = str(schedule["id"])
        for sub in folded.subscriptions.values():
            if sub.get("schedule"):
                found[str(sub["id"])] = str(sub["schedule"])
        return found

    def _targets(self, folded: Folded, schedule_of: dict[str, str]
                 ) -> tuple[dict[str, list[Target]], dict[str, list[Target]]]:
        """(targets by schedule id, targets by subscription id)."""
        sub_ids = set(folded.subscriptions) | {s for i in folded.invoices.values()
                                               if (s := rec.subscription_of(i))}
        schedule_ids = set(folded.schedules) | {schedule_of[s] for s in sub_ids
                                                if s in schedule_of}
        by_schedule: dict[str, list[Target]] = {}
        for target in self.sf.targets_by_schedule(sorted(schedule_ids)):
            key = (self.fields.contract_schedule if target.sobject == "Contract"
                   else self.fields.order_schedule)
            by_schedule.setdefault(str(target.record.get(key)), []).append(target)
        by_subscription: dict[str, list[Target]] = {}
        loose = [s for s in sub_ids if schedule_of.get(s) not in by_schedule]
        for target in self.sf.targets_by_subscription(loose):
            by_subscription.setdefault(str(target.record.get(self.bs.subscription_id)),
                                       []).append(target)
        unknown = [s for s in loose if s not in by_subscription and s not in schedule_of]
        extra = self._ask_stripe(unknown, schedule_of)
        for target in self.sf.targets_by_schedule(extra):
            key = (self.fields.contract_schedule if target.sobject == "Contract"
                   else self.fields.order_schedule)
            by_schedule.setdefault(str(target.record.get(key)), []).append(target)
        return by_schedule, by_subscription

    def _ask_stripe(self, subscription_ids: list[str], schedule_of: dict[str, str]
                    ) -> list[str]:
        """Schedules of subscriptions neither the batch nor Salesforce could place."""
        found: list[str] = []
        for sub_id in subscription_ids:
            sub = as_dict(self.stripe.call("subscriptions.retrieve", partial(
                self.stripe.client.v1.subscriptions.retrieve, sub_id)))
            schedule = sub.get("schedule")
            if isinstance(schedule, dict):
                schedule = schedule.get("id")
            if schedule:
                schedule_of[sub_id] = str(schedule)
                found.append(str(schedule))
        return found

    def apply(self, folded: Folded) -> None:
        if not (folded.invoices or folded.subscriptions or folded.schedules):
            return
        schedule_of = self._schedule_of_subscriptions(folded)
        by_schedule, by_subscription = self._targets(folded, schedule_of)

        def targets_for(schedule_id: str | None, sub_id: str | None) -> list[Target]:
            if schedule_id and schedule_id in by_schedule:
                return by_schedule[schedule_id]
            return by_subscription.get(sub_id or "", [])

        wanted: dict[tuple[str, str], tuple[Target, Record]] = {}

        def want(targets: list[Target], values: Record) -> None:
            for target in targets:
                slot = wanted.setdefault((target.sobject, target.id), (target, {}))
                slot[1].update(values)

        for schedule_id, schedule in folded.schedules.items():
            sub = schedule.get("subscription") or schedule.get("released_subscription")
            found = targets_for(schedule_id, str(sub) if sub else None)
            if not found:
                self.report.unmatched.append(f"subscription_schedule {schedule_id}")
            want(found, rec.schedule_values(self.bs, schedule))
        for sub_id, sub in folded.subscriptions.items():
            found = targets_for(schedule_of.get(sub_id), sub_id)
            if not found:
                self.report.unmatched.append(f"subscription {sub_id}")
            want(found, rec.subscription_values(self.bs, sub))
        updates: dict[str, list[Record]] = {}
        for target, values in wanted.values():
            changes = rec.differs(target.record, values)
            if changes:
                updates.setdefault(target.sobject, []).append({"Id": target.id, **changes})
                self.report.records_updated.append(f"{target.sobject} {target.id}")
            else:
                self.report.unchanged += 1
        upserts = self._invoices(folded, schedule_of, targets_for)
        outcome = self.sf.write(updates, upserts)
        self.report.errors += outcome.failed

    def _invoices(self, folded: Folded, schedule_of: dict[str, str], targets_for: Any
                  ) -> list[Record]:
        """What to upsert on the invoice id: new invoices whole, known ones' changes."""
        bs = self.bs
        held = self.sf.invoices(sorted(folded.invoices))
        customers = {str(i.get("customer")) for i in folded.invoices.values()
                     if i.get("customer")}
        accounts = self.sf.accounts_by_customer(sorted(customers))
        new: list[Record] = []
        for invoice_id, invoice in folded.invoices.items():
            values = rec.invoice_values(bs, invoice)
            sub_id = rec.subscription_of(invoice)
            schedule_id = schedule_of.get(sub_id or "")
            targets = targets_for(schedule_id, sub_id)
            values[bs.invoice_schedule] = schedule_id
            values[bs.invoice_account] = accounts.get(str(invoice.get("customer")))
            for target in targets:
                field_name = bs.invoice_contract if target.sobject == "Contract" else (
                    bs.invoice_order)
                values[field_name] = target.id
                values[bs.invoice_account] = (values[bs.invoice_account]
                                              or target.record.get("AccountId"))
            links = (bs.invoice_schedule, bs.invoice_account, bs.invoice_contract,
                     bs.invoice_order)
            values = {k: v for k, v in values.items() if k not in links or v is not None}
            record = held.get(invoice_id)
            if record is None and bs.invoice_account not in values:
                self.report.unmatched.append(f"invoice {invoice_id} (customer "
                                             f"{invoice.get('customer')} not in Salesforce)")
                continue
            if record is None:
                new.append(values)
                self.report.invoices_created.append(invoice_id)
                continue
            changes = rec.differs(record, values)
            if changes:
                new.append({bs.invoice_id: invoice_id, **changes})
                self.report.invoices_updated.append(invoice_id)
            else:
                self.report.unchanged += 1
        return new
