"""Plans as artifacts: ``sync --dry-run --out`` saves the plan, ``sync --plan`` applies it.

The saved plan lists the exact Stripe writes; applying it makes exactly those (the
emulator's request log is the witness), and a plan whose orders or schedules changed
since it was saved is refused whole, before anything is sent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from stripe._encode import _api_encode

from sf_stripe_sync.cli import main
from sf_stripe_sync.sandbox.stripe_emulator.forms import parse_form
from tests.e2e.harness import Harness, running

GLOBEX = "801000000000002AAA"


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("SF_STRIPE_SYNC"):
            monkeypatch.delenv(name)


def cli(h: Harness, *args: str) -> int:
    return main(["sync", *args, "--salesforce-sandbox-url", h.org.base_url,
                 "--stripe-emulator-url", h.emulator.url, "--state-dir", str(h.state_dir),
                 "--no-progress"])


def as_sent(params: dict[str, Any]) -> dict[str, Any]:
    """Params as the emulator logs them: form-encoded by the SDK, then decoded."""
    pairs = [(k, str(v).lower() if isinstance(v, bool) else v) for k, v in _api_encode(params)]
    return parse_form(urlencode(pairs))


def writes(h: Harness) -> list[dict[str, Any]]:
    return [r for r in h.emulator.requests() if r["method"] == "POST" and r["status"] < 400]


def _named(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _named(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [_named(v, names) for v in value]
    return names.get(value, value) if isinstance(value, str) else value


def test_applying_a_saved_plan_makes_exactly_the_planned_requests(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    with running(tmp_path) as h:
        assert cli(h, "--dry-run", "--out", str(plan_file), "--as-of", "2026-12-01") == 1
        document = json.loads(plan_file.read_text(encoding="utf-8"))
        assert document["format"] == "sf-stripe-sync-plan" and document["version"] == 1
        assert writes(h) == []
        h.emulator.clear_requests()

        assert cli(h, "--plan", str(plan_file)) == 0

        sent = writes(h)
        # a custom price's id is Stripe's to choose: the plan names it by lookup key
        custom = {p["id"]: f"<price {p['lookup_key']}>" for p in h.emulator.objects("price")
                  if str(p.get("lookup_key") or "").startswith("sfss:")}
    planned = {r["idempotency_key"]: r for e in document["orders"] for r in e["requests"]}
    made = {r["idempotency_key"]: r for r in sent}
    assert len(made) == len(sent) > 9  # contracts run in parallel: matched by key
    assert set(planned) == set(made)
    for key, want in planned.items():
        got = made[key]
        assert want["path"] == got["path"]
        params = want["params"]
        if str(params.get("customer", "")).startswith("<customer of "):
            account = params["customer"][len("<customer of "):-1]
            created = next(r for r in sent if r["path"] == "/v1/customers" and
                           r["params"]["metadata"]["salesforce_account_id"] == account)
            assert created["params"] == as_sent(planned[created["idempotency_key"]]["params"])
            params = {**params, "customer": got["params"]["customer"]}
        assert as_sent(params) == _named(got["params"], custom)
    entry = next(e for e in document["orders"] if e["order_id"] == GLOBEX)
    assert entry["operation"] == "create" and entry["fingerprint"]
    assert set(entry["salesforce"]) == {GLOBEX} and entry["stripe"]["state"] is None


def test_a_plan_whose_order_changed_since_is_refused_and_sends_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_file = tmp_path / "plan.json"
    with running(tmp_path) as h:
        cli(h, "--dry-run", "--out", str(plan_file), "--as-of", "2026-12-01")
        item = next(i for i in h.org.records("OrderItem") if i["OrderId"] == GLOBEX)
        h.salesforce().OrderItem.update(item["Id"], {"Quantity": 4})
        capsys.readouterr()

        assert cli(h, "--plan", str(plan_file)) == 2

        assert writes(h) == []
    err = capsys.readouterr().err
    assert GLOBEX in err and "Salesforce records changed" in err


def test_a_plan_whose_stripe_schedule_changed_since_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.e2e.test_one_plan import edit_stripe_quantity

    plan_file = tmp_path / "plan.json"
    with running(tmp_path) as h:
        assert cli(h, "--as-of", "2026-12-01") == 1
        item = next(i for i in h.org.records("OrderItem") if i["OrderId"] == GLOBEX)
        h.salesforce().OrderItem.update(item["Id"], {"Quantity": 4})
        cli(h, "--dry-run", "--order", GLOBEX, "--out", str(plan_file), "--as-of", "2026-12-01")
        (entry,) = json.loads(plan_file.read_text(encoding="utf-8"))["orders"]
        assert entry["operation"] == "replace" and entry["stripe"]["state"]
        edit_stripe_quantity(h, GLOBEX, 0, 9)
        before = len(writes(h))
        capsys.readouterr()

        assert cli(h, "--plan", str(plan_file)) == 2

        assert len(writes(h)) == before
    assert "Stripe schedule changed" in capsys.readouterr().err
