"""One plan from preview to apply: the preview, the dry-run and the executed run agree.

Each plans through the engine; these tests hold them to the same operation and the same
fingerprint for every order, on the demo org and on generated orgs, before the first
sync (nothing known) and after it (everything known, from the state store or from the
written-back id fields plus Stripe).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sf_stripe_sync.cli import main
from sf_stripe_sync.cli.preview_commands import load_price_catalog, preview_plans
from sf_stripe_sync.core.models import OrderPlan
from sf_stripe_sync.engine import RunOptions, RunReport
from sf_stripe_sync.runtime import SandboxOptions, emulator_gateways, open_runtime
from sf_stripe_sync.sandbox.stripe_emulator.emulator import PLATFORM
from sf_stripe_sync.sources.file_source import FileOrderSource
from tests.e2e.harness import AS_OF, DEMO_CATALOG, DEMO_ORG, Harness, load_json, running
from tests.reliability.generate import generate_org

Planned = dict[str, tuple[str, str]]
GLOBEX = "801000000000002AAA"


def planned(plans: list[OrderPlan]) -> Planned:
    return {p.order_id: (p.operation.value, p.fingerprint) for p in plans}


def run(h: Harness, *, dry_run: bool, order_ids: list[str] | None = None,
        **rules: Any) -> RunReport:
    settings = h.settings()
    if rules:
        settings = settings.model_copy(update={
            "rules": settings.rules.model_copy(update=rules)})
    with open_runtime(settings, SandboxOptions(org=h.org, emulator=h.emulator)) as rt:
        return rt.engine(clock=lambda: AS_OF).run(RunOptions(
            order_ids=order_ids, dry_run=dry_run, as_of=AS_OF, keep_plans=True))


def preview(h: Harness, snapshot: dict[str, Any], *, stripe: bool,
            order_ids: list[str] | None = None) -> Planned:
    settings = h.settings()
    source = FileOrderSource(snapshot, fields=settings.fields, rules=settings.rules)
    gateway = None
    if stripe:
        settings, gateway = emulator_gateways(settings, h.emulator.url)
    # Offline, the prices come from the catalog file (as `preview --stripe-catalog`): a
    # usage price or a one-time price is known only from Stripe's facts.
    prices = None if stripe else load_price_catalog(DEMO_CATALOG)
    plans, _ = preview_plans(source, order_ids or [], settings, AS_OF, gateway_for=gateway,
                             prices=prices)
    return planned(plans)


def activated(plans: Planned, snapshot: dict[str, Any]) -> Planned:
    live = {o["Id"] for o in snapshot["Order"] if o.get("Status") == "Activated"}
    return {k: v for k, v in plans.items() if k in live}


def assert_one_plan(h: Harness, snapshot: dict[str, Any]) -> Planned:
    """Preview, dry-run and run agree now and again after the run; returns the first plan."""
    before = preview(h, snapshot, stripe=False)
    dry = activated(planned(run(h, dry_run=True).plans), snapshot)
    done = activated(planned(run(h, dry_run=False).plans), snapshot)
    assert before == dry == done
    synced = h.org.snapshot()
    again = preview(h, synced, stripe=True)
    assert again == activated(planned(run(h, dry_run=True).plans), snapshot)
    assert again == activated(planned(run(h, dry_run=False).plans), snapshot)
    assert {op for op, _ in again.values()} <= {"noop", "fail"}
    return before


def test_the_demo_org_plans_the_same_in_preview_dry_run_and_run(tmp_path: Path) -> None:
    with running(tmp_path) as h:
        first = assert_one_plan(h, load_json(DEMO_ORG))
    ops = sorted(op for op, _ in first.values())
    assert ops.count("create") == 9 and ops.count("noop") == 1 and ops.count("fail") == 3


@pytest.mark.parametrize("seed", [3, 11])
def test_generated_orgs_plan_the_same_in_preview_dry_run_and_run(
    tmp_path: Path, seed: int
) -> None:
    snapshot = generate_org(seed, contracts=6)
    with running(tmp_path, snapshot) as h:
        first = assert_one_plan(h, snapshot)
    assert {op for op, _ in first.values()} == {"create", "noop"}


def edit_stripe_quantity(h: Harness, order_id: str, phase: int, quantity: int) -> None:
    """A Stripe-side edit, as someone in the Dashboard would make it."""
    schedule_id = h.record("Order", order_id)["Stripe_Subscription_Schedule_Id__c"]
    with h.emulator.core.lock:
        stored = h.emulator.core.store.get(PLATFORM, "subscription_schedule", schedule_id)
        assert stored is not None
        stored["phases"][phase]["items"][0]["quantity"] = quantity


def test_a_stripe_side_edit_is_drift_in_the_dry_run_and_the_preview(tmp_path: Path) -> None:
    with running(tmp_path) as h:
        run(h, dry_run=False)
        edit_stripe_quantity(h, GLOBEX, 1, 7)

        (plan,) = run(h, dry_run=True, order_ids=[GLOBEX]).plans
        assert plan.operation.value == "noop"
        assert plan.drift is not None
        assert [(c.phase, c.field, c.stripe, c.salesforce) for c in plan.drift] == [
            (2, "item price_A quantity", "7", "1")]
        assert [w.code.value for w in plan.warnings] == ["drift"]

        settings, gateway = emulator_gateways(h.settings(), h.emulator.url)
        source = FileOrderSource(h.org.snapshot(), fields=settings.fields,
                                 rules=settings.rules)
        (previewed,), _ = preview_plans(source, [GLOBEX], settings, AS_OF,
                                        gateway_for=gateway)
        assert previewed.drift == plan.drift


def test_overwrite_restores_a_drifted_schedule_and_report_leaves_it(tmp_path: Path) -> None:
    with running(tmp_path) as h:
        run(h, dry_run=False)
        edit_stripe_quantity(h, GLOBEX, 1, 7)
        (kept,) = [o for o in run(h, dry_run=False, order_ids=[GLOBEX]).outcomes]
        assert kept.result == "noop"

        (restored,) = run(h, dry_run=False, order_ids=[GLOBEX], on_drift="overwrite").outcomes
        assert restored.result == "replace" and restored.writes >= 1
        schedule = next(s for s in h.schedules() if s["id"] == restored.schedule_id)
        assert schedule["phases"][1]["items"][0]["quantity"] == 1

        (after,) = run(h, dry_run=True, order_ids=[GLOBEX]).plans
        assert after.operation.value == "noop" and after.drift == ()


def test_keep_holds_back_a_replace_of_a_drifted_schedule(tmp_path: Path) -> None:
    with running(tmp_path) as h:
        run(h, dry_run=False)
        edit_stripe_quantity(h, GLOBEX, 1, 7)
        item = next(i for i in h.org.records("OrderItem") if i["OrderId"] == GLOBEX)
        h.salesforce().OrderItem.update(item["Id"], {"Quantity": 3})
        writes = h.stripe_writes()

        (outcome,) = run(h, dry_run=False, order_ids=[GLOBEX], on_drift="keep").outcomes
        assert outcome.result == "skip"
        assert h.stripe_writes() == writes
        assert outcome.plan is not None and outcome.plan.drift


def test_preview_given_the_emulator_shows_the_drift_in_its_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running(tmp_path) as h:
        run(h, dry_run=False)
        edit_stripe_quantity(h, GLOBEX, 1, 7)
        synced = tmp_path / "synced-org.json"
        synced.write_text(json.dumps(h.org.snapshot()), encoding="utf-8")
        code = main(["preview", GLOBEX, "--source", str(synced), "--format", "json",
                     "--as-of", "2026-12-01", "--stripe-emulator-url", h.emulator.url,
                     "--state-dir", str(h.state_dir)])
    assert code == 0
    (order,) = json.loads(capsys.readouterr().out)["orders"]
    assert order["operation"] == "noop"
    assert order["drift"] == [{"phase": 2, "field": "item price_A quantity",
                               "stripe": "7", "salesforce": "1"}]
    assert [w["code"] for w in order["warnings"]] == ["drift"]


CONTRACT = "800000000000001AAA"


def test_a_renewal_amend_extends_the_last_phase_instead_of_adding_a_twin(
    tmp_path: Path,
) -> None:
    with running(tmp_path) as h:
        run(h, dry_run=False)
        schedule_id = h.record("Contract", CONTRACT)["Stripe_Subscription_Schedule_Id__c"]
        original = h.record("Order", "801000000000011AAA")
        sf = h.salesforce()
        renewal = sf.Order.create({
            "AccountId": original["AccountId"], "ContractId": CONTRACT, "Status": "Draft",
            "EffectiveDate": "2028-01-01", "EndDate": "2029-01-01",
            "CurrencyIsoCode": original["CurrencyIsoCode"],
            "Pricebook2Id": original["Pricebook2Id"]})["id"]
        # The last phase bills 12 seats and 1 support: the renewal bills the same.
        for entry, product, quantity, price in (
                ("01u000000000003AAA", "01t000000000003AAA", 12, 15.0),
                ("01u000000000004AAA", "01t000000000004AAA", 1, 50.0)):
            sf.OrderItem.create({
                "OrderId": renewal, "PricebookEntryId": entry, "Product2Id": product,
                "Quantity": quantity, "UnitPrice": price, "ServiceDate": "2028-01-01",
                "EndDate": "2029-01-01"})
        sf.Order.update(renewal, {"Status": "Activated"})

        (outcome,) = run(h, dry_run=False, order_ids=[renewal]).outcomes

        assert outcome.result == "amend" and outcome.schedule_id == schedule_id
        schedule = next(s for s in h.schedules() if s["id"] == schedule_id)
        spans = [(p["start_date"], p["end_date"]) for p in schedule["phases"]]
        oct_2027, jan_2029 = 1822348800, 1861920000  # 2027-10-01, 2029-01-01
        assert spans[-1] == (oct_2027, jan_2029)
        assert len(spans) == 3
