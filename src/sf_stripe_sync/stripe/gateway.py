"""The Stripe gateway: customers, coupons and subscription schedules for the engine.

Theory of operation: one ``StripeGateway`` per configured Stripe account and run sends
through the account's ``session.StripeSession`` (one ``stripe.StripeClient``). Each
public method is one engine operation; it builds typed params (``params``), sends each
request through the session (paced, retried, SDK exceptions translated) and converts
what Stripe returns into core terms (``convert.RemoteSchedule``). No ``stripe.*``
exception leaves this module.

Idempotency: every write carries a derived key (``core.keys``): the schedule write uses
the operation key, each coupon ``child_key(op_key, "coupon:" + slot)``, a new customer
``customer_key(account, account_id)``. A retried write reuses its key, so a write that
Stripe applied but whose response was lost converges on one object. Coupons also get an
id derived from the contract's desired state and the slot (``coupon_id_for``), so even
after Stripe forgot the key a retry finds the coupon made before
(``resource_already_exists``) and reuses it. Because Stripe
forgets keys after about a day, and another host may hold another state store,
``find_schedule`` looks for a schedule carrying our contract metadata before the engine
creates one, every time.

Stripe's answers, per gateway (one gateway lives one run): a customer's schedules are
listed once and the list kept (``lists.ScheduleLists``); schedules this gateway creates,
updates or cancels are put into it, so a later contract of the same customer costs no
request. A customer this gateway created itself (a fresh create, not an idempotent
replay of another host's create) is known to have no schedules: its list starts empty.

Request cost (no faults; a retry adds one request of the same kind):

* ``ensure_customer``: known id 0; found by search 1 read; created 1 read + 1 write.
  A customer made seconds ago that search does not show yet (Stripe's search index
  lags by up to a minute) is still found: the create carries the Account's key, so
  Stripe replays the earlier create instead of making a second customer.
* ``find_schedule``: 1 read per 100 schedules of the customer, once per customer per
  gateway; 0 for a customer this gateway created.
* ``retrieve_schedule``: 1 read.
* ``create_schedule``: N coupon writes + 1 schedule write (N = discounts needing a coupon).
* ``update_schedule``: N + 1 writes, plus 1 read when ``current`` is not given.
* ``cancel_schedule``: 1 write (+1 read if Stripe refuses because it is already canceled).
* ``price_facts``: 1 read per price not yet read this run (``stripe.prices``).
* custom prices of a create/update: 1 read per 10 lookup keys not yet known this run,
  + 1 write per custom price Stripe does not have yet.

``stats`` (the session's) counts every request sent (reads, writes, retries, per method).

Plumbing: every request goes through the account's ``session.StripeSession`` (pacing
through the account's and the endpoint's token buckets, the one retry policy, SDK errors
translated, request ids, answer times for the engine's concurrency); schedule requests
are sent by ``send_json`` (the SDK's request, its answer as plain dicts: no StripeObjects
built only to be turned back into dicts); customers are in
``customers``, coupons in ``coupons``, prices in ``prices``. Customers found or created
are cached for the gateway's life (one run), so two contracts of one Account cost one
search.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import stripe
from pydantic import SecretStr

from sf_stripe_sync.concurrency import LatencyMeter
from sf_stripe_sync.config import STRIPE_API_VERSION, StripeAccountSettings
from sf_stripe_sync.core.models import OrderPlan, PriceCatalog
from sf_stripe_sync.errors import (
    AuthenticationError,
    IdempotencyConflict,
    TerminalError,
    TransientError,
)
from sf_stripe_sync.ratelimit import EndpointPacer, TokenBucket
from sf_stripe_sync.stripe import params as build
from sf_stripe_sync.stripe.client import DEFAULT_TIMEOUT_SECONDS
from sf_stripe_sync.stripe.convert import (
    LIVE_STATUSES,
    META_CONTRACT_KEY,
    RemoteSchedule,
    ScheduleResult,
    schedule_from_stripe,
)
from sf_stripe_sync.stripe.coupons import coupon_id_for, make_coupons
from sf_stripe_sync.stripe.customers import Customers
from sf_stripe_sync.stripe.discounts import IndexedPhase, discount_slots
from sf_stripe_sync.stripe.lists import ScheduleLists
from sf_stripe_sync.stripe.prices import PriceBook
from sf_stripe_sync.stripe.retry import RetryPolicy
from sf_stripe_sync.stripe.session import (
    Cost,
    GatewayStats,
    StripeSession,
    emulator_limiter,
    limiter_for,
    path_id,
)

__all__ = ["GatewayStats", "RemoteSchedule", "ScheduleResult", "StripeGateway",
           "coupon_id_for", "emulator_limiter", "limiter_for"]

log = logging.getLogger(__name__)

SCHEDULES = "/v1/subscription_schedules"
"""The schedules' path: the typed service methods' own, sent through ``send_json``."""


class StripeGateway:
    """Customers, coupons and subscription schedules of one Stripe account."""

    def __init__(
        self,
        session: StripeSession,
        *,
        proration_behavior: str = "create_prorations",
        fallback_currency: str = "usd",
        list_page_size: int = 100,
    ) -> None:
        self.session = session
        self._schedules = ScheduleLists()
        self.customers = Customers(session, self._schedules)
        self.account_name = session.account_name
        self.proration_behavior = build.proration_behavior(proration_behavior)
        self.list_page_size = list_page_size
        self.fallback_currency = fallback_currency
        self.prices = PriceBook(session)

    @classmethod
    def over_client(cls, client: stripe.StripeClient, *, account_name: str,
                    retry: RetryPolicy | None = None, limiter: TokenBucket | None = None,
                    proration_behavior: str = "create_prorations") -> StripeGateway:
        """A gateway on a session of its own around ``client`` (tests, tools)."""
        session = StripeSession(client, account_name=account_name, retry=retry,
                                limiter=limiter)
        return cls(session, proration_behavior=proration_behavior)

    @classmethod
    def from_settings(
        cls,
        account: StripeAccountSettings,
        api_key: SecretStr,
        *,
        api_version: str = STRIPE_API_VERSION,
        proration_behavior: str = "create_prorations",
        retry: RetryPolicy | None = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        limiter: TokenBucket | None = None,
    ) -> StripeGateway:
        """A gateway on a new session for a configured account (``StripeSession.for_account``)."""
        session = StripeSession.for_account(account, api_key, api_version=api_version,
                                            retry=retry, timeout=timeout, limiter=limiter)
        return cls(session, proration_behavior=proration_behavior)

    # ------------------------------------------------------------------ the session's

    @property
    def stats(self) -> GatewayStats:
        return self.session.stats

    @property
    def limiter(self) -> TokenBucket:
        return self.session.limiter

    @property
    def pacer(self) -> EndpointPacer:
        return self.session.pacer

    @property
    def latency(self) -> LatencyMeter:
        """Stripe's answer time (pacing waits left out): sizes the engine's concurrency."""
        return self.session.latency

    @property
    def retry(self) -> RetryPolicy:
        return self.session.retry

    def _convert(self, raw: Mapping[str, Any]) -> RemoteSchedule:
        return schedule_from_stripe(raw, fallback_currency=self.fallback_currency)

    # ------------------------------------------------------------------ customers, prices

    def ensure_customer(self, *, account_id: str, name: str | None,
                        known_customer_id: str | None,
                        metadata: Mapping[str, str]) -> tuple[str, bool]:
        """The customer of a Salesforce Account: ``(customer id, created?)``."""
        return self.customers.ensure(account_id=account_id, name=name,
                                     known_customer_id=known_customer_id, metadata=metadata)

    def price_facts(self, price_ids: Sequence[str]) -> PriceCatalog:
        """What Stripe says each price bills (read once per run per price)."""
        return self.prices.facts(price_ids)

    def _custom_prices(self, phases: Sequence[IndexedPhase], cost: Cost) -> dict[str, str]:
        return self.prices.resolve(build.custom_prices(phases), cost)

    # ------------------------------------------------------------------ schedules: reads

    def retrieve_schedule(self, schedule_id: str) -> RemoteSchedule:
        raw = self.session.send_json("subscription_schedules.retrieve", "get",
                                     f"{SCHEDULES}/{path_id(schedule_id)}")
        return self._convert(raw)

    def find_schedule(self, *, customer_id: str, contract_key: str,
                      fresh: bool = False) -> RemoteSchedule | None:
        """The customer's schedule carrying ``contract_key`` that is not canceled/released.

        A live one (not started / active) wins over a completed one; among equals, the
        newest (Stripe lists newest first). The customer's schedules are listed once per
        gateway (``fresh`` lists them again, e.g. after Stripe refused a create whose key
        another host used first).
        """
        raws = self._schedules.get(customer_id, self._list_schedules, fresh=fresh)
        matches = [raw for raw in raws
                   if raw.get("status") in (*LIVE_STATUSES, "completed")
                   and (raw.get("metadata") or {}).get(META_CONTRACT_KEY) == contract_key]
        if not matches:
            return None
        live = [m for m in matches if m.get("status") in LIVE_STATUSES]
        if len(live) > 1:
            log.warning("customer %s has %d live schedules for contract key %s; using %s",
                        customer_id, len(live), contract_key, live[0].get("id"))
        return schedule_from_stripe((live or matches)[0],
                                    fallback_currency=self.fallback_currency)

    def _list_schedules(self, customer_id: str) -> list[dict[str, Any]]:
        """Every schedule of the customer that carries our contract metadata, newest first."""
        ours: list[dict[str, Any]] = []
        starting_after: str | None = None
        while True:
            page_params = build.schedule_list_params(customer_id, starting_after,
                                                     limit=self.list_page_size)
            page = self.session.send_json("subscription_schedules.list", "get", SCHEDULES,
                                          page_params)
            data: list[dict[str, Any]] = page.get("data") or []
            for raw in data:
                if (raw.get("metadata") or {}).get(META_CONTRACT_KEY):
                    ours.append(raw)
            if not page.get("has_more") or not data:
                return ours
            starting_after = str(data[-1]["id"])

    def _result(self, raw: dict[str, Any], cost: Cost,
                coupons: Mapping[str, str]) -> ScheduleResult:
        self._schedules.put(raw)
        return ScheduleResult(schedule=self._convert(raw), request_ids=tuple(cost.request_ids),
                              writes=cost.writes, coupons=tuple(coupons.values()))

    def create_schedule(self, plan: OrderPlan, *, customer_id: str, op_key: str
                        ) -> ScheduleResult:
        """A new schedule for the plan (its coupons first); N discounts cost N+1 writes."""
        schedule = build.desired_schedule(plan)
        cost = Cost()
        slots = discount_slots(list(enumerate(schedule.phases)))
        coupons = make_coupons(self.session, plan, slots, op_key, cost)
        prices = self._custom_prices(list(enumerate(schedule.phases)), cost)
        create = build.create_params(plan, customer_id=customer_id, coupons=coupons,
                                     prices=prices)
        raw = self.session.send_json("subscription_schedules.create", "post", SCHEDULES,
                                     create, kind="write", key=op_key, cost=cost)
        return self._result(raw, cost, coupons)

    def update_schedule(self, plan: OrderPlan, *, schedule_id: str, op_key: str,
                        current: RemoteSchedule | None = None) -> ScheduleResult:
        """Send the plan's current and future phases (amend and replace alike)."""
        if current is None:
            current = self.retrieve_schedule(schedule_id)
        if not current.is_live:
            raise TerminalError(f"schedule {schedule_id} is {current.status}; it can no "
                                "longer be changed", code="schedule_not_live")
        cost = Cost()
        sending = build.phases_to_send(plan, current)
        coupons = make_coupons(self.session, plan, discount_slots(sending), op_key, cost)
        prices = self._custom_prices(sending, cost)
        update = build.update_params(plan, current=current, coupons=coupons,
                                     proration_behavior=self.proration_behavior,
                                     prices=prices)
        try:
            raw = self.session.send_json(
                "subscription_schedules.update", "post", f"{SCHEDULES}/{path_id(schedule_id)}",
                update, kind="write", key=op_key, cost=cost)
        except IdempotencyConflict:
            # The same operation was applied earlier, while the current phase was another
            # one (so today's body differs). If Stripe already carries this plan, done.
            now = self.retrieve_schedule(schedule_id)
            if plan.fingerprint and now.fingerprint == plan.fingerprint:
                return ScheduleResult(schedule=now, request_ids=tuple(cost.request_ids),
                                      writes=cost.writes, coupons=tuple(coupons.values()))
            raise
        return self._result(raw, cost, coupons)

    def cancel_schedule(self, plan: OrderPlan, *, op_key: str) -> ScheduleResult:
        """Cancel now; a schedule Stripe reports as already canceled counts as done."""
        cost = Cost()
        schedule_id = plan.schedule_id
        if not schedule_id:
            raise TerminalError(f"order {plan.order_id} has no Stripe schedule to cancel",
                                code="invalid_record")
        cancel = build.cancel_params(invoice_now=plan.invoice_now, prorate=plan.prorate)
        try:
            raw = self.session.send_json(
                "subscription_schedules.cancel", "post",
                f"{SCHEDULES}/{path_id(schedule_id)}/cancel", cancel, kind="write",
                key=op_key, cost=cost)
        except (AuthenticationError, TransientError):
            raise
        except TerminalError as refused:
            try:
                now = self.retrieve_schedule(schedule_id)
            except TerminalError:
                raise refused from None
            if now.status == "canceled":
                return ScheduleResult(schedule=now, request_ids=tuple(cost.request_ids),
                                      writes=cost.writes)
            raise
        return self._result(raw, cost, {})

