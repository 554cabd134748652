"""The Stripe customer of each Salesforce Account, found or made once per run.

Theory of operation: ``Customers`` belongs to one gateway (one Stripe account, one run).
A customer is looked up by the Account id in its metadata (Customer Search, 1 read);
when none is found it is created under ``customer_key(account, account_id)`` (1 write),
so a customer made seconds ago that search does not show yet (Stripe's search index
lags by up to a minute) is still found: Stripe replays the earlier create instead of
making a second customer. Answers are cached for the run, one lock per Account, so two
contracts of one Account cost one search. A customer made by this very request (not an
idempotent replay of another host's create) cannot have schedules yet: its schedule
list starts empty (``lists.ScheduleLists``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from sf_stripe_sync.core.keys import customer_key
from sf_stripe_sync.errors import IdempotencyConflict, TransientError
from sf_stripe_sync.stripe import params as build
from sf_stripe_sync.stripe.lists import ScheduleLists, replayed
from sf_stripe_sync.stripe.session import StripeSession


class Customers:
    """Customers of one Stripe account, by Salesforce Account id, cached for one run."""

    def __init__(self, session: StripeSession, schedules: ScheduleLists) -> None:
        self._session = session
        self._schedules = schedules
        self._customers: dict[str, str] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def ensure(self, *, account_id: str, name: str | None, known_customer_id: str | None,
               metadata: Mapping[str, str]) -> tuple[str, bool]:
        """The customer of a Salesforce Account: ``(customer id, created?)``."""
        if known_customer_id:
            return known_customer_id, False
        with self._lock:
            per_account = self._locks.setdefault(account_id, threading.Lock())
        with per_account:
            cached = self._customers.get(account_id)
            if cached is not None:
                return cached, False
            customer_id, created = self._find_or_create(
                account_id=account_id, name=name, metadata=metadata)
            self._customers[account_id] = customer_id
            return customer_id, created

    def _find_or_create(self, *, account_id: str, name: str | None,
                        metadata: Mapping[str, str]) -> tuple[str, bool]:
        found = self._search(account_id)
        if found is not None:
            return found, False
        session = self._session
        key = customer_key(session.account_name, account_id)
        create = build.customer_create_params(account_id=account_id, name=name,
                                              metadata=metadata)
        try:
            customer = session.call(
                "customers.create",
                lambda: session.client.v1.customers.create(params=create,
                                                           options=session.options(key)),
                kind="write", key=key)
        except IdempotencyConflict as exc:
            # Another host created this Account's customer under the same key with other
            # details (a renamed Account); search may not show it yet: try again later.
            found = self._search(account_id)
            if found is not None:
                return found, False
            raise TransientError(
                f"the Stripe customer of Account {account_id} is being created elsewhere; "
                "it will be picked up on the next run", request_id=exc.request_id) from exc
        if not replayed(customer):
            # Made by this very request: it cannot have schedules yet.
            self._schedules.start_empty(customer.id)
        return customer.id, True

    def _search(self, account_id: str) -> str | None:
        search = build.customer_search_params(account_id)
        client = self._session.client
        found = self._session.call("customers.search",
                                   lambda: client.v1.customers.search(params=search))
        return found.data[0].id if found.data else None
