"""An in-memory ``ports.BillingGateway``: one Stripe account's customers, coupons and
subscription schedules, with no HTTP (httpx's ``MockTransport`` idea).

Theory of operation: every write is built with the real request builders
(``stripe.params``), so the fake receives the very body the SDK would send; the body is
turned into a Stripe-shaped schedule (a plain dict) and read back through the real
converter (``stripe.convert.schedule_from_stripe``), so the engine sees exactly what the
real gateway would hand it (discounts come back as coupon ids, item ids from metadata).
What the fake keeps of Stripe's rules, because the engine depends on them:

* idempotency keys: the same key with the same body replays the saved answer (nothing
  made twice); with another body (or on another endpoint) it is refused with
  ``IdempotencyConflict``, as Stripe's ``idempotency_error``;
* schedules: ``not_started`` until their first phase starts, then ``active``;
  ``canceled`` after a cancel; only live ones can be updated; a cancel of a schedule
  already canceled answers with the schedule and no request id (the real gateway does);
* customers are found by the ``salesforce_account_id`` metadata (no search lag here);
* prices: ``price_facts`` reads the seeded (or made) prices through the real
  ``stripe.prices.facts_from_stripe``; a custom price is found by its ``lookup_key``,
  else made once (its key derived from the lookup key, as the real ``PriceBook``);
* unknown ids, customers and prices (once any price is seeded) are ``TerminalError``
  ``resource_missing``.

Faults for tests: ``fail_next(method, error)`` raises before anything is applied;
``lose_next_answer(method)`` applies the write and then raises ``TransientError``, as
when Stripe did the work but the answer never arrived and the retries ran out.
``calls`` records every method called (reads and writes) for cost assertions.

``tests/conformance`` runs the same suite against this fake and the real gateway on the
local emulator, so the two cannot drift apart.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sf_stripe_sync.core.keys import child_key, customer_key
from sf_stripe_sync.core.models import OrderPlan, PriceCatalog
from sf_stripe_sync.errors import IdempotencyConflict, SyncError, TerminalError, TransientError
from sf_stripe_sync.stripe import discounts
from sf_stripe_sync.stripe import params as build
from sf_stripe_sync.stripe.convert import (
    LIVE_STATUSES,
    META_ACCOUNT_ID,
    META_CONTRACT_KEY,
    RemoteSchedule,
    ScheduleResult,
    schedule_from_stripe,
)
from sf_stripe_sync.stripe.coupons import coupon_id_for
from sf_stripe_sync.stripe.prices import create_params as price_create_params
from sf_stripe_sync.stripe.prices import custom_price_key, facts_from_stripe

Raw = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])


def _locked(method: F) -> F:
    """One operation at a time, as if each were one request to one Stripe."""
    @functools.wraps(method)
    def run(self: FakeBillingGateway, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)
    return cast(F, run)


def _unix(value: int | str, now: datetime) -> int:
    return int(now.timestamp()) if value == "now" else int(value)


def _body_hash(method: str, body: Any) -> str:
    text = json.dumps([method, body], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class FakeBillingGateway:
    """One Stripe account in memory; hand the same instance to every run
    (``gateway_for=lambda account: fake``) so what one run made, the next one sees."""

    def __init__(self, *, account_name: str = "default",
                 clock: Callable[[], datetime] | None = None,
                 seed: Mapping[str, Any] | None = None) -> None:
        self.account_name = account_name
        self.prices: dict[str, Raw] = {}
        """Price objects by id; while empty, any price id is accepted."""
        self.clock = clock or (lambda: datetime.now(UTC))
        self.customers: dict[str, Raw] = {}
        self.coupons: dict[str, Raw] = {}
        self.schedules: dict[str, Raw] = {}
        """Raw schedules by id, oldest first (``find_schedule`` prefers the newest)."""
        self.calls: list[str] = []
        self._answers: dict[str, tuple[str, Any]] = {}
        self._ids = itertools.count(1)
        self._faults: dict[str, list[SyncError | None]] = {}
        self._lock = threading.RLock()
        if seed is not None:
            self.seed(seed)

    def seed(self, catalog: Mapping[str, Any]) -> None:
        """Customers, coupons and prices as the emulator's seed (``fixtures/*catalog.json``)
        holds them; seeded prices become the only known ones."""
        for raw in catalog.get("customers") or ():
            self.customers[raw["id"]] = {"metadata": {}, **raw}
        for raw in catalog.get("coupons") or ():
            self.coupons[raw["id"]] = dict(raw)
        for raw in catalog.get("prices") or ():
            self.prices[raw["id"]] = {"active": True, "lookup_key": None, **raw}

    # ------------------------------------------------------------------ test controls

    def fail_next(self, method: str, error: SyncError) -> None:
        """The next call of ``method`` raises ``error`` and changes nothing."""
        self._faults.setdefault(method, []).append(error)

    def lose_next_answer(self, method: str) -> None:
        """The next ``method`` write is applied, then its answer is lost."""
        self._faults.setdefault(method, []).append(None)

    def writes(self) -> int:
        """Writes that made or changed something (replays are not writes)."""
        return sum(1 for c in self.calls if c.endswith(":write"))

    # ------------------------------------------------------------------ plumbing

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_fake{next(self._ids):06d}"

    def _fault(self, method: str) -> tuple[bool, SyncError | None]:
        queued = self._faults.get(method)
        if not queued:
            return False, None
        fault = queued.pop(0)
        if fault is not None:
            raise fault
        return True, None

    def _write(self, method: str, key: str, body: Any, apply: Callable[[], Any]) -> Any:
        """Apply ``body`` once per idempotency key; replay the saved answer after."""
        with self._lock:
            lose, _ = self._fault(method)
            digest = _body_hash(method, body)
            saved = self._answers.get(key)
            if saved is not None:
                if saved[0] != digest:
                    raise IdempotencyConflict(
                        f"Stripe {method}: Keys for idempotent requests can only be used with "
                        "the same parameters they were first used with", code="idempotency_error")
                self.calls.append(f"{method}:replay")
                answer = saved[1]
            else:
                answer = apply()
                self._answers[key] = (digest, answer)
                self.calls.append(f"{method}:write")
            if lose:
                raise TransientError(f"Stripe {method}: the connection was lost before the "
                                     "answer arrived")
            return answer

    def _read(self, method: str) -> None:
        self._fault(method)
        self.calls.append(f"{method}:read")

    def _missing(self, kind: str, object_id: str) -> TerminalError:
        return TerminalError(f"No such {kind}: '{object_id}'", code="resource_missing",
                             param="id")

    # ------------------------------------------------------------------ customers

    def ensure_customer(self, *, account_id: str, name: str | None,
                        known_customer_id: str | None,
                        metadata: Mapping[str, str]) -> tuple[str, bool]:
        if known_customer_id:
            return known_customer_id, False
        with self._lock:
            self._read("customers.search")
            for customer in self.customers.values():
                if customer["metadata"].get(META_ACCOUNT_ID) == account_id:
                    return str(customer["id"]), False
            body = build.customer_create_params(account_id=account_id, name=name,
                                                metadata=metadata)

            def create() -> str:
                customer_id = self._new_id("cus")
                self.customers[customer_id] = {"id": customer_id, **body}
                return customer_id

            return self._write("customers.create", customer_key(self.account_name, account_id),
                               body, create), True

    # ------------------------------------------------------------------ prices

    @_locked
    def price_facts(self, price_ids: Sequence[str]) -> PriceCatalog:
        with self._lock:
            found: dict[str, Any] = {}
            for price_id in sorted(set(price_ids)):
                self._read("prices.retrieve")
                if price_id in self.prices:
                    found[price_id] = facts_from_stripe(self.prices[price_id])
            return PriceCatalog(prices=found, missing=frozenset(set(price_ids) - set(found)))

    def _custom_prices(self, phases: Sequence[discounts.IndexedPhase]) -> dict[str, str]:
        """lookup key -> price id of each custom price the phases bill (made if missing)."""
        made: dict[str, str] = {}
        for spec in build.custom_prices(phases):
            self._read("prices.list")
            known = next((p for p in self.prices.values()
                          if p.get("lookup_key") == spec.lookup_key), None)
            if known is not None:
                known["active"] = True
                made[spec.lookup_key] = str(known["id"])
                continue
            body: Raw = dict(price_create_params(spec))
            made[spec.lookup_key] = self._write(
                "prices.create", custom_price_key(self.account_name, spec.lookup_key), body,
                self._price_maker(body))
        return made

    def _price_maker(self, body: Raw) -> Callable[[], str]:
        def make() -> str:
            price_id = self._new_id("price")
            self.prices[price_id] = {"id": price_id, "active": True, **body}
            return price_id
        return make

    # ------------------------------------------------------------------ schedules: reads

    def retrieve_schedule(self, schedule_id: str) -> RemoteSchedule:
        with self._lock:
            self._read("subscription_schedules.retrieve")
            raw = self.schedules.get(schedule_id)
            if raw is None:
                raise self._missing("subscription_schedule", schedule_id)
            return self._convert(raw)

    def find_schedule(self, *, customer_id: str, contract_key: str,
                      fresh: bool = False) -> RemoteSchedule | None:
        with self._lock:
            self._read("subscription_schedules.list")
            matches = [raw for raw in reversed(self.schedules.values())
                       if raw["customer"] == customer_id
                       and self._status(raw) in (*LIVE_STATUSES, "completed")
                       and raw["metadata"].get(META_CONTRACT_KEY) == contract_key]
            live = [m for m in matches if self._status(m) in LIVE_STATUSES]
            return self._convert((live or matches)[0]) if matches else None

    # ------------------------------------------------------------------ schedules: writes

    @_locked
    def create_schedule(self, plan: OrderPlan, *, customer_id: str, op_key: str
                        ) -> ScheduleResult:
        phases = list(enumerate(build.desired_schedule(plan).phases))
        before = self.writes()
        coupons = self._make_coupons(plan, discounts.discount_slots(phases), op_key)
        prices = self._custom_prices(phases)
        body: dict[str, Any] = dict(build.create_params(plan, customer_id=customer_id,
                                                        coupons=coupons, prices=prices))
        self._check_refs(customer_id, body)

        def create() -> ScheduleResult:
            raw: Raw = {"id": self._new_id("sub_sched"), "customer": customer_id,
                        "end_behavior": body["end_behavior"], "metadata": dict(body["metadata"]),
                        "default_settings": dict(body.get("default_settings") or {}),
                        "canceled": False}
            raw["phases"] = self._phases(body["phases"], body["start_date"])
            self.schedules[raw["id"]] = raw
            return self._result(raw, self.writes() - before + 1)

        result: ScheduleResult = self._write("subscription_schedules.create", op_key, body,
                                             create)
        return result

    @_locked
    def update_schedule(self, plan: OrderPlan, *, schedule_id: str, op_key: str,
                        current: Any = None) -> ScheduleResult:
        if current is None:
            current = self.retrieve_schedule(schedule_id)
        if not current.is_live:
            raise TerminalError(f"schedule {schedule_id} is {current.status}; it can no "
                                "longer be changed", code="schedule_not_live")
        sending = build.phases_to_send(plan, current)
        before = self.writes()
        coupons = self._make_coupons(plan, discounts.discount_slots(sending), op_key)
        prices = self._custom_prices(sending)
        body: dict[str, Any] = dict(build.update_params(
            plan, current=current, coupons=coupons, proration_behavior="create_prorations",
            prices=prices))

        def update() -> ScheduleResult:
            raw = self.schedules.get(schedule_id)
            if raw is None:
                raise self._missing("subscription_schedule", schedule_id)
            self._check_refs(raw["customer"], body)
            phases = body["phases"]
            raw.update(end_behavior=body["end_behavior"], metadata=dict(body["metadata"]),
                       phases=self._phases(phases, phases[0]["start_date"]))
            return self._result(raw, self.writes() - before + 1)

        result: ScheduleResult = self._write("subscription_schedules.update", op_key,
                                             {"id": schedule_id, **body}, update)
        return result

    def cancel_schedule(self, plan: OrderPlan, *, op_key: str) -> ScheduleResult:
        schedule_id = plan.schedule_id or ""
        body = {"id": schedule_id, **build.cancel_params(invoice_now=plan.invoice_now,
                                                         prorate=plan.prorate)}
        with self._lock:
            raw = self.schedules.get(schedule_id)
            if raw is None:
                raise self._missing("subscription_schedule", schedule_id)
            if self._status(raw) == "canceled" and op_key not in self._answers:
                # Stripe refuses; the real gateway reads the schedule and counts it done.
                self.calls.append("subscription_schedules.cancel:refused")
                return ScheduleResult(schedule=self._convert(raw), writes=1)
            if self._status(raw) not in LIVE_STATUSES and op_key not in self._answers:
                raise TerminalError(f"You cannot cancel a subscription schedule whose status "
                                    f"is {self._status(raw)}", code="invalid_request")

        def cancel() -> ScheduleResult:
            raw["canceled"] = True
            return self._result(raw, 1)

        result: ScheduleResult = self._write("subscription_schedules.cancel", op_key, body,
                                             cancel)
        return result

    # ------------------------------------------------------------------ helpers

    def _make_coupons(self, plan: OrderPlan, slots: list[discounts.DiscountSlot],
                      op_key: str) -> dict[str, str]:
        made: dict[str, str] = {}
        for slot in slots:
            body = dict(discounts.coupon_params(plan, slot))
            body["id"] = coupon_id_for(self.account_name, plan, slot.slot, body)
            coupon_id = str(body["id"])
            if coupon_id not in self.coupons:  # a coupon id is forever (Stripe refuses reuse)
                self._write("coupons.create", child_key(op_key, f"coupon:{slot.slot}"), body,
                            self._coupon_maker(body))
            made[slot.slot] = coupon_id
        return made

    def _coupon_maker(self, body: Raw) -> Callable[[], Raw]:
        return lambda: self.coupons.setdefault(str(body["id"]), body)

    def _check_refs(self, customer_id: str, body: Mapping[str, Any]) -> None:
        if customer_id not in self.customers:
            raise self._missing("customer", customer_id)
        for phase in body["phases"]:
            for item in [*phase["items"], *phase.get("add_invoice_items", ())]:
                if self.prices and item["price"] not in self.prices:
                    raise self._missing("price", str(item["price"]))

    def _phases(self, sent: list[Any], first_start: int | str) -> list[Raw]:
        """Stripe's phases: each starts where the one before ended."""
        now = self.clock()
        phases: list[Raw] = []
        start = _unix(first_start, now)
        for phase in sent:
            raw = {k: v for k, v in dict(phase).items() if k != "start_date"}
            raw["start_date"] = start
            phases.append(raw)
            start = int(raw.get("end_date") or start)
        return phases

    def _status(self, raw: Raw) -> str:
        if raw["canceled"]:
            return "canceled"
        now = int(self.clock().timestamp())
        phases = raw["phases"]
        if now < phases[0]["start_date"]:
            return "not_started"
        last_end = phases[-1].get("end_date")
        if last_end is not None and now >= last_end:
            return "completed" if raw["end_behavior"] == "cancel" else "released"
        return "active"

    def _convert(self, raw: Raw) -> RemoteSchedule:
        status = self._status(raw)
        now = int(self.clock().timestamp())
        current = next((p for p in raw["phases"] if p["start_date"] <= now
                        and (p.get("end_date") is None or now < p["end_date"])), None)
        shaped = {**raw, "status": status,
                  "current_phase": None if status != "active" or current is None else
                  {"start_date": current["start_date"], "end_date": current.get("end_date")}}
        return schedule_from_stripe(shaped)

    def _result(self, raw: Raw, writes: int) -> ScheduleResult:
        return ScheduleResult(schedule=self._convert(raw), writes=writes,
                              request_ids=(self._new_id("req"),))
