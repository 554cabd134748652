"""Test clocks (``/v1/test_helpers/test_clocks``): simulated time for customers on them.

Theory of operation: a clock is created at a ``frozen_time`` (past or future) and only
moves when advanced. A customer created with ``test_clock`` lives in that clock's time:
its schedules take "now" from the clock (``billing_clock.frame``), and advancing the
clock bills every period its subscriptions reach on the way (``billing_clock``). As
Stripe enforces: the new ``frozen_time`` must be after the current one and no more
than two intervals of the shortest subscription interval on the clock ahead (two years
when it has no subscription); a clock holds at most three customers; deleting a clock
deletes its customers (and with them their schedules' billing). Stripe advances
asynchronously (``status: advancing`` then ``ready``); the emulator finishes before it
answers, so a caller polling for ``ready`` sees it at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from sf_stripe_sync.sandbox.stripe_emulator.errors import invalid
from sf_stripe_sync.sandbox.stripe_emulator.resources.common import (
    Context,
    base_object,
    paginate,
)
from sf_stripe_sync.sandbox.stripe_emulator.resources.phases import add_interval
from sf_stripe_sync.sandbox.stripe_emulator.store import JSON

KIND = "test_helpers.test_clock"
MAX_CUSTOMERS = 3
_DELETES_AFTER = 30 * 86_400
_YEAR_LIMIT = 2
Advancer = Callable[[Context, JSON, int], None]
_advancers: list[Advancer] = []


def on_advance(advancer: Advancer) -> Advancer:
    """Register what runs when a clock moves (billing); kept here to avoid an import cycle."""
    _advancers.append(advancer)
    return advancer


def create(ctx: Context) -> JSON:
    clock = base_object(ctx, KIND, ctx.new_id(KIND))
    clock.update({"deletes_after": ctx.now + _DELETES_AFTER,
                  "frozen_time": int(ctx.params["frozen_time"]),
                  "name": ctx.params.get("name"), "status": "ready",
                  "status_details": {"advancing": None}})
    return ctx.save(KIND, clock)


def retrieve(ctx: Context) -> JSON:
    return ctx.require(KIND)


def list_all(ctx: Context) -> JSON:
    return paginate(ctx.all(KIND), ctx.params, "/v1/test_helpers/test_clocks")


def customers_on(ctx: Context, clock_id: str) -> list[JSON]:
    return [c for c in ctx.all("customer") if c.get("test_clock") == clock_id]


def delete(ctx: Context) -> JSON:
    clock = ctx.require(KIND)
    for customer in customers_on(ctx, clock["id"]):
        ctx.store.delete(ctx.account, "customer", customer["id"])
    ctx.store.delete(ctx.account, KIND, clock["id"])
    return {"id": clock["id"], "object": KIND, "deleted": True}


def check_room(ctx: Context, clock_id: str) -> None:
    """A customer may join a clock that exists and holds fewer than three customers."""
    if ctx.find(KIND, clock_id) is None:
        raise invalid(f"No such test clock: '{clock_id}'", param="test_clock",
                      code="resource_missing")
    if len(customers_on(ctx, clock_id)) >= MAX_CUSTOMERS:
        raise invalid(f"The test clock {clock_id} already has the maximum number of "
                      f"customers ({MAX_CUSTOMERS}).", param="test_clock")


def _limit(ctx: Context, clock: JSON) -> int:
    customers = {c["id"] for c in customers_on(ctx, clock["id"])}
    spans: list[int] = []
    for sub in ctx.all("subscription"):
        if sub["customer"] in customers and sub["status"] != "canceled":
            for item in (sub.get("items") or {}).get("data", []):
                recurring = (item.get("price") or {}).get("recurring") or {}
                if recurring:
                    two = add_interval(clock["frozen_time"], recurring["interval"],
                                       2 * int(recurring.get("interval_count", 1)))
                    spans.append(two)
    if spans:
        return min(spans)
    return add_interval(clock["frozen_time"], "year", _YEAR_LIMIT)


def advance(ctx: Context) -> JSON:
    clock = ctx.require(KIND)
    target = int(ctx.params["frozen_time"])
    if target <= clock["frozen_time"]:
        raise invalid("The frozen_time must be after the test clock's current frozen_time "
                      f"({clock['frozen_time']}).", param="frozen_time")
    limit = _limit(ctx, clock)
    if target > limit:
        raise invalid("Cannot advance the test clock more than two intervals of the shortest "
                      f"subscription interval on it (or two years) ahead: at most {limit}.",
                      param="frozen_time")
    clock["frozen_time"] = target
    for advancer in _advancers:
        advancer(ctx, clock, target)
    return ctx.save(KIND, clock)


def frame(ctx: Context, customer_id: str) -> Context:
    """``ctx`` seen from a customer's time: its test clock's, else the emulator's."""
    customer = ctx.find("customer", customer_id)
    clock_id = customer.get("test_clock") if customer is not None else None
    clock = ctx.find(KIND, str(clock_id)) if clock_id else None
    if clock is None or clock["frozen_time"] == ctx.now:
        return ctx
    return replace(ctx, now=int(clock["frozen_time"]))
