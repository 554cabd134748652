"""Turning changed, triggered and unfinished orders into one queued job per contract.

Theory of operation: ``group_bundles`` keys each order by (Stripe account, contract) the
way the engine keys its lease: the account named by the order's account field (else
the default account; a name the config lacks is kept as is, and the job's engine run
reports it as the order's error) and the contract key (the Contract, else the order
id), both read through ``ports.OrgRecords``.

``enqueue_changed`` is the scheduled sync's intake: the orders of unfinished journal
entries (their contract and account are in the journal) and every order changed since
the watermark (less the overlap), read page by page exactly as a scheduled run reads
them, are deferred per contract; then the watermark moves past what was read, as a run
would after processing it: the jobs now hold that work, durably. ``route`` is the
trigger's: the orders named, read by id, deferred per contract (an order Salesforce does
not have goes to a job of its own, whose run reports it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import procrastinate

from sf_stripe_sync.config import Settings
from sf_stripe_sync.core.models import OrderBundle
from sf_stripe_sync.errors import ConfigError
from sf_stripe_sync.ports import OrderSource, OrgRecords
from sf_stripe_sync.queue.app import defer_contract
from sf_stripe_sync.reading import OrderReader, unique
from sf_stripe_sync.run_report import RunOptions
from sf_stripe_sync.salesforce.records import SalesforceRecords, modstamp
from sf_stripe_sync.state.store import StateStore

SOURCE_NAME = "salesforce"
"""The watermark the engine keeps for Salesforce (``Engine.source_name``)."""


@dataclass(frozen=True)
class ContractWork:
    account: str
    contract_key: str
    order_ids: tuple[str, ...]


def account_of(settings: Settings, records: OrgRecords, bundle: OrderBundle) -> str:
    named = records.stripe_account(bundle)
    try:
        return settings.stripe_account(named).name
    except ConfigError:
        return str(named)


def group_bundles(settings: Settings, bundles: Iterable[OrderBundle]) -> list[ContractWork]:
    records = SalesforceRecords(settings.fields)
    groups: dict[tuple[str, str], list[str]] = {}
    for bundle in bundles:
        key = (account_of(settings, records, bundle), records.contract_key(bundle))
        groups.setdefault(key, []).append(bundle.order_id)
    return [ContractWork(account, contract, tuple(ids))
            for (account, contract), ids in groups.items()]


def defer_all(app: procrastinate.App, settings: Settings, works: Iterable[ContractWork]) -> int:
    """Defer each contract's job; how many were new (the rest were queued already)."""
    fresh = 0
    for work in works:
        if defer_contract(app, settings, work.account, work.contract_key,
                          work.order_ids) is not None:
            fresh += 1
    return fresh


def _unfinished(store: StateStore) -> list[ContractWork]:
    groups: dict[tuple[str, str], list[str]] = {}
    for entry in store.journal_unfinished():
        groups.setdefault((entry.account, entry.contract_key), []).append(entry.order_id)
    return [ContractWork(account, contract, tuple(unique(ids)))
            for (account, contract), ids in groups.items()]


def enqueue_changed(app: procrastinate.App, settings: Settings, source: OrderSource,
                    store: StateStore, now: datetime) -> tuple[int, int]:
    """The scheduled sync as jobs: (orders read, jobs newly queued)."""
    reader = OrderReader(settings, source, SOURCE_NAME)
    queued = defer_all(app, settings, _unfinished(store))
    read = 0
    max_seen: datetime | None = None
    for page in reader.pages(RunOptions(), [], store):
        read += len(page)
        queued += defer_all(app, settings, group_bundles(settings, page))
        stamps = [s for s in (modstamp(b) for b in page) if s is not None]
        if stamps:
            max_seen = max([*stamps, *([max_seen] if max_seen else [])])
    if max_seen is not None:
        reader.advance_watermark(store, min(max_seen, now), None)
    return read, queued


def route(app: procrastinate.App, settings: Settings, source: OrderSource,
          order_ids: Sequence[str]) -> int:
    """A trigger's orders, read by id and queued per contract; jobs newly queued."""
    wanted = unique(order_ids)
    size = max(1, settings.page_size)
    queued = 0
    for start in range(0, len(wanted), size):
        chunk = wanted[start:start + size]
        found = list(source.orders_by_id(chunk))
        known = {b.order_id for b in found}
        works = group_bundles(settings, found)
        works += [ContractWork(settings.default_stripe_account, order_id, (order_id,))
                  for order_id in chunk if order_id not in known]
        queued += defer_all(app, settings, works)
    return queued
