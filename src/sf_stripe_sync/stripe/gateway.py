"""The Stripe gateway: customers, coupons and subscription schedules for the engine.

Theory of operation: one ``StripeGateway`` per configured Stripe account wraps one
``stripe.StripeClient`` (``client.build_client``). Each public method is one engine
operation; it builds typed params (``params``), sends each request through the single
retry policy (``retry.RetryPolicy``) with SDK exceptions translated at this edge
(``errors.translate_stripe_error``), and converts what Stripe returns into core terms
(``convert.RemoteSchedule``). No ``stripe.*`` exception leaves this module.

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

``stats`` counts every request sent (reads, writes, retries, per method).

Pacing: every request (retries included) first takes a token from the account's
``ratelimit.TokenBucket`` (``rate_limit_per_second``; when not configured, Stripe's
documented limit for the key's mode) and one from its endpoint's bucket (25/s, Search
20/s), so concurrent workers together stay inside the account's and each endpoint's
limit instead of bouncing off 429s. Each answer's time (from send, pacing waits left
out) feeds ``latency``, from which the engine sizes how many contracts run at once
(``concurrency``). Customers found or created are cached for
the gateway's life (one run), so two contracts of one Account cost one search.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal, TypeVar

import stripe
from pydantic import SecretStr

from sf_stripe_sync.concurrency import LatencyMeter
from sf_stripe_sync.config import STRIPE_API_VERSION, StripeAccountSettings
from sf_stripe_sync.core.keys import child_key, customer_key
from sf_stripe_sync.core.models import OrderPlan, PriceCatalog
from sf_stripe_sync.errors import (
    AuthenticationError,
    IdempotencyConflict,
    TerminalError,
    TransientError,
)
from sf_stripe_sync.ratelimit import EndpointPacer, TokenBucket, documented_rate
from sf_stripe_sync.stripe import params as build
from sf_stripe_sync.stripe.client import DEFAULT_TIMEOUT_SECONDS, build_client
from sf_stripe_sync.stripe.convert import (
    LIVE_STATUSES,
    META_CONTRACT_KEY,
    RemoteSchedule,
    ScheduleResult,
    schedule_from_stripe,
)
from sf_stripe_sync.stripe.errors import translate_stripe_error
from sf_stripe_sync.stripe.lists import ScheduleLists, replayed
from sf_stripe_sync.stripe.prices import PriceBook
from sf_stripe_sync.stripe.retry import RetryPolicy

__all__ = ["GatewayStats", "RemoteSchedule", "ScheduleResult", "StripeGateway"]

T = TypeVar("T")
RequestKind = Literal["read", "write"]

log = logging.getLogger(__name__)


@dataclass
class GatewayStats:
    """Requests sent through one gateway (retries included), for the run summary."""

    reads: int = 0
    writes: int = 0
    retries: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, method: str, kind: RequestKind) -> None:
        with self._lock:
            if kind == "read":
                self.reads += 1
            else:
                self.writes += 1
            self.by_method[method] = self.by_method.get(method, 0) + 1

    def count_retry(self) -> None:
        with self._lock:
            self.retries += 1

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return {"reads": self.reads, "writes": self.writes, "retries": self.retries,
                    "by_method": dict(self.by_method)}


@dataclass
class _Cost:
    """What one operation spent: write requests sent and Stripe request ids seen."""

    writes: int = 0
    request_ids: list[str] = field(default_factory=list)


def coupon_id_for(account: str, plan: OrderPlan, slot: str,
                  params: Mapping[str, Any]) -> str:
    """The id a discount slot of a contract's desired state always gets.

    Stripe forgets idempotency keys after about a day; a coupon id is forever. Creating
    the coupon under an id derived from the account, the contract, the plan's
    fingerprint, the slot and the coupon's terms makes a late retry (or another order of
    the same contract sending the same desired state) find the coupon made before
    (Stripe answers ``resource_already_exists``) instead of making a second one. The
    terms are part of the id, so a coupon is only ever reused for the same discount.
    """
    terms = {k: v for k, v in params.items() if k not in ("id", "metadata")}
    text = json.dumps([account, plan.contract_key, plan.fingerprint, slot, terms],
                      sort_keys=True, default=str)
    return "sfss_" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _request_id(obj: object) -> str | None:
    response = getattr(obj, "last_response", None)
    request_id = getattr(response, "request_id", None)
    return request_id if isinstance(request_id, str) else None


class StripeGateway:
    """Customers, coupons and subscription schedules of one Stripe account."""

    def __init__(
        self,
        client: stripe.StripeClient,
        *,
        account_name: str,
        proration_behavior: str = "create_prorations",
        retry: RetryPolicy | None = None,
        fallback_currency: str = "usd",
        list_page_size: int = 100,
        limiter: TokenBucket | None = None,
    ) -> None:
        self._client = client
        self.limiter = limiter or TokenBucket(None)
        self.pacer = EndpointPacer(self.limiter)
        self.latency = LatencyMeter()
        """Stripe's answer time (pacing waits left out): sizes the engine's concurrency."""
        self._customers: dict[str, str] = {}
        self._customer_locks: dict[str, threading.Lock] = {}
        self._customers_lock = threading.Lock()
        self._schedules = ScheduleLists()
        self.account_name = account_name
        self.proration_behavior = build.proration_behavior(proration_behavior)
        self.list_page_size = list_page_size
        self.retry = retry or RetryPolicy()
        self.fallback_currency = fallback_currency
        self.stats = GatewayStats()
        self.prices = PriceBook(client, self._call, account_name)

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
        """A gateway for a configured account; ``retry`` sets the waits, the account the tries.

        ``limiter`` defaults to ``limiter_for(account, api_key)``."""
        client = build_client(account, api_key, api_version=api_version, timeout=timeout)
        policy = RetryPolicy.from_max_retries(account.max_retries, retry)
        return cls(client, account_name=account.name, proration_behavior=proration_behavior,
                   retry=policy, limiter=limiter or limiter_for(account, api_key))

    # ------------------------------------------------------------------ plumbing

    def _call(self, method: str, kind: RequestKind, send: Callable[[], T],
              cost: _Cost | None = None, idempotency_key: str | None = None) -> T:
        def attempt() -> T:
            self.pacer.acquire(method)
            self.stats.count(method, kind)
            if cost is not None and kind == "write":
                cost.writes += 1
            sent = time.monotonic()
            try:
                return send()
            except stripe.StripeError as exc:
                raise translate_stripe_error(exc, operation=method) from exc
            finally:
                self.latency.observe(time.monotonic() - sent)

        result = self.retry.call(attempt, on_retry=lambda _exc: self.stats.count_retry(),
                                 describe=f"Stripe {method}")
        request_id = _request_id(result)
        if cost is not None and request_id:
            cost.request_ids.append(request_id)
        log.info("stripe %s ok (request %s, idempotency key %s)", method, request_id or "-",
                 idempotency_key or "-")
        return result

    def _write_options(self, key: str) -> stripe.RequestOptions:
        return {"idempotency_key": key}

    def _convert(self, obj: stripe.SubscriptionSchedule) -> RemoteSchedule:
        return schedule_from_stripe(obj.to_dict(), fallback_currency=self.fallback_currency)

    # ------------------------------------------------------------------ customers

    def ensure_customer(self, *, account_id: str, name: str | None,
                        known_customer_id: str | None,
                        metadata: Mapping[str, str]) -> tuple[str, bool]:
        """The customer of a Salesforce Account: ``(customer id, created?)``."""
        if known_customer_id:
            return known_customer_id, False
        with self._customers_lock:
            per_account = self._customer_locks.setdefault(account_id, threading.Lock())
        with per_account:
            cached = self._customers.get(account_id)
            if cached is not None:
                return cached, False
            customer_id, created = self._find_or_create_customer(
                account_id=account_id, name=name, metadata=metadata)
            self._customers[account_id] = customer_id
            return customer_id, created

    def _find_or_create_customer(self, *, account_id: str, name: str | None,
                                 metadata: Mapping[str, str]) -> tuple[str, bool]:
        found = self._search_customer(account_id)
        if found is not None:
            return found, False
        key = customer_key(self.account_name, account_id)
        create = build.customer_create_params(account_id=account_id, name=name,
                                              metadata=metadata)
        try:
            customer = self._call(
                "customers.create", "write",
                lambda: self._client.v1.customers.create(params=create,
                                                         options=self._write_options(key)),
                idempotency_key=key)
        except IdempotencyConflict as exc:
            # Another host created this Account's customer under the same key with other
            # details (a renamed Account); search may not show it yet: try again later.
            found = self._search_customer(account_id)
            if found is not None:
                return found, False
            raise TransientError(
                f"the Stripe customer of Account {account_id} is being created elsewhere; "
                "it will be picked up on the next run", request_id=exc.request_id) from exc
        if not replayed(customer):
            # Made by this very request: it cannot have schedules yet.
            self._schedules.start_empty(customer.id)
        return customer.id, True

    def _search_customer(self, account_id: str) -> str | None:
        search = build.customer_search_params(account_id)
        found = self._call("customers.search", "read",
                           lambda: self._client.v1.customers.search(params=search))
        return found.data[0].id if found.data else None

    # ------------------------------------------------------------------ prices

    def price_facts(self, price_ids: Sequence[str]) -> PriceCatalog:
        """What Stripe says each price bills (read once per run per price)."""
        return self.prices.facts(price_ids)

    def _custom_prices(self, phases: Sequence[build.IndexedPhase], cost: _Cost
                       ) -> dict[str, str]:
        return self.prices.resolve(build.custom_prices(phases), cost)

    # ------------------------------------------------------------------ schedules: reads

    def retrieve_schedule(self, schedule_id: str) -> RemoteSchedule:
        obj = self._call("subscription_schedules.retrieve", "read",
                         lambda: self._client.v1.subscription_schedules.retrieve(schedule_id))
        return self._convert(obj)

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
            page = self._call(
                "subscription_schedules.list", "read",
                partial(self._client.v1.subscription_schedules.list, params=page_params))
            for obj in page.data:
                raw = obj.to_dict()
                if (raw.get("metadata") or {}).get(META_CONTRACT_KEY):
                    ours.append(raw)
            if not page.has_more or not page.data:
                return ours
            starting_after = page.data[-1].id

    # ------------------------------------------------------------------ schedules: writes

    def _make_coupons(self, plan: OrderPlan, slots: Sequence[build.DiscountSlot], op_key: str,
                      cost: _Cost) -> dict[str, str]:
        coupons: dict[str, str] = {}
        for slot in slots:
            key = child_key(op_key, f"coupon:{slot.slot}")
            coupon_params = build.coupon_params(plan, slot)
            coupon_params["id"] = coupon_id_for(self.account_name, plan, slot.slot,
                                                coupon_params)
            try:
                coupon = self._call(
                    "coupons.create", "write",
                    partial(self._client.v1.coupons.create, params=coupon_params,
                            options=self._write_options(key)),
                    cost, idempotency_key=key)
            except TerminalError as exc:
                if exc.code != "resource_already_exists" and not isinstance(
                        exc, IdempotencyConflict):
                    raise
                # An earlier try of this very operation made it, and Stripe has forgotten
                # the key since (or another order of the contract sent it with its own
                # metadata): the id derives from the desired state, so it is the same coupon.
                try:
                    coupon = self._call(
                        "coupons.retrieve", "read",
                        partial(self._client.v1.coupons.retrieve, coupon_params["id"]))
                except TerminalError:
                    raise exc from None  # not this discount's coupon: the refusal stands
            coupons[slot.slot] = coupon.id
        return coupons

    def _result(self, obj: stripe.SubscriptionSchedule, cost: _Cost,
                coupons: Mapping[str, str]) -> ScheduleResult:
        self._schedules.put(obj.to_dict())
        return ScheduleResult(schedule=self._convert(obj), request_ids=tuple(cost.request_ids),
                              writes=cost.writes, coupons=tuple(coupons.values()))

    def create_schedule(self, plan: OrderPlan, *, customer_id: str, op_key: str
                        ) -> ScheduleResult:
        """A new schedule for the plan (its coupons first); N discounts cost N+1 writes."""
        schedule = build.desired_schedule(plan)
        cost = _Cost()
        slots = build.discount_slots(list(enumerate(schedule.phases)))
        coupons = self._make_coupons(plan, slots, op_key, cost)
        prices = self._custom_prices(list(enumerate(schedule.phases)), cost)
        create = build.create_params(plan, customer_id=customer_id, coupons=coupons,
                                     prices=prices)
        obj = self._call(
            "subscription_schedules.create", "write",
            lambda: self._client.v1.subscription_schedules.create(
                params=create, options=self._write_options(op_key)),
            cost, idempotency_key=op_key)
        return self._result(obj, cost, coupons)

    def update_schedule(self, plan: OrderPlan, *, schedule_id: str, op_key: str,
                        current: RemoteSchedule | None = None) -> ScheduleResult:
        """Send the plan's current and future phases (amend and replace alike)."""
        if current is None:
            current = self.retrieve_schedule(schedule_id)
        if not current.is_live:
            raise TerminalError(f"schedule {schedule_id} is {current.status}; it can no "
                                "longer be changed", code="schedule_not_live")
        cost = _Cost()
        sending = build.phases_to_send(plan, current)
        coupons = self._make_coupons(plan, build.discount_slots(sending), op_key, cost)
        prices = self._custom_prices(sending, cost)
        update = build.update_params(plan, current=current, coupons=coupons,
                                     proration_behavior=self.proration_behavior,
                                     prices=prices)
        try:
            obj = self._call(
                "subscription_schedules.update", "write",
                lambda: self._client.v1.subscription_schedules.update(
                    schedule_id, params=update, options=self._write_options(op_key)),
                cost, idempotency_key=op_key)
        except IdempotencyConflict:
            # The same operation was applied earlier, while the current phase was another
            # one (so today's body differs). If Stripe already carries this plan, done.
            now = self.retrieve_schedule(schedule_id)
            if plan.fingerprint and now.fingerprint == plan.fingerprint:
                return ScheduleResult(schedule=now, request_ids=tuple(cost.request_ids),
                                      writes=cost.writes, coupons=tuple(coupons.values()))
            raise
        return self._result(obj, cost, coupons)

    def cancel_schedule(self, plan: OrderPlan, *, op_key: str) -> ScheduleResult:
        """Cancel now; a schedule Stripe reports as already canceled counts as done."""
        cost = _Cost()
        schedule_id = plan.schedule_id
        if not schedule_id:
            raise TerminalError(f"order {plan.order_id} has no Stripe schedule to cancel",
                                code="invalid_record")
        cancel = build.cancel_params(invoice_now=plan.invoice_now, prorate=plan.prorate)
        try:
            obj = self._call(
                "subscription_schedules.cancel", "write",
                lambda: self._client.v1.subscription_schedules.cancel(
                    schedule_id, params=cancel, options=self._write_options(op_key)),
                cost, idempotency_key=op_key)
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
        return self._result(obj, cost, {})


def limiter_for(account: StripeAccountSettings, api_key: SecretStr) -> TokenBucket:
    """The account's token bucket: its configured rate, else Stripe's documented one."""
    rate = account.rate_limit_per_second
    if "rate_limit_per_second" not in account.model_fields_set:
        rate = documented_rate(api_key.get_secret_value())
    return TokenBucket(rate, capacity=max(1.0, account.rate_limit_burst))


def emulator_limiter(account: StripeAccountSettings) -> TokenBucket:
    """For the local emulator: paced only when the account sets a rate explicitly."""
    explicit = "rate_limit_per_second" in account.model_fields_set
    return TokenBucket(account.rate_limit_per_second if explicit else None,
                       capacity=max(1.0, account.rate_limit_burst))
