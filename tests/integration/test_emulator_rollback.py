"""A refused write leaves the emulator's store exactly as it was, whatever it had changed.

Each case sends one write that changes several things (redeems coupons, starts or ends a
subscription, deletes from the middle of a list, takes a lookup key from another price,
opens a new account partition) and is refused only after all of it was applied: the
step after every handler (``api.expand``) is made to refuse. The store is compared as
one ordered JSON document before the request, at the moment of refusal (it must have
changed, or the case proves nothing) and after.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from sf_stripe_sync.sandbox.stripe_emulator import ApiError, StripeEmulator
from sf_stripe_sync.sandbox.stripe_emulator import api as emulator_api
from sf_stripe_sync.sandbox.stripe_emulator.store import ObjectStore

pytestmark = pytest.mark.integration

NOW = 1_700_000_000
DAY = 86_400
SEED = {
    "products": [{"id": "prod_A", "name": "A"}],
    "prices": [
        {"id": "price_A", "product": "prod_A", "currency": "usd", "unit_amount": 1000,
         "recurring": {"interval": "month"}, "lookup_key": "standard"},
        {"id": "price_B", "product": "prod_A", "currency": "usd", "unit_amount": 2000,
         "recurring": {"interval": "month"}},
    ],
    "customers": [{"id": "cus_A"}, {"id": "cus_B"}, {"id": "cus_C"}],
    "coupons": [{"id": "TEN", "percent_off": 10}, {"id": "FIVE", "percent_off": 5},
                {"id": "ONCE", "amount_off": 100, "currency": "usd", "max_redemptions": 3}],
}
HEADERS = {"Authorization": "Bearer sk_test_rollback"}


class Sandbox:
    def __init__(self, emu: StripeEmulator) -> None:
        self.emu = emu
        self.ids: dict[str, str] = {}

    def send(self, method: str, path: str, data: dict[str, Any] | None = None,
             headers: dict[str, str] | None = None) -> requests.Response:
        path = path.format(**self.ids)
        return requests.request(method, f"{self.emu.url}{path}", data=data,
                                headers={**HEADERS, **(headers or {})}, timeout=10)

    def made(self, name: str, method: str, path: str, data: dict[str, Any]) -> None:
        answer = self.send(method, path, data)
        assert answer.status_code == 200, answer.text
        self.ids[name] = answer.json()["id"]

    def dump(self) -> str:
        return json.dumps(self.emu.core.store.to_json())


def _phase(prefix: str, price: str, start: int | None, end: int,
           coupons: tuple[str, ...] = ()) -> dict[str, Any]:
    fields: dict[str, Any] = {f"{prefix}[items][0][price]": price,
                              f"{prefix}[items][0][quantity]": 1, f"{prefix}[end_date]": end}
    if start is not None:
        fields[f"{prefix}[start_date]"] = start
    for index, coupon in enumerate(coupons):
        fields[f"{prefix}[discounts][{index}][coupon]"] = coupon
    return fields


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with StripeEmulator(seed=SEED, now=NOW).running() as emu:
        box = Sandbox(emu)
        box.made("active", "POST", "/v1/subscription_schedules", {
            "customer": "cus_A", "start_date": NOW, "end_behavior": "cancel",
            **_phase("phases[0]", "price_A", None, NOW + 30 * DAY, ("ONCE",))})
        box.made("future", "POST", "/v1/subscription_schedules", {
            "customer": "cus_B", "start_date": NOW + 10 * DAY,
            **_phase("phases[0]", "price_A", None, NOW + 40 * DAY)})
        box.made("feature", "POST", "/v1/entitlements/features",
                 {"name": "Seats", "lookup_key": "seats"})
        box.made("attached", "POST", "/v1/products/prod_A/features",
                 {"entitlement_feature": box.ids["feature"]})
        yield box


WRITES: dict[str, tuple[str, str, dict[str, Any], dict[str, str]]] = {
    "schedule create redeeming coupons": (
        "POST", "/v1/subscription_schedules",
        {"customer": "cus_C", "start_date": NOW, "end_behavior": "release",
         **_phase("phases[0]", "price_A", None, NOW + 30 * DAY, ("TEN", "ONCE")),
         **_phase("phases[1]", "price_B", None, NOW + 60 * DAY, ("FIVE",))}, {}),
    "schedule update redeeming a new coupon": (
        "POST", "/v1/subscription_schedules/{future}",
        {**_phase("phases[0]", "price_B", NOW + 10 * DAY, NOW + 50 * DAY, ("FIVE",)),
         "metadata[plan]": "b"}, {}),
    "schedule cancel ending its subscription": (
        "POST", "/v1/subscription_schedules/{active}/cancel", {}, {}),
    "schedule release handing over its subscription": (
        "POST", "/v1/subscription_schedules/{active}/release", {}, {}),
    "customer delete from the middle of the list": ("DELETE", "/v1/customers/cus_B", {}, {}),
    "coupon delete": ("DELETE", "/v1/coupons/TEN", {}, {}),
    "price create taking over another price's lookup key": (
        "POST", "/v1/prices",
        {"product": "prod_A", "currency": "usd", "unit_amount": 5,
         "recurring[interval]": "month", "lookup_key": "standard",
         "transfer_lookup_key": "true"}, {}),
    "product feature detach": ("DELETE", "/v1/products/prod_A/features/{attached}", {}, {}),
    "customer create opening a connected account's partition": (
        "POST", "/v1/customers", {"email": "new@example.com"},
        {"Stripe-Account": "acct_1NEWACCOUNT"}),
}


def _refuse_after_handler(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                          failure: Callable[[], Exception]) -> list[str]:
    at_refusal: list[str] = []

    def refuse(body: Any, paths: Any, ctx: Any) -> Any:
        at_refusal.append(sandbox.dump())
        raise failure()

    monkeypatch.setattr(emulator_api, "expand", refuse)
    return at_refusal


@pytest.mark.parametrize("case", list(WRITES))
def test_a_refused_write_leaves_the_store_exactly_as_before(
        sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    method, path, data, headers = WRITES[case]
    before = sandbox.dump()
    at_refusal = _refuse_after_handler(
        sandbox, monkeypatch, lambda: ApiError(400, "Refused after the change."))

    answer = sandbox.send(method, path, data, headers)

    assert answer.status_code == 400, answer.text
    assert at_refusal and at_refusal[0] != before, "the write changed nothing to roll back"
    assert sandbox.dump() == before


@pytest.mark.parametrize("case", list(WRITES))
def test_the_same_write_applies_when_not_refused(sandbox: Sandbox, case: str) -> None:
    method, path, data, headers = WRITES[case]
    before = sandbox.dump()

    answer = sandbox.send(method, path, data, headers)

    assert answer.status_code == 200, answer.text
    assert sandbox.dump() != before


def test_an_emulator_fault_mid_write_is_a_500_and_rolls_back(
        sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    method, path, data, headers = WRITES["schedule create redeeming coupons"]
    before = sandbox.dump()
    _refuse_after_handler(sandbox, monkeypatch, lambda: RuntimeError("emulator bug"))

    answer = sandbox.send(method, path, data, headers)

    assert answer.status_code == 500
    assert sandbox.dump() == before


def test_coupon_redemptions_count_again_after_a_refused_schedule(
        sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    method, path, data, headers = WRITES["schedule create redeeming coupons"]
    with monkeypatch.context() as patch:
        _refuse_after_handler(sandbox, patch, lambda: ApiError(400, "Refused."))
        assert sandbox.send(method, path, data, headers).status_code == 400

    made = sandbox.send(method, path, data, headers)

    assert made.status_code == 200, made.text
    once = sandbox.send("GET", "/v1/coupons/ONCE").json()
    assert once["times_redeemed"] == 2  # the fixture's schedule, then this one
    redeemed = sandbox.emu.core.store.redeemed_by("", made.json()["id"])
    assert sorted(redeemed) == ["FIVE", "ONCE", "TEN"]


def test_a_read_after_a_refused_write_sees_the_old_objects(
        sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    old = sandbox.send("GET", "/v1/subscription_schedules/{active}").json()
    with monkeypatch.context() as patch:
        _refuse_after_handler(sandbox, patch, lambda: ApiError(400, "Refused."))
        sandbox.send("POST", "/v1/subscription_schedules/{active}/cancel")

    again = sandbox.send("GET", "/v1/subscription_schedules/{active}").json()
    subscription = sandbox.emu.objects("subscription")[0]

    assert again == old and again["status"] == "active"
    assert subscription["status"] == "active" and subscription["schedule"] == old["id"]


def test_rollback_restores_a_deleted_then_recreated_object_in_its_place() -> None:
    store = ObjectStore()
    for name in ("a", "b", "c"):
        store.put("", "customer", {"id": name, "n": 1})
    before = json.dumps(store.to_json())
    store.begin()
    store.delete("", "customer", "b")
    store.put("", "customer", {"id": "b", "n": 2})
    store.put("", "customer", {"id": "d", "n": 1})
    store.rollback()

    assert json.dumps(store.to_json()) == before


def test_commit_keeps_the_changes_and_stops_recording() -> None:
    store = ObjectStore()
    store.put("", "customer", {"id": "a", "n": 1})
    store.begin()
    found = store.get("", "customer", "a")
    assert found is not None
    found["n"] = 2
    store.commit()
    store.rollback()  # nothing open: nothing to undo

    assert store.get("", "customer", "a") == {"id": "a", "n": 2}
