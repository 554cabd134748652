"""Machine-readable runs: ``--format json`` on sync, cancel and status, ``run_results.json``,
and ``cancel --dry-run`` / the confirmation prompt, checked against docs/schemas/."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from sf_stripe_sync.cli import main
from tests.e2e.harness import ROOT, Harness, running

SCHEMAS = ROOT / "docs" / "schemas"
GLOBEX = "801000000000002AAA"


def validate(document: Any, name: str) -> None:
    loaded = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in SCHEMAS.glob("*.json")}
    registry: Registry[Any] = Registry().with_resources(
        (n, Resource.from_contents(s)) for n, s in loaded.items())
    Draft202012Validator(loaded[name], registry=registry).validate(document)


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SF_STRIPE_SYNC"):
            monkeypatch.delenv(name)
    with running(tmp_path) as harness:
        yield harness


def cli(h: Harness, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    capsys.readouterr()
    where = [] if args[0] == "status" else [
        "--salesforce-sandbox-url", h.org.base_url, "--stripe-emulator-url", h.emulator.url]
    code = main([*args, *where, "--state-dir", str(h.state_dir), "--format", "json"])
    out = capsys.readouterr().out
    return code, json.loads(out)


def test_sync_prints_and_saves_its_results_per_order(
    h: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = cli(h, capsys, "sync", "--no-progress", "--as-of", "2026-12-01")
    assert code == 1  # the demo's three bad orders
    validate(document, "run-results.schema.json")
    saved = json.loads((h.state_dir / "run_results.json").read_text(encoding="utf-8"))
    assert saved == document
    orders = {o["order_id"]: o for o in document["orders"]}
    globex = orders[GLOBEX]
    assert (globex["operation"], globex["outcome"]) == ("create", "applied")
    assert globex["schedule_id"] and globex["stripe_request_ids"]
    assert document["counts"]["create"] == 9 and document["counts"]["failed"] == 3
    failed = [o for o in document["orders"] if o["outcome"] == "failed"]
    assert len(failed) == 3 and all(o["errors"] and o["errors"][0]["code"] for o in failed)

    code, status = cli(h, capsys, "status")
    assert code == 0
    validate(status, "status.schema.json")
    assert status["last_run_results"]["run_id"] == document["run_id"]


def test_a_dry_run_in_json_lists_planned_orders_and_their_plans(
    h: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document = cli(h, capsys, "sync", "--dry-run", "--no-progress",
                         "--as-of", "2026-12-01")
    assert code == 1
    validate(document, "run-results.schema.json")
    assert document["dry_run"] is True and document["stripe_writes"] == 0
    assert {o["outcome"] for o in document["orders"]} == {"planned", "unchanged", "failed"}
    assert {p["order_id"] for p in document["plans"]} == {o["order_id"]
                                                          for o in document["orders"]}


def test_cancel_dry_run_shows_the_cancel_and_sends_nothing_then_yes_cancels(
    h: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(h, capsys, "sync", "--no-progress", "--as-of", "2026-12-01")
    writes = h.stripe_writes()

    code, planned = cli(h, capsys, "cancel", GLOBEX, "--dry-run")
    assert code == 0 and h.stripe_writes() == writes
    validate(planned, "run-results.schema.json")
    (order,) = planned["orders"]
    assert (order["operation"], order["outcome"]) == ("cancel", "planned")

    code, done = cli(h, capsys, "cancel", GLOBEX, "--yes")
    assert code == 0
    (order,) = done["orders"]
    assert (order["operation"], order["outcome"]) == ("cancel", "applied")
    assert order["stripe_request_ids"]


@pytest.mark.parametrize(("answer", "canceled"), [("n", False), ("y", True)])
def test_cancel_on_a_terminal_asks_first(
    h: Harness, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    answer: str, canceled: bool,
) -> None:
    cli(h, capsys, "sync", "--no-progress", "--as-of", "2026-12-01")
    schedule_id = h.record("Order", GLOBEX)["Stripe_Subscription_Schedule_Id__c"]
    asked: list[int] = []
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda: asked.append(1) or answer)
    capsys.readouterr()
    code = main(["cancel", GLOBEX, "--salesforce-sandbox-url", h.org.base_url,
                 "--stripe-emulator-url", h.emulator.url, "--state-dir", str(h.state_dir),
                 "--format", "json"])
    assert code == 0
    out, err = capsys.readouterr()
    assert len(asked) == 1 and schedule_id in err and "[y/N]" in err
    if canceled:
        validate(json.loads(out), "run-results.schema.json")
    status = next(s for s in h.schedules() if s["id"] == schedule_id)["status"]
    assert (status == "canceled") is canceled


def test_a_saved_plan_file_has_the_documented_shape(
    h: Harness, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plan_file = tmp_path / "plan.json"
    cli(h, capsys, "sync", "--dry-run", "--no-progress", "--out", str(plan_file))
    validate(json.loads(plan_file.read_text(encoding="utf-8")), "plan-file.schema.json")
